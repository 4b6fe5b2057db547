/** What the report says of each stream (VerifyReport.streams). */

/** Per-record MAC/signature outcomes over a stream's chain records, checkpoints excluded. */
export interface SignatureCounts {
  valid: number;
  invalid: number;
  /** Signed with a key id that matches no given key. */
  unknownKey: number;
  /** Signed, but verify ran without keys. */
  unchecked: number;
  unsigned: number;
  /**
   * Present when the verifier was given keys: some record of the chain (checkpoints excluded) verified under
   * one of them. `false` is not a failure by itself — a producer without a record key writes unsigned
   * records — but every signature of the stream may have been stripped with the hashes recomputed: only
   * --require-signatures tells the two apart (docs/integrity.md §1, §8).
   */
  verified?: boolean;
}

/** Checkpoint records of a stream's chain by outcome. */
export interface CheckpointCounts {
  valid: number;
  invalid: number;
  unknownKey: number;
  /** No Ed25519 public key given. */
  unchecked: number;
}

/** `seq 7` or `seq 7–9`: sequence numbers as the verdicts and summaries print them. */
export const seqSpan = (first: number, last: number): string => (first === last ? `seq ${first}` : `seq ${first}–${last}`);

export interface StreamSummary {
  /** `audit.sequence.stream_id`; longer than MAX_KEPT_STRING_CHARS, its first characters, length and SHA-256. */
  streamId: string;
  /** Lowest and highest sequence number accepted into the chain (inserted records excluded). */
  first: number;
  last: number;
  /** Distinct records accepted into the chain (duplicates and inserted records not counted). */
  count: number;
  /** The chain ends with an `audit.sequence.end` record (a clean shutdown). Unended is not an error. */
  ended: boolean;
  /** Files holding any record of the stream, in reading order. */
  files: string[];
  /** No error-severity problem names this stream. */
  ok: boolean;
  /**
   * Highest seq proven by a valid checkpoint (0: none): records first…coveredThrough are covered — the chain
   * is intact up to there and a valid checkpoint certifies it — the ones after are not yet. Always 0 without a
   * public key.
   */
  coveredThrough: number;
  signatures: SignatureCounts;
  checkpoints: CheckpointCounts;
  /** `audit.sequence.previous_stream_id` of the stream's first record: the stream this one continues. */
  previousStreamId?: string;
}
