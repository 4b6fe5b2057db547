/**
 * The exit hook (ARCHITECTURE.md §5.6) journals what was accepted but not yet written when the process ends by
 * process.exit() — and fsyncs it: the next start replays it, but only if it survived a power cut too. From the
 * system calls of a child under strace (test/helpers/strace.ts): fsync=batch (the default), collector unreachable,
 * 50 records emitted in one turn, then process.exit(0), so no group commit ran and every line is the exit hook's.
 * test/pipeline/exit-paths.test.ts checks that the lines are in the file; only the trace shows they were fsynced.
 */
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { idOf, journalRecords } from '../helpers/records.js';
import { runTraced, skipWithoutStrace } from '../helpers/strace.js';

const APP = join(import.meta.dirname, 'exit-emitter.mjs');
const SEGMENT = /\/audit-[0-9a-f-]{36}-\d{6,}\.jsonl$/;
const N = 50;
const cleanups: (() => unknown)[] = [];
afterAll(() => {
  for (const c of cleanups.reverse()) c();
});

describe.skipIf(skipWithoutStrace('test/durability'))('the exit hook under fsync=batch', () => {
  it('process.exit() right after the records: the journal lines written on the way out are fsynced before the process ends', async () => {
    const sandbox = realpathSync(mkdtempSync(join(tmpdir(), 'otel-audit-exit-fsync-')));
    cleanups.push(() => rmSync(sandbox, { recursive: true, force: true }));
    const auditDir = join(sandbox, 'audit');
    const t = await runTraced(
      APP,
      {
        EMIT_COUNT: String(N),
        OTEL_AUDIT_DIR: auditDir,
        OTEL_AUDIT_FSYNC: 'batch',
        OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'http://127.0.0.1:9/v1/logs', // nothing listens: every record stays local
        OTEL_SERVICE_NAME: 'durability',
      },
      sandbox,
    );
    expect(t.code, t.stderr).toBe(0);
    // The exit hook did the journaling (no group commit had run), and every record is in the file.
    expect(t.stderr).toMatch(/the process is exiting before shutdown: \d+ audit record\(s\) .* were journaled synchronously/);
    const ids = new Set(journalRecords(auditDir).map(idOf));
    for (let i = 0; i < N; i++) if (!ids.has(`exit-${i}`)) expect.fail(`exit-${i} is not in the journal; stderr: ${t.stderr}`);
    // Every write to a segment is followed by a successful fsync of that segment (the trace ends with the process).
    const ev = t.events.filter((e) => SEGMENT.test(e.path) && e.path.startsWith(auditDir + '/'));
    const writes = ev.filter((e) => e.kind === 'write' && e.ok);
    expect(writes.length, 'no journal write in the trace').toBeGreaterThan(0);
    for (const w of writes) {
      const sync = ev.find((e) => e.kind === 'sync' && e.ok && e.path === w.path && e.call.start > w.call.end);
      expect(sync, `${w.call.name} ${w.path} at trace line ${w.call.start + 1} never fsynced before the process ended (${t.tracePath})`).toBeDefined();
    }
  }, 60_000);
});
