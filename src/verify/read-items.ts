/** What the reader yields: one small item per audit record, non-audit record or bad line (read-records.ts). */
import type { VerifyingKey } from '../integrity/keys.js';

/**
 * Outcome of a record's `audit.integrity.*` attributes (docs/integrity.md §4.3):
 * `ok` verifies under a trusted key; `bad` is malformed or does not verify; `unknown_key` names no trusted key;
 * `unchecked` when the verifier runs without keys.
 */
export interface SignatureCheck {
  status: 'ok' | 'bad' | 'unknown_key' | 'unchecked';
  /** `audit.integrity.algorithm` / `.key_id` as written ('' when missing or not a string). */
  algorithm: string;
  keyId: string;
  /** Why it is bad; '' otherwise. */
  detail: string;
  /** `ok`: which given key it verified under (integrity/keys.ts keyFingerprint). */
  signedBy?: string;
}

/**
 * A record that claims to be a checkpoint (event name `audit.checkpoint` or any `audit.checkpoint.*`
 * attribute), checked on its own (docs/integrity.md §5.2): `valid` — well-formed and signed with EdDSA by a
 * trusted key; `invalid` — malformed, unsigned, not EdDSA, or a signature that does not verify;
 * `unknown_key` — signed by a key not given; `unchecked` — no public key given.
 */
export interface CheckpointClaim {
  status: 'valid' | 'invalid' | 'unknown_key' | 'unchecked';
  /** audit.checkpoint.sequence and .head_hash when well-formed. */
  coveredSeq?: number;
  headHash?: string;
  /** audit.checkpoint.interval_records when present and well-formed. */
  interval?: number;
  keyId: string;
  detail: string;
  /** `valid`: which given key it verified under (integrity/keys.ts keyFingerprint). */
  signedBy?: string;
}

/** An audit record reduced to what the chain check needs. `line` is 1-based. */
export interface RecordItem {
  kind: 'record';
  file: string;
  line: number;
  streamId: string;
  seq: number;
  /** `audit.record.id`; '' when the attribute is missing or not a string (the hash check will notice). */
  recordId: string;
  /**
   * `audit.sequence.previous_hash` as written; a present but non-string value is given as its JSON text so
   * that it is "present" yet never matches a hash.
   */
  previousHash?: string;
  previousRecordId?: string;
  /** `audit.sequence.end` is `{"boolValue":true}`. */
  end: boolean;
  /** An end record that is the processor's end event (`audit.stream.end`), not an ordinary record marked so. */
  endEvent?: true;
  /** Lowercase hex SHA-256 of the record's canonical form v1. */
  hash: string;
  /** Absent when the record carries no `audit.integrity.*` attribute. */
  signature?: SignatureCheck;
  /**
   * The first `audit.integrity.*` attribute outside the five the producer writes (docs/integrity.md §4.1): that
   * family is outside the hash, so such an attribute was added after sealing (reported `modified`).
   */
  unhashed?: string;
  /** Present when the record claims to be a checkpoint. */
  checkpoint?: CheckpointClaim;
  /** `audit.sequence.previous_stream_id` (docs/integrity.md §6), with the optional last seq and hash. */
  previousStreamId?: string;
  previousStreamLast?: number;
  previousStreamHash?: string;
}

/** A record without `audit.sequence.stream_id`: not part of any chain, only counted. */
export interface NonAuditItem {
  kind: 'nonAudit';
  file: string;
  line: number;
}

/** A line (or one record of a line) that cannot be verified. */
export interface BadItem {
  kind: 'malformed' | 'torn';
  file: string;
  line: number;
  message: string;
  /** When only one record of the line is refused: its place, `resourceLogs[i].scopeLogs[j].logRecords[k]`. */
  record?: string;
}

export type ReadItem = RecordItem | NonAuditItem | BadItem;

/** What the reader checks besides the chain. */
export interface ReadOptions {
  /** Trusted keys: Ed25519 public keys and HMAC secrets. */
  keys?: readonly VerifyingKey[];
  /** Check record MACs/signatures (otherwise their status is `unchecked`). Default: when `keys` is non-empty. */
  checkSignatures?: boolean;
  /** Only checkpoint claims are wanted (a `--checkpoints` source): other records are skipped unparsed. */
  checkpointsOnly?: boolean;
  /** Use the fast path (default true); false reads every line through JSON.parse (tests compare the two). */
  fastPath?: boolean;
  /**
   * Follow `file` if it is a symbolic link (default true: a file named by the caller). The verifier passes
   * false for files it found inside an input directory, where links are never followed.
   */
  followSymlinks?: boolean;
}
