/**
 * A bounds-checked protobuf reader (https://protobuf.dev/programming-guides/encoding/), shared by the decoders
 * of the response (protobuf-response.ts) and of the request (protobuf-decode.ts). Every read checks `end`, so
 * hostile input (truncated, overlong, lengths past the end, deep groups) throws the decoder's own error and
 * never reads past its message or overflows the stack.
 */
import { isUtf8 } from 'node:buffer';
import { GROUP_END, GROUP_START, I32, I64, LEN, TWO_32, VARINT } from './protobuf-wire.js';
import { ValueLimitError } from './value-limit.js';

/** Groups nest; a hostile body must not nest them deep enough to overflow the stack. */
const MAX_GROUP_DEPTH = 100;

export class ProtoReader {
  pos = 0;
  /** End of the message being read (enter/leave move it). */
  end: number;
  /** Set by tag(): the whole key, `(field << 3) | wire`, and its parts. */
  key = 0;
  field = 0;
  wire = 0;
  /** Set by varint() and fixed64(): the low and high 32 bits, unsigned. */
  lo = 0;
  hi = 0;
  /** A view of the same memory, for the Buffer readers (no copy). */
  private readonly buf: Buffer;

  /** Messages entered so far, and how many may be (value-limit.ts): each becomes at least one object. */
  private entered = 0;

  /** `error` makes the decoder's error from a detail (it may add a path, a prefix, the size). */
  constructor(
    readonly bytes: Uint8Array,
    private readonly error: (detail: string) => Error,
    private readonly maxMessages: number = Infinity,
  ) {
    this.end = bytes.length;
    this.buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Reads the next field's key into key/field/wire. */
  tag(): void {
    const at = this.pos;
    this.varint();
    if (this.hi !== 0) throw this.error(`field key at byte ${at} is out of range`);
    this.key = this.lo;
    this.field = this.lo >>> 3;
    this.wire = this.lo & 7;
    if (this.field === 0) throw this.error(`field number 0 at byte ${at}`);
  }

  /** Reads a varint into lo/hi. */
  varint(): void {
    const at = this.pos;
    const bytes = this.bytes;
    let l = 0;
    let h = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw this.error(`truncated varint at byte ${at}`);
      const c = bytes[this.pos++]!;
      const bits = c & 0x7f;
      if (i < 4) l |= bits << (7 * i);
      else if (i === 4) {
        l |= bits << 28;
        h = bits >>> 4;
      } else {
        // The tenth byte holds bit 63 only: more (or a continuation) is not a 64-bit varint.
        if (i === 9 && c > 1) throw this.error(`varint at byte ${at} overflows 64 bits`);
        h |= bits << (7 * i - 32);
      }
      if (c < 0x80) {
        this.lo = l >>> 0;
        this.hi = h >>> 0;
        return;
      }
    }
    throw this.error(`varint at byte ${at} overflows 64 bits`); // not reached: the tenth byte ends it
  }

  /** Reads a length prefix; returns where the length-delimited content ends. */
  lengthEnd(): number {
    const at = this.pos;
    this.varint();
    if (this.hi !== 0 || this.lo > this.end - this.pos) {
      throw this.error(`truncated: length-delimited field at byte ${at} runs past the end`);
    }
    return this.pos + this.lo;
  }

  /** Enters a length-delimited message: reads its length and returns the outer end for leave(). */
  enter(): number {
    if (++this.entered > this.maxMessages) throw new ValueLimitError(this.maxMessages, 'protobuf messages');
    const end = this.lengthEnd();
    const outer = this.end;
    this.end = end;
    return outer;
  }

  /** Leaves the message entered last (its fields are all read: pos is at its end). */
  leave(outer: number): void {
    this.end = outer;
  }

  fixed32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  /** Reads a fixed64 into lo/hi. */
  fixed64(): void {
    this.need(8);
    this.lo = this.buf.readUInt32LE(this.pos);
    this.hi = this.buf.readUInt32LE(this.pos + 4);
    this.pos += 8;
  }

