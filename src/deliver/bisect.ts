/**
 * A batch the collector refused for good is split, so that only the records it refuses are set aside and
 * their innocent neighbours are delivered (one record with no valid form must not sink a batch of 1,000).
 *
 * The refused request is cut in halves by sequence number; each half is sent once. An acknowledged half is
 * done; a half refused for good (a permanent status, or records rejected in partial_success) is cut again,
 * down to the single record, which is set aside (within a budget of refusals: see bisectRefused); a
 * retryable failure (the collector went away meanwhile) stops the bisection, and the export loop retries from
 * the last acknowledged record (duplicates there are what at-least-once delivery allows). Acknowledgements
 * and set-asides happen in sequence order.
 * The parts are re-serialized from the parsed request: other bytes, the same values, so the same hashes.
 */
import { filteredBody, intAttribute, stringAttribute } from '../otlp/decode.js';
import type { ExportLogsServiceRequest } from '../otlp/types.js';
import { ATTR_SEQ_NUMBER, ATTR_SEQ_STREAM_ID } from '../core/attributes.js';
import type { BatchSender } from './otlp-sender.js';

export interface BisectOptions {
  sender: BatchSender;
  streamId: string;
  /** The refused request: one ExportLogsServiceRequest as OTLP/JSON. */
  body: Uint8Array | string;
  /** A part was acknowledged: its last sequence number and its record count. */
  onAcked(last: number, count: number): void;
  /** Records first..last refused for good: keep them aside (rejected/) and move on. */
  onRefused(body: string, first: number, last: number, count: number, why: string): void;
  /** The retryable failure that stopped the bisection named a wait (Retry-After): the export loop keeps it. */
  onRetryAfter?(millis: number): void;
  /** True once the export loop is stopped (shutdown): no further part is sent; the bisection ends as 'failed'. */
  stopped?(): boolean;
}

/** 'done': every record acknowledged or set aside; 'failed': a retryable failure stopped it. */
export async function bisectRefused(o: BisectOptions): Promise<'done' | 'failed'> {
  const text = typeof o.body === 'string' ? o.body : Buffer.from(o.body.buffer, o.body.byteOffset, o.body.byteLength).toString('utf8');
  const req = JSON.parse(text) as ExportLogsServiceRequest;
  const seqs = sequencesOf(req, o.streamId);
  if (seqs.length <= 1) return 'failed'; // nothing to split: the caller sets it aside whole
  // One bad record costs about one refusal per level (⌈log2 n⌉); a collector that refuses everything would cost
  // one request per record without a bound. The budget finds up to about eight bad records of a request one by one
  // (with 2·⌈log2 n⌉ + 2, a review found 3 bad records of 1,000 sinking 374 good ones); past it, what is still
  // refused is set aside whole, and said to be unexamined.
  const budget = { refusals: 8 * Math.ceil(Math.log2(seqs.length)) + 8 };
  return splitRefused(o, req, seqs, 'refused for good', budget);
}

type Sent = { kind: 'ok'; last: number; count: number } | { kind: 'refused'; why: string } | { kind: 'failed' } | { kind: 'empty' };

async function send(o: BisectOptions, req: ExportLogsServiceRequest, seqs: readonly number[]): Promise<Sent> {
  const lo = seqs[0]!;
  const hi = seqs[seqs.length - 1]!;
  if (o.stopped?.() === true) return { kind: 'failed' };
  const part = filteredBody(req, o.streamId, (s) => s >= lo && s <= hi);
  if (part === undefined) return { kind: 'empty' };
  const r = await o.sender.send(part.body, part.count);
  if (r.ok) return { kind: 'ok', last: part.last, count: part.count };
  if (r.retryable && r.rejected === 0) {
    if (r.retryAfterMillis !== undefined) o.onRetryAfter?.(r.retryAfterMillis);
    return { kind: 'failed' };
  }
  return { kind: 'refused', why: r.message };
}

/**
 * `seqs` was refused for good: send its halves in order, depth first, so that the collector receives the
 * stream in sequence order; a refused half is split again, down to the single record, which is set aside.
 */
async function splitRefused(
  o: BisectOptions,
  req: ExportLogsServiceRequest,
  seqs: readonly number[],
  why: string,
  budget: { refusals: number },
): Promise<'done' | 'failed'> {
  if (seqs.length === 1) {
    setAside(o, req, seqs, why);
    return 'done';
  }
  if (budget.refusals <= 0) {
    setAside(o, req, seqs, unexamined(why));
    return 'done';
  }
  const mid = seqs.length >> 1;
  for (const half of [seqs.slice(0, mid), seqs.slice(mid)]) {
    // Spent on the way down: the halves still pending above are set aside unsent, so the bound holds.
    if (budget.refusals <= 0) {
      setAside(o, req, half, unexamined(why)); // never sent on its own: not known to be refused
      continue;
    }
    const r = await send(o, req, half);
    if (r.kind === 'failed') return 'failed';
    if (r.kind === 'ok') o.onAcked(r.last, r.count);
    else if (r.kind === 'refused') {
      budget.refusals--;
      if ((await splitRefused(o, req, half, r.why, budget)) === 'failed') return 'failed';
    }
  }
  return 'done';
}

/** Why a range set aside whole once the budget was spent: some of its records may be good. */
const unexamined = (why: string): string => `${why}; the refusal budget of the bisection was spent, so not every record of this range was refused`;

function setAside(o: BisectOptions, req: ExportLogsServiceRequest, seqs: readonly number[], why: string): void {
  const lo = seqs[0]!;
  const hi = seqs[seqs.length - 1]!;
  const part = filteredBody(req, o.streamId, (s) => s >= lo && s <= hi);
  if (part !== undefined) o.onRefused(part.body, part.first, part.last, part.count, why);
}

/** Sequence numbers of `streamId`'s records in the request, ascending. */
function sequencesOf(req: ExportLogsServiceRequest, streamId: string): number[] {
  const out: number[] = [];
  for (const rl of req.resourceLogs ?? [])
    for (const sl of rl.scopeLogs ?? [])
      for (const r of sl.logRecords ?? []) {
        if (stringAttribute(r, ATTR_SEQ_STREAM_ID) !== streamId) continue;
        const seq = intAttribute(r, ATTR_SEQ_NUMBER);
        if (seq !== undefined) out.push(seq);
      }
  return out.sort((a, b) => a - b);
}
