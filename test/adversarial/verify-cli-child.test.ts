/**
 * `otel-audit verify` under hostile input (issue 9, part A), in a child process, for what cannot be checked
 * in the test's own process:
 * - memory: a million one-record streams (once ~8.8 KB per stream, killed by the heap limit at 5.6 GB) and a
 *   200 MB line (once held whole, 1.3 GB). The child runs with `--max-old-space-size=1024`, so a heap past
 *   1 GiB kills it, and reports its own peak RSS (getrusage, at exit): no sampling, nothing timed;
 * - key files that are FIFOs or devices, which a synchronous read would block forever: a child can be
 *   killed if that ever comes back (a watchdog, so the test always stops; the assertions are on the exit
 *   status and the message, never on time).
 *
 * The child is bundled from src/ with esbuild (which tsup brings) into a temp dir, so the test never runs a
 * stale dist/.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { open, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MAX_LINE_BYTES } from '../../src/verify/index.js';
import { tempDir } from '../helpers/tmp.js';

const MiB = 1024 * 1024;
let root: string;
let cleanup: () => Promise<void>;
let cli: string;

beforeAll(async () => {
  ({ dir: root, cleanup } = await tempDir('otel-audit-adv-mem-'));
  const entry = join(root, 'verify-entry.ts');
  const src = join(import.meta.dirname, '..', '..', 'src', 'cli', 'verify-command.ts');
  // What src/cli/main.ts does for `verify`, plus the peak RSS on stderr at exit.
  await writeFile(
    entry,
    `import { runVerifyCommand } from ${JSON.stringify(src)};
process.on('exit', () => process.stderr.write('maxRSS=' + process.resourceUsage().maxRSS + '\\n'));
runVerifyCommand(process.argv.slice(2), (s) => void process.stdout.write(s), (s) => void process.stderr.write(s)).then((c) => { process.exitCode = c; });
`,
  );
  cli = join(root, 'verify.mjs');
  await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile: cli, logLevel: 'error' });
});
afterAll(async () => cleanup());

interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Peak resident set size of the child, bytes. */
  maxRss: number;
  stderr: string[];
  /** The first and last lines the child printed on stdout (its stdout went to a file). */
  firstLine: string;
  lastLine: string;
}

/** Children still running: killed after each test, whatever happened to it. */
const live = new Set<ChildProcess>();
afterEach(() => {
  for (const c of live) c.kill('SIGKILL');
  live.clear();
});

/**
 * Runs the bundled verify command with a 1 GiB heap limit, stdout to a file (a million lines). A child that
 * has not finished after `watchdogMs` is killed (SIGKILL): a hang is a failure, never a test that runs on.
 */
async function runChild(args: string[], watchdogMs: number): Promise<ChildRun> {
  const outFile = join(root, `out-${Date.now()}-${Math.random().toString(36).slice(2)}.txt`);
  const fd = openSync(outFile, 'w');
  const child = spawn(process.execPath, ['--max-old-space-size=1024', cli, ...args], { stdio: ['ignore', fd, 'pipe'] });
  closeSync(fd);
  live.add(child);
  const watchdog = setTimeout(() => child.kill('SIGKILL'), watchdogMs);
  let err = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => (err += d));
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
  clearTimeout(watchdog);
  live.delete(child);
  const stderr = err.split('\n').filter((l) => l !== '');
  const rss = stderr.find((l) => l.startsWith('maxRSS='));
  // The head and tail of the output are enough: the first problem and the verdict.
  const size = (await stat(outFile)).size;
  const fh = await open(outFile, 'r');
  const head = Buffer.alloc(Math.min(size, 4096));
  await fh.read(head, 0, head.length, 0);
  const tail = Buffer.alloc(Math.min(size, 4096));
  await fh.read(tail, 0, tail.length, size - tail.length);
  await fh.close();
  await rm(outFile);
  return {
    code,
    signal,
    maxRss: rss === undefined ? Number.NaN : Number(rss.slice(7)) * 1024,
    stderr: stderr.filter((l) => l !== rss),
    firstLine: head.toString('utf8').split('\n')[0] ?? '',
    lastLine: tail.toString('utf8').trimEnd().split('\n').at(-1) ?? '',
  };
}

