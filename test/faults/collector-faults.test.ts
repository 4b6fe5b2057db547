/**
 * Deliverable 1: collector faults, each injected by the local collector. After each one: every record
 * arrives, per-stream order holds, and duplicates appear only where at-least-once allows them (a request
 * the collector wrote but did not acknowledge), as identical copies of the same record.
 */
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CollectorFault } from '../../src/collector/index.js';
import { AuditLogRecordProcessor } from '../../src/processor.js';
import { verifyFiles } from '../../src/verify/index.js';
import { loginEvent } from '../helpers/pipeline.js';
import { idOf, recordsOfFile, seqOf } from '../helpers/records.js';
import { until } from '../helpers/until.js';
import { captureStderr, delivered, emitter, faultPipeline, gaps, killSpawned, sleep, type FaultPipeline } from './_lib.js';

let p: FaultPipeline | undefined;
afterEach(async () => {
  await killSpawned();
  await p?.dispose();
  p = undefined;
  vi.restoreAllMocks();
});

const BATCH = 40;

/**
 * 40 records before the fault, 200 while it is active (paced, so several batches meet it), then waits for the
 * fault to be used up and for every record to be acknowledged, shuts down and checks the collector's copy.
 */
async function underFault(
  fault: CollectorFault,
  opts: { dupsAllowed: number; timeoutMillis?: number; before?: (t: FaultPipeline) => Promise<void>; during?: (t: FaultPipeline) => Promise<void> },
) {
  p = await faultPipeline({ maxExportBatchSize: BATCH, exporter: { timeoutMillis: opts.timeoutMillis ?? 2000 } }); // generous: a loaded CI machine must not turn a slow answer into a timeout (and a duplicate)
  const t = p;
  const receipts: Promise<unknown>[] = [];
  for (let i = 0; i < 40; i++) receipts.push(t.audit.record(loginEvent(i)));
  await t.processor.forceFlush();
  expect(t.processor.stats().acked).toBe(40);
  t.collector.setFault(fault);
  await opts.before?.(t);
  for (let i = 40; i < 240; i++) {
    receipts.push(t.audit.record(loginEvent(i)));
    if (i % 20 === 19) await sleep(5);
  }
  await opts.during?.(t);
  await until(() => t.collector.fault().mode === 'ok', 'the fault to be used up');
  await t.processor.forceFlush();
  await Promise.all(receipts); // durable (journal) — never rejected
  const stats = t.processor.stats();
  expect(stats.acked).toBe(240);
  await t.provider.shutdown();
  const d = delivered(t.collectorFile);
  expect(d.streams.size).toBe(1);
  const stream = d.streams.get(t.processor.streamId);
  expect(gaps(stream, 241)).toEqual([]); // every record (and the end marker) arrived
  expect(Math.max(...stream!.copies.keys())).toBe(241);
  expect(d.inOrder).toBe(true);
  expect(d.conflicting).toEqual([]); // a re-sent record is the same record
  expect(d.duplicates).toBeLessThanOrEqual(opts.dupsAllowed);
  const s = t.processor.stats();
  expect(s.dropped).toBe(0);
  expect(s.rejected).toBe(0);
  expect(existsSync(join(t.auditDir, 'rejected'))).toBe(false);
  expect((await verifyFiles([t.collectorFile])).ok).toBe(true);
  return { d, stats: s };
}

