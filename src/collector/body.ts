/**
 * Reading request bodies within the collector's memory bounds: the in-flight byte budget shared by all
 * requests (`maxInFlightBytes`), a body reader that takes each chunk from it, and a bounded gunzip.
 */
import type { IncomingMessage } from 'node:http';
import { gunzip } from 'node:zlib';

/** A refusal of the client's request: its HTTP status and message. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** `busy`: the budget could not take a chunk; `alone` when no other request held any of it (it never fits). */
export type BodyResult = { kind: 'ok'; body: Buffer } | { kind: 'too-large' } | { kind: 'aborted' } | { kind: 'busy'; alone: boolean };

/** The in-flight byte budget shared by all requests. */
export class ByteBudget {
  used = 0;
  peak = 0;
  constructor(readonly limit: number) {}

  available(): number {
    return this.limit - this.used;
  }

  /** Takes `n` bytes for `hold`; false, taking nothing, when that would pass the limit. */
  take(hold: Hold, n: number): boolean {
    if (this.used + n > this.limit) return false;
    this.used += n;
    hold.bytes += n;
    if (this.used > this.peak) this.peak = this.used;
    return true;
  }

  /** Gives back `n` of the bytes `hold` took. */
  giveBack(hold: Hold, n: number): void {
    this.used -= n;
    hold.bytes -= n;
  }

  /** Gives back everything `hold` took (idempotent). */
  release(hold: Hold): void {
    this.used -= hold.bytes;
    hold.bytes = 0;
  }
}

/** The bytes one request holds of the budget. */
export interface Hold {
  bytes: number;
}

/**
 * Reads a body of at most `limit` bytes, each chunk taken from `budget` into `hold` as it arrives. Past the
 * limit, the rest is drained (so that the client can read the 413) but not kept. When the budget cannot
 * take a chunk, everything held is given back, the rest of the body is drained, and `busy` is resolved at
 * once. The caller releases `hold`.
 */
export function readBody(req: IncomingMessage, limit: number, budget: ByteBudget, hold: Hold): Promise<BodyResult> {
  return new Promise((resolve) => {
    let chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    let busy = false;
    req.on('data', (chunk: Buffer) => {
      if (busy) return;
      size += chunk.length;
      if (size > limit && !tooLarge) {
        tooLarge = true;
        chunks = [];
        budget.release(hold);
      }
      if (tooLarge) return;
      if (!budget.take(hold, chunk.length)) {
        busy = true;
        chunks = [];
        const alone = budget.used === hold.bytes;
        budget.release(hold);
        resolve({ kind: 'busy', alone });
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? { kind: 'too-large' } : { kind: 'ok', body: Buffer.concat(chunks) }));
    req.on('error', () => resolve({ kind: 'aborted' }));
    req.on('close', () => {
      if (!req.complete) resolve({ kind: 'aborted' });
    });
  });
}

/** Gunzips at most `limit` bytes; past it, rejects with `overStatus` (413, or 503 when the budget is the limit). */
export function gunzipLimited(body: Buffer, limit: number, overStatus: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // maxOutputLength must be at least 1.
    gunzip(body, { maxOutputLength: Math.max(1, limit) }, (err, out) => {
      if (!err) return resolve(out);
      if (err instanceof RangeError || (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        return reject(new HttpError(overStatus, overStatus === 503 ? 'busy' : `decompressed body larger than ${limit} bytes`));
      }
      reject(new HttpError(400, `invalid gzip body: ${err.message}`));
    });
  });
}
