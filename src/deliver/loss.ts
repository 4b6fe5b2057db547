/**
 * Loss policy (ARCHITECTURE.md §5.1): a record that can reach neither the collector nor the journal is counted
 * (`audit.records.dropped`), reported at error level, and handed to `onLoss`. With `throw`, the typed API
 * fails closed instead (see processor `assertCanAccept`).
 */
import { diag } from '@opentelemetry/api';

export type LossPolicy = 'warn' | 'throw';

export interface LossEvent {
  /** Records lost: their ids and sequence numbers (an id may be absent for records refused before sealing). */
  records: readonly { recordId: string | undefined; seq: number | undefined }[];
  reason: string;
  streamId: string;
}

export type OnLoss = (event: LossEvent) => void;

export class LossReporter {
  dropped = 0;
  private lastReport = 0;
  private suppressed = 0;

  constructor(
    readonly policy: LossPolicy,
    private readonly onLoss: OnLoss | undefined,
    private readonly countDropped: (n: number) => void,
  ) {}

  /** `final`: the process is exiting, so the line is written whatever the rate limit says. */
  report(event: LossEvent, final = false): void {
    const n = event.records.length;
    this.dropped += n;
    this.countDropped(n);
    // Loud but bounded: one stderr line a second at most, with the count of what was folded into it.
    const now = Date.now();
    if (final || now - this.lastReport >= 1000) {
      const msg = `otel-audit: LOST ${n + this.suppressed} audit record(s) of stream ${event.streamId}: ${event.reason} (total lost: ${this.dropped})`;
      diag.error(msg);
      process.stderr.write(msg + '\n');
      this.lastReport = now;
      this.suppressed = 0;
    } else this.suppressed += n;
    if (this.onLoss !== undefined) {
      try {
        this.onLoss(event);
      } catch (e) {
        diag.error('otel-audit: onLoss callback threw', e);
      }
    }
  }
}
