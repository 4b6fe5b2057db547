/**
 * Deliverable 5: the loss policy, at the point where the pipeline cannot make one more record durable
 * (collector down and the journal's disk bound reached, or collector down and the journal failing), and the
 * metrics of ARCHITECTURE.md §5.8 through the OTel metrics API.
 *   warn:  the record is counted (audit.records.dropped), reported at error level, handed to onLoss; its receipt
 *          rejects; record() itself does not throw.
 *   throw: record() throws AuditLossError synchronously (fail closed); receipts of records the journal could
 *          not keep reject.
 */
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { statfsSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuditLossError } from '../../src/core/errors.js';
import type { LossEvent } from '../../src/deliver/loss.js';
import { verifyFiles } from '../../src/verify/index.js';
import { loginEvent } from '../helpers/pipeline.js';
import { tempDir } from '../helpers/tmp.js';
import { canMount, captureStderr, delivered, faultPipeline, gaps, mountTmpfs, sleep, unmountAll, type FaultPipeline } from './_lib.js';

let p: FaultPipeline | undefined;
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await p?.dispose().catch(() => undefined);
  p = undefined;
  unmountAll();
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
  vi.restoreAllMocks();
});

/** Disk bound: 2 segments of 16 KiB hold ~30 records; the collector is down. */
const BOUND = { maxFileBytes: 16 * 1024, maxFiles: 2, maxExportBatchSize: 16 };

type Outcome = { i: number; kind: 'durable' | 'rejected' | 'thrown'; error?: unknown };

async function emitUntilRefused(t: FaultPipeline, n: number): Promise<Outcome[]> {
  const out: Promise<Outcome>[] = [];
  for (let i = 0; i < n; i++) {
    try {
      out.push(
        t.audit.record({ ...loginEvent(i), id: `rec-${i}` }).then(
          (): Outcome => ({ i, kind: 'durable' }),
          (error: unknown): Outcome => ({ i, kind: 'rejected', error }),
        ),
      );
    } catch (error) {
      out.push(Promise.resolve({ i, kind: 'thrown', error }));
    }
    if (i % 8 === 7) await sleep(2);
  }
  return Promise.all(out);
}

describe('OTEL_AUDIT_ON_LOSS=warn', () => {
  it('past the disk bound during an outage: counted, reported at error level, handed to onLoss with the record ids; receipts reject', async () => {
    const stderr = captureStderr();
    const losses: LossEvent[] = [];
    p = await faultPipeline({ ...BOUND, onLossPolicy: 'warn', onLoss: (e) => losses.push(e) });
    await p.collector.stop();
    const outcomes = await emitUntilRefused(p, 200);
    expect(outcomes.filter((o) => o.kind === 'thrown')).toEqual([]); // warn never throws
    const rejected = outcomes.filter((o) => o.kind === 'rejected');
    expect(rejected.length).toBeGreaterThan(0);
    for (const o of rejected) expect(o.error).toBeInstanceOf(AuditLossError);
    const stats = p.processor.stats();
    expect(stats.dropped).toBe(rejected.length);
    const reportedIds = losses.flatMap((e) => e.records.map((r) => r.recordId));
    expect(reportedIds.sort()).toEqual(rejected.map((o) => `rec-${o.i}`).sort());
    expect(losses[0]!.reason).toMatch(/OTEL_AUDIT_MAX_FILES × OTEL_AUDIT_MAX_FILE_BYTES/);
    expect(stderr.join('')).toMatch(/otel-audit: LOST \d+ audit record\(s\) of stream/);
    // Accepted records are all kept and, once the collector is back, delivered; refused ones were never sealed.
    await p.collector.start();
    await p.processor.forceFlush();
    await p.provider.shutdown();
    const d = delivered(p.collectorFile);
    expect(gaps(d.streams.get(p.processor.streamId), stats.accepted + 1)).toEqual([]);
    for (const o of rejected) expect(d.ids.has(`rec-${o.i}`)).toBe(false);
    for (const o of outcomes.filter((x) => x.kind === 'durable')) expect(d.ids.has(`rec-${o.i}`)).toBe(true);
  });
});

