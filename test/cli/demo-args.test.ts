/** `otel-audit demo` arguments: refused before anything runs (found by review: they were ignored, and a reused --dir failed the demo). */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runDemo } from '../../src/cli/demo.js';
import { tempDir } from '../helpers/tmp.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function demo(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runDemo(argv, (s) => void (out += s), (s) => void (err += s));
  return { code, out, err };
}

describe('otel-audit demo: usage errors exit 2 and run nothing', () => {
  it.each([
    [['--bogus'], 'unknown argument "--bogus"'],
    [['--dir'], '--dir needs a value'],
    [['--dir', '--bogus'], '--dir needs a value'],
    [['extra'], 'unexpected argument "extra"'],
    // Found by review: the demo ran in the last one.
    [['--dir', 'a', '--dir', 'b'], '--dir given more than once'],
  ])('%j', async (argv, message) => {
    const r = await demo(argv);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`otel-audit demo: ${message}`);
    expect(r.out).toBe('');
  });

  it('a --dir that holds files (an earlier run) is refused', async () => {
    const { dir, cleanup } = await tempDir('otel-audit-demo-args-');
    cleanups.push(cleanup);
    writeFileSync(join(dir, 'left-over'), '');
    const r = await demo(['--dir', dir]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`--dir ${JSON.stringify(dir)} is not empty: give a new or empty directory`);
  });

  it('--help prints the usage and exits 0', async () => {
    const r = await demo(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Usage: otel-audit demo \[--dir DIR\]/);
  });
});
