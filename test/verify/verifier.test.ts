import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ATTR_ACTION,
  ATTR_RECORD_ID,
  ATTR_SEQ_END,
  ATTR_SEQ_NUMBER,
  ATTR_SEQ_PREVIOUS_HASH,
  ATTR_SEQ_PREVIOUS_RECORD_ID,
} from '../../src/core/attributes.js';
import type { OtlpLogRecord, OtlpResourceLogs } from '../../src/otlp/types.js';
import { runVerifyCommand } from '../../src/cli/verify-command.js';
import { verifyFiles, type Problem, type ProblemKind, type VerifyReport } from '../../src/verify/index.js';
import { prng } from '../helpers/prng.js';
import {
  getAttr,
  makeChain,
  recordHash,
  recordIdOf,
  requestLine,
  seqOf,
  setAttr,
  testStreamId,
  toLines,
} from '../helpers/make-chain.js';

let root: string;
let caseNo = 0;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'otel-audit-verify-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function freshDir(): Promise<string> {
  const d = join(root, `case-${++caseNo}`);
  await mkdir(d, { recursive: true });
  return d;
}

async function writeLines(file: string, lines: readonly string[], opts: { finalNewline?: boolean; eol?: string } = {}): Promise<void> {
  const eol = opts.eol ?? '\n';
  await writeFile(file, lines.join(eol) + (opts.finalNewline === false || lines.length === 0 ? '' : eol));
}


