/**
 * Temporary files a crash left between their write and their link or rename (a batch set aside in rejected/,
 * torn bytes in quarantine/, a state file) are removed at start-up once no process can still be writing them
 * (found in review: one batch-sized file per crash, kept for ever). Fresh ones, and any other file, are left.
 */
import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { prepareAuditDir } from '../../src/sinks/files.js';
import { tempDir } from '../helpers/tmp.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('stale temporary files at start-up', () => {
  it('removes those older than ten minutes in state/, rejected/ and quarantine/; keeps fresh ones and other files', async () => {
    const { dir: root, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const dir = join(root, 'audit');
    const hex = 'ab'.repeat(12);
    const old = new Date(Date.now() - 60 * 60_000);
    const made: Record<string, boolean> = {};
    const put = (path: string, stale: boolean, removed: boolean): void => {
      writeFileSync(path, 'x', { mode: 0o600 });
      if (stale) utimesSync(path, old, old);
      made[path] = removed;
    };
    mkdirSync(dir, { mode: 0o700 });
    for (const sub of ['state', 'rejected', 'quarantine']) {
      mkdirSync(join(dir, sub), { mode: 0o700 });
      put(join(dir, sub, `s-1-2.jsonl.${hex}.tmp`), true, true);
      put(join(dir, sub, `s-3-4.jsonl.${hex.replace('ab', 'cd')}.tmp`), false, false);
    }
    put(join(dir, 'state', `s.lock.4242.${hex}.tmp`), true, true); // a replay claim's temp
    put(join(dir, 'rejected', 'kept-for-the-operator.tmp'), true, false); // not one of ours
    put(join(dir, 'rejected', 's-5-6.jsonl'), true, false);
    prepareAuditDir(dir);
    for (const [path, removed] of Object.entries(made)) expect(existsSync(path), path).toBe(!removed);
  });
});
