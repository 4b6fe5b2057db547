/**
 * A collector that does not take records is said on stderr when it starts and when it ends, once each, whatever
 * the diag logger (found in a new-user review: with a wrong endpoint nothing was said until shutdown). Real
 * collector on 127.0.0.1, stopped and started again; the conditions are polled, nothing is timed.
 */
import { afterEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { OutageNotice } from '../../src/deliver/outage-notice.js';
import { loginEvent, makePipeline, type TestPipeline } from '../helpers/pipeline.js';

let spy: MockInstance | undefined;
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  spy?.mockRestore();
  spy = undefined;
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** Lines written to stderr from now on (kept off the terminal). */
function captureStderr(): string[] {
  const lines: string[] = [];
  spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (lines.push(String(chunk)), true));
  return lines;
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 10));
}

describe('outage notice', () => {
  it.each(['journal', 'fallback', 'off'] as const)('file %s: one line when the collector stops taking records, one when it takes them again; every record delivered', async (file) => {
    const p: TestPipeline = await makePipeline({ file });
    cleanups.push(() => p.dispose());
    await p.audit.record(loginEvent(0));
    await p.processor.forceFlush();
    const said = captureStderr();
    await p.collector.stop();
    for (let i = 1; i <= 5; i++) void p.audit.record(loginEvent(i)).catch(() => undefined);
    await until(() => said.some((l) => l.includes('is not taking audit records')));
    // Retries go on; the line is not repeated.
    await new Promise((r) => setTimeout(r, 300));
    await p.collector.start();
    await until(() => said.some((l) => l.includes('takes audit records again')));
    await p.processor.forceFlush();
    const notices = said.filter((l) => l.includes('audit records'));
    expect(notices).toHaveLength(2);
    expect(notices[0]).toMatch(/^otel-audit: the collector is not taking audit records( \(.*\))?; retrying: /);
    expect(notices[0]).toContain({ journal: 'the journal keeps every record', fallback: 'spooled to the journal', off: 'records wait in memory (OTEL_AUDIT_FILE=off' }[file]);
    expect(notices[1]).toMatch(/^otel-audit: the collector takes audit records again \(after \d+ s\)\n$/);
    expect(p.collector.stats().records).toBe(6);
  });

  it('says nothing while the collector takes every request, and each outage once', () => {
    const lines = captureStderr();
    let t = 0;
    const n = new OutageNotice('journal', () => t);
    n.recovered();
    expect(lines).toEqual([]);
    n.failed('ECONNREFUSED');
    n.failed();
    t = 61_000;
    n.recovered();
    n.recovered();
    n.failed();
    expect(lines).toEqual([
      'otel-audit: the collector is not taking audit records (ECONNREFUSED); retrying: the journal keeps every record, and they are sent when it does (said again when it takes records)\n',
      'otel-audit: the collector takes audit records again (after 61 s)\n',
      'otel-audit: the collector is not taking audit records; retrying: the journal keeps every record, and they are sent when it does (said again when it takes records)\n',
    ]);
  });
});
