/**
 * Signed checkpoints (docs/integrity.md §5).
 *
 * A checkpoint is an ordinary audit record of the stream — it gets its own sequence number and chain link —
 * that names the record just before it (`audit.checkpoint.sequence` = its own number − 1,
 * `audit.checkpoint.head_hash` = that record's hash, which is also its own previous_hash) and carries an Ed25519
 * signature (`audit.integrity.*`, algorithm `EdDSA`) over its canonical form. A valid checkpoint at seq k
 * therefore proves records 1..k-1 (their hashes chain to head_hash) and itself, to anyone holding the public
 * key, even against an attacker who can recompute every hash.
 *
 * The producer emits one after every `everyRecords` other records, after `everyMillis` when records were
 * sealed since the last one, and at shutdown (docs/integrity.md §5.4); `audit.checkpoint.interval_records`
 * declares `everyRecords`, so a verifier can tell a removed checkpoint from one not yet due.
 */
import { EVENT_CHECKPOINT, SYSTEM_ACTOR_ID, systemRecordAttributes } from '../core/attributes.js';

export { EVENT_CHECKPOINT };
/** Every attribute under this prefix marks a record as a checkpoint (docs/integrity.md §5.1). */
export const CHECKPOINT_PREFIX = 'audit.checkpoint.';
/** Stream id the checkpoint certifies; must equal the record's own audit.sequence.stream_id. */
export const ATTR_CHECKPOINT_STREAM_ID = 'audit.checkpoint.stream_id';
/** The seq the checkpoint covers (the record before the checkpoint). */
export const ATTR_CHECKPOINT_SEQUENCE = 'audit.checkpoint.sequence';
/** Hash of that record. */
export const ATTR_CHECKPOINT_HEAD_HASH = 'audit.checkpoint.head_hash';
/** Optional: the producer checkpoints at least after this many other records (its `everyRecords`). */
export const ATTR_CHECKPOINT_INTERVAL = 'audit.checkpoint.interval_records';

export const CHECKPOINT_ACTOR_ID = SYSTEM_ACTOR_ID;
export const CHECKPOINT_ACTION = 'CHECKPOINT';

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Attributes (besides the usual chain stamps, which the processor adds) of a checkpoint record covering
 * `coveredSeq`/`headHash` — the last record sealed before it. `intervalRecords`, when the producer
 * checkpoints every N records, is N (enables the verifier's missing-checkpoint rule).
 */
export function checkpointAttributes(
  streamId: string,
  coveredSeq: number,
  headHash: string,
  intervalRecords?: number,
): Record<string, string | number | boolean> {
  if (typeof streamId !== 'string' || streamId === '') throw new TypeError('checkpointAttributes: streamId must be a non-empty string');
  if (!Number.isSafeInteger(coveredSeq) || coveredSeq < 1) throw new TypeError(`checkpointAttributes: coveredSeq ${coveredSeq} is not a positive integer`);
  if (!HEX64.test(headHash)) throw new TypeError('checkpointAttributes: headHash must be 64 lowercase hex digits');
  const attrs: Record<string, string | number | boolean> = {
    ...systemRecordAttributes(CHECKPOINT_ACTION),
    [ATTR_CHECKPOINT_STREAM_ID]: streamId,
    [ATTR_CHECKPOINT_SEQUENCE]: coveredSeq,
    [ATTR_CHECKPOINT_HEAD_HASH]: headHash,
  };
  if (intervalRecords !== undefined) {
    if (!Number.isSafeInteger(intervalRecords) || intervalRecords < 1) {
      throw new TypeError(`checkpointAttributes: intervalRecords ${intervalRecords} is not a positive integer`);
    }
    attrs[ATTR_CHECKPOINT_INTERVAL] = intervalRecords;
  }
  return attrs;
}

export interface CheckpointPolicy {
  /** A checkpoint after this many other records (>= 1). */
  everyRecords: number;
  /** And after this many milliseconds when a record was sealed since the last checkpoint (0: never by time). */
  everyMillis: number;
}

export const DEFAULT_CHECKPOINT_POLICY: Readonly<CheckpointPolicy> = Object.freeze({ everyRecords: 1000, everyMillis: 60_000 });

/**
 * When to emit checkpoints. Counting rule the verifier relies on (docs/integrity.md §5.4): between two
 * consecutive checkpoints of a stream there are at most `everyRecords` other records, the stream end record
 * included.
 *
 *   after sealing an ordinary record:  if (schedule.recordSealed()) emit a checkpoint
 *   after sealing a checkpoint:        schedule.checkpointSealed()
 *   every `everyMillis`:               if (schedule.pending > 0) emit a checkpoint
 *   at shutdown:                       emit a checkpoint (or make the end record one), then the end record
 *
 * A checkpoint that is due must not be skipped: if one could not be emitted right after the Nth record (e.g.
 * under back-pressure), emit it before sealing the next ordinary record (`if (schedule.due) …`) — a verifier
 * given the public key reports an ordinary record at seq c + N + 1 as `truncated` (checkpoint_missing).
 */
export class CheckpointSchedule {
  private since = 0;
  readonly policy: Readonly<CheckpointPolicy>;

  constructor(policy: Partial<CheckpointPolicy> = {}) {
    const p = { ...DEFAULT_CHECKPOINT_POLICY, ...policy };
    if (!Number.isSafeInteger(p.everyRecords) || p.everyRecords < 1) throw new TypeError('CheckpointSchedule: everyRecords must be an integer >= 1');
    if (!Number.isFinite(p.everyMillis) || p.everyMillis < 0) throw new TypeError('CheckpointSchedule: everyMillis must be >= 0');
    this.policy = Object.freeze(p);
  }

  /** Counts an ordinary record; true when a checkpoint is due now. */
  recordSealed(): boolean {
    return ++this.since >= this.policy.everyRecords;
  }

  checkpointSealed(): void {
    this.since = 0;
  }

  /** Ordinary records sealed since the last checkpoint. */
  get pending(): number {
    return this.since;
  }

  /** A checkpoint is due: it must be sealed before the next ordinary record. */
  get due(): boolean {
    return this.since >= this.policy.everyRecords;
  }
}
