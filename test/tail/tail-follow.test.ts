/**
 * `otel-audit tail --follow` as a user runs it: the built CLI in a child process following a journal that
 * real processors (other child processes, the built package) append to — across rotation to new segments and
 * a new stream — until it is stopped with SIGTERM or SIGINT.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { MatchJson } from '../../src/audit-search/match.js';
import { killAll, runNode } from '../helpers/child.js';
import { collectorDir } from '../helpers/pipeline.js';

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