const uuid = (prefix: string, i: number): string => `${prefix}0000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;

describe('verify: memory stays bounded under hostile input', () => {
  it('a million records that are each their own stream verify within 1 GiB of peak RSS', { timeout: 300_000 }, async () => {
    const streams = 1_000_000;
    const file = join(root, 'one-record-streams.jsonl');
    // A fast writer: the smallest line the fast path takes, a few MiB per write.
    const fd = openSync(file, 'w');
    let buf = '';
    for (let i = 0; i < streams; i++) {
      buf +=
        `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"observedTimeUnixNano":"1","attributes":[` +
        `{"key":"audit.record.id","value":{"stringValue":"${uuid('a', i)}"}},` +
        `{"key":"audit.sequence.stream_id","value":{"stringValue":"${uuid('b', i)}"}},` +
        `{"key":"audit.sequence.number","value":{"intValue":"1"}}]}]}]}]}\n`;
      if (buf.length > 4 * MiB) {
        writeSync(fd, buf);
        buf = '';
      }
    }
    writeSync(fd, buf);
    closeSync(fd);
    try {
      const r = await runChild([file], 240_000);
      expect(r.stderr).toEqual([]);
      expect([r.code, r.signal]).toEqual([0, null]);
      expect(r.lastLine).toBe(`OK: 1 file, ${streams} audit records, ${streams} streams verified, every chain intact`);
      expect(r.maxRss).toBeLessThan(1024 * MiB);
    } finally {
      await rm(file);
    }
  });

  it('a single 200 MB line is malformed with file and line; at most MAX_LINE_BYTES of it is ever held (peak RSS < 160 MiB)', async () => {
    const file = join(root, 'huge-line.jsonl');
    const fh = await open(file, 'w');
    const block = Buffer.alloc(MiB, 0x61);
    await fh.write('{"resourceLogs":[],"x":"');
    for (let k = 0; k < 200; k++) await fh.write(block);
    await fh.write('"}\n{}\n');
    await fh.close();
    try {
      const r = await runChild([file], 30_000);
      expect(r.stderr).toEqual([]);
      expect([r.code, r.signal]).toEqual([1, null]);
      expect(r.lastLine).toBe('FAILED: 1 integrity problem in 1 file, 0 audit records, 0 streams (1 malformed)');
      expect(r.maxRss).toBeLessThan(160 * MiB);
      expect(r.firstLine).toBe(`MALFORMED at ${file}:1 — line is longer than ${MAX_LINE_BYTES} bytes (MAX_LINE_BYTES), not read`);
    } finally {
      await rm(file);
    }
  });
});

describe('verify: key files that would block a synchronous read', () => {
  it('--pubkey naming a FIFO and --hmac-key-file naming /dev/zero are usage errors (exit 2), not a hang or an endless read', async () => {
    const file = join(root, 'tiny.jsonl');
    await writeFile(file, '{}\n');
    const fifo = join(root, 'key.pem');
    execFileSync('mkfifo', [fifo]);
    const a = await runChild(['--pubkey', fifo, file], 20_000);
    expect([a.code, a.signal]).toEqual([2, null]);
    expect(a.stderr).toEqual([`otel-audit verify: public key file ${JSON.stringify(fifo)} is a FIFO, not a regular file`]);
    const b = await runChild(['--hmac-key-file', '/dev/zero', file], 20_000);
    expect([b.code, b.signal]).toEqual([2, null]);
    expect(b.stderr).toEqual(['otel-audit verify: HMAC key file "/dev/zero" is a character device, not a regular file']);
  });
});
