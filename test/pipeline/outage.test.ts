import { afterEach, describe, expect, it } from 'vitest';
import { verifyFiles } from '../../src/verify/index.js';
import { idOf, recordsOfFile, seqOf } from '../helpers/records.js';
import { loginEvent, makePipeline, type TestPipeline } from '../helpers/pipeline.js';

let p: TestPipeline | undefined;
afterEach(async () => {
  await p?.dispose();
  p = undefined;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Unique delivered sequence numbers, and whether first arrivals came in order. */
function delivered(file: string): { seqs: number[]; inOrder: boolean; ids: Set<string> } {
  const recs = recordsOfFile(file);
  const seen = new Set<number>();
  const firsts: number[] = [];
  for (const r of recs) {
    const s = seqOf(r)!;
    if (!seen.has(s)) {
      seen.add(s);
      firsts.push(s);
    }
  }
  return { seqs: [...seen].sort((a, b) => a - b), inOrder: firsts.every((s, i) => i === 0 || s > firsts[i - 1]!), ids: new Set(recs.map((r) => idOf(r)!)) };
}

describe('collector outage in a running process', () => {
  it.each([
    ['journal', 2048],
    ['journal', 50], // memory bound far below the backlog: evicted records are re-read from the journal
    ['fallback', 50],
  ] as const)('file=%s maxQueueSize=%i: every record arrives, in order, after the collector comes back', async (file, maxQueueSize) => {
    p = await makePipeline({ file, maxQueueSize, maxExportBatchSize: 64 });
    const receipts: Promise<unknown>[] = [];
    for (let i = 0; i < 300; i++) receipts.push(p.audit.record(loginEvent(i)));
    await sleep(100);
    await p.collector.stop();
    for (let i = 300; i < 2300; i++) {
      receipts.push(p.audit.record(loginEvent(i)));
      if (i % 200 === 0) await sleep(5);
    }
    await Promise.all(receipts); // durable in the journal/spool while the collector is down
    // Bounded: the queue size, plus the batch in flight and one being written.
    expect(p.processor.stats().queueDepth).toBeLessThanOrEqual(maxQueueSize + 2 * 64);
    await sleep(300);
    await p.collector.start();
    await p.processor.forceFlush();
    const s = p.processor.stats();
    expect(s.acked).toBe(2300);
    await p.provider.shutdown();
    const d = delivered(p.collectorFile);
    expect(d.seqs).toEqual(Array.from({ length: 2301 }, (_, i) => i + 1));
    expect(d.inOrder).toBe(true);
    const report = await verifyFiles([p.collectorFile]);
    expect(report.ok).toBe(true);
    if (file === 'fallback') {
      // Only what the collector could not take went to the spool.
      const spooled = recordsOfFile(p.auditDir + '/' + (await import('node:fs')).readdirSync(p.auditDir).find((n) => n.endsWith('.jsonl'))!);
      expect(spooled.length).toBeGreaterThan(0);
      expect(spooled.length).toBeLessThan(2301);
    }
  });

  it('retries through HTTP 503 and a hanging collector without losing or reordering', async () => {
    p = await makePipeline({ maxExportBatchSize: 20, exporter: { timeoutMillis: 300 } });
    p.collector.setFault({ mode: 'status', status: 503, times: 3 });
    for (let i = 0; i < 100; i++) void p.audit.record(loginEvent(i));
    await sleep(50);
    p.collector.setFault({ mode: 'delay', delayMs: 600, times: 2 });
    for (let i = 100; i < 200; i++) void p.audit.record(loginEvent(i));
    await p.processor.forceFlush();
    expect(p.processor.stats().acked).toBe(200);
    await p.provider.shutdown();
    const d = delivered(p.collectorFile);
    expect(d.seqs.length).toBe(201);
    expect(d.inOrder).toBe(true);
    expect((await verifyFiles([p.collectorFile])).ok).toBe(true);
  });
});
