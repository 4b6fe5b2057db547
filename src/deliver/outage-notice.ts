/**
 * What an operator sees while the collector does not take records: one warning once an outage has lasted, and one
 * when it ends, on stderr and in the diag log. The per-attempt lines stay in diag only; before, nothing reached
 * stderr until shutdown, so a wrong endpoint went unnoticed for as long as the process ran (found in a new-user
 * review). A collector that refuses one request and takes the retry (a 503, a 429) is not an outage: the warning
 * waits until failures have gone on for ANNOUNCE_AFTER_MS, or an export attempt failed after all of the transport's
 * own retries (found in re-review: one 503 printed a pair of lines).
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

export class OutageNotice {
  /** When the first failure of the current run of failures came; undefined while requests are taken. */
  private since: number | undefined;
  private said = false;
  private lastDetail: string | undefined;

  constructor(
    private readonly file: keyof typeof WAITING,
    private readonly streamId: string,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * A request failed. `exhausted`: an export attempt failed after the transport's own retries (it has lasted up to
   * the export timeout), else the transport is about to retry. `detail`: the reason, when one was given.
   */
  failed(detail: string | undefined, exhausted: boolean): void {
    const now = this.now();
    this.since ??= now;
    if (detail !== undefined) this.lastDetail = detail;
    if (this.said || (!exhausted && now - this.since < ANNOUNCE_AFTER_MS)) return;
    this.said = true;
    const why = this.lastDetail === undefined ? '' : ` (${this.lastDetail})`;
    const lasting = now - this.since >= 1000 ? ` for ${Math.round((now - this.since) / 1000)} s` : '';
    sayLoudly(`otel-audit: the collector has not taken audit records of stream ${this.streamId.slice(0, 8)}${lasting}${why}; retrying: ${WAITING[this.file]} (said again when it takes them)`, 'warn');
  }

  /** The collector acknowledged a whole request. */
  recovered(): void {
    const since = this.since;
    const said = this.said;
    this.since = undefined;
    this.said = false;
    this.lastDetail = undefined;
    if (since === undefined || !said) return;
    sayLoudly(`otel-audit: the collector takes audit records of stream ${this.streamId.slice(0, 8)} again (after ${Math.round((this.now() - since) / 1000)} s)`, 'warn');
  }
}
