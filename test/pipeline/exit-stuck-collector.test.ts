/**
 * A zero-code process (`--import otel-audit/register`) that records one event and is done, with a collector that
 * never answers or asks to retry much later: the export in flight and the transport's retries must not keep the
 * process alive past the shutdown timeout (before shutdown, a request waiting for its answer holds it up to
 * OTEL_EXPORTER_OTLP_TIMEOUT, as the stock exporter's does; a wait to retry never does). It exits by itself, the records are in the journal for replay, and
 * stderr says so. Bounded by the harness (the child is killed after HARNESS_MS), not by a timing assertion:
 * the transport's own budget (OTEL_EXPORTER_OTLP_TIMEOUT) is set far beyond it, so a process held by the export
 * would not end in time.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startCollector, type CollectorFault, type CollectorHandle } from '../../src/collector/index.js';
import { killAll, runNode } from '../helpers/child.js';
import { idOf, journalRecords } from '../helpers/records.js';
import { tempDir } from '../helpers/tmp.js';

const root = join(import.meta.dirname, '../..');
const exitApp = join(root, 'test/fixtures/exit-app.mjs');
/** Records one event, then `await provider.shutdown()`, then nothing. */
const shutdownApp = join(root, 'test/fixtures/shutdown-app.mjs');
const HARNESS_MS = 40_000;
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await killAll();
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

async function runAgainst(fault: CollectorFault, app: string) {
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  const collector: CollectorHandle = await startCollector({ port: 0, fault });
  cleanups.push(() => collector.close());
  const auditDir = join(dir, 'audit');
  const child = runNode(['--import', 'otel-audit/register', app], {
    SETUP: 'register',
    EXIT_MODE: 'natural',
    EMIT_COUNT: '1',
    OTEL_AUDIT_DIR: auditDir,
    OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: collector.endpoint,
    OTEL_BLRP_EXPORT_TIMEOUT: '1000',
    OTEL_EXPORTER_OTLP_TIMEOUT: '120000',
    OTEL_TRACES_EXPORTER: 'none',
    OTEL_METRICS_EXPORTER: 'none',
    OTEL_LOGS_EXPORTER: 'none',
  });
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    child.exited,
    new Promise<'held'>((r) => (timer = setTimeout(() => r('held'), HARNESS_MS))),
  ]).finally(() => clearTimeout(timer));
  return { auditDir, outcome, stderr: child.stderr.join('\n'), lines: child.lines };
}

const expectExitedWithJournal = (r: Awaited<ReturnType<typeof runAgainst>>, id: string): void => {
  expect(r.outcome, `the process was still running after ${HARNESS_MS} ms; stderr: ${r.stderr}`).not.toBe('held');
  expect(r.outcome).toEqual({ code: 0, signal: null });
  expect(journalRecords(r.auditDir).map(idOf)).toContain(id);
  expect(r.stderr).toMatch(new RegExp(`otel-audit: shutdown with 2 audit record\\(s\\) not acknowledged by the collector \\(.*\\); kept in ${r.auditDir} and replayed at the next start`));
};

describe('zero-code process done with its work, collector not answering', () => {
  it('the collector answers 503 with Retry-After: 60: the transport waiting to retry does not hold the process; the shutdown at beforeExit runs, then it exits', async () => {
    const r = await runAgainst({ mode: 'status', status: 503, retryAfterSeconds: 60 }, exitApp);
    expectExitedWithJournal(r, 'exit-0');
  }, HARNESS_MS + 20_000);

  it('the collector never answers, the app shuts down itself: once shutdown resolved, the request in flight does not hold the process', async () => {
    const r = await runAgainst({ mode: 'delay', delayMs: 600_000 }, shutdownApp);
    expectExitedWithJournal(r, 'shutdown-0');
    expect(r.lines).toContainEqual({ event: 'shutdown' });
  }, HARNESS_MS + 20_000);
});

// Found by review: with the collector down and an earlier run's stream in the journal, the new process replays it,
// and its shutdown waited for that replay on an unref'd timer only: nothing kept the event loop alive, the process
// ended in the middle of shutdown() (exit 13 under top-level await), with no report on stderr.
describe('a second run while the collector is down: the first run\'s stream is replayed', () => {
  it('await provider.shutdown() resolves and reports, run after run (three runs)', async () => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const auditDir = join(dir, 'audit');
    for (let run = 1; run <= 3; run++) {
      const child = runNode([join(root, 'test/fixtures/shutdown-after-replay-start.mjs')], {
        OTEL_AUDIT_DIR: auditDir,
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', // nothing listens: refused at once, retried
      });
      const exit = await child.exited;
      const stderr = child.stderr.join('\n');
      expect(exit, `run ${run}; stderr: ${stderr}`).toEqual({ code: 0, signal: null });
      expect(child.lines, `run ${run}`).toContainEqual({ event: 'shutdown' });
      expect(stderr).toMatch(/otel-audit: shutdown with 2 audit record\(s\) not acknowledged by the collector/);
    }
  }, 60_000);
});
