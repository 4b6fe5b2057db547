/**
 * `rejected/`: batches the collector refused for good (a permanent 4xx, or records it keeps rejecting in
 * partial_success). They are kept here — never deleted by otel-audit — so an operator can inspect and resend
 * them (`otel-audit verify` reads them like any journal file), while the stream moves on.
 */
import { durableCreateUnique } from './durable.js';
import { ensureSubdir, rejectedDir } from './files.js';

/** Attempts before a batch refused with a permanent status (4xx but 408/429) is set aside. */
export const PERMANENT_ATTEMPTS = 3;
/** Attempts before a batch whose records the collector keeps rejecting (partial_success) is set aside. */
export const REJECTED_ATTEMPTS = 5;

/** Has this run of failed attempts at one batch reached the point of setting it aside? */
export function refusedForGood(r: { retryable: boolean; rejected: number }, attempts: number): boolean {
  return !r.retryable ? attempts >= PERMANENT_ATTEMPTS : r.rejected > 0 && attempts >= REJECTED_ATTEMPTS;
}

/**
 * Writes the batch as one OTLP/JSON line to a new file in `rejected/`; returns the file. Throws on I/O errors.
 * Durable (file and directory fsynced) before it returns: the stream then moves past these records, and this
 * file may become their only copy once retention deletes the journal segment.
 */
export function keepRejected(dir: string, streamId: string, first: number, last: number, body: Uint8Array | string): string {
  ensureSubdir(dir, rejectedDir(dir));
  const line = typeof body === 'string' ? body + '\n' : Buffer.concat([body, Buffer.from('\n')]);
  return durableCreateUnique(rejectedDir(dir), `${streamId}-${first}-${last}`, '.jsonl', line);
}
