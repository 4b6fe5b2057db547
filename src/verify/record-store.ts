/**
 * The columnar store of every record read (typed arrays shared by all streams; see verifier.ts on memory),
 * and the bounded copies of strings taken from the input.
 */
import { createHash } from 'node:crypto';
import type { CheckpointClaim, RecordItem, SignatureCheck } from './read-items.js';

// Record storage: one set of columns for every record of every stream, and no object and no string per
// record (a record id in UUID form is 16 bytes in a buffer). A stream is only the row of its last record
// and its record count; its rows are chained through `pred`. So a stream costs its id and a Map entry,
// about 130 bytes beside its records (about 75 bytes each), however many streams there are: with one set
// of typed arrays per stream, a million one-record streams once took 8.8 KB each.

export const HASH_BYTES = 32;
export const ID_BYTES = 16;
/** No row: `pred` of a stream's first record. */
export const NONE = 0xffffffff;
export const F_END = 1;
/** Read after a record of the same stream with a higher seq, in the same file (set by reportReordered (chain-check.ts)). */
export const F_OUT_OF_ORDER = 2;
export const F_HAS_PREV = 4;
/** previous_hash is 64 lowercase hex digits, so it can match a hash at all. */
export const F_PREV_HEX = 8;
/** Lost a same-seq conflict (reported inserted/modified); not also reported as reordered. */
export const F_REJECTED = 16;
/** The record id / previous record id is a lowercase UUID stored in `ids` / `prevIds`. */
export const F_ID_UUID = 32;
export const F_PREV_ID_UUID = 64;
export const F_HAS_PREV_ID = 128;
/** Claims to be a checkpoint (details in `claims`). */
export const F_CHECKPOINT = 256;
/**
 * previous_hash / previous_record_id equal the hash / record id of the stream's record read just before
 * (row `pred[i]`), so they are not stored: the usual case, a stream read in order.
 */
export const F_PREV_IS_PRED = 512;
export const F_PREV_ID_IS_PRED = 1024;
/** Its audit.sequence.number was changed: it was taken back to the seq it stands at (chain-check.ts, resequence). */
export const F_RESEQUENCED = 2048;
/** An end record that is the processor's end event (RecordItem.endEvent). */
export const F_END_EVENT = 4096;
export const HEX64 = /^[0-9a-f]{64}$/;

/** Signature status column values. */
export const SIG_NONE = 0;
export const SIG_OK = 1;
export const SIG_BAD = 2;
export const SIG_UNKNOWN = 3;
export const SIG_UNCHECKED = 4;
const SIG_CODE: Record<SignatureCheck['status'], number> = { ok: SIG_OK, bad: SIG_BAD, unknown_key: SIG_UNKNOWN, unchecked: SIG_UNCHECKED };

/** A V8 string sliced out of a line keeps the whole line alive: stored strings are copied flat. */
export const own = (s: string): string => (s.length < 13 ? s : (' ' + s).slice(1));

/**
 * Longest string from the input (stream id, record id, key id, detail) that the verifier keeps verbatim, in
 * UTF-16 code units. A longer one is kept as its first MAX_KEPT_STRING_CHARS characters, its length and its
 * SHA-256: longer than any verbatim string, so the two never compare equal, and two long strings compare
 * equal only when they are. Without this bound, memory per record would grow with the ids an input carries.
 */
export const MAX_KEPT_STRING_CHARS = 256;

export function keep(s: string): string {
  if (s.length <= MAX_KEPT_STRING_CHARS) return own(s);
  const digest = createHash('sha256').update(s, 'utf16le').digest('hex');
  return `${s.slice(0, MAX_KEPT_STRING_CHARS)}…[${s.length} characters, sha256 ${digest}]`;
}

/** The key a stream is grouped and reported by: its id, bounded like every kept string. */
export const streamKey = (id: string): string => (id.length <= MAX_KEPT_STRING_CHARS ? id : keep(id));

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
export interface StreamLink {
  index: number;
  previousStreamId: string;
  previousStreamLast?: number;
  previousStreamHash?: string;
}

/** Scratch space for comparing a record's links with its predecessor's hash and id before storing them. */
const SCRATCH_HASH = Buffer.alloc(HASH_BYTES);
const SCRATCH_ID = Buffer.alloc(ID_BYTES);

export class RecordStore {
  length = 0;
  seq = new Float64Array(1024);
  file = new Uint32Array(1024);
  line = new Uint32Array(1024);
  flags = new Uint16Array(1024);
  sig = new Uint8Array(1024);
  /** Index into `keyIds` of the record's audit.integrity.key_id (0: none). */
  sigKey = new Uint32Array(1024);
  /** SIG_OK: index into `signers` of the given key it verified under (SignatureCheck.signedBy; 0: none). */
  signer = new Uint32Array(1024);
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
  /** RecordItem.unhashed, per row that has it. */
  unhashed = new Map<number, string>();
  keyIds: string[] = [''];
  private keyIndex = new Map<string, number>([['', 0]]);
  signers: string[] = [''];
  private signerIndex = new Map<string, number>([['', 0]]);
  claims = new Map<number, CheckpointClaim>();
  /** Rows the chain check took back to another seq (chain-check.ts step 0): the audit.sequence.number they read. */
  readAs = new Map<number, number>();

  /**
   * Key ids under which some record or checkpoint claim read verified. Only those: a key id a record merely names
   * is the input's say-so (one planted record could name any).
   */
  verifiedKeyIds(): Set<string> {
    const ids = new Set<string>();
    for (let i = 0; i < this.length; i++) if (this.sig[i] === SIG_OK) ids.add(this.keyIds[this.sigKey[i]!]!);
    for (const c of this.claims.values()) if (c.status === 'valid') ids.add(c.keyId);
    ids.delete('');
    return ids;
  }
  /**
   * The given key (keyFingerprint) that row i's MAC/signature verified under — a checkpoint claim's when it is
   * valid, a record's when its outcome is ok — or undefined.
   */
  signerOf(i: number): string | undefined {
    if (this.has(i, F_CHECKPOINT)) {
      const c = this.claims.get(i);
      return c?.status === 'valid' ? c.signedBy : undefined;
    }
    return this.sig[i] === SIG_OK ? this.signers[this.signer[i]!] : undefined;
  }
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

  // One method on purpose, not split: it runs once per record read, the verifier's hot path (bench/verify.mjs).
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
    let flags = r.end ? (r.endEvent === true ? F_END | F_END_EVENT : F_END) : 0;
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
      this.sigKey[i] = intern(this.keyIds, this.keyIndex, keep(sig.keyId));
      if (sig.signedBy !== undefined) this.signer[i] = intern(this.signers, this.signerIndex, sig.signedBy);
      if (sig.status === 'bad') this.sigDetail.set(i, keep(sig.detail));
    } else this.sig[i] = SIG_NONE;
    if (r.unhashed !== undefined) this.unhashed.set(i, keep(r.unhashed));
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
    this.signer = widen(this.signer, n, (k) => new Uint32Array(k));
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

/** The index of `s` in `list` (its table of distinct strings, `index` its lookup), added when new. */
function intern(list: string[], index: Map<string, number>, s: string): number {
  let k = index.get(s);
  if (k === undefined) {
    k = list.length;
    list.push(s);
    index.set(s, k);
  }
  return k;
}

function widen<T extends Float64Array | Uint32Array | Uint16Array | Uint8Array>(a: T, n: number, make: (n: number) => T): T {
  const b = make(n);
  b.set(a);
  return b;
}

