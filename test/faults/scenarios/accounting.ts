/**
 * Accounting independent of the processor's own counters, shared by the fault tests and `npm run faults`: what
 * OTLP/JSON lines files (the collector's output, rejected/, journal segments) hold, which record ids the fault
 * emitter says it accepted, and how the two compare (emitted / delivered / set aside / lost).
 */
import { closeSync, existsSync, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalFromOtlp } from '../../../src/chain/canonical.js';
import { hashCanonical } from '../../../src/chain/hash.js';
import type { ExportLogsServiceRequest, OtlpLogRecord } from '../../../src/otlp/types.js';
import { idOf, seqOf, streamOf } from '../../helpers/records.js';

/**
 * Calls `fn` with each non-empty line of `path`, read in chunks: the long burst's output is far beyond one string.
 * The last one without its newline gets `terminated` false: a writer may still be appending it (the collector's
 * output, read while it runs: found in CI, a half-written line).
 */
function forEachLine(path: string, fn: (line: string, terminated: boolean) => void): void {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    let rest: Buffer = Buffer.alloc(0);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      let chunk = Buffer.concat([rest, buf.subarray(0, n)]);
      let nl: number;
      while ((nl = chunk.indexOf(10)) !== -1) {
        if (nl > 0) fn(chunk.toString('utf8', 0, nl), true);
        chunk = chunk.subarray(nl + 1);
      }
      rest = Buffer.from(chunk);
    }
    if (rest.length > 0) fn(rest.toString('utf8'), false);
  } finally {
    closeSync(fd);
  }
}

/** Calls `fn` with each log record of an OTLP/JSON lines file (nothing if the file does not exist). */
function forEachRecord(path: string, fn: (r: OtlpLogRecord) => void): void {
  if (!existsSync(path)) return;
  forEachLine(path, (line, terminated) => {
    let req: ExportLogsServiceRequest;
    try {
      req = JSON.parse(line) as ExportLogsServiceRequest;
    } catch (e) {
      if (!terminated) return; // still being written: not delivered yet
      throw e;
    }
    for (const rl of req.resourceLogs ?? []) for (const sl of rl.scopeLogs ?? []) for (const r of sl.logRecords ?? []) fn(r);
  });
}

export function readOtlpLines(path: string): OtlpLogRecord[] {
  const out: OtlpLogRecord[] = [];
  forEachRecord(path, (r) => out.push(r));
  return out;
}

// ---- what the collector (or any OTLP/JSON lines file) holds ------------------------------------------

export interface StreamDelivery {
  /** Sequence numbers in order of first arrival. */
  firstArrival: number[];
  copies: Map<number, number>;
}

export interface Delivered {
  /** Audit records read, every copy counted. */
  copies: number;
  /** Distinct audit.record.id values. */
  unique: number;
  /** copies − unique: what at-least-once added. */
  duplicates: number;
  ids: Map<string, number>;
  streams: Map<string, StreamDelivery>;
  /** Per stream, the first copy of each sequence number arrived in increasing order. */
  inOrder: boolean;
  /** Record ids whose copies differ in content (a re-send must be byte-for-byte the same record). */
  conflicting: string[];
  /** id → the stream record (first copy), for link checks; empty with `keep: false` (it holds every record). */
  byId: Map<string, OtlpLogRecord>;
}

/**
 * `hash: false` skips the content comparison of copies (`conflicting` stays empty); `keep: false` keeps no
 * records in `byId`: both for bulk checks (the long burst's million records).
 */
