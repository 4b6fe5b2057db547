/**
 * A growable byte buffer, reused from record to record, that the hot path writes JSON text into directly.
 *
 * Why bytes and not strings: a record built by string concatenation is a tree of ~100 fragments that V8 must
 * flatten before it can hash or copy it. Measured on the benchmark record: flattening the OTLP text and the
 * canonical text cost more than encoding them, and the fragments were most of the garbage per record.
 *
 * Positions (not views) are what callers keep: `ensure` may move the bytes to a larger buffer.
 */
export class ByteWriter {
  buf: Buffer;
  pos = 0;

  constructor(initialBytes = 1 << 16) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  /** Makes room for `n` more bytes after `pos`. */
  ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  byte(c: number): void {
    this.ensure(1);
    this.buf[this.pos++] = c;
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** A string known to hold only ASCII characters (digits, hex, JSON punctuation). */
  ascii(s: string): void {
    const n = s.length;
    this.ensure(n);
    if (n <= 64) {
      const buf = this.buf;
      let at = this.pos;
      for (let i = 0; i < n; i++) buf[at++] = s.charCodeAt(i);
      this.pos = at;
    } else this.pos += this.buf.write(s, this.pos, 'latin1');
  }

  /** Any string, as UTF-8 (lone surrogates must have been replaced before). */
  utf8(s: string): void {
    this.ensure(s.length * 3);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** Appends a copy of bytes [start, end) already written to this buffer. */
  copyWithin(start: number, end: number): void {
    this.ensure(end - start);
    this.buf.copyWithin(this.pos, start, end);
    this.pos += end - start;
  }

  /** Do bytes [start, end) equal `b`? */
  equals(start: number, end: number, b: Uint8Array): boolean {
    if (end - start !== b.length) return false;
    for (let i = 0; i < b.length; i++) if (this.buf[start + i] !== b[i]) return false;
    return true;
  }

  /** Bytes [start, end), not copied: valid until the next write. */
  view(start: number, end: number): Buffer {
    return this.buf.subarray(start, end);
  }
}
