/**
 * The journal's disk bound (OTEL_AUDIT_MAX_FILES × OTEL_AUDIT_MAX_FILE_BYTES of records not acknowledged) and its
 * segment size, where what is on its way to the journal decides: a slow disk, record groups of different sizes,
 * fallback mode. Found in the review of the change that made bursts count (src/deliver/spool.ts `full`).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { getAuditLogger } from '../../src/api/audit-logger.js';
import { verifyFiles } from '../../src/verify/index.js';
import { failures } from '../helpers/failing-writev.js';
import { loginEvent, makePipeline, type TestPipeline } from '../helpers/pipeline.js';
import { recordsOfFile } from '../helpers/records.js';

vi.mock('node:fs', async (importOriginal) => (await import('../helpers/failing-writev.js')).withFailingWritev(await importOriginal<typeof import('node:fs')>()));

let p: TestPipeline | undefined;
afterEach(async () => {
  failures.delayMs = 0;
  await p?.dispose();
  p = undefined;
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const segmentFiles = (dir: string): string[] => readdirSync(dir).filter((n) => n.endsWith('.jsonl')).map((n) => join(dir, n));

describe('the disk bound counts only what the collector has not acknowledged', () => {
  // The collector may acknowledge a line before the journal has written it (export does not wait for the write):
  // counting every queued line refused 795 of 1,000 records that the collector had all taken.
  it('a disk slower than the collector: a steady workload is never refused', async () => {
    p = await makePipeline({ maxFiles: 2, maxFileBytes: 64 * 1024 });
    failures.delayMs = 300;
    const rs: Promise<string>[] = [];
    for (let t = 0; t < 60; t++) {
      for (let i = 0; i < 10; i++) rs.push(p.audit.record(loginEvent(i)).then(() => 'ok', () => 'refused'));
      await sleep(10);
    }
    const outcomes = await Promise.all(rs);
    expect(outcomes.filter((o) => o === 'refused')).toHaveLength(0);
    expect(p.processor.stats().dropped).toBe(0);
  });
});

describe('segment size', () => {
  // A batch was cut on the record bytes alone: a switch to another resource adds its whole resource and scope to the
  // line, and 20 segments of two records each came out at 4,209–4,454 bytes for a 4,096-byte bound.
  it('records of two resources alternating: no segment of more than one record passes maxFileBytes', async () => {
    const maxFileBytes = 4096;
    p = await makePipeline({ maxFileBytes, maxFiles: 100 });
    await p.collector.stop();
    const other = new LoggerProvider({ resource: resourceFromAttributes({ 'service.name': `svc-${'r'.repeat(1500)}` }), processors: [p.processor] });
    const audit2 = getAuditLogger({ processor: p.processor, loggerProvider: other });
    const rs: Promise<unknown>[] = [];
    for (let i = 0; i < 40; i++) rs.push((i % 2 === 1 ? audit2 : p.audit).record(loginEvent(i)).catch(() => undefined));
    await Promise.all(rs);
    const files = segmentFiles(p.auditDir);
    expect(files.length).toBeGreaterThan(1);
    for (const f of files) {
      if (recordsOfFile(f).length > 1) expect(readFileSync(f).length).toBeLessThanOrEqual(maxFileBytes);
    }
  });
});

describe('fallback mode', () => {
  // What memory holds goes to the spool at the first failed export, with no bound checked then: records accepted
  // before that failure (20,000 in a burst) went into an 8 KiB journal, 24 MB in 3,338 segments.
  it.each([
    ['a burst, the collector down', 'down'],
    ['bursts over many ticks while the first export hangs', 'hung'],
  ] as const)('%s: the spool stays within the bound, the rest refused and reported', async (_label, collector) => {
    const losses: number[] = [];
    const maxFileBytes = 8192;
    p = await makePipeline({ file: 'fallback', maxFileBytes, maxFiles: 1, onLoss: (e) => losses.push(e.records.length) });
    if (collector === 'down') await p.collector.stop();
    else p.collector.setFault({ mode: 'delay', delayMs: 1500, times: 1 });
    const rs: Promise<string>[] = [];
    for (let i = 0; i < 2000; i++) {
      rs.push(p.audit.record(loginEvent(i)).then(() => 'ok', () => 'refused'));
      if (collector === 'hung' && i % 20 === 19) await sleep(1); // each burst cut, enqueued and held in memory
    }
    const outcomes = await Promise.all(rs);
    const stats = p.processor.stats();
    expect(stats.dropped).toBeGreaterThan(1500);
    expect(losses.reduce((a, b) => a + b, 0)).toBe(stats.dropped);
    expect(outcomes.filter((o) => o === 'refused')).toHaveLength(stats.dropped);
    // The first failed export (connection refused) is the outage: what memory holds goes to the spool then.
    while (collector === 'down' && p.processor.stats().lastError === undefined) await sleep(20);
    await sleep(50);
    const files = segmentFiles(p.auditDir);
    const sizes = files.map((f) => readFileSync(f).length);
    expect(sizes.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(maxFileBytes + Math.max(0, ...sizes));
    // Everything accepted reaches the collector once it takes records.
    if (collector === 'down') await p.collector.start();
    await p.processor.forceFlush();
    await p.provider.shutdown();
    const delivered = await verifyFiles([p.collectorFile]);
    expect(delivered.ok).toBe(true);
    expect(delivered.records).toBe(stats.accepted + 1);
  });
});
