/**
 * Deliverable 6, the part end-to-end runs cannot hit reliably: two processes claiming the replay of the same
 * orphaned stream at the same instant (cluster workers all start together after a crash). `claimReplay`
 * (src/sinks/stream-state.ts) must let at most one of them hold the claim, or the spool is sent twice
 * concurrently. The second process is simulated by calling `claimReplay` again at the exact point where the
 * real one could be preempted; `node:fs` is wrapped only to find that point. The same for the Replayer
 * (src/deliver/replay.ts): another replayer's progress between its read of a stream's state and its claim.
 */
import * as realFs from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { OtlpSender } from '../../src/deliver/otlp-sender.js';
import { Replayer } from '../../src/deliver/replay.js';
import { ensureDirs, lockPath, statePath } from '../../src/sinks/files.js';
import { claimReplay, readState, writeState, type StreamState } from '../../src/sinks/stream-state.js';
import { killAll, runNode } from '../helpers/child.js';
import { collectorDir } from '../helpers/pipeline.js';
import { recordsOfFile, seqOf, streamOf } from '../helpers/records.js';
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
  await killAll();
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

/** Runs `act` right after this process reads `path` through a file descriptor (readChecked), once. */
function afterReadOf(path: string, act: () => void): void {
  const hook = (fd: unknown): void => {
    if (typeof fd === 'number' && realFs.readlinkSync(`/proc/self/fd/${fd}`) === path) act();
    else hooks.readFileSync = hook; // another file: wait for ours
  };
  hooks.readFileSync = hook;
}

describe('Replayer: the state it replays from is read under its claim', () => {
  /** A stream left by a child that exited during an outage: 6 records and its end marker, none acknowledged. */
  async function orphan(): Promise<{ auditDir: string; streamId: string; state: StreamState; collectorFile: string; endpoint: string }> {
    const { auditDir, collectorFile, collector } = await collectorDir(cleanups);
    await collector.stop();
    const child = runNode([join(import.meta.dirname, '../fixtures/emitter.mjs')], {
      OTEL_AUDIT_DIR: auditDir,
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: collector.endpoint,
      OTEL_EXPORTER_OTLP_TIMEOUT: '300',
      OTEL_BLRP_EXPORT_TIMEOUT: '300',
      OTEL_AUDIT_FSYNC: 'always', // one line per record, so any acknowledged position is a line boundary
      EMIT_COUNT: '6',
    });
    const streamId = String((await child.waitFor((o) => o.event === 'done')).streamId);
    expect((await child.exited).code).toBe(0);
    await collector.start();
    const state = readState(auditDir, streamId)!;
    expect(state).toMatchObject({ acked: 0, done: false });
    return { auditDir, streamId, state, collectorFile, endpoint: collector.endpoint };
  }

  const replayer = (dir: string, url: string): Replayer =>
    new Replayer({ dir, ownStreamId: 'none', sender: new OtlpSender({ url, timeoutMillis: 2000 }), maxExportBatchSize: 2, retryMinMillis: 10, retryMaxMillis: 50 });

  it('a stream another replayer finished between the read of its state and the claim is not replayed again', async () => {
    // Fixed bug, kept as a regression test: the Replayer decided on the state it read before claimReplay; a stream
    // another process replayed to the end in that window (done, lock released) was claimed and sent a second time.
    const o = await orphan();
    afterReadOf(statePath(o.auditDir, o.streamId), () => writeState(o.auditDir, { ...o.state, acked: 7, done: true }));
    const r = replayer(o.auditDir, o.endpoint);
    expect(r.orphans).toEqual([o.streamId]); // it was found, as one to replay...
    expect(r.predecessor).toBeUndefined(); // ...but not claimed
    expect((await r.run()).streams).toEqual([]);
    expect(recordsOfFile(o.collectorFile)).toEqual([]);
    expect(realFs.existsSync(lockPath(o.auditDir, o.streamId))).toBe(false);
  });

  it('a replayer that died after acknowledging part of the stream: the next resumes after that part', async () => {
    const o = await orphan();
    afterReadOf(statePath(o.auditDir, o.streamId), () => {
      writeState(o.auditDir, { ...o.state, acked: 4 }); // it got seq 1-4 delivered...
      realFs.writeFileSync(lockPath(o.auditDir, o.streamId), JSON.stringify({ pid: DEAD_PID, host: hostname() })); // ...and died holding its claim
    });
    const r = replayer(o.auditDir, o.endpoint);
    expect((await r.run()).streams).toEqual([o.streamId]);
    expect(recordsOfFile(o.collectorFile).filter((x) => streamOf(x) === o.streamId).map(seqOf)).toEqual([5, 6, 7]);
    expect(readState(o.auditDir, o.streamId)).toMatchObject({ acked: 7, done: true });
  });
});
