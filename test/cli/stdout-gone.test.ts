/**
 * `otel-audit verify … | head`: when the reader of stdout goes away, verify neither crashes with a stack trace
 * nor stops early; it exits with its own verdict. Real child process, real pipe closed by the reader.
 */
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeChain, toLines } from '../helpers/make-chain.js';
import { tempDir } from '../helpers/tmp.js';

const CLI = join(import.meta.dirname, '../../dist/cli.js');

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await tempDir()));
afterEach(async () => cleanup());

/** Runs the CLI with its stdout's read end closed at once; resolves with the exit code and stderr. */
function runWithClosedStdout(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('stdout closed by its reader', () => {
  it.each([
    ['an intact set', false, 0],
    ['a set with records deleted', true, 1],
  ])('verify of %s exits with its verdict (%s → %i), without a stack trace', async (_name, tamper, expected) => {
    const chain = makeChain(400, { end: true });
    const kept = tamper ? chain.filter((_, i) => i % 2 === 0) : chain;
    writeFileSync(join(dir, 'a.jsonl'), toLines(kept, 1).join('\n') + '\n');
    const { code, stderr } = await runWithClosedStdout(['verify', dir]);
    expect(stderr).not.toMatch(/EPIPE|Unhandled|\n\s+at /);
    expect(code).toBe(expected);
  });
});

describe('stderr closed by its reader (found in review: exit 1, "integrity failure", for an intact input)', () => {
  /** Runs the CLI with its stderr's read end closed at once (stdout to /dev/null): resolves with the exit code. */
  function runWithClosedStderr(args: string[]): Promise<number | null> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr.destroy();
      child.on('error', reject);
      child.on('close', (code) => resolve(code));
    });
  }

  it.each([
    ['an intact set, with a note on stderr (a FIFO skipped)', ['verify'], 0],
    ['an unwritable --report (exit 2: I/O error)', ['verify', '--report', '/nonexistent-dir/r.html'], 2],
  ])('verify of %s exits with its own status', async (_name, args, expected) => {
    writeFileSync(join(dir, 'a.jsonl'), toLines(makeChain(20, { end: true }), 1).join('\n') + '\n');
    spawnSync('mkfifo', [join(dir, 'zz.jsonl')]);
    expect(await runWithClosedStderr([...args, dir])).toBe(expected);
  });
});
