/**
 * tail in-process: the last N by time over a journal made by real processors through an outage (two streams,
 * rotated segments), following a file that is written a piece at a time, link checks of followed records,
 * and usage errors.
 */
import { appendFileSync, mkdirSync, readdirSync, readlinkSync, renameSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { auditRecordOf, type AuditRecord } from '../../src/audit-search/audit-record.js';
import { FileFollower, MAX_HELD } from '../../src/audit-search/file-follower.js';
import { LinkTracker } from '../../src/audit-search/link-tracker.js';
import type { MatchJson } from '../../src/audit-search/match.js';
import { runTailCommand } from '../../src/cli/tail-command.js';
import { ATTR_ACTOR_ID } from '../../src/core/attributes.js';
import type { OtlpLogRecord } from '../../src/otlp/types.js';
import { makeChain, recordHash, retentionFixture, setAttr, testStreamId, toLines } from '../helpers/make-chain.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';
import { buildOutageFixture, type OutageFixture } from '../search/outage-fixture.js';
import { referenceRecords } from '../search/reference.js';

async function tail(argv: string[], signal?: AbortSignal): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runTailCommand(argv, { out: (s) => void (out += s), err: (s) => void (err += s) }, signal ? { signal } : {});
  return { code, out, err };
}
const jsonOf = (out: string): MatchJson[] => out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as MatchJson);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * `otel-audit tail <args>` (the built CLI) in a child process limited to `maxFiles` open files. A following tail
 * gets SIGTERM once `records` JSON lines are out and it has polled on for a while (not after a fixed time: on a
 * loaded machine the first pass may take longer than any fixed time); one that ends by itself is awaited. Stops
 * by itself after 60 s.
 */
function followUnderLimit(maxFiles: number, args: string[], records: number): Promise<{ stdout: string; stderr: string; status: number | null }> {
  const cli = join(import.meta.dirname, '../../dist/cli.js');
  const child = spawn('sh', ['-c', `ulimit -n ${maxFiles} && exec "$0" "$@"`, process.execPath, cli, 'tail', ...args]);
  let stdout = '';
  let stderr = '';
  let stopping = false;
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
    if (!stopping && stdout.split('\n').length > records && args.includes('--follow')) {
      stopping = true;
      setTimeout(() => child.kill('SIGTERM'), 300); // some 15 polls at --interval 20 under the limit
    }
  });
  child.stderr.setEncoding('utf8').on('data', (s: string) => void (stderr += s));
  const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) => {
    child.on('close', (status) => {
      clearTimeout(guard);
      resolve({ stdout, stderr, status });
    });
  });
}

