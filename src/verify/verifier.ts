/**
 * Chain verifier (DESIGN §7 `verify`): reads OTLP/JSON lines files — the local journal (rotated sets too) or
 * the Collector's output, where a stream may be spread over many lines and files and repeated — groups the
 * audit records by stream and checks each stream's hash chain.
 *
 * Memory: per record only a fixed-size tuple is kept (seq, file, line, flags, two 32-byte hashes in shared
 * buffers, two id strings), about 150–200 bytes, so a few million records fit a default Node heap.
 *
 * What the chain alone cannot prove: the content of the last record of a stream (ended or not) is not
 * covered by any successor's previous_hash, and removing the last records of an unended stream leaves a valid
 * shorter chain. Signatures and checkpoints (`bad_signature`, `truncated`) are for those cases.
 */
import type { Dirent } from 'node:fs';
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { RetentionEntry } from '../sinks/retention.js';
import { readRecords, type RecordItem } from './read-records.js';

export type ProblemKind =
  | 'modified'
  | 'deleted'
  | 'inserted'
  | 'reordered'
  | 'duplicate'
  | 'malformed'
  | 'torn'
  | 'truncated'
  | 'bad_signature';

/** `info` does not fail verification (an identical duplicate is what at-least-once delivery produces). */
export type Severity = 'error' | 'info';

export interface Problem {
  kind: ProblemKind;
  severity: Severity;
  stream?: string;
  /** For `deleted`, the first missing sequence number. */
  seq?: number;
  recordId?: string;
  /** Where the evidence is; for `deleted`, the record after the gap. */
  file?: string;
  /** 1-based line number in `file`. */
  line?: number;
  message: string;
}

export interface StreamSummary {
  streamId: string;
  /** Lowest and highest sequence number accepted into the chain (inserted records excluded). */
  first: number;
  last: number;
  /** Distinct records accepted into the chain (duplicates and inserted records not counted). */
  count: number;
  /** The chain ends with an `audit.sequence.end` record (a clean shutdown). Unended is not an error. */
  ended: boolean;
  /** Files holding any record of the stream, in reading order. */
  files: string[];
  /** No error-severity problem names this stream. */
  ok: boolean;
}

export interface VerifyReport {
  /** No problem with severity `error`. */
  ok: boolean;
  /** Files read. */
  files: number;
  /** Audit records read, every copy counted. */
  records: number;
  /** Records without `audit.sequence.stream_id`, ignored. */
  nonAudit: number;
  streams: StreamSummary[];
  problems: Problem[];
}

export interface VerifyOptions {
  /**
   * Do not report `reordered` (for inputs whose writer does not keep sequence order within a file). Order is
   * only ever checked within one file: across files it depends on how the files were named and rotated.
   */
  allowReorder?: boolean;
}

/** A path that cannot be read: a usage or I/O error, not an integrity finding. */
export class VerifyInputError extends Error {
  override name = 'VerifyInputError';
}

const INPUT_EXTENSIONS = ['.jsonl', '.json'];
/** Where the journal sets aside torn or corrupt files; they were already reported when set aside. */
const QUARANTINE_DIR = 'quarantine';

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));
const byName = (a: Dirent, b: Dirent): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * Expands paths into the files to read: a file is taken as given (whatever its extension), a directory
 * recursively for `*.jsonl`/`*.json`, entries sorted by name so rotated sets are read in order. The same file
 * reached twice is read once (else every record would look duplicated).
 */
