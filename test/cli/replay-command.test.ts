/**
 * `otel-audit replay` through the built CLI (dist/cli.js), against the development collector on loopback and
 * with nothing listening: it exits 0 only when everything was delivered, otherwise says what was not and exits
 * 1 (never 0 silently), releases its locks, and never prints the export headers.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { CollectorHandle } from '../../src/collector/index.js';
import { startTestCollector } from '../helpers/ports.js';
import { replayEndpoint } from '../../src/cli/replay-command.js';
import { killAll, runNode, type Proc } from '../helpers/child.js';
import { tempDir } from '../helpers/tmp.js';

const CLI = join(import.meta.dirname, '../../dist/cli.js');
const EMITTER = join(import.meta.dirname, '../fixtures/emitter.mjs');
const SECRET = 'Bearer s3cr3t-replay-header-value';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await killAll();
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function collector(): Promise<CollectorHandle> {
  const { dir, cleanup } = await tempDir('otel-audit-replay-col-');
  const handle = await startTestCollector({ outFile: join(dir, 'out.jsonl') });
  cleanups.push(cleanup, () => handle.close());
  return handle;
}

/** A journal directory with one finished stream of 5 records + its end record, none acknowledged. */
async function orphanedJournal(unreachable: string, env: Record<string, string> = {}): Promise<{ dir: string; streamId: string }> {
  const { dir: root, cleanup } = await tempDir('otel-audit-replay-');
  cleanups.push(cleanup);
  const dir = join(root, 'audit');
  const p = runNode([EMITTER], {
    OTEL_AUDIT_DIR: dir,
    OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: unreachable,
    OTEL_EXPORTER_OTLP_TIMEOUT: '200',
    OTEL_BLRP_EXPORT_TIMEOUT: '200',
    EMIT_COUNT: '5',
    ...env,
  });
  expect((await p.exited).code).toBe(0);
  const done = p.event('done')!;
  expect(done.undelivered).toBe(6);
  return { dir, streamId: done.streamId as string };
}

interface Replayed {
  code: number | null;
  json: Record<string, unknown>;
  stderr: string;
  stdout: string;
}

async function replay(dir: string, args: string[]): Promise<Replayed> {
  const p: Proc = runNode([CLI, 'replay', '--dir', dir, ...args], { OTEL_EXPORTER_OTLP_HEADERS: `authorization=${SECRET}`, OTEL_EXPORTER_OTLP_TIMEOUT: '500' });
  const { code } = await p.exited;
  const stderr = p.stderr.join('\n');
  return { code, json: p.event('replayed') ?? {}, stderr, stdout: JSON.stringify(p.lines) };
}

function state(dir: string, streamId: string): { acked: number; done: boolean } {
  return JSON.parse(readFileSync(join(dir, 'state', `${streamId}.state`), 'utf8')) as { acked: number; done: boolean };
}

