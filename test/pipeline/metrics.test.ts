/**
 * The processor's metrics (ARCHITECTURE.md §5.8) read through a real sdk-metrics MeterProvider and its reader, with a
 * real loopback collector and journal. Found by a review with a real MeterProvider: the usual NodeSDK setup (the
 * processor built before the global provider is registered) got no metrics at all; replayed records were counted
 * nowhere; an instrument that threw re-sent a request for ever, or crashed the app; shut-down processors were
 * observed for ever (their queue depth stale, the processors never collected); the parts of a bisected request were
 * not timed; the duration histogram had the SDK's millisecond buckets for values in seconds.
 */
import { diag, DiagLogLevel, metrics, type MeterProvider as ApiMeterProvider } from '@opentelemetry/api';
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { AggregationTemporality, MeterProvider, MetricReader, type CollectionResult, type DataPoint, type Histogram } from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuditLogRecordProcessor } from '../../src/processor.js';
import { FAST, loginEvent, makePipeline, type TestPipeline } from '../helpers/pipeline.js';
import { captureStderr } from '../faults/_lib.js';

class Reader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

const pipelines: TestPipeline[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  metrics.disable();
  while (pipelines.length) await pipelines.pop()!.dispose();
});

async function pipeline(...args: Parameters<typeof makePipeline>): Promise<TestPipeline> {
  const p = await makePipeline(...args);
  pipelines.push(p);
  return p;
}