function shuffle<T>(xs: T[], rand: (n: number) => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = rand(i + 1);
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

const errors = (r: VerifyReport): Problem[] => r.problems.filter((p) => p.severity === 'error');
const clone = (records: readonly OtlpLogRecord[]): OtlpLogRecord[] => structuredClone([...records]);
const audit = (name: string): string => `audit-${name}-000001.jsonl`;

// ---------------------------------------------------------------------------------------------------------

interface IntactCase {
  name: string;
  /** Writes files under `dir`, returns what to verify and what the report must say. */
  build: (dir: string) => Promise<{
    paths: string[];
    allowReorder?: boolean;
    streams: Array<{ streamId: string; last: number; ended: boolean; files?: string[] }>;
    nonAudit?: number;
    duplicates?: number;
  }>;
}

const intactCases: IntactCase[] = [
  {
    name: 'one file',
    build: async (dir) => {
      const chain = makeChain(20, { end: true });
      const id = getAttr(chain[0]!, 'audit.sequence.stream_id')!.stringValue!;
      const file = join(dir, audit(id));
      await writeLines(file, toLines(chain, 1));
      return { paths: [file], streams: [{ streamId: id, last: 20, ended: true, files: [file] }] };
    },
  },
  {
    name: 'rotated set over 3 files (directory, quarantine/ skipped)',
    build: async (dir) => {
      const streamId = testStreamId();
      const lines = toLines(makeChain(30, { streamId }), 2);
      const files = [1, 2, 3].map((k) => join(dir, `audit-${streamId}-00000${k}.jsonl`));
      // Written in reverse so directory order, not creation order, must put them in sequence.
      for (let k = 2; k >= 0; k--) await writeLines(files[k]!, lines.slice(k * 5, k * 5 + 5));
      await mkdir(join(dir, 'quarantine'));
      await writeLines(join(dir, 'quarantine', `audit-${streamId}-000000.jsonl`), ['{"resourceLogs":[{'], { finalNewline: false });
      await writeFile(join(dir, 'notes.txt'), 'not a journal');
      return { paths: [dir], streams: [{ streamId, last: 30, ended: false, files }] };
    },
  },
  {
    name: 'several streams interleaved in one file, with non-audit records',
    build: async (dir) => {
      const chains = [makeChain(10, { end: true }), makeChain(7), makeChain(12)];
      const lines: string[] = [];
      for (let i = 0; i < 12; i++) {
        for (const c of chains) if (i < c.length) lines.push(requestLine([c[i]!]));
        if (i % 4 === 0) lines.push(requestLine([{ body: { stringValue: 'app log' }, attributes: [{ key: 'x', value: { intValue: 1 } }] }]));
      }
      const file = join(dir, 'mixed.jsonl');
      await writeLines(file, lines);
      return {
        paths: [file],
        nonAudit: 3,
        streams: chains.map((c) => ({ streamId: getAttr(c[0]!, 'audit.sequence.stream_id')!.stringValue!, last: c.length, ended: c === chains[0] })),
      };
    },
  },
  {
    name: 'collector-style: streams spread over many lines and files, extra resource attributes, lenient ints, CRLF',
    build: async (dir) => {
      const chains = [makeChain(25, { end: true }), makeChain(18), makeChain(9)];
      const rand = prng(7);
      const cursors = chains.map(() => 0);
      const lines: string[] = [];
      while (cursors.some((c, i) => c < chains[i]!.length)) {
        // One request per batch, one ResourceLogs per stream present in it, as a collector groups them.
        const resourceLogs: OtlpResourceLogs[] = [];
        chains.forEach((c, i) => {
          const take = rand(4);
          if (take === 0 || cursors[i]! >= c.length) return;
          const batch = c.slice(cursors[i], cursors[i]! + take);
          cursors[i]! += batch.length;
          resourceLogs.push({
            resource: {
              attributes: [
                { key: 'service.name', value: { stringValue: `svc-${i}` } },
                { key: 'k8s.pod.name', value: { stringValue: `pod-${rand(1000)}` } },
              ],
            },
            scopeLogs: [{ scope: { name: 'audit', version: '1' }, logRecords: batch }],
          });
        });
        if (resourceLogs.length > 0) lines.push(JSON.stringify({ resourceLogs }));
      }
      // Lenient writers give int64 as JSON numbers: same canonical form.
      const lenient = lines.map((l) => l.replace(/"intValue":"(\d+)"/g, '"intValue":$1'));
      const half = Math.ceil(lenient.length / 2);
      await mkdir(join(dir, 'otelcol'));
      await writeLines(join(dir, 'otelcol', 'logs-1.json'), lenient.slice(0, half), { eol: '\r\n' });
      await writeLines(join(dir, 'otelcol', 'logs-2.jsonl'), lenient.slice(half));
      return {
        paths: [join(dir, 'otelcol')],
        streams: chains.map((c, i) => ({ streamId: getAttr(c[0]!, 'audit.sequence.stream_id')!.stringValue!, last: c.length, ended: i === 0 })),
      };
    },
  },
  {
    name: 'shuffled lines across files, --allow-reorder',
    build: async (dir) => {
      const chains = [makeChain(40, { end: true }), makeChain(23)];
      const lines = shuffle([...toLines(chains[0]!, 3), ...toLines(chains[1]!, 2)], prng(42));
      const third = Math.ceil(lines.length / 3);
      for (let k = 0; k < 3; k++) await writeLines(join(dir, `part-${k}.jsonl`), lines.slice(k * third, (k + 1) * third));
      return {
        paths: [dir],
        allowReorder: true,
        streams: chains.map((c, i) => ({ streamId: getAttr(c[0]!, 'audit.sequence.stream_id')!.stringValue!, last: c.length, ended: i === 0 })),
      };
    },
  },
  {
    name: 'duplicated lines (at-least-once redelivery)',
    build: async (dir) => {
      const chain = makeChain(12);
      const lines = toLines(chain, 2);
      const file = join(dir, 'dup.jsonl');
      // A retry resends lines 1–2 after 3, and the last line twice; another file repeats line 0.
      await writeLines(file, [lines[0]!, lines[1]!, lines[2]!, lines[1]!, lines[2]!, lines[3]!, lines[4]!, lines[5]!, lines[5]!]);
      await writeLines(join(dir, 'dup2.jsonl'), [lines[0]!]);
      return {
        paths: [dir],
        duplicates: 2 + 2 + 2 + 2,
        streams: [{ streamId: getAttr(chain[0]!, 'audit.sequence.stream_id')!.stringValue!, last: 12, ended: false }],
      };
    },
  },
];

describe('verifyFiles: intact chains', () => {
  it.each(intactCases)('$name', async ({ build }) => {
    const dir = await freshDir();
    const want = await build(dir);
    const report = await verifyFiles(want.paths, { allowReorder: want.allowReorder ?? false });
    expect(errors(report)).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.nonAudit).toBe(want.nonAudit ?? 0);
    expect(report.problems.filter((p) => p.kind === 'duplicate')).toHaveLength(want.duplicates ?? 0);
    expect(report.streams).toHaveLength(want.streams.length);
    for (const s of want.streams) {
      const got = report.streams.find((x) => x.streamId === s.streamId);
      expect(got).toMatchObject({ first: 1, last: s.last, count: s.last, ended: s.ended, ok: true });
      if (s.files !== undefined) expect(got!.files).toEqual(s.files);
    }
  });

  // Found in review: the extra copy counted toward the run kept in order, so seq 7, which never moved, was blamed.
  it.each([
    ['an identical copy of seq 8 read before seq 7', [0, 1, 2, 3, 4, 5, 7, 6, 7, 8, 9], [8]],
    ['a copy of seq 3 read after seq 9, and one of seq 5 before seq 2', [0, 4, 1, 2, 3, 4, 5, 6, 7, 8, 2, 9], [3, 5]],
  ])('%s (redelivery): a duplicate, not a record reordered', async (_name, order, dup) => {
    const dir = await freshDir();
    const chain = makeChain(10);
    await writeLines(join(dir, 'a.jsonl'), order.map((k) => toLines([chain[k]!])[0]!));
    const report = await verifyFiles([dir]);
    expect(report.problems.map((p) => [p.kind, p.seq])).toEqual(dup.map((n) => ['duplicate', n]));
    expect(report.ok).toBe(true);
  });

  // Found by a mutation fuzz: a record of a later segment read just before a file's last record tied with it, and
  // reading order alone kept the intruder, so the genuine last record was named. Two files: seqs 1–5 and 6–10.
  it.each([
    ['a copy of seq 10 read just before seq 5, the first file\'s last record', [0, 1, 2, 3, 9, 4], [5, 6, 7, 8, 9], [], [10]],
    ['seq 10 moved to just before seq 5', [0, 1, 2, 3, 9, 4], [5, 6, 7, 8], [10], []],
    ['a copy of seq 2 read just after seq 6, the second file\'s first record', [0, 1, 2, 3, 4], [5, 1, 6, 7, 8, 9], [], [2]],
    ['seq 9 moved to just after seq 6', [0, 1, 2, 3, 4], [5, 8, 6, 7, 9], [9], []],
    // Found by the test vectors: as many redelivered copies as the file's own records, read after them.
    ['a redelivered batch of seqs 1–3 read after the second file\'s own seqs 6–8', [0, 1, 2, 3, 4], [5, 6, 7, 0, 1, 2], [], [1, 2, 3]],
    // Found in review: counting only-copies before length let the copies standing between hide the record moved.
    ['seq 8 moved to just before seq 4, seqs 4–7 redelivered in the second file', [0, 1, 2, 7, 3, 4, 5, 6, 8, 9], [3, 4, 5, 6], [8], [4, 5, 6, 7]],
  ])('%s: named, not the record it stands beside', async (_name, first, second, reordered, duplicates) => {
    const dir = await freshDir();
    const chain = makeChain(10);
    await writeLines(join(dir, 'a-1.jsonl'), first.map((k) => toLines([chain[k]!])[0]!));
    await writeLines(join(dir, 'a-2.jsonl'), second.map((k) => toLines([chain[k]!])[0]!));
    const report = await verifyFiles([join(dir, 'a-1.jsonl'), join(dir, 'a-2.jsonl')]);
    expect(errors(report).map((p) => [p.kind, p.seq])).toEqual(reordered.map((n) => ['reordered', n]));
    expect(report.problems.filter((p) => p.kind === 'duplicate').map((p) => p.seq)).toEqual(duplicates);
    expect(report.ok).toBe(reordered.length === 0);
  });

  it('a record moved among duplicates is still the one named', async () => {
    const dir = await freshDir();
    const chain = makeChain(10);
    // seq 2 moved to the end; seq 5 read twice in place.
    await writeLines(join(dir, 'a.jsonl'), [0, 2, 3, 4, 4, 5, 6, 7, 8, 9, 1].map((k) => toLines([chain[k]!])[0]!));
    const report = await verifyFiles([dir]);
    expect(errors(report).map((p) => [p.kind, p.seq])).toEqual([['reordered', 2]]);
  });

  it('reports shuffled lines as reordered without --allow-reorder', async () => {
    const dir = await freshDir();
    const chain = makeChain(30);
    await writeLines(join(dir, 'a.jsonl'), shuffle(toLines(chain, 3), prng(3)));
    const report = await verifyFiles([dir]);
    expect(report.ok).toBe(false);
    expect(new Set(errors(report).map((p) => p.kind))).toEqual(new Set(['reordered']));
  });
});

// ---------------------------------------------------------------------------------------------------------

interface Expected {
  kind: ProblemKind;
  seq?: number;
  /** A range's last seq (docs/integrity.md §8.2), when it differs from seq. */
  through?: number;
  /** File name relative to the case dir; defaults to the single journal file. */
  file?: string;
  line?: number;
  recordId?: string;
  message?: RegExp;
}

