/**
 * Deliverable 6, the part end-to-end runs cannot hit reliably: two processes claiming the replay of the same
 * orphaned stream at the same instant (cluster workers all start together after a crash). `claimReplay`
 * (src/sinks/stream-state.ts) must let at most one of them hold the claim, or the spool is sent twice
 * concurrently. The second process is simulated by calling `claimReplay` again at the exact point where the
 * real one could be preempted; `node:fs` is wrapped only to find that point.
 */
import * as realFs from 'node:fs';
import { hostname } from 'node:os';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ensureDirs, lockPath } from '../../src/sinks/files.js';
import { claimReplay } from '../../src/sinks/stream-state.js';
import { tempDir } from '../helpers/tmp.js';

const hooks: { readFileSync?: (path: unknown) => void; writeSync?: () => void } = {};

vi.mock('node:fs', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs')>();
  const readFileSync = ((...args: Parameters<typeof actual.readFileSync>) => {
    const out = actual.readFileSync(...args);
    const h = hooks.readFileSync;
    if (h !== undefined) {
      hooks.readFileSync = undefined;
      h(args[0]); // the other process runs right after this read
    }
    return out;
  }) as typeof actual.readFileSync;
  const writeSync = ((...args: unknown[]) => {
    const h = hooks.writeSync;
    if (h !== undefined) {
      hooks.writeSync = undefined;
      h(); // the other process runs between O_EXCL create and the write of the lock's content
    }
    return (actual.writeSync as (...a: unknown[]) => number)(...args);
  }) as typeof actual.writeSync;
  return { ...actual, default: { ...actual, readFileSync, writeSync }, readFileSync, writeSync };
});

const STREAM = '00000000-0000-4000-8000-00000000abcd';
/** A pid no process has (above any pid_max). */
const DEAD_PID = 0x3fffffff;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  hooks.readFileSync = undefined;
  hooks.writeSync = undefined;
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

async function dir(): Promise<string> {
  const { dir: d, cleanup } = await tempDir('otel-audit-lock-');
  cleanups.push(cleanup);
  ensureDirs(d);
  return d;
}

describe('claimReplay: at most one live claim per stream', () => {
  it('a live lock is respected, and a dead holder’s lock is taken over (no race)', async () => {
    const d = await dir();
    const release = claimReplay(d, STREAM);
    expect(release).toBeDefined();
    expect(claimReplay(d, STREAM)).toBeUndefined(); // held by a live process (this one)
    release!();
    realFs.writeFileSync(lockPath(d, STREAM), JSON.stringify({ pid: DEAD_PID, host: hostname() }));
    expect(claimReplay(d, STREAM)).toBeDefined();
  });

  it('two processes taking over the same stale lock at once: only one gets the claim', async () => {
    // Fixed bug, kept as a regression test: src/sinks/stream-state.ts claimReplay() reads a stale lock (dead holder), then rmSync()s the lock *path*.
    // If another process took the stale lock over in between (rm + O_EXCL create), this removes that process's
    // fresh lock and creates its own: both hold the claim and replay the same spool concurrently (duplicates at
    // the collector, interleaved state writes). A takeover must not delete a lock it did not read (e.g. rename the
    // stale file to a unique name and check it is still the one read, or lock with link(2) and compare inodes).
    const d = await dir();
    realFs.writeFileSync(lockPath(d, STREAM), JSON.stringify({ pid: DEAD_PID, host: hostname() })); // a replayer died
    let other: (() => void) | undefined;
    hooks.readFileSync = (path) => {
      if (String(path) === lockPath(d, STREAM)) other = claimReplay(d, STREAM); // process A, between B's read and rm
    };
    const mine = claimReplay(d, STREAM); // process B
    expect(other).toBeDefined(); // A took the stale lock over
    expect(mine).toBeUndefined(); // so B must not
  });

  it('a lock file seen between its creation and the write of its content is not taken for a dead one', async () => {
    // Fixed bug, kept as a regression test: src/sinks/stream-state.ts claimReplay() creates the lock with O_EXCL and writes the holder's pid after;
    // another process reading it in between finds it empty, treats it as "torn: its writer died mid-write",
    // removes it and claims the stream too. Both replay the same spool concurrently. The content should appear
    // with the file (write a temp file, then link(2) it to the lock name, which fails if it exists).
    const d = await dir();
    let other: (() => void) | undefined;
    hooks.writeSync = () => {
      other = claimReplay(d, STREAM); // process B, while A's lock is still empty
    };
    const mine = claimReplay(d, STREAM); // process A
    expect(Boolean(mine) && Boolean(other)).toBe(false);
  });
});
