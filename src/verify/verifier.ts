/**
 * Chain verifier (ARCHITECTURE.md §7 `verify`; the algorithm is specified in docs/integrity.md §7): reads
 * OTLP/JSON lines files — the local journal (rotated sets too) or the Collector's output, where a stream may
 * be spread over many lines and files and repeated — groups the audit records by stream, checks each stream's
 * hash chain, per-record MACs/signatures and signed checkpoints, and links streams across restarts.
 *
 * Memory: files are streamed (safe-read.ts: lines of at most MAX_LINE_BYTES); per record only a fixed-size
 * tuple is kept, in typed arrays shared by all streams (seq, file, line, flags, signature status, row of the
 * stream's previous record, 32-byte hash, 16-byte UUID record id; previous hash and id only when they are not
 * those of that previous record): about 75 bytes, none of it JS objects. A stream adds its id and a Map
 * entry while reading, and its StreamSummary in the report: about 0.6 KB for a one-record stream in all,
 * measured at a million streams. Strings taken from the input are bounded (MAX_KEPT_STRING_CHARS).
 *
 * What the chain alone cannot prove: the content of the last record of a stream (ended or not) is not
 * covered by any successor's previous_hash, and removing the last records of an unended stream leaves a valid
 * shorter chain. Signatures and checkpoints (`bad_signature`, `truncated`) are for those cases.
 */
import { createHash } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { lstat, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { loadVerifyingKeys, type VerifyingKey } from '../integrity/keys.js';
import type { RetentionEntry } from '../sinks/retention.js';
import { scanRecords, type CheckpointClaim, type RecordItem, type SignatureCheck } from './read-records.js';
import { fileIdentity, fileKind, NotRegularFileError, openRegularFile, splitLines } from './safe-read.js';

export type ProblemKind =
  | 'modified'
  | 'deleted'
  | 'inserted'
  | 'reordered'
  | 'duplicate'
  | 'malformed'
  | 'torn'
  | 'truncated'
  | 'bad_signature'
  | 'restart';

/**
 * Finer classification of `bad_signature`, `truncated` and `restart` problems (docs/integrity.md §7.4):
 * - bad_signature: `invalid` (a record MAC/signature does not verify, or its audit.integrity.* attributes are
 *   malformed), `unknown_key` (signed with a key not given: info, error with --require-signatures),
 *   `unsigned` (no signature, with --require-signatures or where the rest of the stream is signed),
 *   `checkpoint_invalid` (forged or malformed checkpoint), `checkpoint_unknown_key` (checkpoint signed by a key
 *   not given);
 * - truncated: `records_missing` (a valid checkpoint proves records beyond the last one held),
 *   `head_mismatch` (a valid checkpoint certifies another hash for a record held: the chain was rewritten),
 *   `checkpoint_missing` (an ordinary record where the declared checkpoint interval requires a checkpoint),
 *   `previous_stream` (the next stream of the process saw records of this one that are not held);
 * - restart: `previous_missing` (the stream's predecessor is not among the inputs), `previous_unended` (it
 *   ends without an end record: the process stopped without shutting down).
 */
export type ProblemReason =
  | 'invalid'
  | 'unknown_key'
  | 'unsigned'
  | 'checkpoint_invalid'
  | 'checkpoint_unknown_key'
  | 'records_missing'
  | 'head_mismatch'
  | 'checkpoint_missing'
  | 'previous_stream'
  | 'previous_missing'
  | 'previous_unended';

/** `info` does not fail verification (an identical duplicate is what at-least-once delivery produces). */
export type Severity = 'error' | 'info';

export interface Problem {
  kind: ProblemKind;
  severity: Severity;
  /** The stream id, bounded like StreamSummary.streamId (so are record ids). */
  stream?: string;
  /** For `deleted` and `truncated`, the first missing sequence number. */
  seq?: number;
  /** For a problem about a run of records (seq … through), the last sequence number. */
  through?: number;
  recordId?: string;
  /** Where the evidence is; for `deleted`, the record after the gap. */
  file?: string;
  /** 1-based line number in `file`. */
  line?: number;
  /** Machine-readable sub-kind for bad_signature, truncated and restart. */
  reason?: ProblemReason;
  message: string;
}

/** Per-record MAC/signature outcomes over a stream's chain records, checkpoints excluded. */
export interface SignatureCounts {
  valid: number;
  invalid: number;
  /** Signed with a key id that matches no given key. */
  unknownKey: number;
  /** Signed, but verify ran without keys. */
  unchecked: number;
  unsigned: number;
}

/** Checkpoint records of a stream's chain by outcome. */
export interface CheckpointCounts {
  valid: number;
  invalid: number;
  unknownKey: number;
  /** No Ed25519 public key given. */
  unchecked: number;
}

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

export interface VerifyReport {
  /** No problem with severity `error`. */
  ok: boolean;
  /** Files read. */
  files: number;
  /** Audit records read, every copy counted. */
  records: number;
  /** Records without `audit.sequence.stream_id`, ignored. */
  nonAudit: number;
  streams: StreamSummary[];
  problems: Problem[];
}

export interface VerifyOptions {
  /**
   * Do not report `reordered` (for inputs whose writer does not keep sequence order within a file). Order is
   * only ever checked within one file: across files it depends on how the files were named and rotated.
   */
  allowReorder?: boolean;
  /**
   * Trusted keys (loadVerifyingKeys): Ed25519 public keys verify EdDSA record signatures and checkpoints; HMAC
   * keys verify HMAC-SHA256 MACs. With at least one key, record signatures are checked; with an Ed25519 key,
   * checkpoints too.
   */
  pubkeys?: readonly VerifyingKey[];
  /** HMAC secrets, in the OTEL_AUDIT_HMAC_KEY notation (`base64:…`, `hex:…` or raw text, >= 32 bytes). */
  hmacSecrets?: readonly string[];
  /** Every record must carry a MAC/signature that verifies under a given key (unsigned or unknown key: error). */
  requireSignatures?: boolean;
  /**
   * More files or directories whose valid checkpoints count as evidence for the streams verified (e.g. the
   * collector's copy when verifying the local journal): their other records are not read or verified.
   * Needs an Ed25519 key in `pubkeys`.
   */
  checkpointSources?: readonly string[];
  /**
   * Told about each entry of an input directory that is not read: a symbolic link (never followed inside a
   * directory) or a `*.jsonl`/`*.json` entry that is not a regular file (a FIFO, socket or device), and a
   * `state/retention.log` that is not a regular file. Skipping is not a finding; the command prints a note.
   */
  onSkip?: SkipListener;
}

export type SkipListener = (path: string, reason: string) => void;

/** A file to read; `follow` when it was named by the caller, `id` its device and inode. */
interface InputFile {
  path: string;
  follow: boolean;
  id: string;
}

/**
 * Most problems one report lists. Past it, problems are counted by kind and each kind with omitted ones gets
 * one closing problem saying how many ("… more malformed problems not listed"), with the severity of the
 * worst omitted one, so `ok` and the exit status stay exact. Without a bound, a 10 MB file of junk lines
 * (five million `malformed`) needed more than 1 GiB.
 */
export const MAX_LISTED_PROBLEMS = 100_000;

/** The report's problems, listed up to MAX_LISTED_PROBLEMS and counted beyond. */
class ProblemList {
  readonly listed: Problem[] = [];
  private readonly omitted = new Map<ProblemKind, { count: number; errors: number }>();

  /** How many more can be listed. */
  room(): number {
    return MAX_LISTED_PROBLEMS - this.listed.length;
  }

  add(p: Problem): void {
    if (this.listed.length < MAX_LISTED_PROBLEMS) this.listed.push(p);
    else this.omit(p);
  }

  omit(p: Problem): void {
    let o = this.omitted.get(p.kind);
    if (o === undefined) this.omitted.set(p.kind, (o = { count: 0, errors: 0 }));
    o.count++;
    if (p.severity === 'error') o.errors++;
  }

  /** The listed problems, then one per kind that had problems omitted. */
  finish(): Problem[] {
    for (const [kind, o] of this.omitted) {
      this.listed.push({
        kind,
        severity: o.errors > 0 ? 'error' : 'info',
        message: `${o.count} more ${kind} problem${o.count === 1 ? '' : 's'} not listed (a report lists at most ${MAX_LISTED_PROBLEMS})`,
      });
    }
    return this.listed;
  }
}

/** A path that cannot be read: a usage or I/O error, not an integrity finding. */
export class VerifyInputError extends Error {
  override name = 'VerifyInputError';
}

const INPUT_EXTENSIONS = ['.jsonl', '.json'];
/** Where the journal sets aside torn or corrupt files; they were already reported when set aside. */
const QUARANTINE_DIR = 'quarantine';

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));
/** A message quoting input stays one short line, whatever the input. */
const clip = (text: string): string => (text.length <= 300 ? text : `${text.slice(0, 300)}…`);
const byName = (a: Dirent, b: Dirent): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * Expands paths into the files to read. A path named by the caller is followed if it is a symbolic link (the
 * user chose it, like `find -H`); it must then be a regular file (taken whatever its extension) or a
 * directory. A directory is walked recursively for regular `*.jsonl`/`*.json` files, entries sorted by name
 * so rotated sets are read in order; inside it, symbolic links (to files or directories) are never
 * followed, and FIFOs, sockets and devices are never opened: both are skipped and passed to `onSkip`. The
 * same file reached twice (same device and inode) is read once, else every record would look duplicated.
 */
