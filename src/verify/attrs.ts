/**
 * The attributes the verifier reads from one record (`interestingKey` in fast-otlp.ts), filled by either reader
 * path: the fast path (fast-otlp.ts) as it matches a record, the reference path from the parsed record.
 */
import { CHECKPOINT_PREFIX, EVENT_CHECKPOINT } from '../integrity/checkpoint.js';
import { ATTR_INTEGRITY_KEY_ID } from '../integrity/sign.js';
import { ATTR_SEQ_PREVIOUS_STREAM_HASH, ATTR_SEQ_PREVIOUS_STREAM_ID, ATTR_SEQ_PREVIOUS_STREAM_LAST } from '../integrity/stream-link.js';
import {
  ATTR_INTEGRITY_ALGORITHM,
  ATTR_INTEGRITY_CANONICALIZATION,
  ATTR_INTEGRITY_SIGNER,
  ATTR_INTEGRITY_VALUE,
  ATTR_RECORD_ID,
  ATTR_SEQ_END,
  ATTR_SEQ_NUMBER,
  ATTR_SEQ_PREVIOUS_HASH,
  ATTR_SEQ_PREVIOUS_RECORD_ID,
  ATTR_SEQ_STREAM_ID,
  INTEGRITY_PREFIX,
} from '../core/attributes.js';
import type { OtlpAnyValue } from '../otlp/types.js';

/** The attributes the verifier reads, from either path. Last one wins, like the chain attributes always did. */
export class Attrs {
  // Every field initialized, in one order: one hidden class for all instances.
  streamId: OtlpAnyValue | undefined = undefined;
  seq: OtlpAnyValue | undefined = undefined;
  previousHash: OtlpAnyValue | undefined = undefined;
  previousRecordId: OtlpAnyValue | undefined = undefined;
  recordId: OtlpAnyValue | undefined = undefined;
  end: OtlpAnyValue | undefined = undefined;
  previousStreamId: OtlpAnyValue | undefined = undefined;
  previousStreamLast: OtlpAnyValue | undefined = undefined;
  previousStreamHash: OtlpAnyValue | undefined = undefined;
  /** Some audit.integrity.* attribute is present. */
  signed = false;
  integrityValue: OtlpAnyValue | undefined = undefined;
  integritySigner: OtlpAnyValue | undefined = undefined;
  integrityCanonicalization: OtlpAnyValue | undefined = undefined;
  integrityAlgorithm: OtlpAnyValue | undefined = undefined;
  integrityKeyId: OtlpAnyValue | undefined = undefined;
  /** audit.checkpoint.* members; undefined when none. */
  checkpoint: Map<string, OtlpAnyValue> | undefined = undefined;
  /** A key of the audit.integrity or audit.checkpoint family given twice: ambiguous, so never valid. */
  duplicate: string | undefined = undefined;
  /** The first audit.integrity.* key outside the five the producer writes (docs/integrity.md §4.1). */
  unhashed: string | undefined = undefined;

  note(key: string, v: OtlpAnyValue): void {
    switch (key) {
      case ATTR_SEQ_STREAM_ID: this.streamId = v; return;
      case ATTR_SEQ_NUMBER: this.seq = v; return;
      case ATTR_SEQ_PREVIOUS_HASH: this.previousHash = v; return;
      case ATTR_SEQ_PREVIOUS_RECORD_ID: this.previousRecordId = v; return;
      case ATTR_RECORD_ID: this.recordId = v; return;
      case ATTR_SEQ_END: this.end = v; return;
      case ATTR_SEQ_PREVIOUS_STREAM_ID: this.previousStreamId = v; return;
      case ATTR_SEQ_PREVIOUS_STREAM_LAST: this.previousStreamLast = v; return;
      case ATTR_SEQ_PREVIOUS_STREAM_HASH: this.previousStreamHash = v; return;
      case ATTR_INTEGRITY_VALUE: this.signed = true; if (this.integrityValue !== undefined) this.duplicate ??= key; this.integrityValue = v; return;
      case ATTR_INTEGRITY_SIGNER: this.signed = true; if (this.integritySigner !== undefined) this.duplicate ??= key; this.integritySigner = v; return;
      case ATTR_INTEGRITY_CANONICALIZATION: this.signed = true; if (this.integrityCanonicalization !== undefined) this.duplicate ??= key; this.integrityCanonicalization = v; return;
      case ATTR_INTEGRITY_ALGORITHM: this.signed = true; if (this.integrityAlgorithm !== undefined) this.duplicate ??= key; this.integrityAlgorithm = v; return;
      case ATTR_INTEGRITY_KEY_ID: this.signed = true; if (this.integrityKeyId !== undefined) this.duplicate ??= key; this.integrityKeyId = v; return;
    }
    if (key.startsWith(INTEGRITY_PREFIX)) {
      // Not one the producer writes, and outside the hash like every audit.integrity.* key: nothing vouches for it.
      this.signed = true;
      this.unhashed ??= key;
      return;
    }
    if (!key.startsWith(CHECKPOINT_PREFIX)) return;
    const family = (this.checkpoint ??= new Map());
    if (family.has(key)) this.duplicate ??= key;
    family.set(key, v);
  }
}

/** Is this record a checkpoint claim (docs/integrity.md §5.1)? */
export const isCheckpointClaim = (a: Attrs, eventName: unknown): boolean => a.checkpoint !== undefined || eventName === EVENT_CHECKPOINT;
