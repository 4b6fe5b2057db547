/**
 * Whether a record's stream verifies up to that record, from the verifier's report over the same inputs.
 *
 * Rule: a record at seq n of stream S is `verified` when no error-severity problem of S has a sequence number
 * <= n (a problem of S without one counts as at its start; a `modified` one of reason `both_links` counts as at
 * the seq before its own, which it may have changed as well); otherwise `broken`, naming the first such problem. This is the prefix of the stream that `verify` vouches for: every record before n is in the chain,
 * linked and unchanged. Info problems (duplicates, restarts, a retention cut) do not break it. What the chain
 * cannot vouch for on its own is the content of a stream's last record (no successor records its hash) —
 * that takes a signature or a checkpoint, hence the separate `checkpoint` verdict: with an Ed25519 key a
 * record is `covered` when a valid checkpoint certifies it (seq <= the stream's coveredThrough).
 *
 * A record past the last seq the verifier accepted, with no problem before it, is `unknown`: it was appended
 * after the verifier read the files (tail, or a search racing a writer). A stream that failed with none of its
 * problems listed (past the report's limit) has every record `broken`, naming no problem: the verifier vouches for no
 * prefix of it then.
 * A copy that an error problem names (its place and record id) is `broken` whatever seq it claims.
 *
 * Problems without a stream (a malformed or torn line) name no record: a record lost in such a line shows up
 * as a gap (`deleted`) in its own stream, which is where it breaks the chain.
 */
import { createHash } from 'node:crypto';
import type { OtlpLogRecord } from '../otlp/types.js';
import type { ProblemKind, ProblemReason, VerifyReport } from '../verify/verifier.js';
import { hashOrNull } from './copy-check.js';

export type ChainStatus = 'verified' | 'broken' | 'unknown';
/** `unchecked`: keys were given but no Ed25519 public key, so checkpoints could not be judged. */
export type CheckpointStatus = 'covered' | 'not_covered' | 'unchecked';

/** The first error problem of a stream at or before a record. */
export interface ChainProblemRef {
  kind: ProblemKind;
  seq: number;
  reason?: ProblemReason;
  recordId?: string;
  file?: string;
  line?: number;
}

export interface ChainVerdict {
  chain: ChainStatus;
  /** Set when `chain` is `broken`, unless none of the stream's problems is listed (past the report's limit). */
  problem?: ChainProblemRef;
  /** Set when keys were given (`--pubkey`, `--hmac-key-file`). */
  checkpoint?: CheckpointStatus;
  /**
   * `none_verified`: keys were given, and no record of the stream has a MAC/signature that verifies under them
   * (unsigned, or signed with another key): what a stream looks like after its signatures were stripped and
   * its hashes recomputed, so its chain vouches for nothing (verify's WARNING line).
   */
  signatures?: 'none_verified';
}

/** How checkpoints are judged: not at all (no keys), or with an Ed25519 key, or keys but none Ed25519. */
export type CheckpointMode = 'off' | 'checked' | 'unchecked';

/**
 * The verifier keeps a stream id (or record id) longer than this many characters as a bounded form (its prefix, length and
 * SHA-256 of the UTF-16 code units: verifier.ts `keep`, bound MAX_KEPT_STRING_CHARS); `reportedStreamKey`
 * mirrors it, for looking such a stream up. If that form ever changes, such streams read as `unknown`
 * rather than wrong.
 */
export const VERIFIER_KEPT_CHARS = 256;

export function reportedStreamKey(id: string): string {
  const digest = createHash('sha256').update(id, 'utf16le').digest('hex');
  return `${id.slice(0, VERIFIER_KEPT_CHARS)}…[${id.length} characters, sha256 ${digest}]`;
}

interface StreamState {
  firstError: ChainProblemRef | undefined;
  /** The first seq `firstError` leaves unverified: its own, or the one before it (reason `both_links`). */
  brokenFrom: number;
  /** Highest seq in the verified chain: a record past it was not seen by that run (appended since). */
  last: number;
  coveredThrough: number;
  noSignatureVerified: boolean;
  /** The stream failed, but none of its error problems is listed (past MAX_LISTED_PROBLEMS): no prefix is vouched for. */
  unlisted: boolean;
}

/** Where a record was read, and its id: an error problem located there names this very copy. */
export interface RecordPlace {
  file: string;
  line: number;
  recordId: string;
}

/** Per stream of a report: its first error problem and checkpoint coverage. Memory: one entry per stream. */
export class ChainIndex {
  private readonly streams = new Map<string, StreamState>();
  /**
   * Error problems that name a record (its id) at a place, by `file:line`. The verifier judges a copy whose
   * sequence number was changed at the seq it really has (chain-check.ts step 0): a forged copy that claims an
   * earlier, intact seq is reported at its own place, while search and tail, reading the seq it claims, called it
   * verified (found in review).
   */
  private readonly atPlace = new Map<string, { recordId: string; ref: ChainProblemRef }[]>();
  /** Copies judged `broken` because they are not the record verified (hashAt): the files changed meanwhile. */
  changed = 0;

