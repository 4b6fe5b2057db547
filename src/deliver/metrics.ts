/**
 * Self-metrics through the OTel metrics API (ARCHITECTURE.md §5.8). The per-record count is a plain number read by an
 * observable instrument at collection time, so `onEmit` never pays for an instrument call.
 *
 * Without a `meterProvider` option the global one is used, as it is when metrics are recorded: the usual setup
 * builds the processor before `NodeSDK.start()` registers the global provider (and `otel-audit/register` always
 * does), and the metrics API has no proxy provider, so a meter taken in the constructor would be the no-op one for
 * good. When the global provider changes, the instruments move to it, the counters carrying the totals so far.
 * An instrument that throws is the metrics' problem only: said once, never in the way of delivery.
 */
import { metrics, type Counter, type Histogram, type MeterProvider, type ObservableCallback, type ObservableCounter, type ObservableGauge } from '@opentelemetry/api';
import { diagLog } from '../core/diag-log.js';
import { errorText } from '../core/errors.js';

export const METRIC_EMITTED = 'audit.records.emitted';
export const METRIC_EXPORTED = 'audit.records.exported';
export const METRIC_SPOOLED = 'audit.records.spooled';
export const METRIC_DROPPED = 'audit.records.dropped';
/** Extension: records the collector refused for good, kept in `rejected/` (not lost). */
export const METRIC_REJECTED = 'audit.records.rejected';
/** Extension: records the journal could not write (disk full, read-only, …); memory holds them until acknowledged. */
export const METRIC_UNJOURNALED = 'audit.records.unjournaled';
/** Extension: raw Logs API records that failed validation, delivered marked with `audit.validation.error`. */
export const METRIC_INVALID = 'audit.records.invalid';
export const METRIC_QUEUE_DEPTH = 'audit.queue.depth';
export const METRIC_EXPORT_DURATION = 'audit.export.duration';
/** Attribute of `audit.export.duration`: whether the request was acknowledged. */
export const ATTR_EXPORT_OK = 'audit.export.ok';

/** Seconds; the OTel HTTP semantic conventions' duration buckets (the SDK's default ones are for milliseconds). */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

export interface DeliveryStats {
  emitted: number;
  exported: number;
  spooled: number;
  dropped: number;
  rejected: number;
  /** Records the journal could not write (they stay in memory until the collector takes them). */
  unjournaled: number;
  invalid: number;
}

type CounterName = 'exported' | 'spooled' | 'dropped' | 'rejected' | 'unjournaled';

interface Instruments {
  counters: Record<CounterName, Counter>;
  duration: Histogram;
  observed: [ObservableCounter | ObservableGauge, ObservableCallback][];
}

export class AuditMetrics {
  readonly totals: DeliveryStats = { emitted: 0, exported: 0, spooled: 0, dropped: 0, rejected: 0, unjournaled: 0, invalid: 0 };
  /** Where the queue depth is read from when the gauge is observed (set by the delivery stage). */
  depth: () => number = () => 0;
  private instruments: Instruments | undefined;
  private boundTo: MeterProvider | undefined;
  private closed = false;
  private failureSaid = false;
  /** Providers the totals were carried into. */
  private readonly carried = new WeakSet<MeterProvider>();

  constructor(
    private readonly meterProvider: MeterProvider | undefined,
    private readonly attrs: { 'audit.sequence.stream_id': string },
  ) {
    this.current();
  }

  /** Hot path: a plain increment, observed when metrics are collected. */
  emittedOne(): void {
    this.totals.emitted++;
  }

  invalidOne(): void {
    this.totals.invalid++;
  }

  exportedN(n: number): void {
    this.count('exported', n);
  }

  spooledN(n: number): void {
    this.count('spooled', n);
  }

  droppedN(n: number): void {
    this.count('dropped', n);
  }

  rejectedN(n: number): void {
    this.count('rejected', n);
  }

  unjournaledN(n: number): void {
    this.count('unjournaled', n);
  }

  /** One OTLP export request (a part of a bisected one too); `streamId`: of an earlier stream, replayed. */
  exportDuration(seconds: number, ok: boolean, streamId?: string): void {
    this.call(this.current(), (i) => i.duration.record(seconds, { ...this.streamAttrs(streamId), [ATTR_EXPORT_OK]: ok }));
  }

  /**
   * Records of an earlier process's stream that the replay delivered (`exported`) or that the collector refused
   * for good (`rejected`): counted under that stream's id, not in this stream's totals (ShutdownReport, stats()).
   */
  replayed(name: 'exported' | 'rejected', n: number, streamId: string): void {
    this.call(this.current(), (i) => i.counters[name].add(n, this.streamAttrs(streamId)));
  }