describe('collector faults: everything arrives, in order, duplicates only where at-least-once allows', () => {
  it.each([500, 502, 503, 504])('HTTP %i (4 times): retried; nothing written by the collector, so no duplicate', async (status) => {
    const { d } = await underFault({ mode: 'status', status, times: 4 }, { dupsAllowed: 0 });
    expect(d.duplicates).toBe(0);
    expect(p!.collector.stats().rejected).toBe(4);
  });

  it('HTTP 429 without Retry-After (3 times): retried with backoff, no duplicate', async () => {
    const { d } = await underFault({ mode: 'status', status: 429, times: 3 }, { dupsAllowed: 0 });
    expect(d.duplicates).toBe(0);
  });

  it('HTTP 429 with Retry-After: 1: the next attempt waits the second asked for', async () => {
    const t0 = performance.now();
    let acked = 0;
    const { d } = await underFault(
      { mode: 'status', status: 429, retryAfterSeconds: 1, times: 1 },
      {
        dupsAllowed: 0,
        timeoutMillis: 3000, // Retry-After fits in the export timeout: the transport honours it
        during: async (t) => {
          await until(() => t.processor.stats().acked > 40, 'delivery to resume');
          acked = performance.now() - t0;
        },
      },
    );
    expect(d.duplicates).toBe(0);
    expect(acked).toBeGreaterThanOrEqual(950);
  });

  it('HTTP 400 twice, then accepted: a transient client error is retried, nothing set aside', async () => {
    const { d } = await underFault({ mode: 'status', status: 400, times: 2 }, { dupsAllowed: 0 });
    expect(d.duplicates).toBe(0);
  });

  it('responses slower than the export timeout (2 requests): re-sent; the copies written late are identical duplicates', async () => {
    const { d } = await underFault({ mode: 'delay', delayMs: 800, times: 2 }, { dupsAllowed: 2 * BATCH, timeoutMillis: 250 });
    expect(d.duplicates).toBeGreaterThan(0); // the collector wrote the timed-out requests: at-least-once
  });

  it('connection refused (collector stopped for 600 ms)', async () => {
    let atStop = 0;
    let atStart = 0;
    await underFault(
      { mode: 'ok' },
      {
        dupsAllowed: 0, // stopped between requests: nothing was in flight
        before: async (t) => {
          atStop = t.collector.stats().requests;
          await t.collector.stop();
        },
        during: async (t) => {
          await sleep(600);
          atStart = t.collector.stats().requests;
          await t.collector.start();
        },
      },
    );
    expect(atStart).toBe(atStop); // nothing got through while stopped: every attempt was refused
  });

  it('connection reset mid-request (3 times): retried; nothing written, no duplicate', async () => {
    const { d } = await underFault({ mode: 'drop', times: 3 }, { dupsAllowed: 0 });
    expect(d.duplicates).toBe(0);
    expect(p!.collector.stats().rejected).toBe(3);
  });

  it('partial_success rejecting records (2 times): the batch counts as failed and is re-sent whole; copies identical', async () => {
    const { d } = await underFault({ mode: 'partial', rejected: 5, times: 2 }, { dupsAllowed: 2 * BATCH });
    expect(d.duplicates).toBeGreaterThan(0);
  });

  it('an outage at a steady rate (2 s here; minutes in `npm run faults`): every record arrives once the collector is back', async () => {
    p = await faultPipeline({ maxExportBatchSize: 64, maxQueueSize: 200 });
    const t = p;
    const receipts: Promise<unknown>[] = [];
    const t0 = performance.now();
    let n = 0;
    let stopped = false;
    while (performance.now() - t0 < 2600) {
      const due = Math.floor((performance.now() - t0) * 0.5); // 500 records/s
      while (n < due) receipts.push(t.audit.record(loginEvent(n++)));
      if (!stopped && performance.now() - t0 > 300) {
        await t.collector.stop();
        stopped = true;
      }
      if (stopped && performance.now() - t0 > 2300) await t.collector.start();
      await sleep(5);
    }
    await Promise.all(receipts);
    expect(t.processor.stats().queueDepth).toBeLessThanOrEqual(200 + 2 * 64); // the journal took the backlog
    await t.processor.forceFlush();
    expect(t.processor.stats().acked).toBe(n);
    await t.provider.shutdown();
    const d = delivered(t.collectorFile);
    expect(gaps(d.streams.get(t.processor.streamId), n + 1)).toEqual([]);
    expect(d.inOrder).toBe(true);
    expect(d.conflicting).toEqual([]);
    expect(d.duplicates).toBeLessThanOrEqual(64);
    expect((await verifyFiles([t.collectorFile])).ok).toBe(true);
  });
});