interface TamperCase {
  name: string;
  n?: number;
  end?: boolean;
  /** Extra attributes on every record. */
  details?: boolean;
  /** Gets the chain (a copy) and its lines (one record per line); returns the files to write. */
  tamper: (c: { records: OtlpLogRecord[]; lines: string[]; name: string }) => {
    files?: Record<string, string[]>;
    lines?: string[];
    finalNewline?: boolean;
  };
  expect: Expected[];
}

/** A line with its record's audit.sequence.number `seq` edited to read `to`, nothing else changed. */
function withSeq(line: string, seq: number, to: string): string {
  const changed = line.replace(`"key":"${ATTR_SEQ_NUMBER}","value":{"intValue":"${seq}"}`, `"key":"${ATTR_SEQ_NUMBER}","value":{"intValue":"${to}"}`);
  expect(changed).not.toBe(line);
  return changed;
}

const relink = (r: OtlpLogRecord, prev: OtlpLogRecord): void => {
  setAttr(r, ATTR_SEQ_PREVIOUS_HASH, { stringValue: recordHash(prev) });
  setAttr(r, ATTR_SEQ_PREVIOUS_RECORD_ID, { stringValue: recordIdOf(prev) });
};

const tamperCases: TamperCase[] = [
  {
    name: 'string attribute value modified',
    tamper: ({ records }) => {
      setAttr(records[3]!, ATTR_ACTION, { stringValue: 'DELETE' });
      return { lines: toLines(records) };
    },
    expect: [{ kind: 'modified', seq: 4, line: 4, message: /content was changed/ }],
  },
  {
    name: 'body modified',
    tamper: ({ records }) => {
      records[5]!.body = { stringValue: 'nothing happened here' };
      return { lines: toLines(records) };
    },
    expect: [{ kind: 'modified', seq: 6, line: 6 }],
  },
  {
    name: 'int attribute turned into a double',
    details: true,
    tamper: ({ lines }) => {
      const line = lines[2]!;
      const changed = line.replace('{"key":"audit.details.count","value":{"intValue":"5"}}', '{"key":"audit.details.count","value":{"doubleValue":5.5}}');
      expect(changed).not.toBe(line);
      lines[2] = changed;
      return { lines };
    },
    expect: [{ kind: 'modified', seq: 3, line: 3 }],
  },
  {
    name: 'int64 string replaced by a JSON number beyond 2^53 − 1 (JSON.parse would round it back to the original)',
    details: true,
    tamper: ({ records }) => {
      // 9007199254740993 reads as 9007199254740992: hashed as that, the edit would verify.
      setAttr(records[2]!, 'audit.details.count', { intValue: '9007199254740992' });
      for (let k = 3; k < records.length; k++) relink(records[k]!, records[k - 1]!);
      const out = toLines(records);
      const changed = out[2]!.replace('"intValue":"9007199254740992"', '"intValue":9007199254740993');
      expect(changed).not.toBe(out[2]);
      out[2] = changed;
      return { lines: out };
    },
    expect: [
      { kind: 'malformed', line: 3, message: /beyond 2\^53/ },
      { kind: 'deleted', seq: 3, line: 4 },
    ],
  },
  {
    name: 'record id modified (successor names the old id)',
    tamper: ({ records }) => {
      setAttr(records[6]!, ATTR_RECORD_ID, { stringValue: 'someone-else' });
      return { lines: toLines(records) };
    },
    expect: [{ kind: 'modified', seq: 7, line: 7, message: /names ".*-7" as the previous record id/ }],
  },
  // Only the sequence number edited: the record still stands in its place, named by its successor and linked to
  // its predecessor. Reported once, as that record modified, not as a deletion, an insertion and a reordering of
  // every record after it in its file. Found by review: where no successor names it (the last record), it was
  // reported as deletions of records nobody touched, or as an insertion; its own links say where it was written.
  ...[
    { name: 'sequence number of a middle record changed to one past the end', index: 4, to: '50', seq: 5, why: '' },
    { name: 'sequence number of a middle record changed to a later record\'s', index: 4, to: '8', seq: 5, why: '' },
    { name: 'sequence number of a middle record changed to an earlier record\'s', index: 6, to: '2', seq: 7, why: '' },
    { name: 'sequence number of the first record changed', index: 0, to: '99', seq: 1, why: '' },
    { name: 'sequence number of the last record changed to one past the end (nothing names it)', index: 9, to: '40', seq: 10, why: ': its previous_record_id and previous_hash link to seq 9' },
    { name: 'sequence number of the last record changed to an earlier record\'s', index: 9, to: '3', seq: 10, why: ': its previous_record_id and previous_hash link to seq 9' },
    // Found by review: raised by exactly one, it read as the successor of its own predecessor (deleted seq 10).
    { name: 'sequence number of the last record raised by one (nothing names it)', index: 9, to: '11', seq: 10, why: ': its previous_record_id and previous_hash link to seq 9' },
  ].map(
    ({ name, index, to, seq, why }): TamperCase => ({
      name,
      tamper: ({ lines }) => {
        lines[index] = withSeq(lines[index]!, seq, to);
        return { lines };
      },
      expect: [{ kind: 'modified', seq, line: index + 1, recordId: `rec-*-${seq}`, message: new RegExp(`audit\\.sequence\\.number reads ${to}, but it is seq ${seq}${why}`) }],
    }),
  ),
  ...[
    { to: '20', where: 'past the end' },
    { to: '8', where: 'onto another record\'s' },
  ].map(
    ({ to, where }): TamperCase => ({
      name: `sequence number of a middle record changed ${where} in one of two copies (the journal and the collector's)`,
      tamper: ({ lines, name }) => {
        const copy = [...lines];
        copy[4] = withSeq(copy[4]!, 5, to);
        return { files: { [audit(name)]: lines, 'collector.jsonl': copy } };
      },
      expect: [{ kind: 'modified', seq: 5, file: 'collector.jsonl', line: 5, recordId: 'rec-*-5', message: /different version of record seq 5 \(same record id\)/ }],
    }),
  ),
  // Found by review: the last record raised by one in one copy read as a second end record (inserted), and seq 1
  // renumbered in one copy as an inserted record; each is the other copy's record with its seq changed.
  ...[
    { index: 9, seq: 10, to: '11' },
    { index: 0, seq: 1, to: '6' },
  ].map(
    ({ index, seq, to }): TamperCase => ({
      name: `sequence number of record ${seq} changed to ${to} in one of two copies (the journal and the collector's)`,
      tamper: ({ lines, name }) => {
        const copy = [...lines];
        copy[index] = withSeq(copy[index]!, seq, to);
        return { files: { [audit(name)]: lines, 'collector.jsonl': copy } };
      },
      expect: [{ kind: 'modified', seq, file: 'collector.jsonl', line: index + 1, recordId: `rec-*-${seq}`, message: new RegExp(`different version of record seq ${seq} \\(same record id\\)`) }],
    }),
  ),
  {
    // The rule above takes a record back only over a missing seq or a copy of itself, never over another record.
    name: 'a forged record linking to seq 9, numbered far past the end, while seq 10 is held: not taken for seq 10',
    tamper: ({ records }) => {
      const forged = structuredClone(records[9]!);
      setAttr(forged, ATTR_RECORD_ID, { stringValue: 'forged' });
      setAttr(forged, ATTR_SEQ_NUMBER, { intValue: '40' });
      forged.body = { stringValue: 'approved by admin' };
      return { lines: [...toLines(records), ...toLines([forged])] };
    },
    expect: [{ kind: 'deleted', seq: 11, through: 39, line: 11, message: /seq 11–39 \(29 records\) are missing before seq 40/ }],
  },
  {
    name: 'one record deleted',
    tamper: ({ records }) => ({ lines: toLines(records.filter((_, i) => i !== 4)) }),
    // The successor (seq 6) is now on line 5 and names the deleted record.
    expect: [{ kind: 'deleted', seq: 5, line: 5, recordId: 'rec-*-5', message: /seq 5 is missing/ }],
  },
  {
    name: 'a range deleted',
    tamper: ({ records }) => ({ lines: toLines(records.filter((_, i) => i < 3 || i > 5)) }),
    expect: [{ kind: 'deleted', seq: 4, through: 6, line: 4, message: /seq 4–6 \(3 records\)/ }],
  },
  {
    name: 'first records deleted',
    tamper: ({ records }) => ({ lines: toLines(records.slice(2)) }),
    expect: [{ kind: 'deleted', seq: 1, through: 2, line: 1, message: /starts at seq 3/ }],
  },
  {
    name: 'forged record with a duplicate seq (chain recomputed for its predecessor)',
    tamper: ({ records }) => {
      const forged = structuredClone(records[4]!);
      setAttr(forged, ATTR_RECORD_ID, { stringValue: 'forged' });
      forged.body = { stringValue: 'approved by admin' };
      return { lines: [...toLines(records), ...toLines([forged])] };
    },
    expect: [{ kind: 'inserted', seq: 5, line: 11, recordId: 'forged', message: /second, different record claims seq 5/ }],
  },
  // A forged branch: seq 5' links to seq 4, seq 6' to 5'. Seq 5' and the genuine seq 5 are each referenced by a
  // version of seq 6; only the genuine one by the seq 6 the chain goes on through (seq 7 links to it). Read
  // first, the forged branch used to tie at seq 5 and the genuine record be blamed.
  ...(['a-forged.jsonl', 'z-forged.jsonl'] as const).map(
    (forgedFile): TamperCase => ({
      name: `forged branch of two records (seq 5', seq 6' linking to it), read ${forgedFile.startsWith('a') ? 'before' : 'after'} the genuine ones`,
      tamper: ({ records, name }) => {
        const f5 = structuredClone(records[4]!);
        setAttr(f5, ATTR_RECORD_ID, { stringValue: 'forged-5' });
        f5.body = { stringValue: 'approved by admin' };
        const f6 = structuredClone(records[5]!);
        setAttr(f6, ATTR_RECORD_ID, { stringValue: 'forged-6' });
        relink(f6, f5);
        return { files: { [audit(name)]: toLines(records), [forgedFile]: toLines([f5, f6]) } };
      },
      expect: [
        { kind: 'inserted', seq: 5, file: forgedFile, line: 1, recordId: 'forged-5', message: /second, different record claims seq 5; the one at .*audit-.*:5 is referenced by seq 6's previous_hash/ },
        { kind: 'inserted', seq: 6, file: forgedFile, line: 2, recordId: 'forged-6', message: /second, different record claims seq 6/ },
      ],
    }),
  ),
  {
    name: 'altered copy of a record next to the original',
    tamper: ({ records }) => {
      const altered = structuredClone(records[2]!);
      altered.body = { stringValue: 'altered' };
      return { lines: [...toLines(records.slice(0, 3)), ...toLines([altered]), ...toLines(records.slice(3))] };
    },
    expect: [{ kind: 'modified', seq: 3, line: 4, message: /different version/ }],
  },
  {
    name: 'two versions of the last record (nothing links to either), the altered one read first: neither is blamed',
    tamper: ({ records, name }) => {
      const altered = structuredClone(records[9]!);
      altered.body = { stringValue: 'altered' };
      return { files: { 'a-copy.jsonl': toLines([altered]), [audit(name)]: toLines(records) } };
    },
    // Reported at the copy read second (the untouched one), naming both, and claiming neither was the change.
    expect: [{ kind: 'modified', seq: 10, line: 10, message: /^conflicting versions of record seq 10 \(same record id\) at .*a-copy\.jsonl:1 and .*audit-.*:10: each links to seq 9, so which one was changed cannot be told/ }],
  },
  {
    name: 'record appended after the end record',
    end: true,
    tamper: ({ records }) => {
      const forged = structuredClone(records[9]!);
      setAttr(forged, ATTR_SEQ_NUMBER, { intValue: '11' });
      setAttr(forged, ATTR_RECORD_ID, { stringValue: 'late' });
      relink(forged, records[9]!);
      return { lines: [...toLines(records), ...toLines([forged])] };
    },
    expect: [{ kind: 'inserted', seq: 11, line: 11, message: /follows the end record .*links to it.*second end record/ }],
  },
  {
    // Fixed bug, kept as a regression test: taken for an altered end record, which was blamed (modified) while
    // the forged record was not named.
    name: 'a copy of the end record appended as the next seq, its link left as it was (to the record before the end)',
    end: true,
    tamper: ({ records }) => {
      const forged = structuredClone(records[9]!);
      setAttr(forged, ATTR_SEQ_NUMBER, { intValue: '11' });
      setAttr(forged, ATTR_RECORD_ID, { stringValue: 'late' });
      return { lines: [...toLines(records), ...toLines([forged])] };
    },
    expect: [{ kind: 'inserted', seq: 11, line: 11, message: /follows the end record .*links to seq 9 as the end record does: a second successor of that record, appended.*second end record/ }],
  },
  {
    // Fixed bug, kept as a regression test: taken for an end record altered afterwards, the genuine end record
    // was blamed (modified) and the appended record never named. The processor's end event is no record an
    // attacker altered to end the stream early: only an ordinary record carrying the marker is that.
    name: 'a record appended after the processor\'s end event, linking to nothing',
    end: true,
    tamper: ({ records }) => {
      records[9]!.eventName = 'audit.stream.end';
      const forged = structuredClone(records[8]!);
      setAttr(forged, ATTR_SEQ_NUMBER, { intValue: '11' });
      setAttr(forged, ATTR_RECORD_ID, { stringValue: 'late' });
      setAttr(forged, ATTR_SEQ_PREVIOUS_HASH, { stringValue: 'c'.repeat(64) });
      return { lines: toLines([...records, forged]) };
    },
    expect: [{ kind: 'inserted', seq: 11, line: 11, recordId: 'late', message: /follows the end record .*this one does not link to it/ }],
  },
  {
    // Found in review, kept as a regression test: the event name is as editable as the marker; a middle record
    // made into an "end event" made every genuine record after it "inserted", and itself unnamed.
    name: 'a middle record made into the processor\'s end event (event name and marker)',
    n: 20,
    end: true,
    tamper: ({ records }) => {
      records[9]!.eventName = 'audit.stream.end';
      setAttr(records[9]!, ATTR_SEQ_END, { boolValue: true });
      return { lines: toLines(records) };
    },
    expect: [{ kind: 'modified', seq: 10, line: 10, message: /carries audit\.sequence\.end although seq 11 follows/ }],
  },
  {
    name: 'audit.sequence.end added to a middle record (seq 10 of 21)',
    n: 20,
    end: true,
    tamper: ({ records }) => {
      setAttr(records[9]!, ATTR_SEQ_END, { boolValue: true });
      return { lines: toLines(records) };
    },
    // The record that changed is seq 10; seq 11–21 are the genuine rest of the stream, not insertions.
    expect: [{ kind: 'modified', seq: 10, line: 10, message: /no longer matches the previous_hash recorded by seq 11.*carries audit\.sequence\.end although seq 11 follows/ }],
  },
  {
    name: 'two records swapped in a file',
    tamper: ({ records }) => {
      [records[4], records[5]] = [records[5]!, records[4]!];
      return { lines: toLines(records) };
    },
    expect: [{ kind: 'reordered', seq: 5, line: 6 }],
  },
  // One record moved: it is the one named, not every record it now stands before (the running maximum named
  // seq 1–9 for the last record moved to the front).
  {
    name: 'the last record moved to the front of the file',
    tamper: ({ records }) => ({ lines: toLines([records[9]!, ...records.slice(0, 9)]) }),
    expect: [{ kind: 'reordered', seq: 10, line: 1, message: /out of sequence order in its file: read before seq 1;/ }],
  },
  {
    name: 'the first record moved to the end of the file',
    tamper: ({ records }) => ({ lines: toLines([...records.slice(1), records[0]!]) }),
    expect: [{ kind: 'reordered', seq: 1, line: 10, message: /read after seq 10;/ }],
  },
  {
    name: 'a record moved three places back',
    tamper: ({ records }) => ({ lines: toLines([...records.slice(0, 2), ...records.slice(3, 6), records[2]!, ...records.slice(6)]) }),
    expect: [{ kind: 'reordered', seq: 3, line: 6, message: /read after seq 6 and before seq 7; the file's records of this stream are otherwise in ascending order/ }],
  },
  {
    name: 'previous_hash flipped',
    tamper: ({ records }) => {
      const h = getAttr(records[5]!, ATTR_SEQ_PREVIOUS_HASH)!.stringValue!;
      setAttr(records[5]!, ATTR_SEQ_PREVIOUS_HASH, { stringValue: h.slice(0, -1) + (h.endsWith('0') ? '1' : '0') });
      return { lines: toLines(records) };
    },
    expect: [{ kind: 'modified', seq: 6, line: 6, message: /chain attributes included/ }],
  },
  {
    // Found by review: the predecessor was named as changed, as a fact; from one copy the two cannot be told apart.
    name: 'previous_hash of the last record flipped: seq 9 named, with the doubt said',
    tamper: ({ records }) => {
      setAttr(records[9]!, ATTR_SEQ_PREVIOUS_HASH, { stringValue: 'a'.repeat(64) });
      return { lines: toLines(records) };
    },
    expect: [{ kind: 'modified', seq: 9, line: 9, message: /content was changed after it was written — or seq 10's previous_hash was changed: it is the stream's last record/ }],
  },
  {
    name: 'previous_hash removed',
    tamper: ({ records }) => {
      setAttr(records[3]!, ATTR_SEQ_PREVIOUS_HASH, undefined);
      return { lines: toLines(records) };
    },
    expect: [{ kind: 'modified', seq: 4, line: 4, message: /previous_hash is missing/ }],
  },
  {
    name: 'previous_hash added to seq 1',
    tamper: ({ records }) => {
      setAttr(records[0]!, ATTR_SEQ_PREVIOUS_HASH, { stringValue: recordHash(records[1]!) });
      return { lines: toLines(records) };
    },
    expect: [{ kind: 'modified', seq: 1, line: 1, message: /seq 1 carries/ }],
  },
  {
    name: 'torn last line',
    tamper: ({ lines }) => {
      lines[9] = lines[9]!.slice(0, Math.floor(lines[9]!.length / 2));
      return { lines, finalNewline: false };
    },
    expect: [{ kind: 'torn', line: 10 }],
  },
  {
    name: 'malformed middle line',
    tamper: ({ lines }) => {
      lines[4] = '{"resourceLogs":[{"scopeLogs":[';
      return { lines };
    },
    // Its record is gone from the chain, so the gap shows too, at the successor.
    expect: [
      { kind: 'malformed', line: 5 },
      { kind: 'deleted', seq: 5, line: 6 },
    ],
  },
  {
    name: 'not a logs request',
    tamper: ({ lines }) => {
      lines.splice(3, 0, '{"resourceSpans":[]}');
      return { lines };
    },
    expect: [{ kind: 'malformed', line: 4, message: /resourceSpans/ }],
  },
  {
    name: 'modified record in the middle file of a rotated set',
    n: 30,
    tamper: ({ records, name }) => {
      records[14]!.body = { stringValue: 'changed' };
      const lines = toLines(records);
      return {
        files: {
          [`audit-${name}-000001.jsonl`]: lines.slice(0, 10),
          [`audit-${name}-000002.jsonl`]: lines.slice(10, 20),
          [`audit-${name}-000003.jsonl`]: lines.slice(20),
        },
      };
    },
    expect: [{ kind: 'modified', seq: 15, line: 5, file: 'audit-*-000002.jsonl' }],
  },
];

describe('verifyFiles: tampering is detected and located', () => {
  it.each(tamperCases)('$name', async (tc) => {
    const dir = await freshDir();
    const streamId = testStreamId();
    const records = makeChain(tc.n ?? 10, {
      streamId,
      end: tc.end ?? false,
      ...(tc.details === true ? { extraAttrs: (seq: number) => [{ key: 'audit.details.count', value: { intValue: String(seq + 2) } }] } : {}),
    });
    const out = tc.tamper({ records: clone(records), lines: toLines(records), name: streamId });
    const files = out.files ?? { [audit(streamId)]: out.lines ?? [] };
    for (const [name, lines] of Object.entries(files)) await writeLines(join(dir, name), lines, { finalNewline: out.finalNewline ?? true });

    const report = await verifyFiles([dir]);
    expect(report.ok).toBe(false);
    for (const e of tc.expect) {
      // '*' in an expected file name is the stream id; in a record id, its last 6 characters (see makeChain).
      const file = join(dir, e.file === undefined ? audit(streamId) : e.file.replace('*', streamId));
      expect(report.problems).toContainEqual(
        expect.objectContaining({
          kind: e.kind,
          severity: 'error',
          file,
          ...(e.line === undefined ? {} : { line: e.line }),
          ...(e.seq === undefined ? {} : { seq: e.seq, stream: streamId }),
          ...(e.through === undefined ? {} : { through: e.through }),
          ...(e.recordId === undefined ? {} : { recordId: e.recordId.replace('*', streamId.slice(-6)) }),
          ...(e.message === undefined ? {} : { message: expect.stringMatching(e.message) }),
        }),
      );
    }
    // Nothing else: one tampering, one finding (per expected kind).
    expect(errors(report).map((p) => p.kind).sort()).toEqual(tc.expect.map((e) => e.kind).sort());
    if (tc.expect.some((e) => e.seq !== undefined)) expect(report.streams[0]!.ok).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('verifyFiles: random single-record tampering is always detected and located', () => {
  it('200 random chains', async () => {
    const rand = prng(20240611);
    const dir = await freshDir();
    for (let round = 0; round < 200; round++) {
      const n = 3 + rand(28);
      const perLine = 1 + rand(3);
      const streamId = testStreamId();
      const records = makeChain(n, { streamId, end: rand(2) === 1 });
      const op = (['modify', 'delete', 'swap'] as const)[rand(3)]!;
      // The last record is excluded from modify/delete: no successor records its hash, so its content is not
      // covered by the chain, and deleting it (even an end record) leaves a valid shorter chain. Only a
      // signature or checkpoint can cover it.
      const k = rand(n - 1);
      const layout = clone(records);
      let want: { kind: ProblemKind; seq: number; at: OtlpLogRecord };
      if (op === 'modify') {
        const r = layout[k]!;
        const how = rand(5);
        if (how === 0) r.body = { stringValue: `forged ${round}` };
        else if (how === 1) setAttr(r, ATTR_ACTION, { stringValue: 'GRANT' });
        else if (how === 2) setAttr(r, 'audit.reason', { stringValue: 'added later' });
        else if (how === 3) r.timeUnixNano = String(BigInt(r.timeUnixNano as string) + 1n);
        else if (k > 0) setAttr(r, ATTR_SEQ_PREVIOUS_HASH, { stringValue: 'f'.repeat(64) });
        else setAttr(r, ATTR_SEQ_END, { boolValue: false });
        want = { kind: 'modified', seq: k + 1, at: r };
      } else if (op === 'delete') {
        layout.splice(k, 1);
        want = { kind: 'deleted', seq: k + 1, at: layout[k]! }; // located at the successor
      } else {
        const j = k + 1 + rand(n - k - 1);
        [layout[k], layout[j]] = [layout[j]!, layout[k]!];
        want = { kind: 'reordered', seq: k + 1, at: layout[j]! }; // the lower seq, now after the higher one
      }
      const file = join(dir, `audit-${streamId}-000001.jsonl`);
      await writeLines(file, toLines(layout, perLine));
      const line = Math.floor(layout.indexOf(want.at) / perLine) + 1;

      const report = await verifyFiles([file]);
      const ctx = `round ${round}: ${op} seq ${k + 1} of ${n}, ${perLine}/line`;
      expect(report.ok, ctx).toBe(false);
      expect(report.problems, ctx).toContainEqual(
        expect.objectContaining({ kind: want.kind, stream: streamId, seq: want.seq, file, line, severity: 'error' }),
      );
      expect(new Set(errors(report).map((p) => p.kind)), ctx).toEqual(new Set([want.kind]));
      if (op !== 'swap') expect(errors(report), ctx).toHaveLength(1);
      expect(seqOf(want.at), ctx).toBe(op === 'delete' ? k + 2 : k + 1);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------

describe('verifyFiles: a head removed by retention (state/retention.log and the state file)', () => {
  /** A journal directory holding seq 5–12 of a stream, a retention.log entry for seq 1–4, and optionally a state file. */
  async function headCut(state: { acked: number; last?: number; ended?: boolean } | undefined, alsoDeleted = 0): Promise<{ dir: string; streamId: string }> {
    const dir = await freshDir();
    const streamId = testStreamId();
    const records = makeChain(12, { streamId, end: true });
    await writeLines(join(dir, `audit-${streamId}-000002.jsonl`), toLines(records.slice(4 + alsoDeleted)));
    await mkdir(join(dir, 'state'));
    const entry = { streamId, file: `audit-${streamId}-000001.jsonl`, last: 4, lastHash: recordHash(records[3]!), deletedAt: '2026-11-28T00:00:00.000Z' };
    await writeLines(join(dir, 'state', 'retention.log'), [JSON.stringify(entry)]);
    if (state !== undefined) {
      const st = { version: 1, streamId, pid: 1, host: 'h', startedAt: '2026-11-28T00:00:00.000Z', last: 12, ended: true, done: false, ...state };
      await writeLines(join(dir, 'state', `${streamId}.state`), [JSON.stringify(st)]);
    }
    return { dir, streamId };
  }

  it('the state file records the cut acknowledged: deleted as info', async () => {
    const { dir, streamId } = await headCut({ acked: 12 });
    const r = await verifyFiles([dir]);
    expect(r.ok).toBe(true);
    expect(r.problems).toEqual([expect.objectContaining({ kind: 'deleted', severity: 'info', stream: streamId, seq: 1, through: 4, message: expect.stringMatching(/removed by retention.*records seq 12 acknowledged/) })]);
  });

  // Fixed bug, kept as a regression test: a stream deleted whole from a journal directory, its state file left,
  // went unmentioned (exit 0, nothing said). Info, like a cut tail: the state file is not authenticated. Records
  // the collector acknowledged are not expected in a journal (OTEL_AUDIT_FILE=fallback never writes them).
  // Fixed bug, kept as a regression test: a stream retention had removed whole got no line at all, and a
  // retention.log line past what the state file records acknowledged was taken for the records it claimed (in a
  // stream's own check such a claim is not taken: retention removes only acknowledged records).
  it.each([
    ['nothing acknowledged, no retention', 0, 0, { seq: 1, through: 12 }, undefined, false],
    ['seq 1–8 acknowledged, 1–4 removed by retention', 8, 4, { seq: 9, through: 12 }, 4, false],
    ['seq 1–5 acknowledged, a retention claim of seq 1–11', 5, 11, { seq: 6, through: 12 }, undefined, true],
    ['everything acknowledged (a fallback journal never held them)', 12, 0, undefined, undefined, false],
    ['seq 1–5 acknowledged, a retention claim of every record', 5, 12, { seq: 6, through: 12 }, undefined, true],
    ['everything acknowledged and removed by retention', 12, 12, undefined, 12, false],
  ] as const)('a stream with a state file and no record among the inputs: %s', async (_, acked, retainedThrough, expected, retiredThrough, claimRefused) => {
    const { dir } = await headCut({ acked: 12 });
    const gone = testStreamId();
    const records = makeChain(12, { streamId: gone, end: true });
    const st = { version: 1, streamId: gone, pid: 2, host: 'h', startedAt: '2026-11-28T00:00:00.000Z', acked, last: 12, ended: true, done: acked === 12 };
    await writeLines(join(dir, 'state', `${gone}.state`), [JSON.stringify(st)]);
    if (retainedThrough > 0) {
      const entry = { streamId: gone, file: `audit-${gone}-000001.jsonl`, last: retainedThrough, lastHash: recordHash(records[retainedThrough - 1]!), deletedAt: '2026-11-28T00:00:00.000Z' };
      await writeFile(join(dir, 'state', 'retention.log'), JSON.stringify(entry) + '\n', { flag: 'a' });
    }
    const r = await verifyFiles([dir]);
    expect(r.ok).toBe(true);
    const mine = r.problems.filter((p) => p.stream === gone);
    const retired = mine.filter((p) => p.kind === 'deleted');
    const missing = mine.filter((p) => p.kind === 'truncated');
    expect(retired.length + missing.length).toBe(mine.length);
    if (retiredThrough === undefined) expect(retired).toEqual([]);
    else {
      expect(retired).toEqual([expect.objectContaining({ severity: 'info', seq: 1, through: retiredThrough, file: join(dir, 'state', 'retention.log') })]);
      expect(retired[0]!.message).toMatch(new RegExp(`^no record of this stream is among the inputs: seq 1–${retiredThrough} were removed by retention .* records seq ${acked} acknowledged`));
    }
    if (expected === undefined) expect(missing).toEqual([]);
    else {
      expect(missing).toEqual([expect.objectContaining({ severity: 'info', reason: 'state_file', ...expected })]);
      expect(missing[0]!.message).toMatch(/^no record of this stream is among the inputs, but its state file says the producer closed it at seq 12/);
      expect(missing[0]!.message.includes(`claims seq 1–${retainedThrough} were removed by retention`)).toBe(claimRefused);
    }
  });

  // Found in review: with two journal directories, the lines said depended on their order and contradicted
  // each other (a cut backed in one directory was called a claim not taken against the other's older state file).
  it.each([['a', 'b'], ['b', 'a']] as const)('a stream retention removed whole in one directory, an older state file of it in another (order %s, %s): one line', async (...order) => {
    const root = await freshDir();
    const gone = testStreamId();
    const records = makeChain(12, { streamId: gone, end: true });
    const st = (acked: number): string => JSON.stringify({ version: 1, streamId: gone, pid: 2, host: 'h', startedAt: '2026-11-28T00:00:00.000Z', acked, last: 12, ended: true, done: acked === 12 });
    for (const d of ['a', 'b']) await mkdir(join(root, d, 'state'), { recursive: true });
    // a: something else to verify, and the stream's state from before its records were acknowledged.
    await writeLines(join(root, 'a', 'audit-other.jsonl'), toLines(makeChain(3)));
    await writeLines(join(root, 'a', 'state', `${gone}.state`), [st(2)]);
    // b: the stream acknowledged and removed by retention.
    await writeLines(join(root, 'b', 'state', `${gone}.state`), [st(12)]);
    const entry = { streamId: gone, file: `audit-${gone}-000001.jsonl`, last: 12, lastHash: recordHash(records[11]!), deletedAt: '2026-11-28T00:00:00.000Z' };
    await writeLines(join(root, 'b', 'state', 'retention.log'), [JSON.stringify(entry)]);
    const r = await verifyFiles(order.map((d) => join(root, d)));
    expect(r.ok).toBe(true);
    expect(r.problems.filter((p) => p.stream === gone)).toEqual([expect.objectContaining({ kind: 'deleted', severity: 'info', seq: 1, through: 12 })]);
  });

  it('a stream acknowledged through its end, retention having removed only its head: the rest is named', async () => {
    const { dir } = await headCut({ acked: 12 });
    const gone = testStreamId();
    const records = makeChain(12, { streamId: gone, end: true });
    await writeLines(join(dir, 'state', `${gone}.state`), [JSON.stringify({ version: 1, streamId: gone, pid: 2, host: 'h', startedAt: '2026-11-28T00:00:00.000Z', acked: 12, last: 12, ended: true, done: true })]);
    const entry = { streamId: gone, file: `audit-${gone}-000001.jsonl`, last: 8, lastHash: recordHash(records[7]!), deletedAt: '2026-11-28T00:00:00.000Z' };
    await writeFile(join(dir, 'state', 'retention.log'), JSON.stringify(entry) + '\n', { flag: 'a' });
    const r = await verifyFiles([dir]);
    const mine = r.problems.filter((p) => p.stream === gone);
    expect(mine).toEqual([expect.objectContaining({ kind: 'deleted', severity: 'info', seq: 1, through: 8 })]);
    expect(mine[0]!.message).toMatch(/seq 9–12, acknowledged too, are neither among the inputs nor in retention\.log/);
  });

  // Fixed bug, kept as a regression test: the gap was "seq 1–6 (6 records) are missing", retention not mentioned.
  it('the records after the cut deleted too: those are the error, the cut stays info', async () => {
    const { dir, streamId } = await headCut({ acked: 12 }, 2);
    const r = await verifyFiles([dir]);
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([
      expect.objectContaining({ kind: 'deleted', severity: 'info', stream: streamId, seq: 1, message: expect.stringMatching(/^seq 1–4 were removed by retention .*records seq 12 acknowledged; not checked against a record: seq 5, which carries the hash of seq 4, is missing too$/) }),
      expect.objectContaining({ kind: 'deleted', severity: 'error', stream: streamId, seq: 5, message: expect.stringMatching(/^seq 5–6 \(2 records\) are missing before seq 7 at .* \(seq 1–4 were removed by retention\)/) }),
    ]);
  });

  it.each([
    { name: 'the state file says nothing was acknowledged', state: { acked: 0 }, says: /records only seq 0 \(none\) acknowledged/ },
    { name: 'the state file says less than the cut was acknowledged', state: { acked: 3 }, says: /records only seq 3 acknowledged/ },
    { name: 'there is no state file', state: undefined, says: /has no readable state file/ },
  ])('a retention.log line the state file does not back ($name): deleted, an error', async ({ state, says }) => {
    const { dir, streamId } = await headCut(state);
    const r = await verifyFiles([dir]);
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([
      expect.objectContaining({ kind: 'deleted', severity: 'error', stream: streamId, seq: 1, message: expect.stringMatching(/seq 1–4 \(4 records\) are missing.*retention\.log claims seq 1–4 were removed by retention/) }),
    ]);
    expect(r.problems[0]!.message).toMatch(says);
  });
});

describe('runVerifyCommand', () => {
  const run = async (argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> => {
    const out: string[] = [];
    const err: string[] = [];
    // Writers get whole lines ending in '\n' (the CLI passes process.stdout.write).
    const lines = (into: string[]) => (s: string): void => {
      expect(s.endsWith('\n')).toBe(true);
      into.push(s.slice(0, -1));
    };
    const code = await runVerifyCommand(argv, lines(out), lines(err));
    return { code, out, err };
  };

  async function journal(tamper?: (records: OtlpLogRecord[]) => void): Promise<{ file: string; streamId: string; records: OtlpLogRecord[] }> {
    const dir = await freshDir();
    const streamId = testStreamId();
    const records = makeChain(8, { streamId, end: true });
    tamper?.(records);
    const file = join(dir, audit(streamId));
    await writeLines(file, toLines(records));
    return { file, streamId, records };
  }

  it('exits 0 on an intact chain', async () => {
    const { file, streamId } = await journal();
    const r = await run([file]);
    expect(r.code).toBe(0);
    expect(r.err).toEqual([]);
    expect(r.out).toContainEqual(expect.stringContaining(`stream ${streamId}: seq 1–8, 8 records, ended`));
    expect(r.out.at(-1)).toMatch(/^OK: 1 file, 8 audit records, 1 stream/);
  });

  it('exits 1 and names stream, seq, record and file:line', async () => {
    const { file, streamId, records } = await journal((rs) => {
      rs[2]!.body = { stringValue: 'changed' };
    });
    const r = await run([file]);
    expect(r.code).toBe(1);
    expect(r.out[0]!.startsWith(`MODIFIED stream=${streamId} seq=3 record=${recordIdOf(records[2]!)} at ${file}:3 — `)).toBe(true);
    expect(r.out.at(-1)).toMatch(/^FAILED: 1 integrity problem in 1 file, 8 audit records, 1 stream \(1 modified\)/);
  });

  it('--json prints one parsable report', async () => {
    const { file, streamId } = await journal((rs) => rs.splice(4, 1));
    const r = await run(['--json', file]);
    expect(r.code).toBe(1);
    expect(r.out).toHaveLength(1);
    const report = JSON.parse(r.out[0]!) as VerifyReport;
    expect(report).toMatchObject({ ok: false, files: 1, records: 7, nonAudit: 0 });
    expect(report.problems).toEqual([expect.objectContaining({ kind: 'deleted', severity: 'error', stream: streamId, seq: 5, file, line: 5 })]);
  });

  it('exits 1 on a torn line', async () => {
    const dir = await freshDir();
    const file = join(dir, 'torn.jsonl');
    await writeLines(file, toLines(makeChain(3)).map((l, i) => (i === 2 ? l.slice(0, 30) : l)), { finalNewline: false });
    const r = await run([file]);
    expect(r.code).toBe(1);
    expect(r.out[0]!.startsWith(`TORN at ${file}:3 — `)).toBe(true);
  });

  it('--allow-reorder accepts out-of-order records', async () => {
    const { file } = await journal((rs) => {
      [rs[1], rs[2]] = [rs[2]!, rs[1]!];
    });
    expect((await run([file])).code).toBe(1);
    expect((await run(['--allow-reorder', file])).code).toBe(0);
  });

  it.each([
    { name: 'no arguments', argv: [], says: /no file or directory/ },
    { name: 'unknown flag', argv: ['--bogus', 'x.jsonl'], says: /unknown option "--bogus"/ },
    { name: 'missing file', argv: ['/nonexistent/otel-audit/none.jsonl'], says: /\/nonexistent\/otel-audit\/none\.jsonl/ },
  ])('exits 2 on $name', async ({ argv, says }) => {
    const r = await run(argv);
    expect(r.code).toBe(2);
    expect(r.out).toEqual([]);
    expect(r.err.join('\n')).toMatch(says);
  });

  it('exits 2 when the files hold no audit record (all truncated to 0 bytes, or only other logs): nothing was verified', async () => {
    const dir = await freshDir();
    for (let k = 1; k <= 3; k++) await writeFile(join(dir, `audit-x-00000${k}.jsonl`), '');
    const empty = await run([dir]);
    expect(empty.code).toBe(2);
    expect(empty.out).toEqual([]);
    expect(empty.err).toEqual(['otel-audit verify: no audit records in 3 files: nothing was verified']);
    await writeLines(join(dir, 'other.jsonl'), [requestLine([{ body: { stringValue: 'app log' } }])]);
    const others = await run(['--json', dir]);
    expect(others.code).toBe(2);
    expect(others.err).toEqual(['otel-audit verify: no audit records in 4 files (1 non-audit record ignored): nothing was verified']);
    // A bad line is a finding, not "nothing": still exit 1.
    await writeLines(join(dir, 'bad.jsonl'), ['{"resourceLogs":[{'], { finalNewline: true });
    const bad = await run([dir]);
    expect(bad.code).toBe(1);
    expect(bad.out.at(-1)).toMatch(/^FAILED: 1 integrity problem in 5 files, 0 audit records, 0 streams \(1 malformed/);
  });

  it('exits 2 when a directory holds no journal files', async () => {
    const dir = await freshDir();
    const r = await run([dir]);
    expect(r.code).toBe(2);
    expect(r.err.join('\n')).toMatch(/no \*\.jsonl or \*\.json files/);
  });
});

