/**
 * Links between the streams of one process over restarts (docs/integrity.md §6).
 *
 * A process that replayed an earlier stream from its journal stamps, on the first record (seq 1) of its new
 * stream, the id of that earlier stream and, when it knows them, the number and hash of the last record of it
 * that it found. These are ordinary attributes: they are in the canonical form, so they are hashed and signed
 * with the record.
 *
 * The verifier reports a stream whose predecessor is missing from its inputs, or ends without an end record
 * (the process was killed), as kind `restart` at severity info — a fact about the process, not tampering —
 * and reports `truncated` when the predecessor's records end before the last seq the successor saw.
 */
import { ATTR_SEQ_PREVIOUS_STREAM_ID } from '../core/attributes.js';

/** `audit.sequence.previous_stream_id` (the same binding as core/attributes.ts exports). */
export { ATTR_SEQ_PREVIOUS_STREAM_ID };
/** Optional: seq of the last record of the previous stream found in the journal at start-up. */
export const ATTR_SEQ_PREVIOUS_STREAM_LAST = 'audit.sequence.previous_stream_last';
/** Optional: hash of that record (lowercase hex SHA-256 of its canonical form). */
export const ATTR_SEQ_PREVIOUS_STREAM_HASH = 'audit.sequence.previous_stream_hash';

/** Attributes for the first record of a stream that continues `previous` after a restart. */
export function restartAttributes(previous: { streamId: string; lastSeq?: number; lastHash?: string }): Record<string, string | number> {
  if (typeof previous.streamId !== 'string' || previous.streamId === '') throw new TypeError('restartAttributes: streamId must be a non-empty string');
  const out: Record<string, string | number> = { [ATTR_SEQ_PREVIOUS_STREAM_ID]: previous.streamId };
  if (previous.lastSeq !== undefined) {
    if (!Number.isSafeInteger(previous.lastSeq) || previous.lastSeq < 1) throw new TypeError('restartAttributes: lastSeq must be a positive integer');
    out[ATTR_SEQ_PREVIOUS_STREAM_LAST] = previous.lastSeq;
    if (previous.lastHash !== undefined) {
      if (!/^[0-9a-f]{64}$/.test(previous.lastHash)) throw new TypeError('restartAttributes: lastHash must be 64 lowercase hex digits');
      out[ATTR_SEQ_PREVIOUS_STREAM_HASH] = previous.lastHash;
    }
  }
  return out;
}