describe('refused for good: kept, reported, not retried forever', () => {
  it('HTTP 400 on every attempt: after 3 attempts the batch is set aside to rejected/, reported, counted; the stream moves on', async () => {
    const stderr = captureStderr(null);
    p = await faultPipeline({ maxExportBatchSize: 50 });
    const t = p;
    t.collector.setFault({ mode: 'status', status: 400, times: 1000 });
    for (let i = 0; i < 50; i++) void t.audit.record(loginEvent(i)); // one batch: 1–50
    await until(() => t.processor.stats().rejected === 50, 'the batch to be set aside');
    await sleep(300); // would be several more attempts if it were retried
    // 3 attempts at the batch, then its bisection (src/deliver/bisect.ts): a collector that refuses everything
    // costs a bounded number of requests — 2 per refusal of its budget (8·ceil(log2 50) + 8 = 56) at most.
    expect(t.collector.stats().requests).toBeGreaterThan(3);
    expect(t.collector.stats().requests).toBeLessThanOrEqual(3 + 2 * 56);
    t.collector.setFault({ mode: 'ok' });
    for (let i = 50; i < 100; i++) void t.audit.record(loginEvent(i));
    await t.processor.forceFlush();
    const stats = t.processor.stats();
    expect(stats).toMatchObject({ acked: 100, rejected: 50, dropped: 0 });
    await t.provider.shutdown();

    // Every record of the batch is in rejected/, once, in files named by their ranges.
    const rejectedFiles = readdirSync(join(t.auditDir, 'rejected')).map((n) => join(t.auditDir, 'rejected', n));
    const kept = rejectedFiles.flatMap((f) => recordsOfFile(f));
    expect(kept.map(seqOf).sort((a, b) => a! - b!)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(stderr.join('')).toMatch(new RegExp(`refused records 1–\\d+ of stream ${t.processor.streamId} for good \\(HTTP 400\\); kept in .*rejected`));
    const rejectedFile = rejectedFiles;
    const d = delivered(t.collectorFile);
    expect(gaps(d.streams.get(t.processor.streamId), 101)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    // The collector's copy lacks them, and says so; with rejected/ beside it the chain is whole.
    const alone = await verifyFiles([t.collectorFile]);
    expect(alone.problems).toContainEqual(expect.objectContaining({ kind: 'deleted', severity: 'error', seq: 1 }));
    expect((await verifyFiles([t.collectorFile, ...rejectedFile])).ok).toBe(true);
    // The local journal still holds every record.
    expect((await verifyFiles([t.auditDir + '/' + readdirSync(t.auditDir).find((n) => n.endsWith('.jsonl'))!])).ok).toBe(true);
  });

  it('HTTP 400 three times, then accepted: the refused batch is bisected and delivered, and so are the batches that queued behind it during the retries', async () => {
    p = await faultPipeline();
    const t = p;
    t.collector.setFault({ mode: 'status', status: 400, times: 3 });
    // Batch 1–10 is refused; while it is retried, two more batches arrive behind it.
    for (let i = 0; i < 10; i++) void t.audit.record(loginEvent(i));
    await until(() => t.collector.stats().requests >= 1, 'the first attempt');
    for (let i = 10; i < 20; i++) void t.audit.record(loginEvent(i));
    await until(() => t.collector.stats().requests >= 2, 'the second attempt');
    for (let i = 20; i < 30; i++) void t.audit.record(loginEvent(i));
    await t.processor.forceFlush();
    // Refused for good after 3 attempts, then split (src/deliver/bisect.ts): the halves were accepted, so
    // nothing is set aside. Before bisection this set aside 1–10; never 11–30.
    expect(t.processor.stats()).toMatchObject({ acked: 30, rejected: 0, dropped: 0 });
    await t.provider.shutdown();
    expect(existsSync(join(t.auditDir, 'rejected'))).toBe(false);
    const d = delivered(t.collectorFile);
    expect(gaps(d.streams.get(t.processor.streamId), 31)).toEqual([]);
  });

  it('partial_success rejecting a record on every attempt: set aside after 5 attempts; nothing else lost', async () => {
    p = await faultPipeline({ maxExportBatchSize: 50 });
    const t = p;
    t.collector.setFault({ mode: 'partial', rejected: 1, times: 1000 });
    for (let i = 0; i < 50; i++) void t.audit.record(loginEvent(i));
    await until(() => t.processor.stats().rejected > 0 && t.processor.stats().acked === 50, 'the batch to be settled');
    // 5 attempts, then a bounded bisection (8·ceil(log2 50) + 8 = 56 refusals at most, 2 requests each).
    expect(t.collector.stats().requests).toBeGreaterThan(5);
    expect(t.collector.stats().requests).toBeLessThanOrEqual(5 + 2 * 56);
    t.collector.setFault({ mode: 'ok' });
    for (let i = 50; i < 100; i++) void t.audit.record(loginEvent(i));
    await t.processor.forceFlush();
    await t.provider.shutdown();
    const d = delivered(t.collectorFile);
    const s = d.streams.get(t.processor.streamId);
    expect(gaps(s, 101)).toEqual([50]); // the record the collector kept refusing
    expect(s!.copies.get(1)).toBeGreaterThanOrEqual(5); // written on each of the 5 attempts (and bisection parts): at-least-once
    expect(d.conflicting).toEqual([]);
    const rejectedFiles = readdirSync(join(t.auditDir, 'rejected')).map((n) => join(t.auditDir, 'rejected', n));
    expect(rejectedFiles.flatMap((f) => recordsOfFile(f)).map(seqOf)).toContain(50);
    expect((await verifyFiles([t.collectorFile, ...rejectedFiles])).ok).toBe(true);
  });

  it('HTTP 429 with a Retry-After longer than the export timeout is honoured (no request before it elapses)', async () => {
    // Fixed bug, kept as a regression test: the Retry-After was dropped by src/deliver/otlp-sender.ts and the export
    // loop retried after its own backoff, so a collector asking for 2 s of quiet got a request every 50–250 ms here.
    p = await faultPipeline({ exporter: { timeoutMillis: 300 } });
    const t = p;
    t.collector.setFault({ mode: 'status', status: 429, retryAfterSeconds: 2, times: 1000 });
    void t.audit.record(loginEvent(0));
    await sleep(1200);
    expect(t.collector.stats().requests).toBeLessThanOrEqual(1); // the first attempt, then quiet for 2 s
  });
});

describe('refused for good during replay after a restart', () => {
  it('replay sets a permanently refused batch aside (like the live stream) instead of retrying it forever', async () => {
    // Fixed bug, kept as a regression test: src/deliver/replay.ts sendUntilOk() retries every failure forever, whatever the status: a batch the
    // collector refuses for good (HTTP 400, or records rejected in partial_success) blocks the replay of this and
    // every later orphaned stream, and is never set aside to rejected/ nor reported. The live stream
    // (src/deliver/delivery.ts) sets such a batch aside after 3 (resp. 5) attempts.
    p = await faultPipeline();
    const t = p;
    await t.collector.stop();
    const dir = join(t.dir, 'orphans');
    const child = emitter({ OTEL_AUDIT_DIR: dir, OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: t.collector.endpoint, OTEL_EXPORTER_OTLP_TIMEOUT: '200', OTEL_BLRP_EXPORT_TIMEOUT: '200', EMIT_COUNT: '30' });
    expect((await child.exited).code).toBe(0);
    await t.collector.start();
    t.collector.setFault({ mode: 'status', status: 400, times: 100_000 });
    const processor = new AuditLogRecordProcessor({ dir, retryMinMillis: 50, retryMaxMillis: 250, exporter: { url: t.collector.endpoint, timeoutMillis: 300 } });
    const provider = new LoggerProvider({ processors: [processor] });
    try {
      // A bound, not a measure: far past what the replay takes (3 attempts, then a bounded bisection), so that only
      // a replay retrying forever reaches it, not a loaded machine.
      let guard: NodeJS.Timeout | undefined;
      const r = await Promise.race([processor.replayed(), new Promise<'still retrying'>((res) => (guard = setTimeout(() => res('still retrying'), 20_000)))]);
      clearTimeout(guard);
      expect(r).not.toBe('still retrying');
      expect(readdirSync(join(dir, 'rejected')).length).toBeGreaterThan(0);
    } finally {
      t.collector.setFault({ mode: 'ok' });
      await provider.shutdown();
    }
    // Not reached today; when fixed, the stream's records are all in rejected/, none lost.
    // Refused everywhere, bisected within its budget: the stream's 31 records are all in rejected/, once each.
    const kept = readdirSync(join(dir, 'rejected')).flatMap((n) => recordsOfFile(join(dir, 'rejected', n)));
    expect(new Set(kept.map(idOf)).size).toBe(31);
    expect(kept).toHaveLength(31);
  });
});