describe('OTEL_AUDIT_ON_LOSS=throw (fail closed)', () => {
  it('past the disk bound during an outage: record() throws AuditLossError synchronously, and works again once the collector drains the journal', async () => {
    captureStderr();
    p = await faultPipeline({ ...BOUND, onLossPolicy: 'throw' });
    await p.collector.stop();
    const outcomes = await emitUntilRefused(p, 200);
    const thrown = outcomes.filter((o) => o.kind === 'thrown');
    expect(thrown.length).toBeGreaterThan(0);
    for (const o of thrown) {
      expect(o.error).toBeInstanceOf(AuditLossError);
      expect((o.error as AuditLossError).recordIds).toEqual([`rec-${o.i}`]);
    }
    expect(outcomes.filter((o) => o.kind === 'rejected')).toEqual([]);
    // Fail closed from the first refusal on: nothing after it was accepted while the bound held.
    const firstThrown = thrown[0]!.i;
    expect(outcomes.filter((o) => o.i > firstThrown && o.kind === 'durable')).toEqual([]);
    // The chain has no gap: a refused record was never sealed.
    const local = await verifyFiles([p.auditDir]);
    expect(local.problems).toEqual([]);
    // Recovery: the collector comes back, acknowledges, and record() accepts again.
    await p.collector.start();
    await p.processor.forceFlush();
    await expect(p.audit.record({ ...loginEvent(999), id: 'after' })).resolves.toMatchObject({ recordId: 'after' });
    await p.processor.forceFlush();
    await p.provider.shutdown();
    const d = delivered(p.collectorFile);
    expect(d.ids.has('after')).toBe(true);
    for (const o of thrown) expect(d.ids.has(`rec-${o.i}`)).toBe(false);
  });

  it.skipIf(!canMount)('journal failing (ENOSPC) with the collector down: receipts reject; past maxPendingRecords record() throws; the rest is delivered later', async () => {
    captureStderr();
    const { dir, cleanup } = await tempDir('otel-audit-loss-');
    cleanups.push(cleanup);
    const mnt = join(dir, 'mnt');
    mountTmpfs(mnt, '512k');
    p = await faultPipeline({ onLossPolicy: 'throw', maxQueueSize: 64, maxPendingRecords: 128, maxExportBatchSize: 16 }, join(mnt, 'audit'));
    await p.collector.stop();
    const s = statfsSync(mnt);
    const filler = join(mnt, 'filler');
    writeFileSync(filler, Buffer.alloc(Number(s.bavail) * Number(s.bsize) - 24 * 1024));
    const outcomes = await emitUntilRefused(p, 300);
    const kinds = (k: Outcome['kind']) => outcomes.filter((o) => o.kind === k);
    expect(kinds('durable').length).toBeGreaterThan(0); // before the disk filled
    expect(kinds('rejected').length).toBeGreaterThan(0); // the journal could not keep them: receipts say so
    for (const o of kinds('rejected')) expect(String((o.error as Error).message)).toMatch(/journal write failed \(ENOSPC\)/);
    expect(kinds('thrown').length).toBeGreaterThan(0); // memory bound: fail closed
    expect(p.processor.refusal()).toMatch(/maxPendingRecords/);
    rmSync(filler);
    await p.collector.start();
    await p.processor.forceFlush();
    await p.provider.shutdown();
    const d = delivered(p.collectorFile);
    // Every record whose receipt settled durable is delivered; thrown ones never entered the chain.
    for (const o of kinds('durable')) expect(d.ids.has(`rec-${o.i}`)).toBe(true);
    for (const o of kinds('thrown')) expect(d.ids.has(`rec-${o.i}`)).toBe(false);
    expect(gaps(d.streams.get(p.processor.streamId), p.processor.stats().accepted)).toEqual([]);
  });
});

describe('metrics of ARCHITECTURE.md §5.8 through the OTel metrics API (journal mode)', () => {
  it('emitted, exported, spooled, dropped, rejected, queue depth and export duration match what happened', async () => {
    captureStderr();
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
    const meterProvider = new MeterProvider({ readers: [reader] });
    p = await faultPipeline({ ...BOUND, meterProvider });
    // 16 refused for good (HTTP 400 on every request: 3 attempts, then a bisection that is refused too → set
    // aside), 16 delivered.
    p.collector.setFault({ mode: 'status', status: 400, times: 1000 });
    for (let i = 0; i < 16; i++) void p.audit.record(loginEvent(i));
    while (p.processor.stats().rejected < 16) await sleep(10);
    p.collector.setFault({ mode: 'ok' });
    for (let i = 16; i < 32; i++) void p.audit.record(loginEvent(i));
    await p.processor.forceFlush();
    // Then an outage past the disk bound: some dropped.
    await p.collector.stop();
    const outcomes = await emitUntilRefused(p, 100);
    const dropped = outcomes.filter((o) => o.kind === 'rejected').length;
    expect(dropped).toBeGreaterThan(0);
    await reader.forceFlush();
    const metrics = new Map<string, number>();
    for (const rm of exporter.getMetrics())
      for (const sm of rm.scopeMetrics)
        for (const m of sm.metrics) {
          const dp = m.dataPoints.filter((x) => (x.attributes['audit.sequence.stream_id'] ?? p!.processor.streamId) === p!.processor.streamId);
          let v = 0;
          for (const x of dp) v += typeof x.value === 'number' ? x.value : (x.value as { count: number }).count;
          metrics.set(m.descriptor.name, v);
        }
    const stats = p.processor.stats();
    const accepted = 32 + outcomes.filter((o) => o.kind === 'durable').length;
    expect(metrics.get('audit.records.emitted')).toBe(accepted);
    expect(metrics.get('audit.records.exported')).toBe(16);
    expect(metrics.get('audit.records.rejected')).toBe(16);
    expect(metrics.get('audit.records.spooled')).toBe(accepted); // journal mode: every accepted record
    expect(metrics.get('audit.records.dropped')).toBe(dropped);
    expect(metrics.get('audit.queue.depth')).toBe(stats.queueDepth);
    expect(metrics.get('audit.queue.depth')).toBeGreaterThan(0);
    expect(metrics.get('audit.export.duration')).toBeGreaterThanOrEqual(5); // 3 refused + 2 accepted attempts, at least
    await p.collector.start();
    await p.processor.forceFlush();
    await reader.forceFlush();
    await meterProvider.shutdown();
  });
});