  /**
   * `hashAt` (VerifyOptions.onChainHashes of the same run): a copy read afterwards is `verified` only when its hash is
   * that of the record verified, else `broken` (modified): the file changed since the verifier read it.
   */
  constructor(
    report: VerifyReport,
    private readonly checkpoints: CheckpointMode,
    private hashAt?: (streamId: string, seq: number) => string | undefined,
  ) {
    for (const s of report.streams) {
      this.streams.set(s.streamId, { firstError: undefined, brokenFrom: Number.POSITIVE_INFINITY, last: s.last, coveredThrough: s.coveredThrough, noSignatureVerified: s.signatures.verified === false, unlisted: false });
    }
    for (const p of report.problems) {
      if (p.severity !== 'error' || p.stream === undefined) continue;
      const st = this.streams.get(p.stream);
      if (st === undefined) continue; // e.g. a stream known only from checkpoint evidence: no record to mark
      const seq = p.seq ?? 0;
      const ref: ChainProblemRef = { kind: p.kind, seq };
      if (p.reason !== undefined) ref.reason = p.reason;
      if (p.recordId !== undefined) ref.recordId = p.recordId;
      if (p.file !== undefined) ref.file = p.file;
      if (p.line !== undefined) ref.line = p.line;
      if (p.recordId !== undefined && p.file !== undefined && p.line !== undefined) {
        const key = `${p.file}:${p.line}`;
        const here = this.atPlace.get(key);
        if (here === undefined) this.atPlace.set(key, [{ recordId: p.recordId, ref }]);
        else here.push({ recordId: p.recordId, ref });
      }
      // Both links of the record broken: the one before it may have been changed too (its successor no longer
      // records its hash), so the chain vouches for nothing from there.
      const from = p.reason === 'both_links' ? Math.max(0, seq - 1) : seq;
      if (from >= st.brokenFrom) continue;
      st.brokenFrom = from;
      st.firstError = ref;
    }
    // Past the listing limit the problems left are counted per kind, with no stream (found in review: all of a
    // failed stream's records then read as verified). A failed stream's first error may be among them even when a
    // later one is listed (its checks report in their own order, not by seq: found in review of the first fix), so
    // once any error went unlisted no failed stream is vouched for from its start.
    const unlistedErrors = report.problems.some((p) => (p.omitted?.errors ?? 0) > 0);
    for (const s of report.streams) {
      const st = this.streams.get(s.streamId)!;
      if (s.ok) continue;
      if (st.firstError === undefined) st.unlisted = true;
      else if (unlistedErrors) st.brokenFrom = 0;
    }
  }

  /** Drops `hashAt` (and the verifier's records it holds): verdicts from here on are not bound to content. */
  releaseHashes(): void {
    this.hashAt = undefined;
  }

  /**
   * Did the verifier find an integrity error in the stream? Only then can two copies of one of its records differ
   * (in an intact stream every copy is the record verified).
   */
  troubled(streamId: string): boolean {
    const st = this.streams.get(this.streamKey(streamId));
    return st === undefined || st.unlisted || st.firstError !== undefined;
  }

  /** The stream's key here: ids longer than the verifier keeps are reported in its bounded form. */
  private streamKey(streamId: string): string {
    return streamId.length > VERIFIER_KEPT_CHARS && !this.streams.has(streamId) ? reportedStreamKey(streamId) : streamId;
  }

  /**
   * `at`: where this copy was read, and its id, so that a problem naming this very copy is found (see atPlace); with
   * its record, its content is bound to what was verified (see hashAt).
   */
  verdict(streamId: string, seq: number, at?: RecordPlace & { record?: OtlpLogRecord }): ChainVerdict {
    const key = this.streamKey(streamId);
    const st = this.streams.get(key);
    const v: ChainVerdict = { chain: 'unknown' };
    // Record ids longer than the verifier keeps are reported in its bounded form, as stream ids are.
    const id = at === undefined ? '' : at.recordId.length > VERIFIER_KEPT_CHARS ? reportedStreamKey(at.recordId) : at.recordId;
    const named = at === undefined ? undefined : this.atPlace.get(`${at.file}:${at.line}`)?.find((e) => e.recordId === id);
    if (named !== undefined) {
      v.chain = 'broken';
      v.problem = named.ref;
    } else if (st?.unlisted === true) {
      v.chain = 'broken'; // no problem to name: none of the stream's is listed
    } else if (st !== undefined) {
      if (st.firstError !== undefined && st.brokenFrom <= seq) {
        v.chain = 'broken';
        v.problem = st.firstError;
      } else if (seq <= st.last) v.chain = 'verified';
    }
    if (v.chain === 'verified' && this.hashAt !== undefined && at?.record !== undefined && hashOrNull(at.record) !== this.hashAt(key, seq)) {
      v.chain = 'broken';
      v.problem = { kind: 'modified', seq };
      this.changed++;
    }
    if (st?.noSignatureVerified === true) v.signatures = 'none_verified';
    if (this.checkpoints === 'checked') v.checkpoint = st !== undefined && v.chain === 'verified' && seq <= st.coveredThrough ? 'covered' : 'not_covered';
    else if (this.checkpoints === 'unchecked') v.checkpoint = 'unchecked';
    return v;
  }
}
