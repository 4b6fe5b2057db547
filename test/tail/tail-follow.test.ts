/**
 * `otel-audit tail --follow` as a user runs it: the built CLI in a child process following a journal that
 * real processors (other child processes, the built package) append to — across rotation to new segments and
 * a new stream — until it is stopped with SIGTERM or SIGINT.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { MatchJson } from '../../src/audit-search/match.js';
import { killAll, runNode } from '../helpers/child.js';
import { collectorDir } from '../helpers/pipeline.js';
import { makeChain, toLines } from '../helpers/make-chain.js';
import { runTailCommand } from '../../src/cli/tail-command.js';
import { drainOf } from '../../src/cli/streaming-io.js';

const CLI = join(import.meta.dirname, '../../dist/cli.js');
const APPENDER = join(import.meta.dirname, 'appender.mjs');

const cleanups: (() => Promise<unknown>)[] = [];
const tails: ChildProcess[] = [];
afterEach(async () => {
  for (const t of tails.splice(0)) if (t.exitCode === null && t.signalCode === null) t.kill('SIGKILL');
  await killAll();
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Tail {
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  waitFor(pred: (stdout: string) => boolean, what: string, timeoutMs?: number): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startTail(args: string[]): Tail {
  const proc = spawn(process.execPath, [CLI, 'tail', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  tails.push(proc);
  let out = '';
  let err = '';
  const waiters: Array<() => void> = [];
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    for (const w of [...waiters]) w();
  });
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => void (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.once('exit', (code, signal) => r({ code, signal })));
  return {
    proc,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(pred, what, timeoutMs = 30_000) {
      if (pred(out)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}; stdout:\n${out}\nstderr:\n${err}`)), timeoutMs);
        const check = (): void => {
          if (!pred(out)) return;
          clearTimeout(t);
          waiters.splice(waiters.indexOf(check), 1);
          resolve();
        };
        waiters.push(check);
      });
    },
  };
}

const jsonLines = (text: string): MatchJson[] =>
  text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as MatchJson);

describe('tail --follow with a real producer', () => {
  it('prints the last N, then each record appended by another process, across rotation and a new stream, until SIGTERM', async () => {
    const c = await collectorDir(cleanups);
    const env = {
      OTEL_AUDIT_DIR: c.auditDir,
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: c.collector.endpoint,
      OTEL_AUDIT_MAX_FILE_BYTES: '4096', // a new segment every few records
      OTEL_AUDIT_MAX_FILES: '1000',
      OTEL_AUDIT_FSYNC: 'always',
    };
    // A first process leaves a journal: 6 records and its end record.
    const first = runNode([APPENDER], { ...env, APPEND_COUNT: '6', ACTOR_PREFIX: 'first' });
    await first.waitFor((o) => o.event === 'done');
    await first.exited;
    const segmentsBefore = readdirSync(c.auditDir).filter((n) => n.endsWith('.jsonl')).length;

    const json = startTail(['--follow', '-n', '3', '--json', '--interval', '100', c.auditDir]);
    const table = startTail(['-f', '-n', '2', '--interval', '100', c.auditDir]);
    await json.waitFor((t) => jsonLines(t).length >= 3, 'the last 3 records');
    await table.waitFor((t) => t.split('\n').length >= 4, 'the table header and last 2 rows');
    const initial = jsonLines(json.stdout());
    expect(initial.map((m) => m.actor)).toEqual(['first-4', 'first-5', 'otel-audit']); // by time: the end record last
    expect(initial.every((m) => m.chain === 'verified')).toBe(true);

    // A second process appends, slowly, to a new stream with its own segments.
    const second = runNode([APPENDER], { ...env, APPEND_COUNT: '12', APPEND_DELAY_MS: '40', ACTOR_PREFIX: 'second' });
    const started = await second.waitFor((o) => o.event === 'started');
    await json.waitFor((t) => jsonLines(t).length >= 3 + 13, 'the 12 new records and the end record', 60_000);
    await table.waitFor((t) => t.includes('second-11') && (t.match(/ otel-audit /g) ?? []).length >= 2, 'the new rows in the table', 60_000);
    await second.exited;

    const added = jsonLines(json.stdout()).slice(3);
    expect(added.map((m) => m.streamId)).toEqual(Array(13).fill(started.streamId));
    expect(added.map((m) => m.sequence)).toEqual(Array.from({ length: 13 }, (_, i) => i + 1)); // each once, in order
    expect(added.map((m) => m.actor)).toEqual([...Array.from({ length: 12 }, (_, i) => `second-${i}`), 'otel-audit']);
    expect(added.every((m) => m.chain === 'verified')).toBe(true);
    // They came from several new segment files.
    const files = new Set(added.map((m) => m.file));
    expect(files.size).toBeGreaterThan(2);
    expect(readdirSync(c.auditDir).filter((n) => n.endsWith('.jsonl')).length).toBeGreaterThan(segmentsBefore + 2);

    // The table: header, the 2 initial rows, then one row per new record, all in the same columns.
    const rows = table.stdout().trimEnd().split('\n');
    expect(rows[0]).toMatch(/^TIME +STREAM +SEQ +EVENT +ACTOR +ACTION +TARGET +OUTCOME +CHAIN$/);
    expect(rows).toHaveLength(1 + 2 + 13);
    const chainAt = rows[0]!.indexOf('CHAIN');
    for (const r of rows.slice(1)) expect(r.slice(chainAt)).toBe('verified');

    json.proc.kill('SIGTERM');
    table.proc.kill('SIGINT');
    expect(await json.exited).toEqual({ code: 0, signal: null });
    expect(await table.exited).toEqual({ code: 0, signal: null });
    expect(json.stderr()).toBe('');
  });
});

// Found in review: with a reader that stopped reading (a full pipe), SIGINT and SIGTERM did nothing: tail waited for
// the pipe to drain before it listened for them, and again in every poll.
describe('tail --follow with a reader that does not read', () => {
  it.each(['SIGINT', 'SIGTERM'] as const)('the built CLI, its stdout a pipe nobody reads: %s ends it, status 0', async (sig) => {
    const dir = mkdtempSync(join(tmpdir(), 'otel-audit-tail-blocked-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    // Far more than a pipe holds: the rows shown at the start fill it.
    writeFileSync(join(dir, 'audit.jsonl'), toLines(makeChain(2000), 10).join('\n') + '\n');
    const proc = spawn(process.execPath, [CLI, 'tail', '--follow', '--json', '-n', '2000', '--interval', '100', dir], { stdio: ['ignore', 'pipe', 'ignore'] });
    tails.push(proc);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.once('exit', (code, signal) => r({ code, signal })));
    // Its first output comes after it listens for the signals; then nothing more is read.
    await new Promise<void>((r) => proc.stdout!.once('data', () => (proc.stdout!.pause(), r())));
    proc.kill(sig);
    expect(await exited).toEqual({ code: 0, signal: null });
  });

  // In process, with a stream that never takes a byte: the interrupt is the abort signal the CLI's handler fires.
  it('an interrupt ends it, status 0, and drops what the reader did not take', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'otel-audit-tail-blocked-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'audit.jsonl'), toLines(makeChain(300), 10).join('\n') + '\n');
    const stuck = new Writable({ highWaterMark: 1024, write: () => undefined }); // never calls back
    const drain = drainOf(stuck);
    let waiting!: () => void;
    const waits = new Promise<void>((r) => (waiting = r));
    const ac = new AbortController();
    const io = {
      out: (t: string) => void stuck.write(t),
      err: () => undefined,
      drain: (signal?: AbortSignal) => (waiting(), drain(signal)),
      abandon: () => void stuck.destroy(),
    };
    const done = runTailCommand(['--follow', '--json', '-n', '300', '--interval', '50', dir], io, { signal: ac.signal });
    await waits;
    expect(stuck.writableNeedDrain).toBe(true);
    ac.abort();
    expect(await done).toBe(0);
    expect(stuck.destroyed).toBe(true);
  });
});
