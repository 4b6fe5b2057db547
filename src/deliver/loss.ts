/**
 * Loss policy (ARCHITECTURE.md §5.1): a record that can reach neither the collector nor the journal is counted
 * (`audit.records.dropped`), reported at error level, and handed to `onLoss`. With `throw`, the typed API
 * fails closed instead (see processor `assertCanAccept`).
 *
 * The stderr/diag line is rate limited (one a second at most); what the limit folds is never left unsaid: an
 * unref'd timer prints it when the second is over, shutdown prints it (`flush()`), and so does the process
 * 'exit' hook when the process ends first. The counts printed add up to `dropped`.
 */
import { diagLog } from '../core/diag-log.js';
import { sayLoudly } from '../core/say.js';

export type LossPolicy = 'warn' | 'throw';

export interface LossEvent {
  /** Records lost: their ids and sequence numbers (an id may be absent for records refused before sealing). */
  records: readonly { recordId: string | undefined; seq: number | undefined }[];
  reason: string;
  streamId: string;
}

export type OnLoss = (event: LossEvent) => void;

/** The rate limit of the loss line. */
const REPORT_INTERVAL_MILLIS = 1000;

export class LossReporter {
  dropped = 0;
  private lastReport = 0;
  private suppressed = 0;
  /** Reason and stream of the last loss folded into `suppressed` (said when it is printed). */
  private suppressedReason = '';
  private suppressedStream = '';
  private timer: NodeJS.Timeout | undefined;
  /** Inside the onLoss callback: a loss it causes itself (record() after shutdown, say) is not passed to it again. */
  private inCallback = false;
  /** A record refused after shutdown was passed to onLoss: later ones are counted and said, not passed. */
  private calledAfterClose = false;

  constructor(
    readonly policy: LossPolicy,
    private readonly onLoss: OnLoss | undefined,
    private readonly countDropped: (n: number) => void,
  ) {}

  /**
   * A record refused because the processor is shut down: reported as any loss, but passed to onLoss only the first
   * time. An onLoss that records each loss as an audit event after shutdown, later (setImmediate, after an await),
   * otherwise loses that one too, for ever (found in re-review: 6,993 calls in 500 ms and growing).
   */
  reportAfterClose(event: LossEvent): void {
    const first = !this.calledAfterClose;
    this.calledAfterClose = true;
    this.report(event, false, first);
  }

  /** `final`: the process is exiting, so the line is written whatever the rate limit says. */
  report(event: LossEvent, final = false, callback = true): void {
    const n = event.records.length;
    this.dropped += n;
    this.countDropped(n);
    // Loud but bounded: one stderr line a second at most, with the count of what was folded into it.
    const now = Date.now();
    if (final || now - this.lastReport >= REPORT_INTERVAL_MILLIS) {
      sayLoudly(`otel-audit: LOST ${n + this.suppressed} audit record(s) of stream ${event.streamId}: ${event.reason} (total lost: ${this.dropped})`, 'error', final);
      this.lastReport = now;
      this.clearSuppressed();
    } else {
      this.suppressed += n;
      this.suppressedReason = event.reason;
      this.suppressedStream = event.streamId;
      PENDING.add(this);
      hookExit();
      if (this.timer === undefined) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.flush();
        }, Math.max(0, this.lastReport + REPORT_INTERVAL_MILLIS - now));
        this.timer.unref();
      }
    }
    if (this.onLoss !== undefined && callback) {
      // Found in review: an onLoss that records the loss as an audit event after shutdown lost that one too, and
      // called itself until the stack overflowed (721 losses counted for one). Counted and said; not called again.
      if (this.inCallback) {
        diagLog('warn', `otel-audit: ${n} audit record(s) lost inside the onLoss callback are not passed to it again`);
        return;
      }
      this.inCallback = true;
      try {
        this.onLoss(event);
      } catch (e) {
        diagLog('error', 'otel-audit: onLoss callback threw', e);
      } finally {
        this.inCallback = false;
      }
    }
  }

  /**
   * Prints what the rate limit folded, if anything (at shutdown, from the timer, and on process exit with
   * `sync`: stderr written synchronously, there is no event loop left to flush a stream).
   */
  flush(sync = false): void {
    if (this.suppressed === 0) return;
    sayLoudly(`otel-audit: LOST ${this.suppressed} more audit record(s) of stream ${this.suppressedStream}: ${this.suppressedReason} (total lost: ${this.dropped})`, 'error', sync);
    this.lastReport = Date.now();
    this.clearSuppressed();
  }

  private clearSuppressed(): void {
    this.suppressed = 0;
    this.suppressedReason = '';
    this.suppressedStream = '';
    PENDING.delete(this);
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** Reporters holding folded counts: one 'exit' listener prints them all if the process ends first. */
const PENDING = new Set<LossReporter>();
let exitHooked = false;
function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => {
    for (const r of [...PENDING]) r.flush(true);
  });
}
