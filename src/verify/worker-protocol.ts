/**
 * What the main thread and the verify worker threads (verify-worker.ts, parallel-read.ts) send each other.
 *
 * A task is a run of whole lines of one file, copied into one buffer that is transferred, not copied, to the
 * worker; `meta` holds four numbers per line. The worker answers with the items of those lines in line order,
 * exactly as the in-process reader makes them (line-items.ts), so the merged result is the same.
 */
import type { ReadItem, RecordItem, SignatureCheck } from './read-items.js';

/** Given to every worker at start (workerData). */
export interface WorkerInit {
  /** A file of SPKI PEM public keys (Ed25519), readable by loadVerifyingKeys; absent when there is none. */
  pemFile?: string;
  /** HMAC secrets in the OTEL_AUDIT_HMAC_KEY notation. */
  hmacSecrets: string[];
  checkSignatures: boolean;
}

/** Per line in `Task.meta`: start and end offsets in `bytes` (start −1: longer than MAX_LINE_BYTES), line number, 1 if terminated by '\n'. */
export const META_FIELDS = 4;

export interface Task {
  id: number;
  file: string;
  bytes: Uint8Array;
  meta: Float64Array;
}

/** `bytes`: the task's buffer, transferred back to be read into again (fewer large allocations, less GC). */
export type WorkerMessage = { ready: true } | { id: number; items: EncodedItems; bytes: ArrayBuffer } | { id: number; error: string };

/**
 * A task's items, in columns: structured clone of one object per record cost the workers a fifth of their
 * time. A record with only the usual fields is a row of `nums` and its strings are in `text`; any other item
 * (a checkpoint claim, a restart link, a non-audit record, a bad line) is cloned whole into `others`.
 */
export interface EncodedItems {
  /** Per item, in order: ROW (the next row of `nums`) or OTHER (the next of `others`). */
  kinds: Uint8Array;
  nums: Float64Array;
  text: string;
  others: ReadItem[];
}

const ROW = 0;
const OTHER = 1;
/** line, seq, end (0, 1; 2: the end event), signature status, then the lengths of the STRINGS (or ABSENT, or SAME: see below). */
const STRINGS = ['streamId', 'recordId', 'hash', 'previousHash', 'previousRecordId', 'algorithm', 'keyId', 'detail', 'signedBy'] as const;
const NUMS = 4 + STRINGS.length;
const SIG_STATUS: ReadonlyArray<SignatureCheck['status'] | undefined> = [undefined, 'ok', 'bad', 'unknown_key', 'unchecked'];
const ABSENT = -1;
/**
 * Not sent: equal to a string of the row before (its stream id; its hash for previousHash; its record id for
 * previousRecordId), the usual case of a chain read in order. That is half the text per record, which the
 * clone copies and the main thread slices; the main thread also gets the very string of the row before, so its
 * link comparison (record-store.ts) finds them equal at once.
 */
const SAME = -2;

/** Appends a string to send; its length is what the row records. */
function add(parts: string[], v: string): number {
  parts.push(v);
  return v.length;
}

/** Encodes items for postMessage: one pass, no array per record. */
export function encodeItems(items: readonly ReadItem[]): EncodedItems {
  const kinds = new Uint8Array(items.length);
  // Sized for all items; only the rows' part is sent (a view would clone the whole buffer).
  let nums = new Float64Array(items.length * NUMS);
  const others: ReadItem[] = [];
  let at = 0;
  // The row before: its stream id, hash and record id (what SAME refers to).
  let prevStream: string | undefined;
  let prevHash: string | undefined;
  let prevId: string | undefined;
  // Strings go to `parts`, joined once.
  const parts: string[] = [];
  for (let k = 0; k < items.length; k++) {
    const i = items[k]!;
    if (i.kind !== 'record' || i.checkpoint !== undefined || i.previousStreamId !== undefined || i.unhashed !== undefined) {
      kinds[k] = OTHER;
      others.push(i);
      continue;
    }
    kinds[k] = ROW;
    const sig = i.signature;
    nums[at] = i.line;
    nums[at + 1] = i.seq;
    nums[at + 2] = i.end ? (i.endEvent === true ? 2 : 1) : 0;
    nums[at + 3] = sig === undefined ? 0 : SIG_STATUS.indexOf(sig.status);
    nums[at + 4] = i.streamId === prevStream ? SAME : add(parts, i.streamId);
    nums[at + 5] = add(parts, i.recordId);
    nums[at + 6] = add(parts, i.hash);
    const ph = i.previousHash;
    nums[at + 7] = ph === undefined ? ABSENT : ph === prevHash ? SAME : add(parts, ph);
    const pid = i.previousRecordId;
    nums[at + 8] = pid === undefined ? ABSENT : pid === prevId ? SAME : add(parts, pid);
    if (sig === undefined) nums[at + 9] = nums[at + 10] = nums[at + 11] = nums[at + 12] = ABSENT;
    else {
      nums[at + 9] = add(parts, sig.algorithm);
      nums[at + 10] = add(parts, sig.keyId);
      nums[at + 11] = add(parts, sig.detail);
      nums[at + 12] = sig.signedBy === undefined ? ABSENT : add(parts, sig.signedBy);
    }
    prevStream = i.streamId;
    prevHash = i.hash;
    prevId = i.recordId;
    at += NUMS;
  }
  if (at < nums.length) nums = nums.slice(0, at);
  return { kinds, nums, text: parts.join(''), others };
}

/** Decodes what encodeItems made, handing each item to `emit` in order. */
export function decodeItems(file: string, e: EncodedItems, emit: (item: ReadItem) => void): void {
  const { kinds, nums, text, others } = e;
  let row = 0;
  let other = 0;
  let pos = 0;
  let prevStream = '';
  let prevHash = '';
  let prevId = '';
  const str = (j: number, same: string): string | undefined => {
    const n = nums[row + 4 + j]!;
    if (n === ABSENT) return undefined;
    if (n === SAME) return same;
    pos += n;
    return text.slice(pos - n, pos);
  };
  for (let k = 0; k < kinds.length; k++) {
    if (kinds[k] === OTHER) {
      emit(others[other++]!);
      continue;
    }
    const streamId = str(0, prevStream)!;
    const recordId = str(1, '')!;
    const hash = str(2, '')!;
    const item: RecordItem = { kind: 'record', file, line: nums[row]!, streamId, seq: nums[row + 1]!, recordId, end: nums[row + 2]! >= 1, hash };
    if (nums[row + 2] === 2) item.endEvent = true;
    const previousHash = str(3, prevHash);
    if (previousHash !== undefined) item.previousHash = previousHash;
    const previousRecordId = str(4, prevId);
    if (previousRecordId !== undefined) item.previousRecordId = previousRecordId;
    const status = SIG_STATUS[nums[row + 3]!];
    const algorithm = str(5, '');
    const keyId = str(6, '');
    const detail = str(7, '');
    const signedBy = str(8, '');
    if (status !== undefined) {
      item.signature = { status, algorithm: algorithm!, keyId: keyId!, detail: detail! };
      if (signedBy !== undefined) item.signature.signedBy = signedBy;
    }
    emit(item);
    prevStream = streamId;
    prevHash = hash;
    prevId = recordId;
    row += NUMS;
  }
}
