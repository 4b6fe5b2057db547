/**
 * Streams whose owner was on another host: a directory shared by hosts, or — the usual case — a container or pod
 * restarted on the same volume under a new host name. No pid can be asked there; the owner's state file, which a
 * running owner rewrites every OWNER_HEARTBEAT_MS, is its lease. Found by review: such a stream was taken for alive
 * for ever, never replayed, and `otel-audit replay` said "complete" with 0 streams.
 */
import { statSync, utimesSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { BatchSender } from '../../src/deliver/otlp-sender.js';
import { Replayer } from '../../src/deliver/replay.js';
import { lockPath, statePath } from '../../src/sinks/files.js';
import { OWNER_HEARTBEAT_MS, OWNER_LEASE_MS, pidNamespace, readState, writeState, type StreamState } from '../../src/sinks/stream-state.js';
import { capturingSender, orphanStream } from '../helpers/orphan.js';
import { makePipeline, type TestPipeline } from '../helpers/pipeline.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';

const A = '00000000-0000-4000-8000-0000000000a1';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

/** A stream of three records whose owner, on host `old-pod-1`, last wrote its state `ageMs` ago (not ended). */
async function leftByAnotherHost(ageMs: number, lines: number[][] = [[1, 2, 3]]): Promise<{ dir: string; state: StreamState }> {
  const t = await tempDir('other-host-');
  cleanups.push(t.cleanup);
  const dead = await orphanStream(t.dir, A, lines);
  // A pid that is alive here (this process): it must not be asked, it is another host's.
  const state: StreamState = { ...dead, host: 'old-pod-1', pid: process.pid, ended: false };
  writeState(t.dir, state);
  const at = new Date(Date.now() - ageMs);
  utimesSync(statePath(t.dir, A), at, at);
  return { dir: t.dir, state };
}

const replayer = (dir: string, sender: BatchSender): Replayer => new Replayer({ dir, ownStreamId: 'none', sender, maxExportBatchSize: 100, retryMinMillis: 1, retryMaxMillis: 2 });

describe('a stream left by a process on another host', () => {
  it('silent for longer than the lease: replayed at once', async () => {
    const { dir } = await leftByAnotherHost(OWNER_LEASE_MS + 30_000);
    const { sender, got } = capturingSender();
    const report = await replayer(dir, sender).run();
    expect(report.streams).toEqual([A]);
    expect(got.flat()).toEqual([1, 2, 3]);
  });

  it('written within the lease: said on stderr, and replayed once the lease ran out with no sign of its owner', async () => {
    const { dir } = await leftByAnotherHost(OWNER_LEASE_MS - 2500);
    const said: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((s) => (said.push(String(s)), true));
    const { sender, got } = capturingSender();
    const r = replayer(dir, sender);
    const ago = Math.round((OWNER_LEASE_MS - 2500) / 1000);
    expect(said.join('')).toMatch(new RegExp(`stream ${A} in .* is held by a process on host "old-pod-1", which wrote its state (${ago - 1}|${ago}|${ago + 1}) s ago: it is replayed once ${OWNER_LEASE_MS / 1000} s pass without a sign of it`));
    expect(got).toEqual([]);
    const report = await r.run();
    expect(report.streams).toEqual([A]);
    expect(got.flat()).toEqual([1, 2, 3]);
    expect(r.aliveElsewhere).toEqual([]);
  });

  it('whose owner goes on renewing its lease: left to it', async () => {
    const { dir, state } = await leftByAnotherHost(OWNER_LEASE_MS - 2000);
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const renew = setInterval(() => writeState(dir, state), 300); // the owner, alive on its host
    cleanups.push(async () => clearInterval(renew));
    const { sender, got } = capturingSender();
    const r = replayer(dir, sender);
    const report = await r.run();
    expect(report.streams).toEqual([]);
    expect(got).toEqual([]);
    expect(r.aliveElsewhere).toEqual([A]);
  });
});

// Found in review: two containers sharing a host name and a directory (a pod's emptyDir), each in its own PID
// namespace: the other's pid (1, or one that does not exist here) was asked here, its live owner taken for dead,
// its stream replayed and marked done under it, and its later records deleted by retention.
describe.skipIf(pidNamespace() === undefined)('a stream left by a process in another PID namespace of this host', () => {
  async function leftByAnotherNamespace(ageMs: number): Promise<{ dir: string }> {
    const t = await tempDir('other-pidns-');
    cleanups.push(t.cleanup);
    const dead = await orphanStream(t.dir, A, [[1, 2, 3]]);
    // Its pid means nothing here: one that is free in this namespace, which asked here reads as a dead owner.
    writeState(t.dir, { ...dead, host: hostname(), pid: 4_000_000, pidNs: 'pid:[1]', ended: false });
    const at = new Date(Date.now() - ageMs);
    utimesSync(statePath(t.dir, A), at, at);
    return { dir: t.dir };
  }

  it('written within the lease: left to its owner (said), not replayed', async () => {
    const { dir } = await leftByAnotherNamespace(2000);
    const said: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((s) => (said.push(String(s)), true));
    const { sender, got } = capturingSender();
    const r = replayer(dir, sender);
    expect(said.join('')).toMatch(new RegExp(`stream ${A} in .* is held by a process on this host in another PID namespace \\(pid:\\[1\\]\\), which wrote its state`));
    r.stop();
    await r.run();
    expect(got).toEqual([]);
    expect(readState(dir, A)!.done).toBe(false);
  });

  it('silent for longer than the lease: replayed at once', async () => {
    const { dir } = await leftByAnotherNamespace(OWNER_LEASE_MS + 30_000);
    const { sender, got } = capturingSender();
    const report = await replayer(dir, sender).run();
    expect(report.streams).toEqual([A]);
    expect(got.flat()).toEqual([1, 2, 3]);
  });
});

describe('a live processor renews its lease', () => {
  let p: TestPipeline | undefined;
  afterEach(async () => {
    vi.useRealTimers();
    await p?.dispose();
    p = undefined;
  });

  it('its state file is rewritten every OWNER_HEARTBEAT_MS, idle or not', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    p = await makePipeline();
    await p.audit.record({ action: 'READ', outcome: 'success', actor: { id: 'a', type: 'user' } });
    const path = statePath(p.auditDir, p.processor.streamId);
    const old = new Date(Date.now() - 10 * OWNER_LEASE_MS);
    utimesSync(path, old, old);
    vi.advanceTimersByTime(OWNER_HEARTBEAT_MS);
    // Under fsync batch the heartbeat's save runs off the thread (src/deliver/delivery.ts saveStateInBackground).
    await until(() => Date.now() - statSync(path).mtimeMs < OWNER_LEASE_MS, 'the heartbeat to rewrite the state file');
    expect(Date.now() - statSync(path).mtimeMs).toBeLessThan(OWNER_LEASE_MS);
  });
});