export function delivered(files: string | string[], { hash = true, keep = true }: { hash?: boolean; keep?: boolean } = {}): Delivered {
  const d: Delivered = { copies: 0, unique: 0, duplicates: 0, ids: new Map(), streams: new Map(), inOrder: true, conflicting: [], byId: new Map() };
  const hashes = new Map<string, string>();
  const add = (r: OtlpLogRecord): void => {
    const id = idOf(r);
    const stream = streamOf(r);
    const seq = seqOf(r);
    if (id === undefined || stream === undefined || seq === undefined) return;
    d.copies++;
    d.ids.set(id, (d.ids.get(id) ?? 0) + 1);
    const h = hash ? hashCanonical(canonicalFromOtlp(r)) : '';
    const prev = hashes.get(id);
    if (prev === undefined) {
      if (hash) hashes.set(id, h);
      if (keep && !d.byId.has(id)) d.byId.set(id, r);
    } else if (prev !== h && !d.conflicting.includes(id)) d.conflicting.push(id);
    let s = d.streams.get(stream);
    if (s === undefined) d.streams.set(stream, (s = { firstArrival: [], copies: new Map() }));
    const c = s.copies.get(seq) ?? 0;
    s.copies.set(seq, c + 1);
    if (c === 0) {
      const last = s.firstArrival[s.firstArrival.length - 1];
      if (last !== undefined && seq < last) d.inOrder = false;
      s.firstArrival.push(seq);
    }
  };
  for (const f of Array.isArray(files) ? files : [files]) forEachRecord(f, add);
  d.unique = d.ids.size;
  d.duplicates = d.copies - d.unique;
  return d;
}

/** Sequence numbers of a stream that are missing from 1..last. */
export function gaps(s: StreamDelivery | undefined, last: number): number[] {
  const missing: number[] = [];
  for (let q = 1; q <= last; q++) if (!s?.copies.has(q)) missing.push(q);
  return missing;
}

/** Every file under `dir` ending in .jsonl (journal segments), sorted. */
export function segmentsOf(dir: string): string[] {
  return filesIn(dir).filter((f) => f.endsWith('.jsonl'));
}

export function filesIn(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .map((n) => join(dir, n));
}

/** Files set aside in `<auditDir>/rejected/` (refused for good by the collector, kept locally). */
export function rejectedFiles(auditDirs: string[]): string[] {
  return auditDirs.flatMap((d) => filesIn(join(d, 'rejected')));
}

// ---- what the fault emitter (test/fixtures/fault-emitter.mjs) reports -----------------------------------

/** Expands [[from,to],...] ranges (as the fault emitter prints them). */
export function expand(ranges: unknown): number[] {
  const out: number[] = [];
  for (const [a, b] of (ranges ?? []) as [number, number][]) for (let i = a; i <= b; i++) out.push(i);
  return out;
}

/** The emitter's "emitted" line. */
export interface EmittedLine {
  prefix: string;
  attempted: number;
  accepted: number;
  durable: number;
  thrown: [number, number][];
  refused: [number, number][];
  ms: number;
  maxRssKiB: number;
}

/** Record ids an emitter's "emitted" line says were accepted (not thrown, not refused by the loss policy). */
export function* acceptedIds(em: EmittedLine): Generator<string> {
  const skip = new Set([...expand(em.thrown), ...expand(em.refused)]);
  for (let i = 0; i < em.attempted; i++) if (!skip.has(i)) yield `${em.prefix}${i}`;
}

/** Ids from the emitter's {"d":[[a,b],...]} lines (REPORT_DURABLE=1): receipts settled as durable. */
export function durableIds(lines: Record<string, unknown>[], id: (o: Record<string, unknown>, i: number) => string): string[] {
  return lines.filter((o) => 'd' in o).flatMap((o) => expand(o.d).map((i) => id(o, i)));
}

export interface Account {
  emitted: number;
  delivered: number;
  setAside: number;
  lost: number;
  /** A few of the lost ids, for the report. */
  lostIds: string[];
}

/** emitted / delivered / set aside / lost of a set of expected ids against what the collector holds. */
export function account(expected: Iterable<string>, got: Delivered, aside: Delivered | undefined = undefined): Account {
  const a: Account = { emitted: 0, delivered: 0, setAside: 0, lost: 0, lostIds: [] };
  for (const id of expected) {
    a.emitted++;
    if (got.ids.has(id)) a.delivered++;
    else if (aside?.ids.has(id) === true) a.setAside++;
    else {
      a.lost++;
      if (a.lostIds.length < 5) a.lostIds.push(id);
    }
  }
  return a;
}

/** Peak RSS in MiB over the lines of emitting processes (every line with maxRssKiB). */
export function maxRssMiB(lines: Record<string, unknown>[][]): number {
  return Math.max(0, ...lines.flatMap((ls) => ls.map((o) => Number(o.maxRssKiB ?? 0)))) / 1024;
}