describe('otel-audit replay', () => {
  // Found in review: a stream whose owner is alive on this host was left out without a word ("complete": true,
  // "streams": 0), and one another replay held was "not delivered … run replay again", as if this one had failed.
  it('a stream whose owner is alive on this host: named (aliveHere), left to it, exit 0', async () => {
    const c = await collector();
    const { dir: root, cleanup } = await tempDir('otel-audit-replay-live-');
    cleanups.push(cleanup);
    const dir = join(root, 'audit');
    const { AuditLogRecordProcessor } = await import('../../src/processor.js');
    const { LoggerProvider } = await import('@opentelemetry/sdk-logs');
    // The owner: this very process (alive on this host), its collector unreachable, its records journaled.
    const processor = new AuditLogRecordProcessor({ dir, exporter: { url: 'http://127.0.0.1:9/v1/logs', timeoutMillis: 200 }, exportTimeoutMillis: 300, replay: false });
    const provider = new LoggerProvider({ processors: [processor] });
    cleanups.push(() => provider.shutdown().catch(() => undefined));
    for (let i = 0; i < 3; i++) provider.getLogger('audit').emit({ eventName: 'user.login', attributes: { 'audit.action': 'LOGIN', 'audit.outcome': 'success', 'audit.actor.id': 'u', 'audit.actor.type': 'user' } });
    await processor.forceFlush().catch(() => undefined); // journaled; the flush times out on the unreachable collector
    const r = await replay(dir, ['--endpoint', c.endpoint, '--timeout', '5']);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ complete: true, streams: 0, aliveHere: [processor.streamId] });
    expect(r.stderr).toContain(`stream ${processor.streamId} not replayed: the process that writes it is alive (on this host, or a neighbour seen by its socket) and delivers it itself`);
    expect(c.stats().records).toBe(0);
  });

  it('a stream another replay of this host holds: undelivered for this one, which says who delivers it', async () => {
    const { dir, streamId } = await orphanedJournal('http://127.0.0.1:9/v1/logs');
    // Replay A holds the stream's claim while it retries against nothing; B runs meanwhile.
    const a = runNode([CLI, 'replay', '--dir', dir, '--endpoint', 'http://127.0.0.1:9/v1/logs', '--timeout', '20'], { OTEL_EXPORTER_OTLP_TIMEOUT: '200' });
    for (let t = 0; !existsSync(join(dir, 'state', `${streamId}.lock`)) && t < 500; t++) await new Promise((r) => setTimeout(r, 20));
    expect(existsSync(join(dir, 'state', `${streamId}.lock`))).toBe(true);
    const b = await replay(dir, ['--endpoint', 'http://127.0.0.1:9/v1/logs', '--timeout', '1']);
    expect(b.code).toBe(1);
    expect(b.json).toMatchObject({ complete: false, undelivered: [{ streamId, deliveredThrough: 0 }] });
    expect(b.stderr).toContain(`stream ${streamId} not delivered after seq 0; another replay on this host holds it and delivers it`);
    a.proc.kill('SIGTERM');
    await a.exited;
  });

  it('collector down: stops at --timeout, says what was not delivered, exits 1, releases its lock', async () => {
    const c = await collector();
    await c.stop(); // connection refused on that port
    const { dir, streamId } = await orphanedJournal(c.endpoint);
    const r = await replay(dir, ['--endpoint', c.endpoint, '--timeout', '1']);
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ event: 'replayed', complete: false, records: 0, timedOut: true, undelivered: [{ streamId, deliveredThrough: 0 }] });
    expect(r.stderr).toContain(`stream ${streamId} not delivered after seq 0`);
    expect(r.stderr).toContain('ECONNREFUSED');
    expect(existsSync(join(dir, 'state', `${streamId}.lock`))).toBe(false);
    expect(state(dir, streamId)).toMatchObject({ acked: 0, done: false });
    expect(r.stderr + r.stdout).not.toContain('s3cr3t');

    // The collector back: the same directory is delivered, exit 0.
    await c.start();
    const again = await replay(dir, ['--endpoint', c.endpoint]);
    expect(again.code).toBe(0);
    expect(again.json).toMatchObject({ complete: true, records: 6, undelivered: [] });
    expect(c.stats().records).toBe(6);
    expect(state(dir, streamId)).toMatchObject({ acked: 6, done: true });
  });

  it('--endpoint as a base URL (no path) gets /v1/logs, as OTEL_EXPORTER_OTLP_ENDPOINT does', async () => {
    const c = await collector();
    const { dir, streamId } = await orphanedJournal('http://127.0.0.1:9/v1/logs');
    const r = await replay(dir, ['--endpoint', c.url]);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ complete: true, records: 6 });
    expect(c.stats().records).toBe(6);
    expect(state(dir, streamId).done).toBe(true);
  });

  it('a wrong path (404) is a configuration error: retried until --timeout, nothing set aside; the right URL then delivers all', async () => {
    const c = await collector();
    const { dir, streamId } = await orphanedJournal('http://127.0.0.1:9/v1/logs');
    const r = await replay(dir, ['--endpoint', `${c.url}/wrong/path`, '--timeout', '1']);
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ complete: false, records: 0, rejected: 0, timedOut: true });
    expect(String(r.json['lastError'])).toMatch(/^HTTP 404 \(the endpoint or its credentials are wrong/);
    expect(existsSync(join(dir, 'rejected'))).toBe(false);
    expect(state(dir, streamId)).toMatchObject({ acked: 0, done: false });
    expect(r.stderr + r.stdout).not.toContain('s3cr3t');
    const again = await replay(dir, ['--endpoint', c.url]);
    expect(again.code).toBe(0);
    expect(again.json).toMatchObject({ complete: true, records: 6 });
    expect(c.stats().records).toBe(6);
  });

  // Found in review: JSON that is no OTLP request threw out of the stream, which then sent nothing, on every run.
  it.each([
    ['not JSON', (l: string) => '{"resourceLogs":[' + 'x'.repeat(Math.max(0, l.length - 18))],
    ['null', () => 'null'],
    ['resourceLogs a number', () => '{"resourceLogs":5}'],
    ['a null resourceLogs entry', () => '{"resourceLogs":[null]}'],
  ])('an unreadable line in the middle (%s): its records are not sent, the others are, the stream stays not done (files kept), said each time', async (_what, unreadable) => {
    const c = await collector();
    // fsync always: one line per record.
    const { dir, streamId } = await orphanedJournal('http://127.0.0.1:9/v1/logs', { OTEL_AUDIT_FSYNC: 'always' });
    const seg = readdirSync(join(dir)).filter((n) => n.endsWith('.jsonl'));
    expect(seg).toHaveLength(1);
    const path = join(dir, seg[0]!);
    const lines = readFileSync(path, 'utf8').split('\n');
    expect(lines.filter(Boolean).length).toBeGreaterThanOrEqual(3);
    lines[1] = unreadable(lines[1]!);
    writeFileSync(path, lines.join('\n'));
    for (let run = 0; run < 2; run++) {
      const r = await replay(dir, ['--endpoint', c.endpoint, '--timeout', '5']);
      expect(r.code).toBe(1);
      expect(r.json).toMatchObject({ complete: false, malformedLines: 1 });
      if (run === 0) expect(c.stats().records).toBe(lines.filter(Boolean).length - 1); // one record a line
      expect(r.stderr).toContain('1 unreadable journal line(s) not sent');
      expect(state(dir, streamId).done).toBe(false);
      expect(existsSync(path)).toBe(true);
    }
  });

  // Found in re-review: a non-audit record with "attributes": null beside an audit one, which verify reads as
  // having none, made replay count the line unreadable and leave it unsent, on every run.
  it('a line verify accepts, with a non-audit record whose attributes are null: sent, and the stream done', async () => {
    const c = await collector();
    const { dir, streamId } = await orphanedJournal('http://127.0.0.1:9/v1/logs', { OTEL_AUDIT_FSYNC: 'always' });
    const path = join(dir, readdirSync(dir).find((f) => f.endsWith('.jsonl'))!);
    const lines = readFileSync(path, 'utf8').split('\n');
    const req = JSON.parse(lines[1]!) as { resourceLogs: { scopeLogs: { logRecords: unknown[] }[] }[] };
    req.resourceLogs[0]!.scopeLogs[0]!.logRecords.push({ body: { stringValue: 'not an audit record' }, attributes: null });
    lines[1] = JSON.stringify(req);
    writeFileSync(path, lines.join('\n'));
    expect(spawnSync(process.execPath, [CLI, 'verify', dir], { encoding: 'utf8' }).status).toBe(0);
    const r = await replay(dir, ['--endpoint', c.endpoint, '--timeout', '5']);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ complete: true, malformedLines: 0 });
    expect(c.stats().records).toBe(6);
    expect(state(dir, streamId).done).toBe(true);
  });

  it('usage errors exit 2 without echoing the endpoint', async () => {
    const { dir } = await orphanedJournal('http://127.0.0.1:9/v1/logs');
    for (const args of [['--timeout', 'soon'], ['--endpoint', 'ftp://user:pw@host/'], ['extra']]) {
      const r = await replay(dir, args);
      expect(r.code).toBe(2);
      expect(r.stderr).not.toContain('user:pw');
    }
  });

  // Found by review: the last one silently won (`--dir a --dir b` replayed b).
  it.each([['--dir', '/elsewhere'], ['--timeout', '5', '--timeout=6'], ['--endpoint', 'http://user:pw@127.0.0.1:9', '--endpoint=http://127.0.0.1:9']])('a single-value option given twice is a usage error: %s', async (...extra) => {
    const { dir } = await orphanedJournal('http://127.0.0.1:9/v1/logs');
    const r = await replay(dir, extra);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/otel-audit replay: --(dir|timeout|endpoint) given more than once/);
    expect(r.stderr).not.toContain('user:pw');
  });
});