describe('tail over a journal made through an outage', () => {
  let fx: OutageFixture;
  beforeAll(async () => {
    fx = await buildOutageFixture();
  }, 120_000);
  afterAll(async () => fx?.pipeline.dispose());

  it.each([1, 5, 10, 250])('-n %i: the last N records of every stream and segment, by time, each once', async (n) => {
    const ref = [...referenceRecords([fx.auditDir]).values()].sort((a, b) => (a.time! < b.time! ? -1 : a.time! > b.time! ? 1 : 0));
    const { code, out } = await tail(['-n', String(n), '--json', fx.auditDir]);
    expect(code).toBe(0);
    const got = jsonOf(out);
    expect(got.map((m) => `${m.streamId}#${m.sequence}`)).toEqual(ref.slice(-n).map((r) => `${r.streamId}#${r.seq}`));
    expect(got.every((m) => m.chain === 'verified')).toBe(true);
  });

  it('the default is 10 rows of the search table; a collector copy file with repeated batches works too', async () => {
    const { out } = await tail([fx.auditDir]);
    expect(out.trimEnd().split('\n')).toHaveLength(11);
    const file = join(fx.collectorDir, 'export-3.jsonl'); // ends with two batches that export-1 also has
    const got = jsonOf((await tail(['-n', '1000', '--json', file])).out);
    const keys = got.map((m) => `${m.streamId}#${m.sequence}`);
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('tail --follow in-process', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await tempDir()));
  afterEach(async () => cleanup());

  it('prints a line once it is complete, follows new files, and stops on the signal', async () => {
    const a = makeChain(8);
    const lines = toLines(a);
    const file = join(dir, 'audit-a-000001.jsonl');
    writeFileSync(file, lines.slice(0, 2).join('\n') + '\n');
    const ac = new AbortController();
    let out = '';
    const running = runTailCommand(['--follow', '--json', '-n', '5', '--interval', '20', dir], { out: (x) => void (out += x), err: () => {} }, { signal: ac.signal });
    const shown = (n: number): Promise<void> => until(() => jsonOf(out).length >= n, () => `${n} records shown: ${out}`);
    await shown(2);
    const half = Math.floor(lines[2]!.length / 2);
    appendFileSync(file, lines[2]!.slice(0, half)); // a writer mid-line: nothing yet
    await sleep(150);
    expect(jsonOf(out)).toHaveLength(2);
    appendFileSync(file, lines[2]!.slice(half) + '\n');
    writeFileSync(join(dir, 'audit-a-000002.jsonl'), lines.slice(3, 5).join('\n') + '\n'); // rotation
    await shown(5);
    appendFileSync(join(dir, 'audit-a-000002.jsonl'), lines[1]! + '\n'); // a copy of seq 2: folded
    appendFileSync(join(dir, 'audit-a-000002.jsonl'), lines[6]! + '\n'); // seq 7 after 5: seq 6 missing
    await shown(6);
    await sleep(100); // the copy of seq 2, had it not been folded, would show by now
    ac.abort();
    expect(await running).toBe(0);
    const got = jsonOf(out);
    expect(got.map((m) => [m.sequence, m.chain])).toEqual([
      [1, 'verified'],
      [2, 'verified'],
      [3, 'verified'],
      [4, 'verified'],
      [5, 'verified'],
      [7, 'broken'],
    ]);
    expect(got[5]!.chainProblem).toEqual({ kind: 'deleted', seq: 6 });
  });
});

// Found in review (a known limit until then): a segment that retention created and deleted between two polls left a
// gap that tail showed as `BROKEN: deleted` for the rest of its run, where verify finds the cut in state/retention.log.
describe('tail --follow: a gap that a retention cut accounts for', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await tempDir()));
  afterEach(async () => cleanup());

  const { records: a, streamId, lines, h, cut, state } = retentionFixture(9, (k) => join(dir, `audit-a-00000${k}.jsonl`));

  // While tail follows, retention deletes the segment tail read (seq 1-3) and the next one, made and deleted between
  // two polls (seq 4-6), writing each one's line first; seq 7-9 come in a third segment.
  it.each([
    { what: 'the cuts retention writes', log: () => [cut(3, h(3)), cut(6, h(6))], acked: 6, keepFirst: false, chain: 'unknown' },
    { what: 'no retention line', log: () => [], acked: 6, keepFirst: false, chain: 'broken' },
    { what: 'a cut the state file does not back (acknowledged up to 5)', log: () => [cut(3, h(3)), cut(6, h(6))], acked: 5, keepFirst: false, chain: 'broken' },
    { what: 'a cut whose hash seq 7 does not link to', log: () => [cut(3, h(3)), cut(6, h(5))], acked: 6, keepFirst: false, chain: 'broken' },
    { what: 'a cut that ends before the gap does (seq 5, with the hash of seq 6)', log: () => [cut(3, h(3)), cut(5, h(6))], acked: 6, keepFirst: false, chain: 'broken' },
    // Found in review: verify takes a cut only at a stream's start; the segment with seq 1-3 still there, the gap is a deletion.
    { what: 'the cut of a segment from the middle of the stream (seq 1-3 still there)', log: () => [cut(6, h(6))], acked: 6, keepFirst: true, chain: 'broken' },
    // Found in review: a line with the same last and another hash before the genuine one hid it.
    { what: 'another line with the same last and a wrong hash first', log: () => [cut(3, h(3)), cut(6, h(2)), cut(6, h(6))], acked: 6, keepFirst: false, chain: 'unknown' },
    // The log read as it grows: lines of another stream there before tail started, these appended.
    { what: 'the cuts appended to a log that was there', log: () => [cut(3, h(3)), cut(6, h(6))], acked: 6, keepFirst: false, chain: 'unknown', before: true },
    // Found in re-review: verify takes no cut while a copy of earlier records is in the directory under another name.
    { what: 'the cuts, and a copy of seq 1-3 under another name', log: () => [cut(3, h(3)), cut(6, h(6))], acked: 6, keepFirst: false, chain: 'broken', copy: true },
    // Found in re-review: cuts read before the log was truncated still counted.
    { what: 'the cuts, read, then the log truncated', log: () => [cut(3, h(3)), cut(6, h(6))], acked: 6, keepFirst: false, chain: 'broken', truncate: true },
  ])('$what: seq 7-9 $chain', async ({ log, acked, keepFirst, chain, before, copy, truncate }) => {
    const first = join(dir, 'audit-a-000001.jsonl');
    writeFileSync(first, lines.slice(0, 3).join('\n') + '\n');
    if (copy === true) writeFileSync(join(dir, 'zz-backup.jsonl'), lines.slice(0, 3).join('\n') + '\n');
    if (before === true) {
      mkdirSync(join(dir, 'state'));
      const other = JSON.stringify({ streamId: testStreamId(), file: 'x', last: 5, lastHash: 'ab'.repeat(32), deletedAt: new Date().toISOString() });
      writeFileSync(join(dir, 'state', 'retention.log'), `${other}\n`.repeat(50));
    }
    const ac = new AbortController();
    let out = '';
    let errs = '';
    const running = runTailCommand(['--follow', '--json', '-n', '10', '--interval', '20', dir], { out: (x) => void (out += x), err: (x) => void (errs += x) }, { signal: ac.signal });
    await until(() => jsonOf(out).length >= 3, () => `seq 1-3 shown: ${out}`); // the segment read before retention deletes it
    mkdirSync(join(dir, 'state'), { recursive: true });
    writeFileSync(join(dir, 'state', `${streamId}.state`), state(acked));
    appendFileSync(join(dir, 'state', 'retention.log'), log().join(''));
    if (truncate === true) {
      await sleep(100); // read
      truncateSync(join(dir, 'state', 'retention.log'), 0);
      await sleep(100);
    }
    if (!keepFirst) rmSync(first);
    writeFileSync(join(dir, 'audit-a-000003.jsonl'), lines.slice(6).join('\n') + '\n');
    await until(() => jsonOf(out).length >= 6, () => `seq 7-9 shown: ${out}`);
    ac.abort();
    expect(await running).toBe(0);
    const got = jsonOf(out);
    expect(got.map((m) => [m.sequence, m.chain])).toEqual([
      [1, 'verified'],
      [2, 'verified'],
      [3, 'verified'],
      [7, chain],
      [8, chain],
      [9, chain],
    ]);
    if (chain === 'broken') expect(got[3]!.chainProblem).toEqual({ kind: 'deleted', seq: 4 });
    if (chain === 'unknown') expect(errs).toMatch(/seq 4-6 deleted by retention before tail read them .*: the chain from there is unknown to tail/);
    else expect(errs).not.toMatch(/deleted by retention/);
  });
});

