/**
 * Under fsync `batch`, a segment that fills is fsynced before it is closed for the next one, off the app's thread
 * (found in a profile under load: a 12 ms fsyncSync on the main thread at each rotation, more on a busy disk). Only
 * the last segment, closed at shutdown, is fsynced on the main thread. From the system calls of a child under
 * strace: the main thread's id is the process id.
 */
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startCollector, type CollectorHandle } from '../../src/collector/index.js';
import { runTraced, skipWithoutStrace } from '../helpers/strace.js';

const EMITTER = join(import.meta.dirname, 'emitter.mjs');
const SEGMENT = /\/audit-[0-9a-f-]{36}-(\d{6,})\.jsonl$/;
const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe.skipIf(skipWithoutStrace('test/durability'))('segment rotation under fsync=batch', () => {
  it('each full segment fsynced after its last write, before the next segment is opened, off the main thread', async () => {
    const sandbox = realpathSync(mkdtempSync(join(tmpdir(), 'otel-audit-rotation-')));
    cleanups.push(() => rmSync(sandbox, { recursive: true, force: true }));
    const collector: CollectorHandle = await startCollector({ port: 0 });
    cleanups.push(() => collector.close());
    const auditDir = join(sandbox, 'audit');
    // ~400-byte records in 4 KiB segments: a rotation every few records. No pause between emits: lines queue while a
    // group commit runs, so groups span rotations, and a rotation that left its segment unsynced would show.
    const t = await runTraced(
      EMITTER,
      { OTEL_AUDIT_DIR: auditDir, OTEL_AUDIT_FSYNC: 'batch', OTEL_AUDIT_MAX_FILE_BYTES: '4096', OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: collector.endpoint, EMIT_COUNT: '40', EMIT_GAP_MS: '0' },
      sandbox,
    );
    expect(t.code, t.stderr).toBe(0);
    const pid = (JSON.parse(t.stdout.split('\n').find((l) => l.includes('"started"'))!) as { pid: number }).pid;
    const ev = t.events.filter((e) => e.path.startsWith(auditDir + '/') && SEGMENT.test(e.path));
    const segments = [...new Set(ev.filter((e) => e.kind === 'open').map((e) => e.path))].sort();
    expect(segments.length, 'rotations in the run').toBeGreaterThanOrEqual(4);
    for (const [k, seg] of segments.slice(0, -1).entries()) {
      const next = ev.find((e) => e.kind === 'open' && e.path === segments[k + 1])!;
      const lastWrite = ev.filter((e) => e.kind === 'write' && e.path === seg).at(-1)!;
      const sync = ev.find((e) => e.kind === 'sync' && e.ok && e.path === seg && e.call.start > lastWrite.call.end && e.call.end < next.call.start);
      expect(sync, `${seg}: not fsynced between its last write and the next segment's open (${t.tracePath})`).toBeDefined();
      const onMain = ev.filter((e) => e.kind === 'sync' && e.path === seg && e.call.tid === pid);
      expect(onMain.map((e) => `trace line ${e.call.start + 1}`), `${seg}: fsynced on the main thread`).toEqual([]);
    }
  });
});