// Found by review of the lease change.
describe('leases, as the replayer itself leaves them', () => {
  it("the replayer marks its writes of a foreign stream's state: a later start does not take them for the first owner's", async () => {
    const { dir } = await leftByAnotherHost(OWNER_LEASE_MS + 30_000, [[1], [2], [3]]);
    const { sender: acking } = capturingSender();
    let r: Replayer | undefined;
    let sends = 0;
    const sender = {
      ...acking,
      send: (body: Uint8Array | string, count: number) => {
        if (++sends === 2) r!.stop(); // stopped after the first request was acknowledged
        return acking.send(body, count);
      },
    } as BatchSender;
    r = new Replayer({ dir, ownStreamId: 'none', sender, maxExportBatchSize: 1, retryMinMillis: 1, retryMaxMillis: 2 });
    await r.run();
    const saved = readState(dir, A)!;
    expect(saved).toMatchObject({ host: 'old-pod-1', replayedBy: `${hostname()}:${process.pid}`, done: false });
    expect(saved.acked).toBeGreaterThanOrEqual(1);
    // Written a moment ago, but by this process, whose replayer is gone: replayed at once, not deferred.
    const said: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((s) => (said.push(String(s)), true));
    const { sender: again, got } = capturingSender();
    const report = await replayer(dir, again).run();
    expect(said.join('')).not.toContain('is held by');
    expect(report.streams).toEqual([A]);
    expect(got.flat().at(-1)).toBe(3);
  });

  // Found by review of the first fix (which wrote the replayer's own pid as the owner's): while that replayer's
  // process lived, every later start on the host took it for the stream's live owner, and otel-audit replay
  // said complete with half the stream undelivered.
  it('a state a replayer wrote is no sign of its owner\'s life, whatever pid it names: claimed by the next start', async () => {
    const { dir, state } = await leftByAnotherHost(OWNER_LEASE_MS + 30_000);
    const live = spawn('sleep', ['30']);
    cleanups.push(async () => void live.kill());
    writeState(dir, { ...state, host: hostname(), pid: live.pid!, acked: 1, replayedBy: `${hostname()}:${live.pid}` });
    const { sender, got } = capturingSender();
    const report = await replayer(dir, sender).run();
    expect(report.streams).toEqual([A]);
    expect(got.flat()).toEqual([2, 3]);
  });

  // Found by review: a stream another process of this host was replaying when the lease ran out went under
  // aliveElsewhere, and otel-audit replay said complete.
  it('held by a replayer on this host when the lease ran out: still an orphan this one did not deliver, not alive elsewhere', async () => {
    const { dir } = await leftByAnotherHost(OWNER_LEASE_MS - 2500);
    const live = spawn('sleep', ['30']);
    cleanups.push(async () => void live.kill());
    writeFileSync(lockPath(dir, A), JSON.stringify({ pid: live.pid, host: hostname(), nonce: 'other-process' }));
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const { sender, got } = capturingSender();
    const r = replayer(dir, sender);
    await r.run();
    expect(got).toEqual([]);
    expect(r.aliveElsewhere).toEqual([]);
    expect(r.orphans).toEqual([A]);
  });

  it('stopped while it waits for a lease: the stream is unfinished, said at shutdown, not dropped from the report', async () => {
    const { dir } = await leftByAnotherHost(OWNER_LEASE_MS - 60_000);
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const { sender, got } = capturingSender();
    const r = replayer(dir, sender);
    const running = r.run();
    r.stop();
    const report = await running;
    expect(report.unfinished).toEqual([A]);
    expect(r.orphans).toEqual([A]);
    expect(got).toEqual([]);
  });

  it('a claim held by a replayer on another host: taken over once its lease ran out, waited for before that', async () => {
    for (const [age, deferred] of [[OWNER_LEASE_MS + 30_000, false], [OWNER_LEASE_MS - 2500, true]] as const) {
      const t = await tempDir('other-host-lock-');
      cleanups.push(t.cleanup);
      await orphanStream(t.dir, A, [[1, 2, 3]]); // its owner is gone; a replayer on "replay-pod" claimed it, then died
      writeFileSync(lockPath(t.dir, A), JSON.stringify({ pid: process.pid, host: 'replay-pod', nonce: 'n1' }));
      const at = new Date(Date.now() - age);
      utimesSync(lockPath(t.dir, A), at, at);
      const said: string[] = [];
      vi.spyOn(process.stderr, 'write').mockImplementation((s) => (said.push(String(s)), true));
      const { sender, got } = capturingSender();
      const report = await replayer(t.dir, sender).run();
      expect(said.join('').includes('is held by a replayer on host "replay-pod", which renewed its claim')).toBe(deferred);
      expect(report.streams).toEqual([A]);
      expect(got.flat()).toEqual([1, 2, 3]);
      vi.restoreAllMocks();
    }
  });
});
