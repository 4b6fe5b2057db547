/**
 * `tail --follow`: a record whose (stream, seq) was seen before is a copy. An identical one is what at-least-once
 * delivery leaves (a collector's retries) and is folded silently; a different one is another version of the
 * record — shown, and broken, rather than dropped unseen. The hashes of the records seen are kept for the last
 * MAX_PER_STREAM seqs of each stream (memory stays bounded however long tail runs); a copy of an older seq, or of
 * one read before following began and not shown, cannot be compared and is only said.
 */
import { canonicalFromOtlp } from '../chain/canonical.js';
import { hashCanonical } from '../chain/hash.js';
import type { OtlpLogRecord } from '../otlp/types.js';
import type { AuditRecord } from './audit-record.js';

const MAX_PER_STREAM = 4096;

/** A record's hash (canonical form v1), or null when it has no canonical form. */
export function hashOrNull(record: OtlpLogRecord): string | null {
  try {
    return hashCanonical(canonicalFromOtlp(record));
  } catch {
    return null;
  }
}

const hashOf = (r: AuditRecord): string | null => hashOrNull(r.record);

export class CopyCheck {
  private readonly hashes = new Map<string, Map<number, string | null>>();

  /** Keeps the hash of a record seen (its first copy). */
  remember(r: AuditRecord): void {
    let m = this.hashes.get(r.streamId);
    if (m === undefined) this.hashes.set(r.streamId, (m = new Map()));
    m.set(r.sequence, hashOf(r));
    if (m.size > MAX_PER_STREAM) m.delete(m.keys().next().value!);
  }

  /** A copy of a record seen before: `identical`, `different`, or `unknown` (its first copy's hash is not kept). */
  compare(r: AuditRecord): 'identical' | 'different' | 'unknown' {
    const first = this.hashes.get(r.streamId)?.get(r.sequence);
    if (first === undefined) return 'unknown';
    const h = hashOf(r);
    return h !== null && h === first ? 'identical' : 'different';
  }
}