export async function listInputFiles(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  const seen = new Set<string>();
  const once = async (p: string): Promise<boolean> => {
    const real = await realpath(p);
    if (seen.has(real)) return false;
    seen.add(real);
    return true;
  };
  const walk = async (dir: string): Promise<void> => {
    if (!(await once(dir))) return; // symlink loops
    const entries = (await readdir(dir, { withFileTypes: true })).sort(byName);
    for (const e of entries) {
      const p = join(dir, e.name);
      const st = e.isSymbolicLink() ? await stat(p).catch(() => undefined) : e;
      if (st === undefined) continue; // dangling link
      if (st.isDirectory()) {
        if (e.name !== QUARANTINE_DIR) await walk(p);
      } else if (st.isFile() && INPUT_EXTENSIONS.some((x) => e.name.endsWith(x)) && (await once(p))) {
        out.push(p);
      }
    }
  };
  for (const p of paths) {
    try {
      const st = await stat(p);
      if (st.isDirectory()) await walk(p);
      else if (st.isFile()) {
        if (await once(p)) out.push(p);
      } else throw new Error('not a file or directory');
    } catch (e) {
      throw new VerifyInputError(`${p}: ${errorText(e)}`, { cause: e });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Per-stream storage: columns instead of one object per record (a third of the memory).

const HASH_BYTES = 32;
const F_END = 1;
/** Read after a record of the same stream with a higher seq, in the same file. */
const F_OUT_OF_ORDER = 2;
const F_HAS_PREV = 4;
/** previous_hash is 64 lowercase hex digits, so it can match a hash at all. */
const F_PREV_HEX = 8;
/** Lost a same-seq conflict (reported inserted/modified); not also reported as reordered. */
const F_REJECTED = 16;
const HEX64 = /^[0-9a-f]{64}$/;

class StreamRecords {
  length = 0;
  seq = new Float64Array(16);
  file = new Uint32Array(16);
  line = new Uint32Array(16);
  flags = new Uint8Array(16);
  hashes = Buffer.alloc(16 * HASH_BYTES);
  prevHashes = Buffer.alloc(16 * HASH_BYTES);
  recordIds: string[] = [];
  prevRecordIds: Array<string | undefined> = [];
  /** File indexes holding records of this stream. */
  files = new Set<number>();

  push(r: RecordItem, fileIndex: number, outOfOrder: boolean): void {
    if (this.length === this.seq.length) this.grow();
    const i = this.length++;
    this.seq[i] = r.seq;
    this.file[i] = fileIndex;
    this.line[i] = r.line;
    let flags = (r.end ? F_END : 0) | (outOfOrder ? F_OUT_OF_ORDER : 0);
    this.hashes.write(r.hash, i * HASH_BYTES, 'hex');
    if (r.previousHash !== undefined) {
      flags |= F_HAS_PREV;
      if (HEX64.test(r.previousHash)) {
        flags |= F_PREV_HEX;
        this.prevHashes.write(r.previousHash, i * HASH_BYTES, 'hex');
      }
    }
    this.flags[i] = flags;
    this.recordIds.push(r.recordId);
    this.prevRecordIds.push(r.previousRecordId);
    this.files.add(fileIndex);
  }

  has(i: number, flag: number): boolean {
    return (this.flags[i]! & flag) !== 0;
  }

  /** `next`'s previous_hash is `prev`'s hash. */
  linked(prev: number, next: number): boolean {
    return (
      this.has(next, F_PREV_HEX) &&
      this.hashes.compare(this.prevHashes, next * HASH_BYTES, (next + 1) * HASH_BYTES, prev * HASH_BYTES, (prev + 1) * HASH_BYTES) === 0
    );
  }

  sameHash(a: number, b: number): boolean {
    return this.hashes.compare(this.hashes, b * HASH_BYTES, (b + 1) * HASH_BYTES, a * HASH_BYTES, (a + 1) * HASH_BYTES) === 0;
  }

  private grow(): void {
    const n = this.seq.length * 2;
    const widen = <T extends Float64Array | Uint32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.seq = widen(this.seq, (k) => new Float64Array(k));
    this.file = widen(this.file, (k) => new Uint32Array(k));
    this.line = widen(this.line, (k) => new Uint32Array(k));
    this.flags = widen(this.flags, (k) => new Uint8Array(k));
    const hashes = Buffer.alloc(n * HASH_BYTES);
    this.hashes.copy(hashes);
    this.hashes = hashes;
    const prevHashes = Buffer.alloc(n * HASH_BYTES);
    this.prevHashes.copy(prevHashes);
    this.prevHashes = prevHashes;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Per-stream analysis

function checkStream(
  streamId: string,
  s: StreamRecords,
  fileNames: readonly string[],
  allowReorder: boolean,
  retained: readonly RetentionEntry[],
): { summary: StreamSummary; problems: Problem[] } {
  const problems: Problem[] = [];
  const seqOf = (i: number): number => s.seq[i]!;
  const where = (i: number): string => `${fileNames[s.file[i]!]}:${s.line[i]}`;
  const report = (
    kind: ProblemKind,
    i: number,
    message: string,
    over?: { seq: number; recordId?: string; severity?: Severity },
  ): void => {
    const recordId = over === undefined ? s.recordIds[i] : over.recordId;
    problems.push({
      kind,
      severity: over?.severity ?? (kind === 'duplicate' ? 'info' : 'error'),
      stream: streamId,
      seq: over?.seq ?? seqOf(i),
      ...(recordId === undefined || recordId === '' ? {} : { recordId }),
      file: fileNames[s.file[i]!]!,
      line: s.line[i]!,
      message,
    });
  };

  // Sort by seq; ties keep reading order, so "first seen" is deterministic.
  const order = new Uint32Array(s.length);
  for (let i = 0; i < s.length; i++) order[i] = i;
  order.sort((a, b) => seqOf(a) - seqOf(b) || a - b);
  // Groups of equal seq: group g is order[starts[g] .. starts[g+1]).
  const starts = new Uint32Array(s.length + 1);
  let groups = 0;
  for (let k = 0; k < s.length; k++) {
    if (k === 0 || seqOf(order[k]!) !== seqOf(order[k - 1]!)) starts[groups++] = k;
  }
  starts[groups] = s.length;
  const groupSeq = (g: number): number => seqOf(order[starts[g]!]!);
  /** First copy of each distinct record (by hash) in group g, in reading order. */
  const variants = (g: number): number[] => {
    const vs: number[] = [];
    for (let k = starts[g]!; k < starts[g + 1]!; k++) {
      const i = order[k]!;
      if (!vs.some((v) => s.sameHash(v, i))) vs.push(i);
    }
    return vs;
  };

  // 1. One record per seq: duplicates are info; of different records claiming one seq, the one the chain
  //    links through is genuine, the others are inserted (or modified copies, when they carry its record id).
  const chain = new Uint32Array(groups);
  const reorderedCheck = (i: number): void => {
    if (!allowReorder && s.has(i, F_OUT_OF_ORDER) && !s.has(i, F_REJECTED)) {
      report('reordered', i, `appears after a record of this stream with a higher sequence number in the same file`);
    }
  };
  for (let g = 0; g < groups; g++) {
    const lo = starts[g]!;
    const hi = starts[g + 1]!;
    if (hi - lo === 1) {
      chain[g] = order[lo]!;
      reorderedCheck(order[lo]!);
      continue;
    }
    const n = groupSeq(g);
    const vs = variants(g);
    const copies = new Map<number, number>();
    for (let k = lo; k < hi; k++) {
      const i = order[k]!;
      const v = vs.find((x) => s.sameHash(x, i))!;
      copies.set(v, (copies.get(v) ?? 0) + 1);
      if (v !== i) report('duplicate', i, `identical copy of seq ${n} first seen at ${where(v)} (at-least-once delivery)`);
    }
    const genuine = vs.length === 1 ? vs[0]! : chooseGenuine(g, n, vs);
    chain[g] = genuine;
    // An identical copy elsewhere explains an out-of-order position (a redelivery), so only singles count.
    for (const v of vs) if (copies.get(v) === 1) reorderedCheck(v);
  }

  function chooseGenuine(g: number, n: number, vs: number[]): number {
    const prevVs = g > 0 && groupSeq(g - 1) === n - 1 ? variants(g - 1) : [];
    const nextVs = g + 1 < groups && groupSeq(g + 1) === n + 1 ? variants(g + 1) : [];
    const fwd = (v: number): boolean => nextVs.some((w) => s.linked(v, w));
    const bwd = (v: number): boolean => (n === 1 ? !s.has(v, F_HAS_PREV) : prevVs.some((u) => s.linked(u, v)));
    const score = (v: number): number => (fwd(v) ? 2 : 0) + (bwd(v) ? 1 : 0);
    let genuine = vs[0]!;
    for (const v of vs) if (score(v) > score(genuine)) genuine = v; // ties: first seen wins
    const why =
      [fwd(genuine) ? `is referenced by seq ${n + 1}'s previous_hash` : '', bwd(genuine) ? `links to seq ${n - 1}` : '']
        .filter((x) => x !== '')
        .join(' and ') || 'was seen first (nothing links to either)';
    for (const v of vs) {
      if (v === genuine) continue;
      s.flags[v]! |= F_REJECTED;
      const own = bwd(v) ? 'this one links to its predecessor but nothing links to it' : 'this one does not link into the chain';
      if (s.recordIds[v] === s.recordIds[genuine]) {
        report('modified', v, `a different version of record seq ${n} (same record id); the one at ${where(genuine)} ${why}, so this copy was changed (${own})`);
      } else {
        report('inserted', v, `a second, different record claims seq ${n}; the one at ${where(genuine)} ${why}, so this one was added (${own})`);
      }
    }
    return genuine;
  }

  // 2. Nothing may follow the end record.
  let len = groups;
  let endPos = -1;
  for (let p = 0; p < len && endPos < 0; p++) if (s.has(chain[p]!, F_END)) endPos = p;
  if (endPos >= 0 && endPos < len - 1) {
    const e = chain[endPos]!;
    for (let p = endPos + 1; p < len; p++) {
      const i = chain[p]!;
      let msg = `follows the end record (seq ${seqOf(e)} at ${where(e)}); a stream has no records after its end`;
      if (p === endPos + 1) {
        msg += s.linked(e, i)
          ? ', and this one links to it, so it was forged with the chain recomputed'
          : ', and this one does not link to it: it was appended, or the end record was altered to carry audit.sequence.end';
      }
      if (s.has(i, F_END)) msg += ' (a second end record)';
      report('inserted', i, msg);
    }
    len = endPos + 1;
  }

  // 3. Gaps, then broken links. broken[k]: chain[k-1] → chain[k] are adjacent seqs and do not link.
  const broken = new Uint8Array(len + 1);
  const explained = new Uint8Array(len + 1);
  for (let k = 0; k < len; k++) {
    const i = chain[k]!;
    const n = seqOf(i);
    const prevN = k === 0 ? 0 : seqOf(chain[k - 1]!);
    if (n > prevN + 1 && prevN === 0 && s.has(i, F_PREV_HEX)) {
      // A head removed by retention is accounted for in state/retention.log, bound to the hash of its last
      // record — which this record carries as previous_hash. Reported, but not as tampering.
      const prevHex = s.prevHashes.toString('hex', i * HASH_BYTES, (i + 1) * HASH_BYTES);
      const cut = retained.find((e) => e.last === n - 1 && e.lastHash === prevHex);
      if (cut !== undefined) {
        report('deleted', i, `seq 1–${n - 1} were removed by retention (${cut.file}, ${cut.deletedAt}) after the collector acknowledged them; the cut matches state/retention.log`, {
          seq: 1,
          severity: 'info',
        });
        continue;
      }
    }
    if (n > prevN + 1) {
      const missing = n - 1 - prevN;
      const prevId = s.prevRecordIds[i];
      const named = missing === 1 && prevId !== undefined && prevId !== '' ? prevId : undefined;
      const range = missing === 1 ? `seq ${prevN + 1} is` : `seq ${prevN + 1}–${n - 1} (${missing} records) are`;
      const context = prevN === 0 ? `the stream starts at seq ${n}` : `seq ${prevN} is at ${where(chain[k - 1]!)}`;
      report('deleted', i, `${range} missing before seq ${n} at ${where(i)} (${context})${named === undefined ? '' : `; seq ${n} names ${JSON.stringify(named)} as its predecessor`}`, {
        seq: prevN + 1,
        ...(named === undefined ? {} : { recordId: named }),
      });
    } else if (k > 0) {
      broken[k] = s.linked(chain[k - 1]!, i) ? 0 : 1;
    }
  }
  // A misplaced previous_hash marks its record changed; that explains its incoming and outgoing links.
  for (let k = 0; k < len; k++) {
    const i = chain[k]!;
    const first = seqOf(i) === 1;
    if (first === s.has(i, F_HAS_PREV)) {
      report('modified', i, first
        ? 'seq 1 carries audit.sequence.previous_hash, which the first record of a stream never has'
        : 'audit.sequence.previous_hash is missing; every record after the first carries it');
      explained[k] = 1;
      explained[k + 1] = 1;
    }
  }
  // Each broken link is one changed record: the predecessor (its hash changed) — or, when the next link is
  // broken too, the record between them (changed including its previous_hash), the single explanation.
  for (let k = 1; k < len; k++) {
    if (broken[k] === 0 || explained[k] === 1) continue;
    const p = chain[k - 1]!;
    const q = chain[k]!;
    if (k + 1 < len && broken[k + 1] === 1 && explained[k + 1] === 0) {
      const r = chain[k + 1]!;
      report('modified', q, `its previous_hash does not match the hash of seq ${seqOf(p)} (${where(p)}) and its own hash does not match the previous_hash recorded by seq ${seqOf(r)} (${where(r)}): this record was changed, chain attributes included (seq ${seqOf(p)} may have been changed as well)`);
      explained[k + 1] = 1;
    } else {
      const prevId = s.prevRecordIds[q];
      const idNote =
        prevId === s.recordIds[p] ? '' : `; seq ${seqOf(q)} also names ${JSON.stringify(prevId ?? '')} as the previous record id, not ${JSON.stringify(s.recordIds[p])} (the record was replaced)`;
      report('modified', p, `its hash no longer matches the previous_hash recorded by seq ${seqOf(q)} at ${where(q)}: its content was changed after it was written${idNote}`);
    }
    explained[k] = 1;
  }

  problems.sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0)); // stable: same-seq problems keep detection order
  const summary: StreamSummary = {
    streamId,
    first: seqOf(chain[0]!),
    last: seqOf(chain[len - 1]!),
    count: len,
    ended: endPos >= 0,
    files: [...s.files].sort((a, b) => a - b).map((f) => fileNames[f]!),
    ok: !problems.some((p) => p.severity === 'error'),
  };
  return { summary, problems };
}

/** Retention entries (sinks/retention.ts) of every input directory that is a journal directory. */
async function readRetentionLogs(paths: readonly string[]): Promise<Map<string, RetentionEntry[]>> {
  const byStream = new Map<string, RetentionEntry[]>();
  for (const p of paths) {
    let text: string;
    try {
      text = await readFile(join(p, 'state', 'retention.log'), 'utf8');
    } catch {
      continue; // not a journal directory, or nothing was ever deleted
    }
    for (const line of text.split('\n')) {
      try {
        const e = JSON.parse(line) as RetentionEntry;
        if (typeof e.streamId !== 'string' || typeof e.last !== 'number' || typeof e.lastHash !== 'string') continue;
        let l = byStream.get(e.streamId);
        if (l === undefined) byStream.set(e.streamId, (l = []));
        l.push(e);
      } catch {
        /* a torn last line of the log: ignored, so that cut is reported as an ordinary deletion */
      }
    }
  }
  return byStream;
}

/**
 * Verifies the hash chains in `paths` (files or directories). Throws `VerifyInputError` only for a path that
 * cannot be read; everything wrong with the content is a `Problem` in the report.
 */
export async function verifyFiles(paths: readonly string[], options: VerifyOptions = {}): Promise<VerifyReport> {
  const files = await listInputFiles(paths);
  const streams = new Map<string, StreamRecords>();
  const problems: Problem[] = [];
  let records = 0;
  let nonAudit = 0;
  for (let f = 0; f < files.length; f++) {
    const file = files[f]!;
    const maxSeq = new Map<StreamRecords, number>(); // highest seq so far in this file, per stream
    try {
      for await (const item of readRecords(file)) {
        if (item.kind === 'record') {
          records++;
          let s = streams.get(item.streamId);
          if (s === undefined) streams.set(item.streamId, (s = new StreamRecords()));
          const max = maxSeq.get(s) ?? 0;
          s.push(item, f, item.seq < max);
          if (item.seq > max) maxSeq.set(s, item.seq);
        } else if (item.kind === 'nonAudit') {
          nonAudit++;
        } else {
          problems.push({ kind: item.kind, severity: 'error', file, line: item.line, message: item.message });
        }
      }
    } catch (e) {
      throw new VerifyInputError(`${file}: ${errorText(e)}`, { cause: e });
    }
  }
  const retained = await readRetentionLogs(paths);
  const summaries: StreamSummary[] = [];
  for (const [streamId, s] of streams) {
    const r = checkStream(streamId, s, files, options.allowReorder === true, retained.get(streamId) ?? []);
    summaries.push(r.summary);
    for (const p of r.problems) problems.push(p); // not push(...): could be millions (duplicates)
  }
  return {
    ok: !problems.some((p) => p.severity === 'error'),
    files: files.length,
    records,
    nonAudit,
    streams: summaries,
    problems,
  };
}