function withReader(): { provider: MeterProvider; reader: Reader } {
  const reader = new Reader({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  return { provider: new MeterProvider({ readers: [reader] }), reader };
}

/** name → (stream id → data point) of one collection. */
async function collect(reader: Reader): Promise<Map<string, { unit: string; points: Map<string, DataPoint<unknown>> }>> {
  const { resourceMetrics, errors }: CollectionResult = await reader.collect();
  expect(errors).toEqual([]);
  const out = new Map<string, { unit: string; points: Map<string, DataPoint<unknown>> }>();
  for (const sm of resourceMetrics.scopeMetrics)
    for (const m of sm.metrics) {
      const points = new Map<string, DataPoint<unknown>>();
      for (const dp of m.dataPoints as DataPoint<unknown>[]) points.set(String(dp.attributes['audit.sequence.stream_id']), dp);
      out.set(m.descriptor.name, { unit: m.descriptor.unit, points });
    }
  return out;
}

const value = (m: Awaited<ReturnType<typeof collect>>, name: string, stream: string): unknown => m.get(name)?.points.get(stream)?.value;

describe('metrics through a real MeterProvider', () => {
  it('the global provider registered after the processor was built (NodeSDK order): every metric, the counts from before it included', async () => {
    const p = await pipeline();
    for (let i = 0; i < 5; i++) await p.audit.record(loginEvent(i));
    await p.processor.forceFlush();
    const { provider, reader } = withReader();
    metrics.setGlobalMeterProvider(provider);
    for (let i = 5; i < 10; i++) await p.audit.record(loginEvent(i));
    await p.processor.forceFlush();
    const m = await collect(reader);
    const s = p.processor.streamId;
    expect(value(m, 'audit.records.exported', s)).toBe(10);
    expect(value(m, 'audit.records.spooled', s)).toBe(10);
    expect(value(m, 'audit.records.emitted', s)).toBe(10);
    expect(value(m, 'audit.queue.depth', s)).toBe(0);
    expect(m.get('audit.records.exported')!.unit).toBe('{record}');
    const d = m.get('audit.export.duration')!;
    expect(d.unit).toBe('s');
    // Seconds, with buckets for seconds (the SDK's defaults, [0, 5, 10, …], put every export in the first).
    const h = d.points.get(s)!.value as Histogram;
    expect(h.buckets.boundaries.slice(0, 3)).toEqual([0.005, 0.01, 0.025]);
    expect(h.count).toBeGreaterThan(0);
  });

  it('the same global provider registered again (after metrics.disable()): the totals are carried into it once', async () => {
    const p = await pipeline();
    const { provider, reader } = withReader();
    metrics.setGlobalMeterProvider(provider);
    for (let i = 0; i < 4; i++) await p.audit.record(loginEvent(i));
    await p.processor.forceFlush();
    metrics.disable();
    await p.audit.record(loginEvent(4));
    await p.processor.forceFlush();
    metrics.setGlobalMeterProvider(provider);
    for (let i = 5; i < 7; i++) await p.audit.record(loginEvent(i));
    await p.processor.forceFlush();
    expect(value(await collect(reader), 'audit.records.exported', p.processor.streamId)).toBe(6); // 7 less the one counted while disabled
  });

  it('each request is timed, the parts of a bisected one too (one value per request the collector saw)', async () => {
    const { provider, reader } = withReader();
    const p = await pipeline({ meterProvider: provider, maxExportBatchSize: 16 });
    p.collector.setFault({ mode: 'status', status: 400 });
    const before = p.collector.stats().requests;
    for (let i = 0; i < 8; i++) p.audit.record(loginEvent(i)).catch(() => undefined);
    await p.processor.forceFlush();
    const requests = p.collector.stats().requests - before;
    expect(requests).toBeGreaterThan(1); // refused whole, then bisected
    const m = await collect(reader);
    const h = m.get('audit.export.duration')!.points.get(p.processor.streamId)!.value as Histogram;
    expect(h.count).toBe(requests);
    expect(value(m, 'audit.records.rejected', p.processor.streamId)).toBe(8);
  });

  it('records replayed from an earlier stream are counted exported under that stream, not in this one', async () => {
    const first = await pipeline({ exportTimeoutMillis: 500 });
    first.collector.setFault({ mode: 'status', status: 503 });
    for (let i = 0; i < 6; i++) void first.audit.record(loginEvent(i)).catch(() => undefined);
    const stderr = captureStderr();
    const ended = await first.processor.shutdownWithReport();
    vi.restoreAllMocks();
    expect(stderr.join('')).toMatch(/not acknowledged by the collector/);
    expect(ended.undelivered).toBe(7); // 6 + the end marker
    first.collector.setFault({ mode: 'ok' });
    const { provider, reader } = withReader();
    const processor = new AuditLogRecordProcessor({ dir: first.auditDir, ...FAST, meterProvider: provider, exporter: { url: first.collector.endpoint, timeoutMillis: 2000 } });
    const logs = new LoggerProvider({ processors: [processor] });
    try {
      expect((await processor.replayed())?.records).toBe(7);
      const m = await collect(reader);
      expect(value(m, 'audit.records.exported', ended.streamId)).toBe(7);
      expect(processor.stats().exported).toBe(0); // this stream's own count
      expect((m.get('audit.export.duration')!.points.get(ended.streamId)!.value as Histogram).count).toBeGreaterThan(0);
    } finally {
      await logs.shutdown();
    }
  });

  it('shut-down processors are observed once more (queue depth 0), then no longer: their callbacks are removed', async () => {
    const { provider, reader } = withReader();
    // The user's provider, wrapped to count the callbacks registered on it.
    let callbacks = 0;
    const counting = {
      getMeter: (...a: Parameters<MeterProvider['getMeter']>) => {
        const m = provider.getMeter(...a);
        const wrap = <T extends { addCallback(cb: never): void; removeCallback(cb: never): void }>(o: T): T =>
          Object.assign(Object.create(o) as T, {
            addCallback: (cb: never) => (callbacks++, o.addCallback(cb)),
            removeCallback: (cb: never) => (callbacks--, o.removeCallback(cb)),
          });
        return Object.assign(Object.create(m) as typeof m, {
          createObservableCounter: (...b: Parameters<typeof m.createObservableCounter>) => wrap(m.createObservableCounter(...b)),
          createObservableGauge: (...b: Parameters<typeof m.createObservableGauge>) => wrap(m.createObservableGauge(...b)),
        });
      },
    } as ApiMeterProvider;
    const p = await pipeline({ meterProvider: counting });
    const others = await Promise.all([1, 2, 3].map(() => pipeline({ meterProvider: counting })));
    const perProcessor = callbacks / 4;
    expect(perProcessor).toBe(3); // emitted, invalid, queue depth
    for (const q of [p, ...others]) await q.audit.record(loginEvent(1));
    for (const q of others) {
      q.collector.setFault({ mode: 'status', status: 503 }); // their records wait when they shut down
      void q.audit.record(loginEvent(2)).catch(() => undefined);
    }
    const stderr = captureStderr();
    for (const q of others) await q.processor.shutdownWithReport();
    vi.restoreAllMocks();
    expect(stderr.join('')).toMatch(/not acknowledged/);
    const m = await collect(reader);
    for (const q of others) expect(value(m, 'audit.queue.depth', q.processor.streamId)).toBe(0);
    expect(value(m, 'audit.records.emitted', others[0]!.processor.streamId)).toBe(3); // 2 + the end marker
    await new Promise(setImmediate);
    expect(callbacks).toBe(perProcessor); // only the live processor's
    await p.audit.record(loginEvent(3));
    expect(value(await collect(reader), 'audit.records.emitted', p.processor.streamId)).toBe(2);
  });

  it('FILE=off, shut down during an outage: the records lost are counted dropped, and none is said to wait in memory', async () => {
    const { provider, reader } = withReader();
    const p = await pipeline({ meterProvider: provider, file: 'off', exportTimeoutMillis: 500 });
    p.collector.setFault({ mode: 'status', status: 503 });
    for (let i = 0; i < 5; i++) void p.audit.record(loginEvent(i)).catch(() => undefined);
    const stderr = captureStderr();
    const report = await p.processor.shutdownWithReport();
    vi.restoreAllMocks();
    expect(stderr.join('')).toMatch(/LOST/);
    expect(report.dropped).toBeGreaterThan(0);
    expect(p.processor.stats().queueDepth).toBe(0);
    const m = await collect(reader);
    expect(value(m, 'audit.records.dropped', p.processor.streamId)).toBe(report.dropped);
    expect(value(m, 'audit.queue.depth', p.processor.streamId)).toBe(0);
  });
});

/** A user's MeterProvider whose instruments throw (a broken exporter bridge, say): never in the way of delivery. */
function throwingProvider(where: 'add' | 'record' | 'getMeter' | 'create'): ApiMeterProvider {
  const boom = (): never => {
    throw new Error(`metrics ${where} failed`);
  };
  const observable = { addCallback: () => undefined, removeCallback: () => undefined };
  const meter = {
    createCounter: () => (where === 'create' ? boom() : { add: where === 'add' ? boom : () => undefined }),
    createHistogram: () => ({ record: where === 'record' ? boom : () => undefined }),
    createObservableCounter: () => observable,
    createObservableGauge: () => observable,
  };
  return { getMeter: () => (where === 'getMeter' ? boom() : meter) } as unknown as ApiMeterProvider;
}

describe('a meter provider that throws', () => {
  it.each(['add', 'record', 'getMeter', 'create'] as const)('%s throws: every record delivered, flush settles, said once (diag)', async (where) => {
    const said: string[] = [];
    const keep = (m: string): number => said.push(m);
    diag.setLogger({ error: keep, warn: keep, info: keep, debug: keep, verbose: keep }, DiagLogLevel.WARN);
    const p = await pipeline({ meterProvider: throwingProvider(where) });
    const receipts = await Promise.all(Array.from({ length: 20 }, (_, i) => p.audit.record(loginEvent(i))));
    expect(receipts).toHaveLength(20);
    await p.processor.forceFlush();
    expect(p.processor.stats()).toMatchObject({ exported: 20, queueDepth: 0 });
    expect(p.collector.stats().records).toBe(20); // each once: no request re-sent because the timing hook threw
    const report = await p.processor.shutdownWithReport();
    expect(report).toMatchObject({ undelivered: 0, dropped: 0 });
    diag.disable();
    expect(said.filter((m) => /a metrics instrument failed \(.*metrics \w+ failed\); metrics may be incomplete, delivery is not affected/.test(m))).toHaveLength(1);
  });
});