async function listInputs(paths: readonly string[], onSkip: SkipListener): Promise<InputFile[]> {
  const out: InputFile[] = [];
  const seen = new Set<string>();
  const seenDirs = new Set<string>();
  const walk = async (dir: string, id: string): Promise<void> => {
    if (seenDirs.has(id)) return; // named twice, or a bind-mount loop
    seenDirs.add(id);
    // Dirent types come from lstat (d_type), so a link is seen as a link, never as what it points to.
    const entries = (await readdir(dir, { withFileTypes: true })).sort(byName);
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isSymbolicLink()) {
        onSkip(p, 'symbolic link inside an input directory, not followed');
        continue;
      }
      if (e.isDirectory()) {
        if (e.name === QUARANTINE_DIR) continue;
        const st = await lstat(p, { bigint: true });
        if (st.isDirectory()) await walk(p, fileIdentity(st));
        continue;
      }
      if (!INPUT_EXTENSIONS.some((x) => e.name.endsWith(x))) continue;
      if (!e.isFile()) {
        onSkip(p, `${fileKind(e)}, not a regular file`);
        continue;
      }
      const st = await lstat(p, { bigint: true });
      if (!st.isFile()) continue; // replaced since readdir; opening with O_NOFOLLOW would refuse it anyway
      const fid = fileIdentity(st);
      if (seen.has(fid)) continue;
      seen.add(fid);
      out.push({ path: p, follow: false, id: fid });
    }
  };
  for (const p of paths) {
    try {
      const st = await stat(p, { bigint: true });
      const fid = fileIdentity(st);
      if (st.isDirectory()) await walk(p, fid);
      else if (!st.isFile()) throw new NotRegularFileError(`is a ${fileKind(st)}, not a regular file or directory`);
      else if (!seen.has(fid)) {
        seen.add(fid);
        out.push({ path: p, follow: true, id: fid });
      }
    } catch (e) {
      throw new VerifyInputError(`${p}: ${errorText(e)}`, { cause: e });
    }
  }
  return out;
}

/** The files `verifyFiles` would read for `paths` (see VerifyOptions.onSkip for what is left out). */
export async function listInputFiles(paths: readonly string[]): Promise<string[]> {
  return (await listInputs(paths, () => undefined)).map((f) => f.path);
}

// ---------------------------------------------------------------------------------------------------------
// Record storage: one set of columns for every record of every stream, and no object and no string per
// record (a record id in UUID form is 16 bytes in a buffer). A stream is only the row of its last record
// and its record count; its rows are chained through `pred`. So a stream costs its id and a Map entry,
// about 130 bytes beside its records (about 75 bytes each), however many streams there are: with one set
// of typed arrays per stream, a million one-record streams once took 8.8 KB each.

const HASH_BYTES = 32;
const ID_BYTES = 16;
/** No row: `pred` of a stream's first record. */
const NONE = 0xffffffff;
const F_END = 1;
/** Read after a record of the same stream with a higher seq, in the same file (set by checkStream). */
const F_OUT_OF_ORDER = 2;
const F_HAS_PREV = 4;
/** previous_hash is 64 lowercase hex digits, so it can match a hash at all. */
const F_PREV_HEX = 8;
/** Lost a same-seq conflict (reported inserted/modified); not also reported as reordered. */
const F_REJECTED = 16;
/** The record id / previous record id is a lowercase UUID stored in `ids` / `prevIds`. */
const F_ID_UUID = 32;
const F_PREV_ID_UUID = 64;
const F_HAS_PREV_ID = 128;
/** Claims to be a checkpoint (details in `claims`). */
const F_CHECKPOINT = 256;
/**
 * previous_hash / previous_record_id equal the hash / record id of the stream's record read just before
 * (row `pred[i]`), so they are not stored: the usual case, a stream read in order.
 */
const F_PREV_IS_PRED = 512;
const F_PREV_ID_IS_PRED = 1024;
const HEX64 = /^[0-9a-f]{64}$/;

/** Signature status column values. */
const SIG_NONE = 0;
const SIG_OK = 1;
const SIG_BAD = 2;
const SIG_UNKNOWN = 3;
const SIG_UNCHECKED = 4;
const SIG_CODE: Record<SignatureCheck['status'], number> = { ok: SIG_OK, bad: SIG_BAD, unknown_key: SIG_UNKNOWN, unchecked: SIG_UNCHECKED };

/** A V8 string sliced out of a line keeps the whole line alive: stored strings are copied flat. */
const own = (s: string): string => (s.length < 13 ? s : (' ' + s).slice(1));

/**
 * Longest string from the input (stream id, record id, key id, detail) that the verifier keeps verbatim, in
 * UTF-16 code units. A longer one is kept as its first MAX_KEPT_STRING_CHARS characters, its length and its
 * SHA-256: longer than any verbatim string, so the two never compare equal, and two long strings compare
 * equal only when they are. Without this bound, memory per record would grow with the ids an input carries.
 */
export const MAX_KEPT_STRING_CHARS = 256;

function keep(s: string): string {
  if (s.length <= MAX_KEPT_STRING_CHARS) return own(s);
  const digest = createHash('sha256').update(s, 'utf16le').digest('hex');
  return `${s.slice(0, MAX_KEPT_STRING_CHARS)}…[${s.length} characters, sha256 ${digest}]`;
}

/** The key a stream is grouped and reported by: its id, bounded like every kept string. */
const streamKey = (id: string): string => (id.length <= MAX_KEPT_STRING_CHARS ? id : keep(id));

const HEX_VALUE = new Int8Array(128).fill(-1);
for (let c = 0; c < 10; c++) HEX_VALUE[48 + c] = c;
for (let c = 0; c < 6; c++) HEX_VALUE[97 + c] = 10 + c;

