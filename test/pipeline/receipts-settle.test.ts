/**
 * Receipts say what really happened to each record when the collector refuses some for good or acknowledges a
 * request only in part (bisection), with OTEL_AUDIT_FILE=off: nothing is kept locally, so a record the collector did
 * not take is lost, reported, and its receipt rejected (fail closed), never resolved as durable in the journal.
 */
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { getAuditLogger } from '../../src/api/audit-logger.js';
import { AuditLossError } from '../../src/core/errors.js';
import type { LossEvent } from '../../src/deliver/loss.js';
import { AuditLogRecordProcessor } from '../../src/processor.js';
import { loginEvent } from '../helpers/pipeline.js';
import { tempDir } from '../helpers/tmp.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

/** A receiver answering the n-th request (from 1) with `status(n)`; `seen` lists each request's sequence numbers. */
async function scriptedReceiver(status: (n: number, seqs: number[]) => number): Promise<{ url: string; seen: { status: number; seqs: number[] }[]; waitFor(n: number): Promise<void> }> {
  const seen: { status: number; seqs: number[] }[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seqs: number[] = [];
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { resourceLogs: { scopeLogs: { logRecords: { attributes: { key: string; value: { intValue?: string } }[] }[] }[] }[] };
      for (const rl of body.resourceLogs) for (const sl of rl.scopeLogs) for (const r of sl.logRecords) seqs.push(Number(r.attributes.find((a) => a.key === 'audit.sequence.number')!.value.intValue));
      const s = status(seen.length + 1, seqs);
      seen.push({ status: s, seqs });
      for (const w of waiters.filter((x) => seen.length >= x.n)) w.resolve();
      res.writeHead(s, { 'content-type': 'application/json' }).end(s === 200 ? '{}' : '{"code":3,"message":"refused"}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => (server.closeAllConnections(), server.close(r))));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/logs`,
    seen,
    waitFor: (n) => (seen.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }))),
  };
}

async function offPipeline(url: string, losses: LossEvent[]) {
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  const processor = new AuditLogRecordProcessor({
    dir,
    file: 'off',
    exportTimeoutMillis: 300,
    retryMinMillis: 20,
    retryMaxMillis: 40,
    onLoss: (e) => losses.push(e),
    exporter: { url, timeoutMillis: 1000 },
  });
  const provider = new LoggerProvider({ processors: [processor] });
  cleanups.push(() => provider.shutdown());
  return { processor, audit: getAuditLogger({ processor, loggerProvider: provider }) };
}

const outcome = (p: Promise<{ durability: string }>): Promise<string> => p.then((r) => r.durability, (e: unknown) => (e instanceof AuditLossError ? 'lost' : `error ${String(e)}`));

describe('OTEL_AUDIT_FILE=off: receipts of records the collector did not take', () => {
  it('refused for good and not kept anywhere: the receipt rejects (AuditLossError), the loss is reported', async () => {
    const rx = await scriptedReceiver(() => 400);
    const losses: LossEvent[] = [];
    const { audit } = await offPipeline(rx.url, losses);
    expect(await outcome(audit.record(loginEvent(0)))).toBe('lost');
    expect(losses.map((e) => e.records.map((r) => r.seq))).toEqual([[1]]);
  });

  it('acknowledged in part by bisection, the rest still failing at shutdown: the acknowledged part settles, the rest rejects and is reported', async () => {
    // 4 records in one request: refused for good 3 times, bisected: the first half acknowledged, the second half
    // gets 503 from then on (a flapping collector). Before the fix the batch was neither reported nor rejected.
    const rx = await scriptedReceiver((n) => (n <= 3 ? 400 : n === 4 ? 200 : 503));
    const losses: LossEvent[] = [];
    const { processor, audit } = await offPipeline(rx.url, losses);
    const receipts = [0, 1, 2, 3].map((i) => outcome(audit.record(loginEvent(i))));
    await rx.waitFor(5);
    const report = await processor.shutdownWithReport();
    expect(rx.seen.slice(0, 5)).toEqual([
      { status: 400, seqs: [1, 2, 3, 4] },
      { status: 400, seqs: [1, 2, 3, 4] },
      { status: 400, seqs: [1, 2, 3, 4] },
      { status: 200, seqs: [1, 2] },
      { status: 503, seqs: [3, 4] },
    ]);
    expect(await Promise.all(receipts)).toEqual(['collector', 'collector', 'lost', 'lost']);
    // 3 and 4, and the end marker (5): reported lost, every one of them.
    expect(losses.flatMap((e) => e.records.map((r) => r.seq)).sort()).toEqual([3, 4, 5]);
    expect(report).toMatchObject({ emitted: 5, undelivered: 0, dropped: 3 });
  });
});

// Found in review: forceFlush resolved and the ShutdownReport read "exported 0, undelivered 0" for records the
// collector had refused for good, kept in rejected/: the report's numbers did not add up to what was emitted.
describe('records refused for good, with a journal', () => {
  it('are counted in ShutdownReport.rejected; emitted = exported + rejected + undelivered + dropped', async () => {
    const rx = await scriptedReceiver((_n, seqs) => (seqs.includes(2) ? 400 : 200));
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const processor = new AuditLogRecordProcessor({ dir, retryMinMillis: 20, retryMaxMillis: 40, exporter: { url: rx.url, timeoutMillis: 1000 } });
    const provider = new LoggerProvider({ processors: [processor] });
    cleanups.push(() => provider.shutdown());
    const audit = getAuditLogger({ processor, loggerProvider: provider });
    const receipts = await Promise.all([0, 1, 2, 3].map((i) => audit.record(loginEvent(i))));
    expect(receipts.map((r) => r.durability)).toEqual(['journal', 'journal', 'journal', 'journal']);
    await processor.forceFlush();
    const report = await processor.shutdownWithReport();
    expect(report).toMatchObject({ emitted: 5, exported: 4, rejected: 1, undelivered: 0, dropped: 0 });
    expect(report.exported + report.rejected + report.undelivered + report.dropped).toBe(report.emitted);
  });
});
