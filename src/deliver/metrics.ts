/**
 * Self-metrics through the OTel metrics API (ARCHITECTURE.md §5.8). The per-record count is a plain number read by an
 * observable instrument at collection time, so `onEmit` never pays for an instrument call.
 */
import { metrics, type Meter, type MeterProvider } from '@opentelemetry/api';

export const METRIC_EMITTED = 'audit.records.emitted';
export const METRIC_EXPORTED = 'audit.records.exported';
export const METRIC_SPOOLED = 'audit.records.spooled';
export const METRIC_DROPPED = 'audit.records.dropped';
/** Extension: records the collector refused for good, kept in `rejected/` (not lost). */
export const METRIC_REJECTED = 'audit.records.rejected';
/** Extension: records the journal could not write (disk full, read-only, …); memory holds them until acknowledged. */
export const METRIC_UNJOURNALED = 'audit.records.unjournaled';
export const METRIC_QUEUE_DEPTH = 'audit.queue.depth';
export const METRIC_EXPORT_DURATION = 'audit.export.duration';

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

export class AuditMetrics {
  readonly totals: DeliveryStats = { emitted: 0, exported: 0, spooled: 0, dropped: 0, rejected: 0, unjournaled: 0, invalid: 0 };
  private readonly exported;
  private readonly spooled;
  private readonly dropped;
  private readonly rejected;
  private readonly unjournaled;
  private readonly duration;

  /** Where the queue depth is read from when the gauge is observed (set by the delivery stage). */
  depth: () => number = () => 0;

  constructor(meterProvider: MeterProvider | undefined, private readonly attrs: { 'audit.sequence.stream_id': string }) {
    const meter: Meter = (meterProvider ?? metrics).getMeter('otel-audit');
    // Observed at collection time from a plain number: the hot path never calls an instrument.
    const emitted = meter.createObservableCounter(METRIC_EMITTED, { description: 'Audit records accepted by the processor' });
    emitted.addCallback((r) => r.observe(this.totals.emitted, this.attrs));
    this.exported = meter.createCounter(METRIC_EXPORTED, { description: 'Audit records acknowledged by the collector' });
    this.spooled = meter.createCounter(METRIC_SPOOLED, { description: 'Audit records written to the local journal/spool' });
    this.dropped = meter.createCounter(METRIC_DROPPED, { description: 'Audit records lost: neither collector nor journal could take them' });
    this.rejected = meter.createCounter(METRIC_REJECTED, { description: 'Audit records the collector refused for good, kept locally in rejected/' });
    this.unjournaled = meter.createCounter(METRIC_UNJOURNALED, { description: 'Audit records the journal could not write (held in memory until the collector acknowledges them)' });
    this.duration = meter.createHistogram(METRIC_EXPORT_DURATION, { unit: 's', description: 'Duration of OTLP export attempts' });
    const depth = meter.createObservableGauge(METRIC_QUEUE_DEPTH, { description: 'Audit records in memory awaiting delivery' });
    depth.addCallback((r) => r.observe(this.depth(), this.attrs));
  }

  /** Hot path: a plain increment, observed when metrics are collected. */
  emittedOne(): void {
    this.totals.emitted++;
  }

  exportedN(n: number): void {
    this.totals.exported += n;
    this.exported.add(n, this.attrs);
  }

  spooledN(n: number): void {
    this.totals.spooled += n;
    this.spooled.add(n, this.attrs);
  }

  droppedN(n: number): void {
    this.totals.dropped += n;
    this.dropped.add(n, this.attrs);
  }

  rejectedN(n: number): void {
    this.totals.rejected += n;
    this.rejected.add(n, this.attrs);
  }

  unjournaledN(n: number): void {
    this.totals.unjournaled += n;
    this.unjournaled.add(n, this.attrs);
  }

  exportDuration(seconds: number, ok: boolean): void {
    this.duration.record(seconds, { ...this.attrs, 'audit.export.ok': ok });
  }
}