/** Writes a lowercase UUID's 16 bytes; false (nothing meaningful written) when `id` is not one. */
function writeUuid(buf: Buffer, at: number, id: string): boolean {
  if (id.length !== 36) return false;
  let j = at;
  for (let p = 0; p < 36; p += 2) {
    if (p === 8 || p === 13 || p === 18 || p === 23) {
      if (id.charCodeAt(p) !== 45) return false;
      p--;
      continue;
    }
    const hi = HEX_VALUE[id.charCodeAt(p)] ?? -1;
    const lo = HEX_VALUE[id.charCodeAt(p + 1)] ?? -1;
    if ((hi | lo) < 0) return false;
    buf[j++] = (hi << 4) | lo;
  }
  return true;
}

function readUuid(buf: Buffer, at: number): string {
  const h = buf.toString('hex', at, at + ID_BYTES);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Where a record of the restart link was found, and what it says (docs/integrity.md §6). */
interface StreamLink {
  index: number;
  previousStreamId: string;
  previousStreamLast?: number;
  previousStreamHash?: string;
}

/** Scratch space for comparing a record's links with its predecessor's hash and id before storing them. */
const SCRATCH_HASH = Buffer.alloc(HASH_BYTES);
const SCRATCH_ID = Buffer.alloc(ID_BYTES);

class RecordStore {
  length = 0;
  seq = new Float64Array(1024);
  file = new Uint32Array(1024);
  line = new Uint32Array(1024);
  flags = new Uint16Array(1024);
  sig = new Uint8Array(1024);
  /** Index into `keyIds` of the record's audit.integrity.key_id (0: none). */
  sigKey = new Uint32Array(1024);
  /** Row of the previous record read of the same stream; NONE for its first. */
  pred = new Uint32Array(1024);
  hashes = Buffer.alloc(1024 * HASH_BYTES);
  /** Allocated when first needed: streams read in order never need them (F_PREV_IS_PRED). */
  private prevHashCol: Buffer<ArrayBuffer> | undefined;
  ids = Buffer.alloc(1024 * ID_BYTES);
  private prevIdCol: Buffer<ArrayBuffer> | undefined;
  /** Record ids and previous record ids that are not lowercase UUIDs, by row. */
  otherIds = new Map<number, string>();
  otherPrevIds = new Map<number, string>();
  /** Why a signature is bad, per row with SIG_BAD. */
  sigDetail = new Map<number, string>();
  keyIds: string[] = [''];
  private keyIndex = new Map<string, number>([['', 0]]);
  claims = new Map<number, CheckpointClaim>();
  /** Restart links of seq-1 records (the only ones judged), by row. */
  links = new Map<number, StreamLink>();

  /** Stream key → stream number; per stream number, its last row and its record count. */
  readonly streams = new Map<string, number>();
  private tail = new Uint32Array(1024);
  private count = new Uint32Array(1024);
  /** The row pushed last, with its hash and record id as read (references into the current item only). */
  private lastRow = NONE;
  private lastHash = '';
  private lastRecordId = '';

  push(r: RecordItem, fileIndex: number): void {
    const key = streamKey(r.streamId);
    let k = this.streams.get(key);
    if (k === undefined) {
      k = this.streams.size;
      if (k === this.tail.length) {
        this.tail = widen(this.tail, 2 * k, (n) => new Uint32Array(n));
        this.count = widen(this.count, 2 * k, (n) => new Uint32Array(n));
      }
      this.streams.set(own(key), k);
      this.tail[k] = NONE;
    }
    if (this.length === this.seq.length) this.grow();
    const i = this.length++;
    const pred = this.tail[k]!;
    this.tail[k] = i;
    this.count[k]!++;
    this.pred[i] = pred;
    this.seq[i] = r.seq;
    this.file[i] = fileIndex;
    this.line[i] = r.line;
    let flags = r.end ? F_END : 0;
    this.hashes.write(r.hash, i * HASH_BYTES, 'hex');
    // The usual case, a stream read in order with nothing between: the predecessor is the row pushed just
    // before, whose hash and id are still at hand as strings, so the links compare as strings.
    const predIsLast = pred !== NONE && pred === this.lastRow;
    const prevHash = r.previousHash;
    if (prevHash !== undefined) {
      flags |= F_HAS_PREV;
      if (predIsLast && prevHash === this.lastHash) flags |= F_PREV_HEX | F_PREV_IS_PRED;
      else if (HEX64.test(prevHash)) {
        flags |= F_PREV_HEX;
        SCRATCH_HASH.write(prevHash, 0, 'hex');
        if (pred !== NONE && SCRATCH_HASH.compare(this.hashes, pred * HASH_BYTES, (pred + 1) * HASH_BYTES) === 0) flags |= F_PREV_IS_PRED;
        else SCRATCH_HASH.copy(this.prevHashes(), i * HASH_BYTES);
      }
    }
    const id = r.recordId;
    if (writeUuid(this.ids, i * ID_BYTES, id)) flags |= F_ID_UUID;
    else if (id !== '') this.otherIds.set(i, keep(id));
    const prevId = r.previousRecordId;
    if (prevId !== undefined) {
      flags |= F_HAS_PREV_ID;
      if (predIsLast && prevId === this.lastRecordId) flags |= F_PREV_ID_IS_PRED;
      else if (writeUuid(SCRATCH_ID, 0, prevId)) {
        const predUuid = pred !== NONE && (this.flags[pred]! & F_ID_UUID) !== 0;
        if (predUuid && SCRATCH_ID.compare(this.ids, pred * ID_BYTES, (pred + 1) * ID_BYTES) === 0) flags |= F_PREV_ID_IS_PRED;
        else {
          SCRATCH_ID.copy(this.prevIds(), i * ID_BYTES);
          flags |= F_PREV_ID_UUID;
        }
      } else {
        const kept = keep(prevId);
        if (pred !== NONE && (this.flags[pred]! & F_ID_UUID) === 0 && kept === (this.otherIds.get(pred) ?? '')) flags |= F_PREV_ID_IS_PRED;
        else this.otherPrevIds.set(i, kept);
      }
    }
    const sig = r.signature;
    if (sig !== undefined) {
      this.sig[i] = SIG_CODE[sig.status];
      const keyId = keep(sig.keyId);
      let ki = this.keyIndex.get(keyId);
      if (ki === undefined) {
        ki = this.keyIds.length;
        this.keyIds.push(keyId);
        this.keyIndex.set(keyId, ki);
      }
      this.sigKey[i] = ki;
      if (sig.status === 'bad') this.sigDetail.set(i, keep(sig.detail));
    } else this.sig[i] = SIG_NONE;
    if (r.checkpoint !== undefined) {
      flags |= F_CHECKPOINT;
      const c = r.checkpoint;
      this.claims.set(i, { ...c, keyId: keep(c.keyId), detail: keep(c.detail), ...(c.headHash === undefined ? {} : { headHash: own(c.headHash) }) });
    }
    if (r.previousStreamId !== undefined && r.seq === 1) {
      const link: StreamLink = { index: i, previousStreamId: own(streamKey(r.previousStreamId)) };
      if (r.previousStreamLast !== undefined) link.previousStreamLast = r.previousStreamLast;
      if (r.previousStreamHash !== undefined) link.previousStreamHash = keep(r.previousStreamHash);
      this.links.set(i, link);
    }
    this.flags[i] = flags;
    this.lastRow = i;
    this.lastHash = r.hash;
    this.lastRecordId = id;
  }

  /** Rows of stream `k`, in reading order (ascending). */
  rowsOf(k: number): Uint32Array {
    const rows = new Uint32Array(this.count[k]!);
    let p = rows.length;
    for (let i = this.tail[k]!; i !== NONE; i = this.pred[i]!) rows[--p] = i;
    return rows;
  }

  has(i: number, flag: number): boolean {
    return (this.flags[i]! & flag) !== 0;
  }

  private prevHashes(): Buffer<ArrayBuffer> {
    return (this.prevHashCol ??= Buffer.alloc(this.seq.length * HASH_BYTES));
  }

  private prevIds(): Buffer<ArrayBuffer> {
    return (this.prevIdCol ??= Buffer.alloc(this.seq.length * ID_BYTES));
  }

  /** `audit.record.id`; '' when missing. */
  recordId(i: number): string {
    return this.has(i, F_ID_UUID) ? readUuid(this.ids, i * ID_BYTES) : (this.otherIds.get(i) ?? '');
  }

  /** `audit.sequence.previous_record_id`; undefined when absent. */
  prevRecordId(i: number): string | undefined {
    if (!this.has(i, F_HAS_PREV_ID)) return undefined;
    if (this.has(i, F_PREV_ID_IS_PRED)) return this.recordId(this.pred[i]!);
    return this.has(i, F_PREV_ID_UUID) ? readUuid(this.prevIds(), i * ID_BYTES) : this.otherPrevIds.get(i)!;
  }

  /** previous_hash as 64 hex digits; only meaningful with F_PREV_HEX. */
  prevHashHex(i: number): string {
    if (this.has(i, F_PREV_IS_PRED)) return this.hashHex(this.pred[i]!);
    return this.prevHashes().toString('hex', i * HASH_BYTES, (i + 1) * HASH_BYTES);
  }

  hashHex(i: number): string {
    return this.hashes.toString('hex', i * HASH_BYTES, (i + 1) * HASH_BYTES);
  }

  /** `next`'s previous_hash is `prev`'s hash. */
  linked(prev: number, next: number): boolean {
    if (!this.has(next, F_PREV_HEX)) return false;
    if (this.has(next, F_PREV_IS_PRED)) {
      const p = this.pred[next]!;
      return prev === p || this.sameHash(prev, p);
    }
    return this.hashes.compare(this.prevHashes(), next * HASH_BYTES, (next + 1) * HASH_BYTES, prev * HASH_BYTES, (prev + 1) * HASH_BYTES) === 0;
  }

  sameHash(a: number, b: number): boolean {
    return this.hashes.compare(this.hashes, b * HASH_BYTES, (b + 1) * HASH_BYTES, a * HASH_BYTES, (a + 1) * HASH_BYTES) === 0;
  }

  private grow(): void {
    const n = this.seq.length * 2;
    this.seq = widen(this.seq, n, (k) => new Float64Array(k));
    this.file = widen(this.file, n, (k) => new Uint32Array(k));
    this.line = widen(this.line, n, (k) => new Uint32Array(k));
    this.flags = widen(this.flags, n, (k) => new Uint16Array(k));
    this.sig = widen(this.sig, n, (k) => new Uint8Array(k));
    this.sigKey = widen(this.sigKey, n, (k) => new Uint32Array(k));
    this.pred = widen(this.pred, n, (k) => new Uint32Array(k));
    const grown = (b: Buffer, width: number): Buffer<ArrayBuffer> => {
      const c = Buffer.alloc(n * width);
      b.copy(c);
      return c;
    };
    this.hashes = grown(this.hashes, HASH_BYTES);
    if (this.prevHashCol !== undefined) this.prevHashCol = grown(this.prevHashCol, HASH_BYTES);
    this.ids = grown(this.ids, ID_BYTES);
    if (this.prevIdCol !== undefined) this.prevIdCol = grown(this.prevIdCol, ID_BYTES);
  }
}

function widen<T extends Float64Array | Uint32Array | Uint16Array | Uint8Array>(a: T, n: number, make: (n: number) => T): T {
  const b = make(n);
  b.set(a);
  return b;
}

// ---------------------------------------------------------------------------------------------------------
// Per-stream analysis

interface StreamContext {
  fileNames: readonly string[];
  allowReorder: boolean;
  retained: readonly RetentionEntry[];
  integrity: IntegrityContext;
  /** Valid checkpoints of this stream found in `checkpointSources` (not in the inputs). */
  external: readonly ExternalCheckpoint[];
  /** Where the stream's problems go once checked; past its room they are only counted. */
  list: ProblemList;
}

/** What the cross-stream pass (restart links) needs of a checked stream. */
interface CheckedStream {
  summary: StreamSummary;
  /** The problems listed (the report may hold no room for all of them). */
  problems: Problem[];
  /** Index of the chain record with this seq, if held. */
  at(seq: number): number | undefined;
  records: RecordStore;
  /** The restart link on the stream's seq-1 record, if any. */
  link?: StreamLink;
}

/** File indexes holding the rows, ascending. */
function filesOf(s: RecordStore, rows: Uint32Array): number[] {
  const out: number[] = [];
  let last = -1;
  for (const i of rows) {
    const f = s.file[i]!;
    // Files are read in index order, so rows list them ascending: only a repeat of the last one is possible.
    if (f !== last) out.push((last = f));
  }
  return out;
}

/** Checks stream `streamId`, whose records are `rows` of `s` (in reading order). */
function checkStream(streamId: string, s: RecordStore, rows: Uint32Array, ctx: StreamContext): CheckedStream {
  const { fileNames, allowReorder, retained, list } = ctx;
  const problems: Problem[] = [];
  let anyError = false;
  const seqOf = (i: number): number => s.seq[i]!;
  const where = (i: number): string => `${fileNames[s.file[i]!]}:${s.line[i]}`;
  const report = (
    kind: ProblemKind,
    i: number,
    message: string,
    over?: { seq: number; recordId?: string; severity?: Severity; reason?: ProblemReason; through?: number },
  ): void => {
    const recordId = over === undefined ? s.recordId(i) : over.recordId;
    const severity = over?.severity ?? (kind === 'duplicate' || kind === 'restart' ? 'info' : 'error');
    if (severity === 'error') anyError = true;
    // Beyond the report's room only counted: a stream of a million copies of one record is not a million objects.
    if (problems.length >= list.room()) return list.omit({ kind, severity, message: '' });
    problems.push({
      kind,
      severity,
      stream: streamId,
      seq: over?.seq ?? seqOf(i),
      ...(over?.through === undefined || over.through === over.seq ? {} : { through: over.through }),
      ...(recordId === undefined || recordId === '' ? {} : { recordId }),
      file: fileNames[s.file[i]!]!,
      line: s.line[i]!,
      ...(over?.reason === undefined ? {} : { reason: over.reason }),
      message,
    });
  };

  // Sort by seq; ties keep reading order, so "first seen" is deterministic.
  // Rows grow in reading order, so the row breaks ties in reading order.
  const order = rows.slice();
  order.sort((a, b) => seqOf(a) - seqOf(b) || a - b);
  // Groups of equal seq: group g is order[starts[g] .. starts[g+1]).
  const starts = new Uint32Array(order.length + 1);
  let groups = 0;
  for (let k = 0; k < order.length; k++) {
    if (k === 0 || seqOf(order[k]!) !== seqOf(order[k - 1]!)) starts[groups++] = k;
  }
  starts[groups] = order.length;
  const groupSeq = (g: number): number => seqOf(order[starts[g]!]!);
  /** First copy of each distinct record (by hash) in group g, in reading order. */
  const variants = (g: number): number[] => {
    const vs: number[] = [];
    for (let k = starts[g]!; k < starts[g + 1]!; k++) {
      const i = order[k]!;
      if (!vs.some((v) => s.sameHash(v, i))) vs.push(i);
    }
    return vs;
  };

  // 1. One record per seq: duplicates are info; of different records claiming one seq, the one the chain
  //    links through is genuine, the others are inserted (or modified copies, when they carry its record id).
  const chain = new Uint32Array(groups);
  // Order is judged once the records that lost a same-seq conflict are known (step 1b).
  const reorderCandidates: number[] = [];
  const reorderedCheck = (i: number): void => void reorderCandidates.push(i);
  for (let g = 0; g < groups; g++) {
    const lo = starts[g]!;
    const hi = starts[g + 1]!;
    if (hi - lo === 1) {
      chain[g] = order[lo]!;
      reorderedCheck(order[lo]!);
      continue;
    }
    const n = groupSeq(g);
    const vs = variants(g);
    const copies = new Map<number, number>();
    for (let k = lo; k < hi; k++) {
      const i = order[k]!;
      const v = vs.find((x) => s.sameHash(x, i))!;
      copies.set(v, (copies.get(v) ?? 0) + 1);
      if (v !== i) report('duplicate', i, `identical copy of seq ${n} first seen at ${where(v)} (at-least-once delivery)`);
    }
    const genuine = vs.length === 1 ? vs[0]! : chooseGenuine(g, n, vs);
    chain[g] = genuine;
    // An identical copy elsewhere explains an out-of-order position (a redelivery), so only singles count.
    for (const v of vs) if (copies.get(v) === 1) reorderedCheck(v);
  }

  // 1b. Out of order: read after a record of this stream with a higher seq in the same file. A record that
  //     lost a same-seq conflict (an inserted one) is blamed for itself, not for moving the others.
  if (!allowReorder) {
    const maxInFile = new Map<number, number>();
    for (const i of rows) {
      if (s.has(i, F_REJECTED)) continue;
      const f = s.file[i]!;
      const max = maxInFile.get(f) ?? 0;
      if (seqOf(i) < max) s.flags[i]! |= F_OUT_OF_ORDER;
      else {
        s.flags[i]! &= ~F_OUT_OF_ORDER;
        maxInFile.set(f, seqOf(i));
      }
    }
    for (const i of reorderCandidates) {
      if (s.has(i, F_OUT_OF_ORDER) && !s.has(i, F_REJECTED)) {
        report('reordered', i, `appears after a record of this stream with a higher sequence number in the same file`);
      }
    }
  }

  function chooseGenuine(g: number, n: number, vs: number[]): number {
    const prevVs = g > 0 && groupSeq(g - 1) === n - 1 ? variants(g - 1) : [];
    const nextVs = g + 1 < groups && groupSeq(g + 1) === n + 1 ? variants(g + 1) : [];
    const fwd = (v: number): boolean => nextVs.some((w) => s.linked(v, w));
    const bwd = (v: number): boolean => (n === 1 ? !s.has(v, F_HAS_PREV) : prevVs.some((u) => s.linked(u, v)));
    // A valid signature or checkpoint signature (checked only with keys) proves the producer wrote it.
    const signed = (v: number): boolean => (s.has(v, F_CHECKPOINT) ? s.claims.get(v)!.status === 'valid' : s.sig[v] === SIG_OK);
    const score = (v: number): number => (signed(v) ? 4 : 0) + (fwd(v) ? 2 : 0) + (bwd(v) ? 1 : 0);
    let genuine = vs[0]!;
    for (const v of vs) if (score(v) > score(genuine)) genuine = v; // ties: first seen wins
    const why =
      [
        signed(genuine) ? 'carries a valid signature' : '',
        fwd(genuine) ? `is referenced by seq ${n + 1}'s previous_hash` : '',
        bwd(genuine) ? `links to seq ${n - 1}` : '',
      ]
        .filter((x) => x !== '')
        .join(' and ') || 'was seen first (nothing links to either)';
    for (const v of vs) {
      if (v === genuine) continue;
      s.flags[v]! |= F_REJECTED;
      const own = bwd(v) ? 'this one links to its predecessor but nothing links to it' : 'this one does not link into the chain';
      if (s.recordId(v) === s.recordId(genuine)) {
        report('modified', v, `a different version of record seq ${n} (same record id); the one at ${where(genuine)} ${why}, so this copy was changed (${own})`);
      } else {
        report('inserted', v, `a second, different record claims seq ${n}; the one at ${where(genuine)} ${why}, so this one was added (${own})`);
      }
    }
    return genuine;
  }

  // 2. Nothing may follow the end record.
  let len = groups;
  let endPos = -1;
  for (let p = 0; p < len && endPos < 0; p++) if (s.has(chain[p]!, F_END)) endPos = p;
  if (endPos >= 0 && endPos < len - 1) {
    const e = chain[endPos]!;
    for (let p = endPos + 1; p < len; p++) {
      const i = chain[p]!;
      let msg = `follows the end record (seq ${seqOf(e)} at ${where(e)}); a stream has no records after its end`;
      if (p === endPos + 1) {
        msg += s.linked(e, i)
          ? ', and this one links to it, so it was forged with the chain recomputed'
          : ', and this one does not link to it: it was appended, or the end record was altered to carry audit.sequence.end';
      }
      if (s.has(i, F_END)) msg += ' (a second end record)';
      report('inserted', i, msg);
    }
    len = endPos + 1;
  }

  // 3. Gaps, then broken links. broken[k]: chain[k-1] → chain[k] are adjacent seqs and do not link.
  const broken = new Uint8Array(len + 1);
  const explained = new Uint8Array(len + 1);
  for (let k = 0; k < len; k++) {
    const i = chain[k]!;
    const n = seqOf(i);
    const prevN = k === 0 ? 0 : seqOf(chain[k - 1]!);
    if (n > prevN + 1 && prevN === 0 && s.has(i, F_PREV_HEX)) {
      // A head removed by retention is accounted for in state/retention.log, bound to the hash of its last
      // record — which this record carries as previous_hash. Reported, but not as tampering.
      const prevHex = s.prevHashHex(i);
      const cut = retained.find((e) => e.last === n - 1 && e.lastHash === prevHex);
      if (cut !== undefined) {
        report('deleted', i, `seq 1–${n - 1} were removed by retention (${cut.file}, ${cut.deletedAt}) after the collector acknowledged them; the cut matches state/retention.log`, {
          seq: 1,
          severity: 'info',
        });
        continue;
      }
    }
    if (n > prevN + 1) {
      const missing = n - 1 - prevN;
      const prevId = s.prevRecordId(i);
      const named = missing === 1 && prevId !== undefined && prevId !== '' ? prevId : undefined;
      const range = missing === 1 ? `seq ${prevN + 1} is` : `seq ${prevN + 1}–${n - 1} (${missing} records) are`;
      const context = prevN === 0 ? `the stream starts at seq ${n}` : `seq ${prevN} is at ${where(chain[k - 1]!)}`;
      report('deleted', i, `${range} missing before seq ${n} at ${where(i)} (${context})${named === undefined ? '' : `; seq ${n} names ${JSON.stringify(named)} as its predecessor`}`, {
        seq: prevN + 1,
        ...(named === undefined ? {} : { recordId: named }),
      });
    } else if (k > 0) {
      broken[k] = s.linked(chain[k - 1]!, i) ? 0 : 1;
    }
  }
  // A misplaced previous_hash marks its record changed; that explains its incoming and outgoing links.
  for (let k = 0; k < len; k++) {
    const i = chain[k]!;
    const first = seqOf(i) === 1;
    if (first === s.has(i, F_HAS_PREV)) {
      report('modified', i, first
        ? 'seq 1 carries audit.sequence.previous_hash, which the first record of a stream never has'
        : 'audit.sequence.previous_hash is missing; every record after the first carries it');
      explained[k] = 1;
      explained[k + 1] = 1;
    }
  }
  // Each broken link is one changed record: the predecessor (its hash changed) — or, when the next link is
  // broken too, the record between them (changed including its previous_hash), the single explanation.
  for (let k = 1; k < len; k++) {
    if (broken[k] === 0 || explained[k] === 1) continue;
    const p = chain[k - 1]!;
    const q = chain[k]!;
    if (k + 1 < len && broken[k + 1] === 1 && explained[k + 1] === 0) {
      const r = chain[k + 1]!;
      report('modified', q, `its previous_hash does not match the hash of seq ${seqOf(p)} (${where(p)}) and its own hash does not match the previous_hash recorded by seq ${seqOf(r)} (${where(r)}): this record was changed, chain attributes included (seq ${seqOf(p)} may have been changed as well)`);
      explained[k + 1] = 1;
    } else {
      const prevId = s.prevRecordId(q);
      const idNote =
        prevId === s.recordId(p) ? '' : `; seq ${seqOf(q)} also names ${JSON.stringify(prevId ?? '')} as the previous record id, not ${JSON.stringify(s.recordId(p))} (the record was replaced)`;
      report('modified', p, `its hash no longer matches the previous_hash recorded by seq ${seqOf(q)} at ${where(q)}: its content was changed after it was written${idNote}`);
    }
    explained[k] = 1;
  }

  /** Chain position (index into `chain`) of the record with seq n, if held. */
  const posOf = (n: number): number | undefined => {
    let lo = 0;
    let hi = len - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const m = seqOf(chain[mid]!);
      if (m === n) return mid;
      if (m < n) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  };
  const at = (n: number): number | undefined => {
    const p = posOf(n);
    return p === undefined ? undefined : chain[p];
  };
  const integrity = checkIntegrity(streamId, s, rows, ctx, chain, len, at, report);

  problems.sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0)); // stable: same-seq problems keep detection order
  const summary: StreamSummary = {
    streamId,
    first: seqOf(chain[0]!),
    last: seqOf(chain[len - 1]!),
    count: len,
    ended: endPos >= 0,
    files: filesOf(s, rows).map((f) => fileNames[f]!),
    ok: !anyError,
    coveredThrough: integrity.coveredThrough,
    signatures: integrity.signatures,
    checkpoints: integrity.checkpoints,
  };
  const first = chain[0]!;
  const link = seqOf(first) === 1 ? s.links.get(first) : undefined;
  if (link !== undefined) summary.previousStreamId = link.previousStreamId;
  return { summary, problems, at, records: s, ...(link === undefined ? {} : { link }) };
}