  double(): number {
    this.need(8);
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  /**
   * A string field. Invalid UTF-8 is an error, not U+FFFD: replacing bytes would change the value, and proto3
   * strings must be UTF-8. A leading U+FEFF is kept (it is part of the value). `lenient`: invalid UTF-8 becomes
   * U+FFFD instead (for diagnostics such as a partial-success message, which must not fail a response).
   */
  string(lenient = false): string {
    const end = this.lengthEnd();
    const start = this.pos;
    this.pos = end;
    if (end === start) return '';
    let ascii = end - start <= 32;
    for (let i = start; ascii && i < end; i++) ascii = this.bytes[i]! < 0x80;
    if (!ascii && !lenient && !isUtf8(this.bytes.subarray(start, end))) {
      throw this.error(`string at byte ${start} is not valid UTF-8`);
    }
    return this.buf.toString(ascii ? 'latin1' : 'utf8', start, end);
  }

  /** A bytes field: where its content starts (pos is then at its end). */
  bytesStart(): number {
    const end = this.lengthEnd();
    const start = this.pos;
    this.pos = end;
    return start;
  }

  /** `start..end` as text in `encoding` ('hex': lowercase; 'base64': standard alphabet, padded). */
  text(start: number, end: number, encoding: 'hex' | 'base64'): string {
    return this.buf.toString(encoding, start, end);
  }

  /** Skips the field whose key tag() read last. */
  skipField(): void {
    this.skip(this.field, this.wire, 0);
  }

  skip(field: number, wire: number, depth: number): void {
    switch (wire) {
      case VARINT:
        this.varint();
        return;
      case I64:
        this.need(8);
        this.pos += 8;
        return;
      case LEN:
        this.pos = this.lengthEnd();
        return;
      case I32:
        this.need(4);
        this.pos += 4;
        return;
      case GROUP_START: {
        // Skip fields up to the matching end group.
        if (depth >= MAX_GROUP_DEPTH) throw this.error('groups nested too deep');
        for (;;) {
          if (this.pos >= this.end) throw this.error(`truncated: group ${field} has no end`);
          this.tag();
          const f = this.field;
          const w = this.wire;
          if (w === GROUP_END) {
            if (f !== field) throw this.error(`end group ${f} does not match start group ${field}`);
            return;
          }
          this.skip(f, w, depth + 1);
        }
      }
      case GROUP_END:
        throw this.error(`unexpected end group ${field}`);
      default:
        throw this.error(`invalid wire type ${wire} (field ${field})`);
    }
  }

  private need(n: number): void {
    if (this.end - this.pos < n) throw this.error(`truncated: ${n}-byte field at byte ${this.pos} runs past the end`);
  }
}

/** Decimal text of an unsigned 64-bit integer from its halves. */
export function uint64Text(l: number, h: number): string {
  if (h < 0x20_0000) return String(h * TWO_32 + l); // below 2^53: exact as a double
  // Three base-10^7 digits from 24-bit limbs (2^24 = 16777216 = 1·10^7 + 6777216, and so on), so a
  // timestamp (about 2^60) needs no BigInt. The value is at least 2^53 here, so the top digit is never 0.
  const low = l & 0xff_ffff;
  const mid = ((l >>> 24) | (h << 8)) & 0xff_ffff;
  const high = h >>> 16;
  let a = low + mid * 6_777_216 + high * 6_710_656;
  let b = mid + high * 8_147_497;
  let c = high * 2;
  const base = 10_000_000;
  if (a >= base) {
    b += Math.floor(a / base);
    a %= base;
  }
  if (b >= base) {
    c += Math.floor(b / base);
    b %= base;
  }
  return String(c) + String(b).padStart(7, '0') + String(a).padStart(7, '0');
}

/** Decimal text of a signed (two's complement) 64-bit integer from its halves. */
export function int64Text(l: number, h: number): string {
  if (h < 0x8000_0000) return uint64Text(l, h);
  // Negate: ~x + 1, carrying from the low half into the high half.
  const nl = (~l + 1) >>> 0;
  const nh = (~h + (nl === 0 ? 1 : 0)) >>> 0;
  return `-${uint64Text(nl, nh)}`;
}
