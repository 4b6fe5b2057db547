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
/** line, seq, end, signature status, then the lengths of the STRINGS (−1: absent). */
const STRINGS = ['streamId', 'recordId', 'hash', 'previousHash', 'previousRecordId', 'algorithm', 'keyId', 'detail'] as const;
const NUMS = 4 + STRINGS.length;
const SIG_STATUS: ReadonlyArray<SignatureCheck['status'] | undefined> = [undefined, 'ok', 'bad', 'unknown_key', 'unchecked'];

/** Encodes items for postMessage. */
export function encodeItems(items: readonly ReadItem[]): EncodedItems {
  const kinds = new Uint8Array(items.length);
  const rows = items.filter((i) => i.kind === 'record' && i.checkpoint === undefined && i.previousStreamId === undefined).length;
  const nums = new Float64Array(rows * NUMS);
  const parts: string[] = [];
  const others: ReadItem[] = [];
  let at = 0;
  items.forEach((i, k) => {
    if (i.kind !== 'record' || i.checkpoint !== undefined || i.previousStreamId !== undefined) {
      kinds[k] = OTHER;
      others.push(i);
      return;
    }
    kinds[k] = ROW;
    const sig = i.signature;
    const strings = [i.streamId, i.recordId, i.hash, i.previousHash, i.previousRecordId, sig?.algorithm, sig?.keyId, sig?.detail];
    nums[at] = i.line;
    nums[at + 1] = i.seq;
    nums[at + 2] = i.end ? 1 : 0;
    nums[at + 3] = sig === undefined ? 0 : SIG_STATUS.indexOf(sig.status);
    for (let j = 0; j < STRINGS.length; j++) {
      const v = strings[j];
      nums[at + 4 + j] = v === undefined ? -1 : v.length;
      if (v !== undefined) parts.push(v);
    }
    at += NUMS;
  });
  return { kinds, nums, text: parts.join(''), others };
}

/** Decodes what encodeItems made, handing each item to `emit` in order. */
export function decodeItems(file: string, e: EncodedItems, emit: (item: ReadItem) => void): void {
  const { kinds, nums, text, others } = e;
  let row = 0;
  let other = 0;
  let pos = 0;
  const str = (j: number): string | undefined => {
    const n = nums[row + 4 + j]!;
    if (n < 0) return undefined;
    pos += n;
    return text.slice(pos - n, pos);
  };
  for (let k = 0; k < kinds.length; k++) {
    if (kinds[k] === OTHER) {
      emit(others[other++]!);
      continue;
    }
    const item: RecordItem = { kind: 'record', file, line: nums[row]!, streamId: str(0)!, seq: nums[row + 1]!, recordId: str(1)!, end: nums[row + 2] === 1, hash: str(2)! };
    const previousHash = str(3);
    if (previousHash !== undefined) item.previousHash = previousHash;
    const previousRecordId = str(4);
    if (previousRecordId !== undefined) item.previousRecordId = previousRecordId;
    const status = SIG_STATUS[nums[row + 3]!];
    const algorithm = str(5);
    const keyId = str(6);
    const detail = str(7);
    if (status !== undefined) item.signature = { status, algorithm: algorithm!, keyId: keyId!, detail: detail! };
    emit(item);
    row += NUMS;
  }
}