// ---------------------------------------------------------------------------------------------------------
// Signatures and checkpoints (docs/integrity.md §7)

/** Keys and switches for the integrity checks of one run. */
interface IntegrityContext {
  keys: readonly VerifyingKey[];
  /** Record MACs/signatures are checked: some key was given, or --require-signatures. */
  checkSignatures: boolean;
  /** Checkpoints are checked: an Ed25519 public key was given. */
  checkCheckpoints: boolean;
  requireSignatures: boolean;
}

/** A valid checkpoint read from a `checkpointSources` file. */
interface ExternalCheckpoint {
  seq: number;
  coveredSeq: number;
  headHash: string;
  file: string;
  line: number;
}

type Report = (
  kind: ProblemKind,
  i: number,
  message: string,
  over?: { seq: number; recordId?: string; severity?: Severity; reason?: ProblemReason; through?: number },
) => void;

const SIG_NAME: Record<number, string> = { [SIG_OK]: 'valid', [SIG_BAD]: 'invalid', [SIG_UNKNOWN]: 'unknown key', [SIG_UNCHECKED]: 'not checked', [SIG_NONE]: 'unsigned' };

function checkIntegrity(
  streamId: string,
  s: RecordStore,
  rows: Uint32Array,
  ctx: StreamContext,
  chain: Uint32Array,
  len: number,
  at: (seq: number) => number | undefined,
  report: Report,
): { coveredThrough: number; signatures: SignatureCounts; checkpoints: CheckpointCounts } {
  const ic = ctx.integrity;
  const seqOf = (i: number): number => s.seq[i]!;
  const where = (i: number): string => `${ctx.fileNames[s.file[i]!]}:${s.line[i]}`;
  const signatures: SignatureCounts = { valid: 0, invalid: 0, unknownKey: 0, unchecked: 0, unsigned: 0 };
  const checkpoints: CheckpointCounts = { valid: 0, invalid: 0, unknownKey: 0, unchecked: 0 };

  // Counts, over the records of the chain.
  let anySigned = false;
  for (let k = 0; k < len; k++) {
    const i = chain[k]!;
    if (s.has(i, F_CHECKPOINT)) {
      const st = s.claims.get(i)!.status;
      if (st === 'valid') checkpoints.valid++;
      else if (st === 'invalid') checkpoints.invalid++;
      else if (st === 'unknown_key') checkpoints.unknownKey++;
      else checkpoints.unchecked++;
      continue;
    }
    switch (s.sig[i]) {
      case SIG_OK: signatures.valid++; anySigned = true; break;
      case SIG_BAD: signatures.invalid++; anySigned = true; break;
      case SIG_UNKNOWN: signatures.unknownKey++; anySigned = true; break;
      case SIG_UNCHECKED: signatures.unchecked++; anySigned = true; break;
      default: signatures.unsigned++;
    }
  }

  // 1. Every copy read: a record MAC/signature that does not verify, a checkpoint that is not valid.
  for (const i of rows) {
    if (s.has(i, F_CHECKPOINT)) {
      if (!ic.checkCheckpoints) continue;
      const c = s.claims.get(i)!;
      if (c.status === 'invalid') {
        report('bad_signature', i, `forged or malformed checkpoint: ${c.detail}`, { seq: seqOf(i), recordId: s.recordId(i), reason: 'checkpoint_invalid' });
      } else if (c.status === 'unknown_key') {
        report('bad_signature', i, `checkpoint not trusted: ${c.detail}`, { seq: seqOf(i), recordId: s.recordId(i), reason: 'checkpoint_unknown_key' });
      }
    } else if (ic.checkSignatures && s.sig[i] === SIG_BAD) {
      report('bad_signature', i, `record MAC/signature invalid: ${s.sigDetail.get(i) ?? 'malformed audit.integrity attributes'}`, {
        seq: seqOf(i),
        recordId: s.recordId(i),
        reason: 'invalid',
      });
    }
  }

  // 2. Runs of chain records that are unsigned or signed with an unknown key.
  if (ic.checkSignatures) {
    let runStart = -1;
    let runEnd = -1;
    let runState = -1;
    let runKey = 0;
    let runCount = 0;
    const flush = (): void => {
      if (runStart < 0) return;
      const first = seqOf(runStart);
      const last = seqOf(runEnd);
      const range = runCount === 1 ? `seq ${first}` : `seq ${first}–${last} (${runCount} records)`;
      if (runState === SIG_UNKNOWN) {
        const keyId = s.keyIds[runKey] ?? '';
        report('bad_signature', runStart, `${range} signed with key ${JSON.stringify(keyId)}, which is not among the given keys: not verified`, {
          seq: first,
          recordId: s.recordId(runStart),
          severity: ic.requireSignatures ? 'error' : 'info',
          reason: 'unknown_key',
          through: last,
        });
      } else if (runState === SIG_NONE && (ic.requireSignatures || anySigned)) {
        const why = ic.requireSignatures
          ? 'carry no MAC/signature, and --require-signatures is set'
          : 'carry no MAC/signature although other records of this stream do: the signature was removed';
        report('bad_signature', runStart, `${range} ${why}`, { seq: first, recordId: s.recordId(runStart), reason: 'unsigned', through: last });
      }
      runStart = -1;
    };
    for (let k = 0; k < len; k++) {
      const i = chain[k]!;
      if (s.has(i, F_CHECKPOINT)) continue; // checkpoints are judged as checkpoints
      const st = s.sig[i]!;
      const key = st === SIG_UNKNOWN ? s.sigKey[i]! : 0;
      if (runStart >= 0 && st === runState && key === runKey) {
        runEnd = i;
        runCount++;
        continue;
      }
      flush();
      if (st === SIG_UNKNOWN || st === SIG_NONE) {
        runStart = runEnd = i;
        runState = st;
        runKey = key;
        runCount = 1;
      }
    }
    flush();
  }

  // 3. Checkpoints: coverage, truncation, rewritten chains, removed checkpoints.
  let coveredThrough = 0;
  if (ic.checkCheckpoints && len > 0) {
    const last = seqOf(chain[len - 1]!);
    interface Evidence {
      seq: number;
      coveredSeq: number;
      headHash: string;
      inChain: boolean;
      where: string;
      /** Index of the checkpoint record when in the chain. */
      index?: number;
      interval?: number;
    }
    const evidence: Evidence[] = [];
    const claimSeqs: number[] = [];
    for (let k = 0; k < len; k++) {
      const i = chain[k]!;
      if (!s.has(i, F_CHECKPOINT)) continue;
      claimSeqs.push(seqOf(i));
      const c = s.claims.get(i)!;
      if (c.status !== 'valid') continue;
      const e: Evidence = { seq: seqOf(i), coveredSeq: c.coveredSeq!, headHash: c.headHash!, inChain: true, where: where(i), index: i };
      if (c.interval !== undefined) e.interval = c.interval;
      evidence.push(e);
    }
    for (const x of ctx.external) {
      evidence.push({ seq: x.seq, coveredSeq: x.coveredSeq, headHash: x.headHash, inChain: false, where: `${x.file}:${x.line}` });
    }
    // Coverage is a prefix: records first…N are proven only if the chain has no gap and no broken link up to N.
    let breakSeq = Infinity;
    for (let k = 1; k < len; k++) {
      const p = chain[k - 1]!;
      const q = chain[k]!;
      if (seqOf(q) !== seqOf(p) + 1 || !s.linked(p, q)) {
        breakSeq = seqOf(q);
        break;
      }
    }
    // Records missing at the end: the furthest valid checkpoint beyond the last record held.
    let furthest: Evidence | undefined;
    for (const e of evidence) if (e.seq > last && (furthest === undefined || e.seq > furthest.seq)) furthest = e;
    if (furthest !== undefined) {
      const lastIdx = chain[len - 1]!;
      const missing = furthest.seq - last;
      report(
        'truncated',
        lastIdx,
        `the stream was truncated: a valid checkpoint (seq ${furthest.seq}, at ${furthest.where}) proves it reached seq ${furthest.seq}, ` +
          `but the records held end at seq ${last}: ${missing === 1 ? `seq ${furthest.seq} is` : `seq ${last + 1}–${furthest.seq} (${missing} records) are`} missing`,
        { seq: last + 1, through: furthest.seq, reason: 'records_missing' },
      );
    }
    for (const e of evidence) {
      const idx = at(e.coveredSeq);
      if (idx === undefined) continue; // a gap: reported as deleted
      if (s.hashHex(idx) !== e.headHash) {
        // In the chain, the broken link into the checkpoint is already reported as modified.
        if (!e.inChain) {
          report(
            'truncated',
            idx,
            `the chain was rewritten: a valid checkpoint (seq ${e.seq}, at ${e.where}) certifies hash ${e.headHash} for seq ${e.coveredSeq}, ` +
              `but the record held has hash ${s.hashHex(idx)}; records up to seq ${e.coveredSeq} are not the ones that were signed`,
            { seq: e.coveredSeq, reason: 'head_mismatch' },
          );
        }
        continue;
      }
      if (e.coveredSeq >= breakSeq) continue;
      const through = e.inChain ? e.seq : e.coveredSeq;
      if (through > coveredThrough) coveredThrough = through;
    }
    // A producer that declares interval N checkpoints at least after every N other records, so the record at
    // seq c + N + 1 after a valid checkpoint at c is a checkpoint; an ordinary record there means checkpoints
    // were removed and the chain after c rewritten.
    for (const e of evidence) {
      if (!e.inChain || e.interval === undefined) continue;
      const limit = e.seq + e.interval + 1;
      const next = claimSeqs.find((q) => q > e.seq);
      if (next !== undefined && next <= limit) continue;
      const idx = at(limit);
      if (idx === undefined) continue;
      report(
        'truncated',
        idx,
        `a checkpoint is missing: the valid checkpoint at seq ${e.seq} (${e.where}) declares one at least every ${e.interval} records, ` +
          `so seq ${limit} must be a checkpoint, but it is an ordinary record (${SIG_NAME[s.sig[idx]!] ?? ''} signature): ` +
          `checkpoints were removed and the records after seq ${e.seq} cannot be trusted`,
        { seq: limit, reason: 'checkpoint_missing' },
      );
    }
  }
  void streamId;
  return { coveredThrough, signatures, checkpoints };
}

