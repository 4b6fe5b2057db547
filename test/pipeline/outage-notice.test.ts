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
    await until(() => said.some((l) => l.includes('has not taken audit records')));
    // Retries go on; the line is not repeated.
    await new Promise((r) => setTimeout(r, 300));
    await p.collector.start();
    await until(() => said.some((l) => / takes audit records of stream \w+ again/.test(l)));
    await p.processor.forceFlush();
    const notices = said.filter((l) => l.includes('audit records'));
    expect(notices).toHaveLength(2);
    const stream = p.processor.streamId.slice(0, 8);
    // The reason is the transport's (the collector stopped: the connection is refused).
    expect(notices[0]).toMatch(new RegExp(`^otel-audit: the collector has not taken audit records of stream ${stream}( for \\d+ s)? \\(.*ECONNREFUSED.*\\); retrying: `));
    expect(notices[0]).toContain({ journal: 'records wait in the journal', fallback: 'spooled to the journal', off: 'records wait in memory (OTEL_AUDIT_FILE=off' }[file]);
    expect(notices[1]).toMatch(new RegExp(`^otel-audit: the collector takes audit records of stream ${stream} again \\(after \\d+ s\\)\\n$`));
    expect(p.collector.stats().records).toBe(6);
  });

  // Found in a new-user review: with a wrong port, a shutdown during the transport's retries said only "timeout".
  it('a shutdown while the transport retries names its reason', async () => {
    // The transport may retry for 10 s; the shutdown waits 1.5 s.
    const p: TestPipeline = await makePipeline({ exportTimeoutMillis: 1500, exporter: { timeoutMillis: 10_000 } });
    cleanups.push(() => p.dispose());
    await p.collector.stop();
    const said = captureStderr();
    await p.audit.record(loginEvent(0));
    await p.provider.shutdown();
    const line = said.find((l) => l.includes('not acknowledged by the collector'));
    expect(line).toMatch(/not acknowledged by the collector \(export: .*ECONNREFUSED.*\); kept in /);
  });

  // Found in re-review: one 503 (retried and taken) printed a pair of lines.
  it('a request refused once and taken on the retry says nothing', async () => {
    const p: TestPipeline = await makePipeline();
    cleanups.push(() => p.dispose());
    const said = captureStderr();
    p.collector.setFault({ mode: 'status', status: 503, times: 1 });
    await p.audit.record(loginEvent(0));
    await p.processor.forceFlush();
    expect(p.collector.stats().records).toBe(1);
    expect(said.filter((l) => l.includes('audit records'))).toEqual([]);
  });

  it('failures are said once they have gone on for 5 s, or an attempt failed after all its retries; each outage once', () => {
    const lines = captureStderr();
    let t = 0;
    const n = new OutageNotice('journal', 'abcdef12-0000-4000-8000-000000000000', () => t);
    n.recovered();
    n.failed('connect ECONNREFUSED 127.0.0.1:4999', false);
    t = 1000;
    n.recovered(); // a transient failure: nothing said
    n.failed(undefined, false);
    t = 5999;
    n.failed(undefined, false);
    expect(lines).toEqual([]);
    t = 6000;
    n.failed('Service Unavailable', false);
    n.failed(undefined, true);
    t = 66_000;
    n.recovered();
    n.recovered();
    n.failed('Request timed out', true); // an attempt that failed after all the transport's retries: said at once
    expect(lines).toEqual([
      'otel-audit: the collector has not taken audit records of stream abcdef12 for 5 s (Service Unavailable); retrying: records wait in the journal and are sent when it does (said again when it takes them)\n',
      'otel-audit: the collector takes audit records of stream abcdef12 again (after 65 s)\n',
      'otel-audit: the collector has not taken audit records of stream abcdef12 (Request timed out); retrying: records wait in the journal and are sent when it does (said again when it takes them)\n',
    ]);
  });

  // Found in a README review: said only by the first failure after 5 s, an outage of 7 s could pass unsaid (the
  // attempts are spaced by a jittered backoff), and a longer one be said seconds late.
  describe('the 5 s are kept by a timer, not by the next failure', () => {
    /** A timer to fire by hand: the pending callback, undefined once cancelled or fired. */
    function handTimer(): { timer: (fn: () => void, ms: number) => () => void; fire: () => void; pending: () => number | undefined } {
      let pending: { fn: () => void; ms: number } | undefined;
      return {
        timer: (fn, ms) => {
          const me = (pending = { fn, ms });
          return () => {
            if (pending === me) pending = undefined;
          };
        },
        fire: () => {
          const p = pending;
          pending = undefined;
          p?.fn();
        },
        pending: () => pending?.ms,
      };
    }
    const stream = 'abcdef12-0000-4000-8000-000000000000';

    it('one failure and nothing more for 5 s: said when the timer fires, with what it lasted', () => {
      const lines = captureStderr();
      let t = 0;
      const h = handTimer();
      const n = new OutageNotice('off', stream, () => t, h.timer);
      n.failed('connect ECONNREFUSED 127.0.0.1:4999', false);
      expect(h.pending()).toBe(5000);
      expect(lines).toEqual([]);
      t = 5000;
      h.fire();
      t = 7000;
      n.failed(undefined, false); // not said twice
      n.recovered();
      expect(lines).toEqual([
        'otel-audit: the collector has not taken audit records of stream abcdef12 for 5 s (connect ECONNREFUSED 127.0.0.1:4999); retrying: records wait in memory (OTEL_AUDIT_FILE=off: past maxPendingRecords, or when the process ends, they are lost) (said again when it takes them)\n',
        'otel-audit: the collector takes audit records of stream abcdef12 again (after 7 s)\n',
      ]);
    });

    it.each([
      ['taken again before the 5 s', (n: OutageNotice) => n.recovered()],
      ['shut down before the 5 s', (n: OutageNotice) => n.stop()],
      ['said earlier (an attempt failed after all its retries)', (n: OutageNotice) => n.failed(undefined, true)],
    ])('%s: the timer is cancelled', (_label, then) => {
      const lines = captureStderr();
      const h = handTimer();
      const n = new OutageNotice('journal', stream, () => 0, h.timer);
      n.failed(undefined, false);
      then(n);
      expect(h.pending()).toBeUndefined();
      const before = lines.length;
      h.fire();
      expect(lines).toHaveLength(before);
    });

    it('after stop(), failures say nothing and start no timer', () => {
      const lines = captureStderr();
      const h = handTimer();
      const n = new OutageNotice('journal', stream, () => 0, h.timer);
      n.stop();
      n.failed(undefined, true);
      expect(h.pending()).toBeUndefined();
      expect(lines).toEqual([]);
    });
  });
});
