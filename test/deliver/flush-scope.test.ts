/**
 * forceFlush waits for the records accepted before the call, and says where the ones it could not deliver are
 * only when they are there. Real loopback collector (with a delay fault), real journal files.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditFlushTimeoutError } from '../../src/core/errors.js';
import { loginEvent, makePipeline, type TestPipeline } from '../helpers/pipeline.js';

/** Record ids in the journal's segments. */
function journaledIds(auditDir: string): Set<string> {
  const ids = new Set<string>();
  for (const f of readdirSync(auditDir).filter((n) => n.endsWith('.jsonl'))) {
    for (const m of readFileSync(join(auditDir, f), 'utf8').matchAll(/"key":"audit\.record\.id","value":\{"stringValue":"([^"]+)"/g)) ids.add(m[1]!);
  }
  return ids;
}

let p: TestPipeline | undefined;
afterEach(async () => {
  await p?.dispose();
  p = undefined;
});

describe('forceFlush', () => {

  // Before: it waited for the stream to go idle, which a steady producer never lets happen, and timed out (the
  // zero-code SIGTERM handler, which flushes first, then took the whole export timeout).
  it('resolves once the records accepted before the call are acknowledged, while the application keeps recording', async () => {
    p = await makePipeline({ exportTimeoutMillis: 20_000 });
    p.collector.setFault({ mode: 'delay', delayMs: 50 });
    const audit = p.audit;
    let recording = true;
    let n = 0;
    const producer = (async () => {
      while (recording) {
        audit.record(loginEvent(n++)).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    while (p.processor.stats().acked < 20) await new Promise((r) => setTimeout(r, 10));
    const before = p.processor.stats().accepted;
    try {
      await expect(p.processor.forceFlush()).resolves.toBeUndefined();
      expect(p.processor.stats().acked).toBeGreaterThanOrEqual(before);
    } finally {
      recording = false;
      await producer;
    }
  });

  // Fallback mode spools only during an outage: with a collector that is slow but answers, the records were only in
  // memory while the error said "they stay in the journal".
  it('fallback mode, a slow collector: on timeout the records it names as journaled are in the journal', async () => {
    p = await makePipeline({ file: 'fallback', exportTimeoutMillis: 500, exporter: { timeoutMillis: 8000 } });
    p.collector.setFault({ mode: 'delay', delayMs: 3000 });
    const receipts = Array.from({ length: 20 }, (_, i) => p!.audit.record(loginEvent(i)));
    const err = await p.processor.forceFlush().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AuditFlushTimeoutError);
    const e = err as AuditFlushTimeoutError;
    expect(e.undelivered).toBeGreaterThan(0);
    expect(e.journalDir).toBe(p.auditDir);
    expect(e.message).toContain('they stay in the journal');
    // What the error says is true, right when it says it (the collector answers only 3 s later): the records it
    // counts are in the spool, and each receipt says where its record is.
    const ids = journaledIds(p.auditDir);
    expect(ids.size).toBeGreaterThanOrEqual(e.undelivered);
    for (const r of await Promise.all(receipts)) {
      expect(['journal', 'collector']).toContain(r.durability);
      if (r.durability === 'journal') expect(ids.has(r.recordId)).toBe(true);
    }
  });
});

// Found in review: a flush (and shutdown) retried once at its start, then waited out the long backoff an outage had
// built up, past its own bound, with the collector back.
describe('a flush after a long outage', () => {

  it('keeps trying within its time (a backoff of at most half its time left): the collector back, it resolves', async () => {
    // One attempt per request (no retry inside the transport's 300 ms), a backoff from 200 ms doubling.
    p = await makePipeline({ retryMinMillis: 200, retryMaxMillis: 60_000, exportTimeoutMillis: 3000 }, { defaultTimeoutMillis: 300 });
    p.collector.setFault({ mode: 'status', status: 503, times: 7 });
    p.audit.record(loginEvent(0)).catch(() => undefined);
    // Six refusals (at about 0, 0.2, 0.6, 1.4, 3 and 6.2 s): the backoff is 12.8 s by then.
    while ((p.collector.fault() as { times?: number }).times! > 1) await new Promise((r) => setTimeout(r, 20));
    // The flush's own attempt is refused too (the seventh); the next one, within its 3 s, is taken.
    await expect(p.processor.forceFlush()).resolves.toBeUndefined();
    expect(p.collector.stats().records).toBeGreaterThanOrEqual(1);
  });
});