/** A retention.log line is a few hundred bytes; a longer one is not an entry. */
const MAX_RETENTION_LINE_BYTES = 64 * 1024;

/**
 * Retention entries (sinks/retention.ts) of every input directory that is a journal directory, for the
 * streams `known` (entries of other streams can match nothing). `state/` must be a directory and
 * `state/retention.log` a regular file, neither a link: anything else is skipped (`onSkip`), and the cuts it
 * would have explained are reported as ordinary deletions.
 */
async function readRetentionLogs(paths: readonly string[], known: ReadonlyMap<string, number>, onSkip: SkipListener): Promise<Map<string, RetentionEntry[]>> {
  const byStream = new Map<string, RetentionEntry[]>();
  for (const p of paths) {
    const stateDir = join(p, 'state');
    const path = join(stateDir, 'retention.log');
    let opened: Awaited<ReturnType<typeof openRegularFile>>;
    try {
      const st = await lstat(stateDir);
      if (!st.isDirectory()) {
        if (st.isSymbolicLink()) onSkip(stateDir, 'symbolic link inside an input directory, not followed');
        continue;
      }
      opened = await openRegularFile(path, false);
    } catch (e) {
      if (e instanceof NotRegularFileError) onSkip(path, e.message.replace(/^is an? /, ''));
      continue; // not a journal directory, or nothing was ever deleted
    }
    const onLine = (bytes: Buffer | undefined): void => {
      if (bytes === undefined) return;
      try {
        const e = JSON.parse(bytes.toString('utf8')) as Partial<Record<keyof RetentionEntry, unknown>>;
        if (typeof e.streamId !== 'string' || typeof e.last !== 'number' || typeof e.lastHash !== 'string' || !HEX64.test(e.lastHash)) return;
        const key = streamKey(e.streamId);
        if (!known.has(key)) return;
        let l = byStream.get(key);
        if (l === undefined) byStream.set(key, (l = []));
        l.push({ streamId: key, file: keep(String(e.file)), last: e.last, lastHash: own(e.lastHash), deletedAt: keep(String(e.deletedAt)) });
      } catch {
        /* a torn last line of the log: ignored, so that cut is reported as an ordinary deletion */
      }
    };
    try {
      for await (const _ of splitLines(opened.fh, onLine, MAX_RETENTION_LINE_BYTES));
    } catch {
      /* unreadable: as if absent */
    } finally {
      await opened.fh.close();
    }
  }
  return byStream;
}