describe('tail --follow across rotation by rename (found in review)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await tempDir()));
  afterEach(async () => cleanup());

  it.each(['the file', 'its directory'])('following %s: every record once, in order, none broken', async (what) => {
    const lines = toLines(makeChain(12));
    const out = join(dir, 'out.jsonl');
    writeFileSync(out, lines.slice(0, 3).join('\n') + '\n');
    const ac = new AbortController();
    let printed = '';
    let err = '';
    const running = runTailCommand(['--follow', '--json', '-n', '100', '--interval', '20', what === 'the file' ? out : dir], { out: (s) => void (printed += s), err: (s) => void (err += s) }, { signal: ac.signal });
    /** Until `n` records are printed: the file being rotated has been read (so held open), however slow the machine. */
    const shown = async (n: number): Promise<void> => {
      for (let t = 0; jsonOf(printed).length < n; t++) {
        if (t > 500) throw new Error(`${jsonOf(printed).length} records shown, ${n} expected`);
        await sleep(20);
      }
    };
    await shown(3);
    // logrotate's names (not *.jsonl, out of the listing), then a collector's (a *.jsonl name, read as a new file).
    appendFileSync(out, lines.slice(3, 5).join('\n') + '\n');
    renameSync(out, `${out}.1`);
    writeFileSync(out, lines.slice(5, 8).join('\n') + '\n');
    await shown(8);
    appendFileSync(out, lines[8]! + '\n');
    renameSync(out, join(dir, 'out-0002.jsonl'));
    writeFileSync(out, lines.slice(9).join('\n') + '\n');
    await shown(12);
    await sleep(100); // a copy read late (the directory's out-0002.jsonl) must stay folded
    ac.abort();
    expect(await running).toBe(0);
    expect(jsonOf(printed).map((m) => [m.sequence, m.chain])).toEqual(Array.from({ length: 12 }, (_, i) => [i + 1, 'verified']));
    expect(err).toBe('');
  });

  // Found in review: a file rotated to a name tail lists too (a collector's file exporter: audit.jsonl → audit-<time>.jsonl,
  // which sorts before it) was read again from its start under the new name, one "another copy … not compared"
  // line on stderr per record read before following began.
  it('a file rotated to a name it also follows is read on from where it was, not again', async () => {
    const lines = toLines(makeChain(9));
    const out = join(dir, 'audit.jsonl');
    writeFileSync(out, lines.slice(0, 5).join('\n') + '\n'); // read before following begins
    const ac = new AbortController();
    let printed = '';
    let err = '';
    // -n 2: seq 1–3 are read and not shown, so a second read of them could not be compared (said per record).
    const running = runTailCommand(['--follow', '--json', '-n', '2', '--interval', '20', dir], { out: (s) => void (printed += s), err: (s) => void (err += s) }, { signal: ac.signal });
    for (let t = 0; jsonOf(printed).length < 2 && t < 500; t++) await sleep(20);
    appendFileSync(out, lines[5]! + '\n');
    renameSync(out, join(dir, 'audit-2026-11-29T20-00-00.jsonl'));
    writeFileSync(out, lines.slice(6).join('\n') + '\n');
    for (let t = 0; jsonOf(printed).length < 6 && t < 500; t++) await sleep(20);
    await sleep(100);
    ac.abort();
    expect(await running).toBe(0);
    expect(jsonOf(printed).map((m) => [m.sequence, m.chain])).toEqual([4, 5, 6, 7, 8, 9].map((n) => [n, 'verified']));
    expect(err).toBe('');
  });

  /** Runs tail --follow over `target` until `until` says so (or 10 s), then stops it. */
  async function follow(args: string[], steps: (shown: (n: number) => Promise<void>) => Promise<void>): Promise<{ got: MatchJson[]; err: string }> {
    const ac = new AbortController();
    let printed = '';
    let err = '';
    const running = runTailCommand(['--follow', '--json', '--interval', '20', ...args], { out: (s) => void (printed += s), err: (s) => void (err += s) }, { signal: ac.signal });
    const shown = async (n: number): Promise<void> => {
      for (let t = 0; jsonOf(printed).length < n; t++) {
        if (t > 500) throw new Error(`${jsonOf(printed).length} records shown, ${n} expected; stderr: ${err}`);
        await sleep(20);
      }
    };
    await steps(shown);
    await sleep(100); // a late second read would show here
    ac.abort();
    expect(await running).toBe(0);
    return { got: jsonOf(printed), err };
  }
  const inOrder = (n: number): [number, string][] => Array.from({ length: n }, (_, i) => [i + 1, 'verified']);

  // Found in review: a renamed file was dropped with its name, so what its writer appended before reopening the name
  // was never shown, and every later record was broken (seq missing).
  it('following the file: renamed away, written on under its new name, then made again: every record once', async () => {
    const lines = toLines(makeChain(9));
    const out = join(dir, 'out.jsonl');
    writeFileSync(out, lines.slice(0, 3).join('\n') + '\n');
    const { got, err } = await follow(['-n', '100', out], async (shown) => {
      await shown(3);
      renameSync(out, `${out}.1`);
      await sleep(100); // polls find no file at the name
      appendFileSync(`${out}.1`, lines.slice(3, 6).join('\n') + '\n'); // the writer has not reopened yet
      await shown(6);
      writeFileSync(out, lines.slice(6).join('\n') + '\n');
      await shown(9);
    });
    expect(got.map((m) => [m.sequence, m.chain])).toEqual(inOrder(9));
    expect(err).toBe('');
  });

  // Found in review: a file renamed to a name tail also lists, with no new file at its old name yet, was read again
  // from its start, with one stderr line per record read before following began.
  it('following the directory: renamed to another listed name (mv), then written on: read on from there, quietly', async () => {
    const lines = toLines(makeChain(8));
    const out = join(dir, 'logs.jsonl');
    writeFileSync(out, lines.slice(0, 5).join('\n') + '\n');
    const { got, err } = await follow(['-n', '2', dir], async (shown) => {
      await shown(2);
      renameSync(out, join(dir, 'logs-1.jsonl'));
      await sleep(100);
      appendFileSync(join(dir, 'logs-1.jsonl'), lines.slice(5).join('\n') + '\n');
      await shown(5);
    });
    expect(got.map((m) => [m.sequence, m.chain])).toEqual([4, 5, 6, 7, 8].map((n) => [n, 'verified']));
    expect(err).toBe('');
  });

  // Found in review: the writer's last records to the renamed file, written after the follower read it and before it
  // saw the new file at the name, were read after the new file's: the stream looked cut there.
  it('a file replaced under its name while it is read: what the old one got meanwhile comes first', async () => {
    const lines = toLines(makeChain(9));
    const out = join(dir, 'out.jsonl');
    writeFileSync(out, lines.slice(0, 3).join('\n') + '\n');
    const f = new FileFollower(out, false);
    const read: number[] = [];
    const onLine = (bytes: Buffer | undefined): void => void read.push(Number(/"audit\.sequence\.number","value":\{"intValue":"(\d+)"/.exec(bytes!.toString())![1]));
    await f.poll(onLine);
    appendFileSync(out, lines[3]! + '\n');
    let rotated = false;
    await f.poll((bytes) => {
      onLine(bytes);
      if (rotated) return;
      rotated = true;
      // The rotation happens during this poll, right after the held file was read: renamed, written once more by
      // the writer, then a new file at the name.
      renameSync(out, `${out}.1`);
      appendFileSync(`${out}.1`, lines.slice(4, 6).join('\n') + '\n');
      writeFileSync(out, lines.slice(6).join('\n') + '\n');
    });
    await f.close();
    // Seq 1–3, then 4, then the old file's last two (5, 6) before the new file's three (7–9).
    expect(read).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('a file copied and truncated (copytruncate): one stderr line for the copy, not one per record', async () => {
    const lines = toLines(makeChain(40));
    const out = join(dir, 'logs.jsonl');
    writeFileSync(out, lines.slice(0, 30).join('\n') + '\n');
    const { got, err } = await follow(['-n', '2', dir], async (shown) => {
      await shown(2);
      writeFileSync(join(dir, 'logs-1.jsonl'), lines.slice(0, 30).join('\n') + '\n');
      truncateSync(out, 0);
      appendFileSync(out, lines.slice(30).join('\n') + '\n');
      await shown(12);
    });
    expect(got.map((m) => [m.sequence, m.chain])).toEqual(Array.from({ length: 12 }, (_, i) => [i + 29, 'verified']));
    expect(err.trimEnd().split('\n')).toHaveLength(1);
    expect(err).toMatch(/another copy of seq 1 of stream .* and 27 more: records read before following began, not compared/);
  });

  // Found in review: following, a last line without its '\n' (which verify and search read) was never shown.
  it('a last line without its newline: shown as the last of the N, and its newline, when it comes, is no line', async () => {
    const lines = toLines(makeChain(5));
    const file = join(dir, 'a.jsonl');
    writeFileSync(file, lines.slice(0, 3).join('\n')); // seq 3 has no '\n'
    const { got, err } = await follow(['-n', '2', file], async (shown) => {
      await shown(2);
      appendFileSync(file, '\n' + lines.slice(3).join('\n') + '\n');
      await shown(4);
    });
    expect(got.map((m) => [m.sequence, m.chain])).toEqual([2, 3, 4, 5].map((n) => [n, 'verified']));
    expect(got.map((m) => m.line)).toEqual([2, 3, 4, 5]); // the newline that came later numbers no line of its own
    expect(err).toBe('');
  });

  // Found in re-review: the newline due after a last line taken whole was not handed off with the file, so the follower
  // of the file's new name numbered it as a line of its own: every line after it was off by one.
  it('a last line without its newline, then the file renamed to a listed name and written on: line numbers stay right', async () => {
    const lines = toLines(makeChain(6));
    const file = join(dir, 'logs.jsonl');
    writeFileSync(file, lines.slice(0, 3).join('\n')); // seq 3 has no '\n'
    const { got, err } = await follow(['-n', '1', dir], async (shown) => {
      await shown(1);
      renameSync(file, join(dir, 'logs-1.jsonl'));
      await sleep(100);
      appendFileSync(join(dir, 'logs-1.jsonl'), '\n' + lines.slice(3).join('\n') + '\n');
      await shown(4);
    });
    expect(got.map((m) => [m.sequence, m.line])).toEqual([[3, 3], [4, 4], [5, 5], [6, 6]]);
    expect(err).toBe('');
  });

  // Found in re-review: the one file followed, once deleted, stayed open for the whole session (its space not freed).
  it.skipIf(process.platform !== 'linux')('the one file followed, deleted: not held open any more', async () => {
    const file = join(dir, 'gone.jsonl');
    writeFileSync(file, toLines(makeChain(2)).join('\n') + '\n');
    const heldOpen = (): boolean => readdirSync('/proc/self/fd').some((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`).startsWith(file);
      } catch {
        return false;
      }
    });
    await follow(['-n', '5', file], async (shown) => {
      await shown(2);
      expect(heldOpen()).toBe(true);
      rmSync(file);
      for (let t = 0; heldOpen() && t < 100; t++) await sleep(20);
      expect(heldOpen()).toBe(false);
    });
  });

  // Found in review: "unexpected error: ENOENT … scandir", exit 2.
  it('the directory renamed away while followed: said once, and followed again when it is back', async () => {
    const lines = toLines(makeChain(6));
    const sub = join(dir, 'audit');
    mkdirSync(sub);
    writeFileSync(join(sub, 'a.jsonl'), lines.slice(0, 3).join('\n') + '\n');
    const { got, err } = await follow(['-n', '10', sub], async (shown) => {
      await shown(3);
      renameSync(sub, `${sub}.away`);
      await sleep(150);
      renameSync(`${sub}.away`, sub);
      appendFileSync(join(sub, 'a.jsonl'), lines.slice(3).join('\n') + '\n');
      await shown(6);
    });
    expect(got.map((m) => [m.sequence, m.chain])).toEqual(inOrder(6));
    expect(err).toBe(`otel-audit tail: ${sub}: ENOENT\n`);
  });

  // Found in review: records appended between tail's verifier pass and its first read made their stream's head
  // `unknown`, and every record after inherited it for the whole session.
  it('records appended after the verifier read the files are checked link by link, not unknown', async () => {
    const a = makeChain(6);
    const lines = toLines(a);
    const file = join(dir, 'audit-a-000001.jsonl');
    writeFileSync(file, lines.slice(0, 2).join('\n') + '\n');
    // The verifier has read 2 records; 3 and 4 come before the first read, 5 and 6 while following.
    let appended = false;
    const ac = new AbortController();
    const running = runTailCommand(
      ['--follow', '--json', '-n', '10', '--interval', '20', dir],
      {
        out: (s) => void (printed += s),
        err: (s) => void (errs += s),
      },
      { signal: ac.signal, afterVerify: () => {
        if (!appended) appendFileSync(file, lines.slice(2, 4).join('\n') + '\n');
        appended = true;
      } },
    );
    let printed = '';
    let errs = '';
    await until(() => jsonOf(printed).length >= 4, () => `seq 1-4 shown: ${printed}`);
    appendFileSync(file, lines.slice(4).join('\n') + '\n');
    await until(() => jsonOf(printed).length >= 6, () => `seq 5-6 shown: ${printed}`);
    ac.abort();
    expect(await running).toBe(0);
    expect(jsonOf(printed).map((m) => [m.sequence, m.chain])).toEqual(Array.from({ length: 6 }, (_, i) => [i + 1, 'verified']));
    expect(errs).toBe('');
  });
});

// Found in review: the first version of the held files opened every file of a directory and kept them open, so
// a journal of many sealed segments ran tail out of file descriptors (EMFILE) and it showed nothing.
describe('tail over more files than it holds open', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await tempDir()));
  afterEach(async () => cleanup());

  // Found in review: under a limit of open files below 64 (ulimit -n 72), tail ran out of descriptors and exited 2.
  it.skipIf(process.platform === 'win32')('400 segments under a limit of 60 open files, following: every record read, no EMFILE', async () => {
    const lines = toLines(makeChain(400));
    for (let i = 0; i < 400; i++) writeFileSync(join(dir, `audit-a-${String(i + 1).padStart(6, '0')}.jsonl`), lines[i]! + '\n');
    const r = await followUnderLimit(60, ['-n', '500', '--json', '--follow', '--interval', '20', dir], 400);
    expect(r.stderr).toBe('');
    expect(jsonOf(r.stdout).map((m) => m.sequence)).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));
    expect(r.status).toBe(0);
  });

  it.skipIf(process.platform === 'win32').each([[[] as string[]], [['--follow', '--interval', '20']]])(
    '150 sealed segments and 60 empty files under a limit of 120 open files (%j): every record read, no EMFILE',
    async (follow) => {
      const lines = toLines(makeChain(150));
      for (let i = 0; i < 150; i++) writeFileSync(join(dir, `audit-a-${String(i + 1).padStart(6, '0')}.jsonl`), lines[i]! + '\n');
      for (let i = 0; i < 60; i++) writeFileSync(join(dir, `empty-${i}.jsonl`), '');
      // --follow: polled again and again once every record is out, then SIGTERM (exit 0).
      const r = await followUnderLimit(120, ['-n', '200', '--json', ...follow, dir], 150);
      expect(r.stderr).toBe('');
      expect(jsonOf(r.stdout).map((m) => m.sequence)).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));
      expect(r.status).toBe(0);
    },
  );
});

describe('tail says what it cannot show (found by review)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await tempDir()));
  afterEach(async () => cleanup());

  // Fixed bug, kept as a regression test: nothing printed, exit 0, while its verify pass walked the subdirectories.
  it('a directory whose journals are in subdirectories: exit 2, saying so', async () => {
    mkdirSync(join(dir, 'svc'));
    writeFileSync(join(dir, 'svc', 'audit-a-000001.jsonl'), toLines(makeChain(3)).join('\n') + '\n');
    const { code, out, err } = await tail([dir]);
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err).toMatch(/no \*\.jsonl or \*\.json files in it \(tail reads a journal directory's own files, not its subdirectories\)/);
  });

  it('a malformed last line: the records before it are shown, and stderr says a line was not', async () => {
    const lines = toLines(makeChain(5));
    writeFileSync(join(dir, 'audit-a-000001.jsonl'), [...lines.slice(0, 4), lines[4]!.slice(0, -20)].join('\n') + '\n');
    const { code, out, err } = await tail(['--json', dir]);
    expect(code).toBe(0);
    expect(jsonOf(out).map((m) => m.sequence)).toEqual([1, 2, 3, 4]);
    expect(err).toContain('1 malformed or torn line: their records are not shown (run otel-audit verify');
  });

  // Fixed bug, kept as a regression test: a copy of a record already shown was dropped unseen, whatever it held.
  it('--follow: another version of a record already shown is printed broken and said; an identical copy is folded', async () => {
    const a = makeChain(7);
    const lines = toLines(a);
    const file = join(dir, 'audit-a-000001.jsonl');
    writeFileSync(file, lines.slice(0, 5).join('\n') + '\n');
    const forged = structuredClone(a[2]!);
    setAttr(forged, ATTR_ACTOR_ID, { stringValue: 'mallory' });
    const ac = new AbortController();
    let out = '';
    let err = '';
    const running = runTailCommand(['--follow', '--json', '--interval', '20', dir], { out: (x) => void (out += x), err: (x) => void (err += x) }, { signal: ac.signal });
    for (let k = 0; k < 100 && jsonOf(out).length < 5; k++) await sleep(20);
    appendFileSync(file, [lines[2]!, toLines([forged])[0]!, lines[5]!, lines[6]!].join('\n') + '\n');
    for (let k = 0; k < 200 && !jsonOf(out).some((m) => m.sequence === 7); k++) await sleep(20);
    ac.abort();
    expect(await running).toBe(0);
    const shown = jsonOf(out);
    expect(shown.map((m) => [m.sequence, m.actor, m.chain])).toEqual([
      ...a.slice(0, 5).map((_, k) => [k + 1, `user-${(k + 1) % 3}`, 'verified']),
      [3, 'mallory', 'broken'],
      [6, 'user-0', 'verified'],
      [7, 'user-1', 'verified'],
    ]);
    expect(err).toMatch(/a different version of seq 3 of stream .*, a record already read/);
  });

  it('--follow started on an empty directory: full times and stream ids; an unreadable line appended is said', async () => {
    const a = makeChain(2);
    const file = join(dir, 'audit-a-000001.jsonl');
    writeFileSync(file, '');
    const ac = new AbortController();
    let out = '';
    let err = '';
    const running = runTailCommand(['--follow', '--interval', '20', dir], { out: (x) => void (out += x), err: (x) => void (err += x) }, { signal: ac.signal });
    await until(() => out !== '', () => 'the header'); // following: the empty file read
    appendFileSync(file, toLines(a)[0]! + '\n');
    appendFileSync(file, '{"resourceLogs": not json\n');
    for (let k = 0; k < 100 && !err.includes('unreadable'); k++) await sleep(50);
    ac.abort();
    expect(await running).toBe(0);
    const row = out.trimEnd().split('\n')[1]!;
    expect(row).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z {2}\S{8} /); // not cut to "202…"
    expect(err).toContain('1 unreadable line or record skipped');
  });
});

/** A FileFollower of `p`; each line it hands on is `got` as "<line number>:<text>". */
function following(p: string): { p: string; got: string[]; poll: () => Promise<boolean>; f: FileFollower } {
  const got: string[] = [];
  const f = new FileFollower(p, true);
  return { p, got, f, poll: () => f.poll((b, n) => void got.push(`${n}:${b?.toString() ?? '(too long)'}`)) };
}

describe('FileFollower', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await tempDir()));
  afterEach(async () => cleanup());

  it('hands on whole lines once, re-reads after a truncation or a replacement, and reports a file gone', async () => {
    const { p, got, poll } = following(join(dir, 'f.jsonl'));
    writeFileSync(p, 'one\ntw');
    await poll();
    expect(got).toEqual(['1:one']);
    appendFileSync(p, 'o\nthree\npartial');
    await poll();
    expect(got).toEqual(['1:one', '2:two', '3:three']);
    truncateSync(p, 'one\ntwo\nthree\n'.length); // the torn tail cut away (journal recovery)
    appendFileSync(p, 'four\n');
    await poll();
    expect(got.at(-1)).toBe('4:four');
    writeFileSync(join(dir, 'g'), 'new\n');
    renameSync(join(dir, 'g'), p); // replaced: read from the start
    await poll();
    expect(got.at(-1)).toBe('1:new');
    await cleanup();
    expect(await poll()).toBe(false);
  });

  // Found in review: retention deleted a segment tail held, the journal's next segment got its inode, and its lines
  // ended with the same bytes: the new segment was read on from the old one's offset, a record skipped and every later
  // one said broken. A deleted file hands nothing off; only one renamed (still linked) does.
  it('a deleted file hands nothing off: a new file that reuses its inode is read from its start', async (ctx) => {
    const old = following(join(dir, 'seg-1.jsonl'));
    const line = `{"same":"ending of every line ${'x'.repeat(80)}"}`;
    writeFileSync(old.p, `${line}\n`);
    await old.poll();
    expect(old.got).toHaveLength(1);
    const inode = statSync(old.p).ino;
    rmSync(old.p); // retention
    expect(await old.poll()).toBe(false);
    const next = following(join(dir, 'seg-2.jsonl'));
    writeFileSync(next.p, `${line}\n${line}\n`);
    if (statSync(next.p).ino !== inode) ctx.skip(); // a file system that does not reuse the inode at once
    await next.poll();
    expect(next.got).toEqual([`1:${line}`, `2:${line}`]);
  });

  // Found by review: a file truncated and refilled past its old size between two polls (copytruncate) was read on
  // from the old offset, mid-line: most of the new content was skipped, said only as one unreadable line.
  it('a file rewritten in place past its old size between two polls is re-read from the start', async () => {
    const { p, got, poll } = following(join(dir, 'f.jsonl'));
    writeFileSync(p, 'first line of the old content\nsecond line of the old content\n');
    await poll();
    writeFileSync(p, 'new 1: a different first line, longer\nnew 2: and another one after it\nnew 3: and a third\n'); // same inode
    await poll();
    expect(got.slice(2)).toEqual(['1:new 1: a different first line, longer', '2:new 2: and another one after it', '3:new 3: and a third']);
    appendFileSync(p, 'new 4\n'); // appended only: read on from where it was
    await poll();
    expect(got.slice(5)).toEqual(['4:new 4']);
  });

  // Found in review: a file rotated by rename (a collector's file exporter, logrotate) lost what was appended to it
  // after the last poll: the follower went on with the new file at the name, from its start.
  it('a file rotated by rename: what the old file got since the last poll, then the new file from its start', async () => {
    const { p, got, poll } = following(join(dir, 'out.jsonl'));
    writeFileSync(p, 'a1\n');
    await poll();
    appendFileSync(p, 'a2\na3\n');
    renameSync(p, join(dir, 'out.jsonl.1'));
    appendFileSync(join(dir, 'out.jsonl.1'), 'a4\n'); // the writer, before it reopens the name
    writeFileSync(p, 'b1\nb2\n');
    await poll();
    expect(got).toEqual(['1:a1', '2:a2', '3:a3', '4:a4', '1:b1', '2:b2']);
    appendFileSync(p, 'b3\n');
    rmSync(p); // deleted (retention): what it had is still read from the file held open
    expect(await poll()).toBe(false);
    expect(got.at(-1)).toBe('3:b3');
    expect(following(p).f.takeMissed()).toBeUndefined();
  });

  it('a file gone before it was ever opened: poll says so, and that it was not read', async () => {
    const { f, poll } = following(join(dir, 'never.jsonl'));
    expect(await poll()).toBe(false);
    expect(f.takeMissed()).toBe('gone');
    expect(f.takeMissed()).toBeUndefined(); // said once
  });

  // Found in review of the first version: files opened and never grown were never closed for the cap (EMFILE on a
  // directory of sealed segments), and a file replaced while closed for the cap lost its tail in silence.
  // Found in review: segments read to their end, closed for the cap, then deleted by retention were each said to
  // be "deleted before tail could read it all".
  it('a file read to its end, closed for the cap, then deleted: nothing said', async () => {
    const many = Array.from({ length: MAX_HELD + 1 }, (_, i) => following(join(dir, `g${i}.jsonl`)));
    for (const m of many) writeFileSync(m.p, 'x1\n');
    for (const m of many) await m.poll(); // the first one is closed for the cap
    rmSync(many[0]!.p);
    expect(await many[0]!.poll()).toBe(false);
    expect(many[0]!.f.takeMissed()).toBeUndefined();
    for (const m of many) await m.f.close();
  });

  it('a file closed for the cap is not reopened while unchanged; replaced meanwhile, it says what it may have missed', async () => {
    const many = Array.from({ length: MAX_HELD + 1 }, (_, i) => following(join(dir, `f${i}.jsonl`)));
    for (const m of many) writeFileSync(m.p, 'x1\n');
    for (const m of many) await m.poll(); // the first one is closed for the cap
    const first = many[0]!;
    appendFileSync(first.p, 'x2\n');
    renameSync(first.p, `${first.p}.1`);
    writeFileSync(first.p, 'y1\n');
    await first.poll();
    expect(first.got).toEqual(['1:x1', '1:y1']);
    expect(first.f.takeMissed()).toBe('rotated');
    for (const m of many) await m.f.close();
  });

  it('more files than it holds open: each is read on by name, nothing missed', async () => {
    const many = Array.from({ length: MAX_HELD + 6 }, (_, i) => following(join(dir, `f${i}.jsonl`)));
    for (const m of many) writeFileSync(m.p, 'x1\n');
    for (const m of many) await m.poll();
    for (const m of many) appendFileSync(m.p, 'x2\n');
    for (const m of many) await m.poll();
    expect(many.every((m) => m.got.join() === '1:x1,2:x2')).toBe(true);
    for (const m of many) await m.f.close();
  });

  // Found by review of the test above: an unfinished line cut back and written again past the old size (the
  // journal's repair of a torn tail) came out spliced: the old fragment, then the tail of the new line.
  it('an unfinished line cut back and written again is read as written', async () => {
    const { p, got, poll } = following(join(dir, 'f.jsonl'));
    writeFileSync(p, '{"line":1}\n{"line":2,"id":"PARTIAL-WRI');
    await poll();
    expect(got).toEqual(['1:{"line":1}']);
    truncateSync(p, '{"line":1}\n'.length);
    appendFileSync(p, '{"line":2,"id":"whole-and-longer-than-before"}\n{"line":3}\n');
    await poll();
    expect(got).toEqual(['1:{"line":1}', '2:{"line":2,"id":"whole-and-longer-than-before"}', '3:{"line":3}']);
  });
});

describe('LinkTracker', () => {
  const rec = (r: OtlpLogRecord): AuditRecord => auditRecordOf(r, undefined, 'f', 1) as AuditRecord;

  it('verified while each record links to the previous; names the first break and keeps it', () => {
    const a = makeChain(8, { end: true });
    const t = new LinkTracker();
    t.seed(rec(a[0]!), { chain: 'verified' });
    t.seed(rec(a[1]!), { chain: 'verified' });
    expect(t.check(rec(a[2]!))).toEqual({ chain: 'verified' });
    const forged = structuredClone(a[3]!);
    setAttr(forged, 'audit.sequence.previous_hash', { stringValue: '0'.repeat(64) });
    // The link into seq 4 is broken: while following, the predecessor (seq 3) is named, as verify names a record
    // whose content changed (its successor's link breaks). verify, which also sees the link after, names seq 4 here.
    expect(t.check(rec(forged))).toEqual({ chain: 'broken', problem: { kind: 'modified', seq: 3 } });
    expect(t.check(rec(a[4]!)).problem).toEqual({ kind: 'modified', seq: 3 }); // broken from there on

    const u = new LinkTracker();
    for (const r of a) expect(u.check(rec(r)).chain).toBe('verified'); // a stream followed from seq 1
    const after = makeChain(9, { streamId: a[0]!.attributes!.find((kv) => kv.key === 'audit.sequence.stream_id')!.value!.stringValue! })[8]!;
    expect(u.check(rec(after))).toEqual({ chain: 'broken', problem: { kind: 'inserted', seq: 9 } }); // after the end record

    const v = new LinkTracker();
    expect(v.check(rec(a[3]!))).toEqual({ chain: 'unknown' }); // first seen past seq 1
    const changed = structuredClone(a[0]!);
    setAttr(changed, ATTR_ACTOR_ID, { stringValue: 'mallory' });
    const w = new LinkTracker();
    w.check(rec(changed));
    // Fixed bug, kept as a regression test: the record after the changed one was named (seq 2), not the changed one.
    expect(w.check(rec(a[1]!))).toEqual({ chain: 'broken', problem: { kind: 'modified', seq: 1 } });
  });
});

describe('tail usage and I/O errors: exit 2, one line', () => {
  it.each([
    ['unknown flag', ['--bogus', '.']],
    ['no path', []],
    ['two paths', ['a', 'b']],
    ['bad -n', ['-n', 'x', '.']],
    ['bad --interval', ['--interval', '1', '.']],
    ['missing directory', ['/nonexistent/otel-audit-tail']],
    // Found by review: the last one silently won.
    ['-n given twice', ['-n', '1', '--lines=3', '.']],
    ['--interval given twice', ['--interval', '100', '--interval=200', '.']],
  ])('%s', async (_n, args) => {
    const { code, out, err } = await tail(args);
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err.trimEnd().split('\n')).toHaveLength(1);
    expect(err).toMatch(/^otel-audit tail: /);
  });
});