  private streamAttrs(streamId: string | undefined): { 'audit.sequence.stream_id': string } {
    return streamId === undefined ? this.attrs : { 'audit.sequence.stream_id': streamId };
  }

  /**
   * The processor is shut down: nothing waits in memory any more, and its observable instruments are observed once
   * more (the final counts, a queue depth of 0: a cumulative reader goes on showing a series' last value), then no
   * longer. Their callbacks no longer reach the delivery stage, so they do not keep the processor alive meanwhile.
   * Counters keep counting (a loss reported after shutdown).
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.depth = () => 0;
  }

  private count(name: CounterName, n: number): void {
    const i = this.current(); // before the total grows: a provider bound now starts from the totals so far
    this.totals[name] += n;
    this.call(i, (x) => x.counters[name].add(n, this.attrs));
  }

  /** An instrument call: one that throws is the metrics' problem only (said once). */
  private call(i: Instruments | undefined, f: (i: Instruments) => void): void {
    if (i === undefined) return;
    try {
      f(i);
    } catch (e) {
      this.failed(e);
    }
  }

  /** The instruments of the provider in effect now (the global one may have been set since; none after close). */
  private current(): Instruments | undefined {
    if (this.closed) return this.instruments;
    const p = this.meterProvider ?? metrics.getMeterProvider();
    if (p !== this.boundTo) this.bind(p, this.meterProvider === undefined);
    return this.instruments;
  }

  private bind(p: MeterProvider, carry: boolean): void {
    const old = this.instruments;
    this.boundTo = p;
    this.instruments = undefined;
    if (old !== undefined) this.unobserve(old);
    try {
      const meter = p.getMeter('otel-audit');
      const counter = (name: string, description: string): Counter => meter.createCounter(name, { unit: '{record}', description });
      const i: Instruments = {
        counters: {
          exported: counter(METRIC_EXPORTED, 'Audit records acknowledged by the collector'),
          spooled: counter(METRIC_SPOOLED, 'Audit records written to the local journal/spool'),
          dropped: counter(METRIC_DROPPED, 'Audit records lost: neither collector nor journal could take them'),
          rejected: counter(METRIC_REJECTED, 'Audit records the collector refused for good, kept locally in rejected/'),
          unjournaled: counter(METRIC_UNJOURNALED, 'Audit records the journal could not write (held in memory until the collector acknowledges them)'),
        },
        duration: meter.createHistogram(METRIC_EXPORT_DURATION, { unit: 's', description: 'Duration of OTLP export requests', advice: { explicitBucketBoundaries: DURATION_BUCKETS } }),
        observed: [],
      };
      // Observed at collection time from plain numbers: the hot path never calls an instrument.
      const observe = (inst: ObservableCounter | ObservableGauge, value: () => number): void => {
        const cb: ObservableCallback = (r) => {
          r.observe(value(), this.attrs);
          // Observed after close: that was the last time (removed outside the reader's walk over the callbacks).
          if (this.closed) setImmediate(() => this.unobserve(i));
        };
        inst.addCallback(cb);
        i.observed.push([inst, cb]);
      };
      observe(meter.createObservableCounter(METRIC_EMITTED, { unit: '{record}', description: 'Audit records accepted by the processor' }), () => this.totals.emitted);
      observe(meter.createObservableCounter(METRIC_INVALID, { unit: '{record}', description: 'Raw Logs API audit records that failed validation (delivered, marked)' }), () => this.totals.invalid);
      observe(meter.createObservableGauge(METRIC_QUEUE_DEPTH, { unit: '{record}', description: 'Audit records in memory awaiting delivery' }), () => this.depth());
      // Counted before this provider was in effect: its cumulative counters start from the totals so far (once: a
      // provider bound before, registered again, has them).
      if (carry && !this.carried.has(p)) for (const name of Object.keys(i.counters) as CounterName[]) if (this.totals[name] > 0) i.counters[name].add(this.totals[name], this.attrs);
      this.carried.add(p);
      this.instruments = i;
    } catch (e) {
      this.failed(e);
    }
  }

  private unobserve(i: Instruments): void {
    for (const [inst, cb] of i.observed) {
      try {
        inst.removeCallback(cb);
      } catch (e) {
        this.failed(e);
      }
    }
    i.observed.length = 0;
  }

  private failed(e: unknown): void {
    if (this.failureSaid) return;
    this.failureSaid = true;
    diagLog('warn', `otel-audit: a metrics instrument failed (${errorText(e)}); metrics may be incomplete, delivery is not affected`);
  }
}
