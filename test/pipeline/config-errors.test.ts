/**
 * Statuses that mean the endpoint or the credentials are wrong (HTTP 401, 403, 404, 405, 407, 415) are retried
 * like an outage, never bisected and set aside: every request would get them, and setting records aside would
 * empty the stream into rejected/, where nothing resends it. A status that refuses the records themselves (400)
 * still sets them aside. Real loopback collector with injected statuses.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loginEvent, makePipeline, type TestPipeline } from '../helpers/pipeline.js';

let p: TestPipeline | undefined;
afterEach(async () => {
  await p?.dispose();
  p = undefined;
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('configuration errors from the collector', () => {
  it.each([401, 403, 404, 405, 407, 415])('HTTP %i on 12 requests in a row: retried, then all 8 delivered, none set aside', async (status) => {
    p = await makePipeline();
    // More refusals than the 3 attempts after which a permanent status is bisected and set aside.
    p.collector.setFault({ mode: 'status', status, times: 12 });
    const receipts = Array.from({ length: 8 }, (_, i) => p!.audit.record(loginEvent(i)));
    await Promise.all(receipts);
    while (p.collector.stats().records < 8 && p.processor.stats().rejected === 0) await sleep(20);
    expect(p.processor.stats()).toMatchObject({ rejected: 0, dropped: 0 });
    expect(existsSync(join(p.auditDir, 'rejected'))).toBe(false);
    expect(p.collector.stats().requests).toBeGreaterThanOrEqual(13);
  });

  it('HTTP 400 (the records refused) is still set aside after its attempts', async () => {
    p = await makePipeline();
    p.collector.setFault({ mode: 'status', status: 400, times: 1000 });
    void p.audit.record(loginEvent(0));
    while (p.processor.stats().rejected < 1) await sleep(20);
    expect(readdirSync(join(p.auditDir, 'rejected')).length).toBe(1);
  });
});