/** Valid checkpoints in `sources` (files not among `inputs`), by stream; invalid ones become problems. */
async function readCheckpointSources(
  sources: readonly string[],
  inputs: readonly InputFile[],
  ic: IntegrityContext,
  problems: ProblemList,
  onSkip: SkipListener,
): Promise<Map<string, ExternalCheckpoint[]>> {
  const byStream = new Map<string, ExternalCheckpoint[]>();
  if (sources.length === 0 || !ic.checkCheckpoints) return byStream;
  const already = new Set(inputs.map((f) => f.id));
  for (const { path: file, follow, id } of await listInputs(sources, onSkip)) {
    if (already.has(id)) continue; // its checkpoints are in the chain already
    try {
      await scanRecords(file, { keys: ic.keys, checkSignatures: true, checkpointsOnly: true, followSymlinks: follow }, (item) => {
        if (item.kind !== 'record' || item.checkpoint === undefined) return;
        const c = item.checkpoint;
        const key = streamKey(item.streamId);
        if (c.status === 'valid') {
          let l = byStream.get(key);
          if (l === undefined) byStream.set(own(key), (l = []));
          l.push({ seq: item.seq, coveredSeq: c.coveredSeq!, headHash: own(c.headHash!), file, line: item.line });
        } else if (c.status === 'invalid' || c.status === 'unknown_key') {
          problems.add({
            kind: 'bad_signature',
            severity: 'error',
            stream: own(key),
            seq: item.seq,
            ...(item.recordId === '' ? {} : { recordId: keep(item.recordId) }),
            file,
            line: item.line,
            reason: c.status === 'invalid' ? 'checkpoint_invalid' : 'checkpoint_unknown_key',
            message: clip(`checkpoint source: ${c.status === 'invalid' ? 'forged or malformed checkpoint' : 'checkpoint not trusted'}: ${c.detail}`),
          });
        }
      });
    } catch (e) {
      throw new VerifyInputError(`${file}: ${errorText(e)}`, { cause: e });
    }
  }
  return byStream;
}

