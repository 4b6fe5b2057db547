/**
 * One buffer, reused, for the request body the export loop assembles: batches concatenated from memory, or
 * lines read back from the journal. Safe because the loop has one attempt in flight and no body outlives its
 * attempt: the sender is done with it when it reports the result (a protobuf body is a transcoded copy), and a
 * set-aside or bisection copies it synchronously. A body larger than `maxKeptBytes` gets a buffer of its own.
 */
const MAX_KEPT_BYTES = 16 << 20;

export class BodyScratch {
  private buf = Buffer.alloc(0);

  constructor(private readonly maxKeptBytes = MAX_KEPT_BYTES) {}

  /** A buffer of at least `bytes`; its contents change at the next call. */
  readonly get = (bytes: number): Buffer => {
    if (bytes <= this.buf.length) return this.buf;
    if (bytes > this.maxKeptBytes) return Buffer.allocUnsafe(bytes);
    // Grown by doubling, so that slowly growing requests do not reallocate each time.
    this.buf = Buffer.allocUnsafe(Math.min(this.maxKeptBytes, Math.max(bytes, 2 * this.buf.length)));
    return this.buf;
  };
}
