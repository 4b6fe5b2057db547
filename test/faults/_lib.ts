/**
 * Shared helpers of the fault tests (test/faults): independent accounting of what reached the collector,
 * a pipeline whose collector logs each request with a timestamp, child processes run through any command
 * (e.g. `setpriv`), and mounts that are always undone.
 */
import { execFileSync } from 'node:child_process';
import { vi } from 'vitest';
import { spawnJson, type Proc } from '../helpers/child.js';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalFromOtlp } from '../../src/chain/canonical.js';
import { hashCanonical } from '../../src/chain/hash.js';
import type { AuditProcessorOptions } from '../../src/config/options.js';
import type { ExportLogsServiceRequest, OtlpLogRecord } from '../../src/otlp/types.js';
import { makePipeline, type TestPipeline } from '../helpers/pipeline.js';
import { idOf, seqOf, streamOf } from '../helpers/records.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Collects what is written to stderr (the processor reports there), for assertions; undone by
 * vi.restoreAllMocks(). Chunks matching `swallow` are expected noise and kept off the terminal (all of them by
 * default; `null`: none).
 */
export function captureStderr(swallow: RegExp | null = /^/): string[] {
  const lines: string[] = [];
  const write = process.stderr.write.bind(process.stderr) as (c: string | Uint8Array, ...r: unknown[]) => boolean;
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
    lines.push(String(chunk));
    return swallow !== null && swallow.test(String(chunk)) ? true : write(chunk, ...rest);
  });
  return lines;
}
export const EMITTER = join(import.meta.dirname, '../fixtures/fault-emitter.mjs');

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
  /** id → the stream record (first copy), for link checks. */
  byId: Map<string, OtlpLogRecord>;
}

export function readOtlpLines(path: string): OtlpLogRecord[] {
  const out: OtlpLogRecord[] = [];
  if (!existsSync(path)) return out;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line === '') continue;
    const req = JSON.parse(line) as ExportLogsServiceRequest;
    for (const rl of req.resourceLogs ?? []) for (const sl of rl.scopeLogs ?? []) out.push(...(sl.logRecords ?? []));
  }
  return out;
}

/** `hash: false` skips the content comparison of copies (`conflicting` stays empty): for bulk checks. */
export function delivered(files: string | string[], { hash = true }: { hash?: boolean } = {}): Delivered {
  const d: Delivered = { copies: 0, unique: 0, duplicates: 0, ids: new Map(), streams: new Map(), inOrder: true, conflicting: [], byId: new Map() };
  const hashes = new Map<string, string>();
  for (const f of Array.isArray(files) ? files : [files]) {
    for (const r of readOtlpLines(f)) {
      const id = idOf(r);
      const stream = streamOf(r);
      const seq = seqOf(r);
      if (id === undefined || stream === undefined || seq === undefined) continue;
      d.copies++;
      d.ids.set(id, (d.ids.get(id) ?? 0) + 1);
      const h = hash ? hashCanonical(canonicalFromOtlp(r)) : '';
      const prev = hashes.get(id);
      if (prev === undefined) {
        hashes.set(id, h);
        d.byId.set(id, r);
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
    }
  }
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
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => n.endsWith('.jsonl'))
    .sort()
    .map((n) => join(dir, n));
}

export function filesIn(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .map((n) => join(dir, n));
}

/** Expands [[from,to],...] ranges (as the fault emitter prints them). */
export function expand(ranges: unknown): number[] {
  const out: number[] = [];
  for (const [a, b] of (ranges ?? []) as [number, number][]) for (let i = a; i <= b; i++) out.push(i);
  return out;
}

// ---- an in-process pipeline whose collector logs every request ------------------------------------

export interface FaultPipeline extends TestPipeline {
  /** Collector diagnostic lines with the time they were logged (fault applications, restarts). */
  log: { t: number; line: string }[];
}

export async function faultPipeline(options: AuditProcessorOptions = {}, auditDir?: string): Promise<FaultPipeline> {
  const log: { t: number; line: string }[] = [];
  const t = await makePipeline(options, {
    ...(auditDir !== undefined ? { auditDir } : {}),
    collectorLog: (line) => log.push({ t: performance.now(), line }),
    defaultTimeoutMillis: 500,
  });
  return Object.assign(t, { log });
}

// ---- child processes: one runner for all tests (test/helpers/child.ts) ---------------------------------

export { killAll as killSpawned, spawnJson, type Proc } from '../helpers/child.js';

/** The fault emitter (test/fixtures/fault-emitter.mjs) in a child process. */
export function emitter(env: Record<string, string | undefined>, wrapper: string[] = []): Proc {
  return wrapper.length === 0 ? spawnJson(process.execPath, [EMITTER], env) : spawnJson(wrapper[0]!, [...wrapper.slice(1), process.execPath, EMITTER], env);
}

// ---- mounts (we run as root in CI; every mount is undone in afterEach) ------------------------------

const mounted: string[] = [];

function tryRun(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Can this process mount a tmpfs? (root with CAP_SYS_ADMIN, Linux.) Probed once, leaves nothing behind. */
export const canMount: boolean = (() => {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return false;
  const probe = join('/tmp', `otel-audit-mount-probe-${process.pid}`);
  try {
    mkdirSync(probe, { recursive: true });
    if (!tryRun('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe])) return false;
    tryRun('umount', [probe]);
    return true;
  } finally {
    tryRun('rmdir', [probe]);
  }
})();

/** Can a child run without CAP_DAC_OVERRIDE (so that permission bits apply to root too)? */
export const canDropDacOverride: boolean = (() => {
  if (process.platform !== 'linux') return false;
  if (process.getuid?.() !== 0) return true; // not root: permission bits apply anyway
  return tryRun('setpriv', ['--bounding-set', '-dac_override,-dac_read_search', '--', process.execPath, '-e', '0']);
})();

/** The wrapper that runs a command without the capabilities that let root ignore permission bits. */
export const NO_DAC_OVERRIDE: string[] = process.getuid?.() === 0 ? ['setpriv', '--bounding-set', '-dac_override,-dac_read_search', '--'] : [];

export function mountTmpfs(dir: string, size: string): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir]);
  mounted.push(dir);
}

/** A read-only bind mount of `src` on `dir` (stacked: files already open for writing keep working). */
export function bindReadOnly(src: string, dir: string): void {
  execFileSync('mount', ['--bind', src, dir]);
  mounted.push(dir);
  execFileSync('mount', ['-o', 'remount,bind,ro', dir]);
}

/** Unmounts the most recent mount of `dir`. */
export function unmount(dir: string): void {
  const i = mounted.lastIndexOf(dir);
  if (i !== -1) mounted.splice(i, 1);
  execFileSync('umount', [dir]);
}

/** Undoes every mount made by these helpers (lazily if busy); call from afterEach. */
export function unmountAll(): void {
  while (mounted.length > 0) {
    const dir = mounted.pop()!;
    if (!tryRun('umount', [dir])) tryRun('umount', ['-l', dir]);
  }
}