/**
 * Restart links (docs/integrity.md §6): a stream whose first record names a previous stream of the same
 * process. Facts about the process are `restart` (info); records of the previous stream that the next one saw
 * but that are not held are `truncated`.
 */
function checkStreamLinks(checked: Map<string, CheckedStream>, fileNames: readonly string[]): Problem[] {
  const out: Problem[] = [];
  for (const [streamId, b] of checked) {
    const link = b.link;
    if (link === undefined) continue;
    const s = b.records;
    const i = link.index;
    const here = { file: fileNames[s.file[i]!]!, line: s.line[i]! };
    const recordId = s.recordId(i);
    const base = { stream: streamId, seq: 1, ...(recordId === '' ? {} : { recordId }), ...here };
    const a = checked.get(link.previousStreamId);
    const prevName = JSON.stringify(link.previousStreamId);
    if (a === undefined) {
      out.push({
        kind: 'restart',
        severity: 'info',
        ...base,
        reason: 'previous_missing',
        message: `the process restarted: this stream continues stream ${prevName}, which is not among the inputs`,
      });
      continue;
    }
    if (!a.summary.ended) {
      out.push({
        kind: 'restart',
        severity: 'info',
        ...base,
        reason: 'previous_unended',
        message: `the process restarted: this stream continues stream ${prevName}, which ends at seq ${a.summary.last} without an end record (the process stopped without shutting down)`,
      });
    }
    const L = link.previousStreamLast;
    if (L === undefined) continue;
    const aLast = a.summary.last;
    if (aLast < L) {
      out.push({
        kind: 'truncated',
        severity: 'error',
        stream: link.previousStreamId,
        seq: aLast + 1,
        ...(L === aLast + 1 ? {} : { through: L }),
        ...here,
        reason: 'previous_stream',
        message: `stream ${prevName} was truncated: the next stream of the process (${streamId}, first record at ${here.file}:${here.line}) found it at seq ${L}, but the records held end at seq ${aLast}`,
      });
      a.summary.ok = false;
    } else if (link.previousStreamHash !== undefined) {
      const j = a.at(L);
      if (j !== undefined && a.records.hashHex(j) !== link.previousStreamHash) {
        const rid = a.records.recordId(j);
        out.push({
          kind: 'modified',
          severity: 'error',
          stream: link.previousStreamId,
          seq: L,
          ...(rid === '' ? {} : { recordId: rid }),
          file: fileNames[a.records.file[j]!]!,
          line: a.records.line[j]!,
          reason: 'previous_stream',
          message: `its hash does not match the one the next stream of the process (${streamId}, at ${here.file}:${here.line}) recorded for it: its content was changed`,
        });
        a.summary.ok = false;
      }
    }
  }
  return out;
}