describe('otel-audit replay: arguments it refuses (found by review)', () => {
  it('a --dir that does not exist is a usage error, and is not created', async () => {
    const { dir } = await orphanedJournal('http://127.0.0.1:9/v1/logs');
    const missing = join(dir, 'no-such-dir');
    const r = await replay(missing, ['--timeout', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--dir ${JSON.stringify(missing)}: no such directory`);
    expect(existsSync(missing)).toBe(false);
  });

  // Found by review: a stream it waited on (its owner on another host renewed its lease a moment ago) was left out
  // of `undelivered` when --timeout came first: "complete": true, exit 0, nothing sent.
  it('a stream still waited on for its lease at --timeout is undelivered: exit 1', async () => {
    const { dir, streamId } = await orphanedJournal('http://127.0.0.1:9/v1/logs');
    const path = join(dir, 'state', `${streamId}.state`);
    writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, 'utf8')), host: 'old-pod-1', ended: false }) + '\n');
    const r = await replay(dir, ['--timeout', '1']);
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ complete: false, undelivered: [{ streamId, deliveredThrough: 0 }] });
    expect(r.stderr).toContain(`stream ${streamId} in ${dir} is held by a process on host "old-pod-1"`);
  });

  // Found by review: `--dir ~` (any directory with no journal) was given a state/ and reported as replayed.
  it('a --dir that holds no journal is a usage error, and nothing is written in it', async () => {
    const { dir } = await orphanedJournal('http://127.0.0.1:9/v1/logs');
    const empty = join(dir, 'not-a-journal');
    mkdirSync(empty);
    writeFileSync(join(empty, 'notes.txt'), 'mine');
    const r = await replay(empty, ['--timeout', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--dir ${JSON.stringify(empty)} holds no otel-audit journal (no journal segment, no state/): nothing to replay`);
    expect(readdirSync(empty)).toEqual(['notes.txt']);
  });

  // Before, only --dir was checked: OTEL_AUDIT_DIR=<typo> or no setting created the directory and said complete.
  it.each([
    ['OTEL_AUDIT_DIR', true],
    ['the default ./.otel-audit', false],
  ])('a missing directory from %s is a usage error too, and is not created', async (_from, viaEnv) => {
    const { dir: cwd, cleanup } = await tempDir('otel-audit-replay-cwd-');
    cleanups.push(cleanup);
    const missing = join(cwd, viaEnv ? 'typo' : '.otel-audit');
    const p = runNode([CLI, 'replay', '--timeout', '1'], { OTEL_AUDIT_DIR: viaEnv ? missing : undefined }, cwd);
    expect((await p.exited).code).toBe(2);
    expect(p.stderr.join('\n')).toContain(viaEnv ? `OTEL_AUDIT_DIR (${JSON.stringify(missing)}): no such directory` : `the default directory ${JSON.stringify(missing)}: no such directory`);
    expect(existsSync(missing)).toBe(false);
  });

  it('a --timeout a timer cannot hold (over 2147483 s) is a usage error, not a timeout after 1 ms', async () => {
    const { dir } = await orphanedJournal('http://127.0.0.1:9/v1/logs');
    const r = await replay(dir, ['--timeout', '2200000']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--timeout takes a number of seconds up to 2147483');
  });
});

describe('replayEndpoint', () => {
  it.each([
    ['http://h:4318', 'http/json', 'http://h:4318/v1/logs'],
    ['http://h:4318/', 'http/protobuf', 'http://h:4318/v1/logs'],
    ['http://h:4318/v1/logs', 'http/json', 'http://h:4318/v1/logs'],
    ['https://h/otlp/custom', 'http/json', 'https://h/otlp/custom'],
    ['http://h:4317', 'grpc', 'http://h:4317'],
    ['not a url', 'http/json', undefined],
  ])('%s (%s) -> %s', (given, protocol, expected) => {
    expect(replayEndpoint(given, protocol)).toBe(expected);
  });
});

// Found in review: a directory this user cannot list read as one with no journal, "nothing to replay".
it.skipIf(process.getuid?.() !== 0)('replay --dir on a directory the user cannot list: exit 2 with EACCES, not "nothing to replay"', () => {
  const chunk = readdirSync(join(import.meta.dirname, '../../dist')).find((n) => /^replay-command-.*\.js$/.test(n))!;
  const outer = mkdtempSync('/tmp/otel-audit-eacces-');
  try {
    chmodSync(outer, 0o755); // the other user may pass through, not into `locked`
    const locked = join(outer, 'locked');
    mkdirSync(locked, { mode: 0o700 });
    // The module is loaded before the uid changes: the other user may not read the repository.
    const script = `const { runReplayCommand } = await import(${JSON.stringify(pathToFileURL(join(import.meta.dirname, '../../dist', chunk)).href)});
process.setgid(54321); process.setuid(54321);
const lines = []; const code = await runReplayCommand(['--dir', ${JSON.stringify(locked)}], (s) => lines.push(s), (s) => lines.push(s));
console.log(JSON.stringify({ code, text: lines.join('') }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    const got = JSON.parse(r.stdout) as { code: number; text: string };
    expect(got.code).toBe(2);
    expect(got.text).toContain('EACCES');
    expect(got.text).not.toContain('nothing to replay');
  } finally {
    rmSync(outer, { recursive: true, force: true });
  }
});
