/**
 * What an operator sees while the collector does not take records: one warning when an outage starts and one when
 * it ends, on stderr and in the diag log. The per-attempt lines stay in diag only; before, nothing reached stderr
 * until shutdown, so a wrong endpoint went unnoticed for as long as the process ran (found in a new-user review).
 */
import { sayLoudly } from '../core/say.js';

/** Where records wait during an outage, by `OTEL_AUDIT_FILE`. */
const WAITING: Readonly<Record<'journal' | 'fallback' | 'off', string>> = {
  journal: 'the journal keeps every record, and they are sent when it does',
  fallback: 'records it has not taken are spooled to the journal and sent when it does',
  off: 'records wait in memory (OTEL_AUDIT_FILE=off: past maxPendingRecords, or when the process ends, they are lost)',
};

export class OutageNotice {
  private since: number | undefined;

  constructor(
    private readonly file: keyof typeof WAITING,
    private readonly now: () => number = Date.now,
  ) {}

  /** A request failed, or is being retried (`detail`: the transport's reason, when it gave one). Said once an outage. */
  failed(detail?: string): void {
    if (this.since !== undefined) return;
    this.since = this.now();
    sayLoudly(`otel-audit: the collector is not taking audit records${detail === undefined ? '' : ` (${detail})`}; retrying: ${WAITING[this.file]} (said again when it takes records)`, 'warn');
  }

  /** The collector acknowledged a whole request. */
  recovered(): void {
    if (this.since === undefined) return;
    const seconds = Math.round((this.now() - this.since) / 1000);
    this.since = undefined;
    sayLoudly(`otel-audit: the collector takes audit records again (after ${seconds} s)`, 'warn');
  }
}