/**
 * Verifies the hash chains in `paths` (files or directories). Throws `VerifyInputError` only for a path that
 * cannot be read; everything wrong with the content is a `Problem` in the report.
 */
export async function verifyFiles(paths: readonly string[], options: VerifyOptions = {}): Promise<VerifyReport> {
  const keys = [...(options.pubkeys ?? []), ...loadVerifyingKeys([], options.hmacSecrets ?? [])];
  const ic: IntegrityContext = {
    keys,
    checkSignatures: keys.length > 0 || options.requireSignatures === true,
    checkCheckpoints: keys.some((k) => k.algorithm === 'EdDSA'),
    requireSignatures: options.requireSignatures === true,
  };
  const onSkip = options.onSkip ?? ((): void => undefined);
  const inputs = await listInputs(paths, onSkip);
  const files = inputs.map((f) => f.path);
  const store = new RecordStore();
  const problems = new ProblemList();
  let records = 0;
  let nonAudit = 0;
  for (let f = 0; f < inputs.length; f++) {
    const file = files[f]!;
    const readOptions = { keys, checkSignatures: ic.checkSignatures, followSymlinks: inputs[f]!.follow };
    try {
      await scanRecords(file, readOptions, (item) => {
        if (item.kind === 'record') {
          records++;
          store.push(item, f);
        } else if (item.kind === 'nonAudit') {
          nonAudit++;
        } else {
          problems.add({ kind: item.kind, severity: 'error', file, line: item.line, message: clip(item.message) });
        }
      });
    } catch (e) {
      throw new VerifyInputError(`${file}: ${errorText(e)}`, { cause: e });
    }
  }
  const external = await readCheckpointSources(options.checkpointSources ?? [], inputs, ic, problems, onSkip);
  const retained = await readRetentionLogs(paths, store.streams, onSkip);
  const summaries: StreamSummary[] = [];
  // Only streams in a restart link are needed after their own check; the others are dropped as checked.
  const linked = new Set<string>();
  for (const l of store.links.values()) linked.add(l.previousStreamId);
  const checked = new Map<string, CheckedStream>();
  for (const [streamId, k] of store.streams) {
    const r = checkStream(streamId, store, store.rowsOf(k), {
      fileNames: files,
      allowReorder: options.allowReorder === true,
      retained: retained.get(streamId) ?? [],
      integrity: ic,
      external: external.get(streamId) ?? [],
      list: problems,
    });
    if (r.link !== undefined || linked.has(streamId)) checked.set(streamId, r);
    summaries.push(r.summary);
    for (const p of r.problems) problems.add(p); // not push(...): could be up to MAX_LISTED_PROBLEMS
  }
  for (const p of checkStreamLinks(checked, files)) problems.add(p);
  // Streams known only from checkpoint sources: every record of them is missing from the inputs.
  for (const [streamId, list] of external) {
    if (store.streams.has(streamId)) continue;
    const furthest = list.reduce((a, b) => (b.seq > a.seq ? b : a));
    problems.add({
      kind: 'truncated',
      severity: 'error',
      stream: streamId,
      seq: 1,
      ...(furthest.seq === 1 ? {} : { through: furthest.seq }),
      file: furthest.file,
      line: furthest.line,
      reason: 'records_missing',
      message: `no record of this stream is among the inputs, but a valid checkpoint (seq ${furthest.seq}, at ${furthest.file}:${furthest.line}) proves it reached seq ${furthest.seq}`,
    });
  }
  const listed = problems.finish();
  return {
    ok: !listed.some((p) => p.severity === 'error'),
    files: files.length,
    records,
    nonAudit,
    streams: summaries,
    problems: listed,
  };
}
