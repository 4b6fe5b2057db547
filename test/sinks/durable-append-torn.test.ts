/**
 * durableAppend on a disk that fills up mid-write: `write(2)` takes part of the line, then ENOSPC. The fragment
 * must not stay (state/retention.log: the next entry would be appended onto it, and both lines be unreadable).
 * The file is real; only the write's failure is injected, as a full disk makes it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { tempDir } from '../helpers/tmp.js';

const fault = { partial: false };
vi.mock('node:fs', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs')>();
  const writeSync = ((fd: number, buf: Uint8Array, offset?: number, length?: number, ...rest: unknown[]): number => {
    if (fault.partial) {
      fault.partial = false;
      const half = Math.max(1, Math.floor((length ?? buf.length) / 2));
      actual.writeSync(fd, buf, offset, half);
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    }
    return (actual.writeSync as (...a: unknown[]) => number)(fd, buf, offset, length, ...rest);
  }) as typeof actual.writeSync;
  return { ...actual, default: { ...actual, writeSync }, writeSync };
});

const { durableAppend } = await import('../../src/sinks/durable.js');

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await tempDir('otel-audit-append-')));
afterAll(async () => cleanup());

it('a write that fails part-way leaves the file as it was, and the next append is a whole line', () => {
  const path = join(dir, 'retention.log');
  writeFileSync(path, '{"entry":1}\n', { mode: 0o600 });
  fault.partial = true;
  expect(() => durableAppend(path, '{"entry":2,"padding":"' + 'x'.repeat(200) + '"}\n')).toThrow(/ENOSPC/);
  expect(readFileSync(path, 'utf8')).toBe('{"entry":1}\n');
  durableAppend(path, '{"entry":3}\n');
  const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
  expect(lines.map((l) => JSON.parse(l) as { entry: number })).toEqual([{ entry: 1 }, { entry: 3 }]);
});
