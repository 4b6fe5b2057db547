/**
 * What an operator sees while the collector does not take records: one warning once an outage has lasted, and one
 * when it ends, on stderr and in the diag log. The per-attempt lines stay in diag only; before, nothing reached
 * stderr until shutdown, so a wrong endpoint went unnoticed for as long as the process ran (found in a new-user
 * review). A collector that refuses one request and takes the retry (a 503, a 429) is not an outage: the warning
 * waits until failures have gone on for ANNOUNCE_AFTER_MS, or an export attempt failed after all of the transport's
 * own retries (found in re-review: one 503 printed a pair of lines). A timer says it when ANNOUNCE_AFTER_MS have
 * passed, not the first failure after them: attempts are spaced by a jittered backoff, so a 7 s outage could pass
 * unsaid, and a longer one be said seconds late (found in a README review).
 */
import { sayLoudly } from '../core/say.js';

/** How long failures must go on before they are said. */
export const ANNOUNCE_AFTER_MS = 5000;

/** Where records wait during an outage, by `OTEL_AUDIT_FILE`. */
const WAITING: Readonly<Record<'journal' | 'fallback' | 'off', string>> = {
  journal: 'records wait in the journal and are sent when it does',
  fallback: 'records it has not taken are spooled to the journal and sent when it does',
  off: 'records wait in memory (OTEL_AUDIT_FILE=off: past maxPendingRecords, or when the process ends, they are lost)',
};

/** Calls `fn` after `ms` on a timer that keeps no process alive; returns what cancels it. */
export type NoticeTimer = (fn: () => void, ms: number) => () => void;
const unrefTimer: NoticeTimer = (fn, ms) => {
  const t = setTimeout(fn, ms);
  t.unref();
  return () => clearTimeout(t);
};

export class OutageNotice {
  /** When the first failure of the current run of failures came; undefined while requests are taken. */
  private since: number | undefined;
  private said = false;
  private lastDetail: string | undefined;
  private cancelTimer: (() => void) | undefined;
  private stopped = false;

  constructor(
    private readonly file: keyof typeof WAITING,
    private readonly streamId: string,
    private readonly now: () => number = Date.now,
    private readonly timer: NoticeTimer = unrefTimer,
  ) {}

  /**
   * A request failed. `exhausted`: an export attempt failed after the transport's own retries (it has lasted up to
   * the export timeout), else the transport is about to retry. `detail`: the reason, when one was given.
   */
  failed(detail: string | undefined, exhausted: boolean): void {
    if (this.stopped) return;
    const now = this.now();
    if (this.since === undefined) {
      this.since = now;
      this.cancelTimer = this.timer(() => {
        this.cancelTimer = undefined;
        if (!this.stopped && this.since !== undefined) this.say(this.now());
      }, ANNOUNCE_AFTER_MS);
    }
    if (detail !== undefined) this.lastDetail = detail;
    if (exhausted || now - this.since >= ANNOUNCE_AFTER_MS) this.say(now);
  }

  /** The shutdown: nothing more is said of this stream's outage. */
  stop(): void {
    this.stopped = true;
    this.cancel();
  }

  private cancel(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }

  private say(now: number): void {
    if (this.said) return;
    this.said = true;
    this.cancel();
    const since = this.since ?? now;
    const why = this.lastDetail === undefined ? '' : ` (${this.lastDetail})`;
    const lasting = now - since >= 1000 ? ` for ${Math.round((now - since) / 1000)} s` : '';
    sayLoudly(`otel-audit: the collector has not taken audit records of stream ${this.streamId.slice(0, 8)}${lasting}${why}; retrying: ${WAITING[this.file]} (said again when it takes them)`, 'warn');
  }

  /** The collector acknowledged a whole request. */
  recovered(): void {
    const since = this.since;
    const said = this.said;
    this.cancel();
    this.since = undefined;
    this.said = false;
    this.lastDetail = undefined;
    if (since === undefined || !said) return;
    sayLoudly(`otel-audit: the collector takes audit records of stream ${this.streamId.slice(0, 8)} again (after ${Math.round((this.now() - since) / 1000)} s)`, 'warn');
  }
}
