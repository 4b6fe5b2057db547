/**
 * Under fsync `batch`, the periodic state saves (progress, the lease's heartbeat) do their writes and fsyncs off
 * the app's thread (found in a profile under load: an fsync on the main thread each second, which on a busy disk
 * stalls the app for tens of milliseconds) — with the same durability: the temp file fsynced before its rename, the
 * directory after. The first save (before the first segment) stays synchronous. From the system calls of a child
 * under strace: the main thread's id is the process id.
 */
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startCollector, type CollectorHandle } from '../../src/collector/index.js';
import { runTraced, skipWithoutStrace, type FsEvent } from '../helpers/strace.js';

const EMITTER = join(import.meta.dirname, 'emitter.mjs');
const STATE = /\/state\/[0-9a-f-]{36}\.state$/;
const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe.skipIf(skipWithoutStrace('test/durability'))('state saves under fsync=batch', () => {
  it('after the first, off the main thread, each temp file fsynced before its rename and the directory after', async () => {
    const sandbox = realpathSync(mkdtempSync(join(tmpdir(), 'otel-audit-state-')));
    cleanups.push(() => rmSync(sandbox, { recursive: true, force: true }));
    const collector: CollectorHandle = await startCollector({ port: 0 });
    cleanups.push(() => collector.close());
    const auditDir = join(sandbox, 'audit');
    // 40 emits 60 ms apart: acknowledgements over ~2.4 s, so progress saves (at most one a second) come in between.
    const t = await runTraced(EMITTER, { OTEL_AUDIT_DIR: auditDir, OTEL_AUDIT_FSYNC: 'batch', OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: collector.endpoint, EMIT_COUNT: '40', EMIT_GAP_MS: '60' }, sandbox);
    expect(t.code, t.stderr).toBe(0);
    const pid = (JSON.parse(t.stdout.split('\n').find((l) => l.includes('"started"'))!) as { pid: number }).pid;
    const ev = t.events;
    const renames = ev.filter((e) => e.kind === 'rename' && e.ok && STATE.test(e.to ?? ''));
    // The first save, the progress saves, the final one at shutdown.
    expect(renames.length).toBeGreaterThanOrEqual(3);
    const synced = (path: string, after: number, before: number): FsEvent | undefined =>
      ev.find((e) => e.kind === 'sync' && e.ok && e.path === path && e.call.start > after && e.call.end < before);
    let offThread = 0;
    for (const rn of renames) {
      const lastWrite = ev.filter((e) => e.kind === 'write' && e.path === rn.path && e.call.end < rn.call.start).at(-1);
      expect(lastWrite, `state temp file never written (trace line ${rn.call.start + 1})`).toBeDefined();
      const fileSync = synced(rn.path, lastWrite!.call.end, rn.call.start);
      expect(fileSync, `renamed before its fsync (trace line ${rn.call.start + 1})`).toBeDefined();
      const dirSync = synced(dirname(rn.to!), rn.call.end, Number.POSITIVE_INFINITY);
      expect(dirSync, `directory not fsynced after the rename (trace line ${rn.call.start + 1})`).toBeDefined();
      if (fileSync!.call.tid !== pid && dirSync!.call.tid !== pid) offThread++;
    }
    expect(renames[0]!.call.tid, 'the first save is synchronous').toBe(pid);
    expect(offThread, 'no state save ran its fsyncs off the main thread').toBeGreaterThanOrEqual(1);
    // Never two saves' temp files left behind.
    expect(ev.filter((e) => e.kind === 'open' && /\.state\.[0-9a-f]{24}\.tmp$/.test(e.path)).length).toBe(renames.length + ev.filter((e) => e.kind === 'unlink' && /\.state\.[0-9a-f]{24}\.tmp$/.test(e.path)).length);
  });
});
