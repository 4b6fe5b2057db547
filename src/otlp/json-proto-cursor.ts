/**
 * The byte cursor of the OTLP/JSON → protobuf transcoder (json-to-protobuf.ts): reads one JSON token straight
 * from the UTF-8 bytes and writes the protobuf field it stands for (https://protobuf.dev/programming-guides/encoding/),
 * with no string or object in between.
 *
 * It reads only a strict subset of JSON, the one this package's encoder writes: no whitespace, JSON integers
 * without fraction or exponent where protobuf wants an integer, 64-bit integers as decimal strings. Anything
 * else — or anything whose outcome through `JSON.parse` + `encodeLogsRequest` (protobuf.ts) it cannot match
 * byte for byte, such as invalid UTF-8 (which `toString('utf8')` turns into U+FFFD) or an escaped lone
 * surrogate (which `encodeLogsRequest` refuses) — makes it `bail()`, and the caller takes that slow path.
 *
 * The output never outgrows the input (every JSON token is at least as long as the protobuf it becomes), so
 * the caller sizes the output buffer once and no write checks for room.
 */
import { ANY_BOOL, ANY_BYTES, ANY_DOUBLE, ANY_INT } from './protobuf-fields.js';
import { putVarint32, putVarint64, TWO_32, varintSize } from './protobuf-wire.js';

/** Thrown by `bail()`; caught by transcodeLogsRequest only. */
export const NOT_FAST: unique symbol = Symbol('not on the fast path');

export function bail(): never {
  throw NOT_FAST;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** Digits of an integer read as one double before switching to 32-bit halves: below 2^53, so exact. */
const EXACT_DIGITS = 15;

export class JsonProtoCursor {
  /** The JSON being read and the position in it. */
  src: Buffer = Buffer.alloc(0);
  i = 0;
  /** The protobuf being written and the position in it. */
  b: Buffer = Buffer.alloc(0);
  pos = 0;
  /** Result slots of `digits64`: the low and high 32 bits of the unsigned value. */
  lo = 0;
  hi = 0;
  /** Views of `src` and `b` that read and write four bytes at once (strings, JsonProtoCursor.string). */
  private sv: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
  private bv = this.sv;

  /** Starts reading `src` at 0 and writing `out` at 0; `reset(EMPTY, EMPTY)` lets both go. */
  reset(src: Buffer, out: Buffer): void {
    this.src = src;
    this.i = 0;
    this.b = out;
    this.pos = 0;
    this.sv = new DataView(src.buffer, src.byteOffset, src.byteLength);
    this.bv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  }

  /** Consumes `lit` when it comes next; four bytes at a time. */
  take(lit: Literal): boolean {
    const i = this.i;
    const bytes = lit.bytes;
    const n = bytes.length;
    const s = this.src;
    if (i + n > s.length) return false;
    const words = lit.words;
    const sv = this.sv;
    let k = 0;
    for (; k < words.length; k++) if (sv.getInt32(i + 4 * k, true) !== words[k]) return false;
    for (k *= 4; k < n; k++) if (s[i + k] !== bytes[k]) return false;
    this.i = i + n;
    return true;
  }

  /** Consumes `lit`, or bails. */
  expect(lit: Literal): void {
    if (!this.take(lit)) bail();
  }

  /** Consumes the byte `c` when it comes next. */
  byte(c: number): boolean {
    if (this.src[this.i] !== c) return false;
    this.i++;
    return true;
  }

  // -------------------------------------------------------------------------------------------------------
  // Messages: a length-delimited field whose length is known only at its end

  /** Writes the key and reserves `reserve` bytes for the length; returns where the length goes. */
  begin(tag: number, reserve: number): number {
    this.b[this.pos++] = tag;
    const at = this.pos;
    this.pos += reserve;
    return at;
  }

  /**
   * Writes the length of the message begun at `at`, moving its content when the length's varint is not
   * `reserve` bytes (varints are minimal, as every encoder writes them). Returns the length's varint size, the
   * caller's next `reserve` for a sibling: records of one request are alike, so the guess mostly holds.
   */
  end(at: number, reserve: number): number {
    // Only here does `pos` go back, so checking here (and once at the end) catches any write past the buffer.
    if (this.pos > this.b.length) bail();
    const len = this.pos - at - reserve;
    if (len < 0x80 && reserve === 1) {
      this.b[at] = len; // the common case (a KeyValue, an AnyValue)
      return 1;
    }
    const size = varintSize(len);
    if (size !== reserve) {
      this.b.copyWithin(at + size, at + reserve, this.pos);
      this.pos += size - reserve;
    }
    putVarint32(this.b, at, len);
    return size;
  }

  // -------------------------------------------------------------------------------------------------------
  // Strings

  /**
   * A JSON string as a string field. `present`: written even when empty (an AnyValue member); otherwise ""
   * is the proto3 default and omitted. UTF-8 is copied as is once validated; escapes are decoded (RFC 8259 §7).
   */
  string(tag: number, present: boolean): void {
    const s = this.src;
    const b = this.b;
    let i = this.i;
    if (s[i] !== QUOTE) bail();
    i++;
    const at = this.pos;
    b[at] = tag;
    const start = at + 2; // one byte reserved for the length
    let p = start;
    const sv = this.sv;
    const bv = this.bv;
    const last = s.length - 4;
    for (;;) {
      // Four plain bytes at a time; then byte by byte up to the first byte that is not plain.
      if (i <= last) {
        const w = sv.getInt32(i, true);
        if (plain4(w)) {
          bv.setInt32(p, w, true);
          i += 4;
          p += 4;
          continue;
        }
      }
      let c = s[i]!; // undefined past the end: every test below is false, so it bails
      while (PLAIN[c] === 1) {
        b[p++] = c;
        c = s[++i]!;
      }
      if (c === QUOTE) {
        break;
      } else if (c >= 0x80) {
        const n = utf8Sequence(s, i);
        if (n === 0) bail();
        for (let k = 0; k < n; k++) b[p++] = s[i++]!;
      } else if (c === BACKSLASH) {
        this.i = i;
        p = this.escape(p);
        i = this.i;
      } else {
        bail(); // a control character, or the end of the input
      }
    }
    this.i = i + 1;
    const len = p - start;
    if (len === 0 && !present) {
      this.pos = at;
    } else if (len < 0x80) {
      b[at + 1] = len;
      this.pos = p;
    } else {
      const size = varintSize(len);
      b.copyWithin(at + 1 + size, start, p);
      putVarint32(b, at + 1, len);
      this.pos = p + size - 1;
    }
  }

  /** Decodes the escape at `i` into the output at `p`; returns the output position after it. */
  private escape(p: number): number {
    const s = this.src;
    const b = this.b;
    const e = s[this.i + 1];
    this.i += 2;
    switch (e) {
      case QUOTE:
      case BACKSLASH:
      case 0x2f: // '/'
        b[p++] = e;
        return p;
      case 0x62: // 'b'
        b[p++] = 0x08;
        return p;
      case 0x66: // 'f'
        b[p++] = 0x0c;
        return p;
      case 0x6e: // 'n'
        b[p++] = 0x0a;
        return p;
      case 0x72: // 'r'
        b[p++] = 0x0d;
        return p;
      case 0x74: // 't'
        b[p++] = 0x09;
        return p;
      case 0x75: // 'u'
        break;
      default:
        bail();
    }
    let cp = this.hex4();
    if (cp >= 0xd800 && cp < 0xe000) {
      // A surrogate: only a high one followed by an escaped low one is a character; a lone one is refused by
      // encodeLogsRequest (it has no UTF-8 form), so that outcome is the slow path's.
      if (cp >= 0xdc00 || s[this.i] !== BACKSLASH || s[this.i + 1] !== 0x75) bail();
      this.i += 2;
      const low = this.hex4();
      if (low < 0xdc00 || low >= 0xe000) bail();
      cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
    }
    // UTF-8 (RFC 3629 §3): never longer than the escape it replaces.
    if (cp < 0x80) {
      b[p++] = cp;
    } else if (cp < 0x800) {
      b[p++] = 0xc0 | (cp >> 6);
      b[p++] = 0x80 | (cp & 0x3f);
    } else if (cp < 0x10000) {
      b[p++] = 0xe0 | (cp >> 12);
      b[p++] = 0x80 | ((cp >> 6) & 0x3f);
      b[p++] = 0x80 | (cp & 0x3f);
    } else {
      b[p++] = 0xf0 | (cp >> 18);
      b[p++] = 0x80 | ((cp >> 12) & 0x3f);
      b[p++] = 0x80 | ((cp >> 6) & 0x3f);
      b[p++] = 0x80 | (cp & 0x3f);
    }
    return p;
  }

  /** Four hex digits at `i` (of a \u escape). */
  private hex4(): number {
    const s = this.src;
    const i = this.i;
    const a = nibble(s[i]!);
    const b = nibble(s[i + 1]!);
    const c = nibble(s[i + 2]!);
    const d = nibble(s[i + 3]!);
    if ((a | b | c | d) < 0) bail();
    this.i = i + 4;
    return (a << 12) | (b << 8) | (c << 4) | d;
  }

  // -------------------------------------------------------------------------------------------------------
  // Integers

  /**
   * Decimal digits (at least one) into `lo`/`hi` as an unsigned 64-bit value; bails past 2^64 - 1. Leading
   * zeros are allowed: this reads the inside of a JSON string.
   */
  digits64(): void {
    const s = this.src;
    let i = this.i;
    const from = i;
    let v = 0;
    let d = s[i]! - 0x30;
    for (; d >= 0 && d <= 9 && i - from < EXACT_DIGITS; d = s[++i]! - 0x30) v = v * 10 + d;
    if (i === from) bail();
    let lo = v % TWO_32;
    let hi = (v - lo) / TWO_32;
    // Past 15 digits: base-10 steps on the two 32-bit halves, each product below 2^36 and so exact.
    for (; d >= 0 && d <= 9; d = s[++i]! - 0x30) {
      lo = lo * 10 + d;
      const carry = Math.floor(lo / TWO_32);
      lo -= carry * TWO_32;
      hi = hi * 10 + carry;
      if (hi >= TWO_32) bail(); // beyond uint64: encodeLogsRequest's range error is the slow path's
    }
    this.i = i;
    this.lo = lo;
    this.hi = hi;
  }

  /** A uint64 as a JSON decimal string (a timestamp), into `lo`/`hi`. */
  uint64String(): void {
    if (!this.byte(QUOTE)) bail();
    this.digits64();
    if (!this.byte(QUOTE)) bail();
  }

  /** The `intValue` member's value: an int64 as a decimal string, written (even 0) as a varint, negative as 10 bytes. */
  intValue(): void {
    if (!this.byte(QUOTE)) bail();
    const negative = this.byte(0x2d);
    this.digits64();
    if (!this.byte(QUOTE)) bail();
    let lo = this.lo;
    let hi = this.hi;
    if (negative) {
      // |v| ≤ 2^63, then two's complement.
      if (hi > 0x8000_0000 || (hi === 0x8000_0000 && lo !== 0)) bail();
      hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
      lo = (~lo + 1) >>> 0;
    } else if (hi >= 0x8000_0000) {
      bail();
    }
    this.b[this.pos++] = ANY_INT;
    this.pos = putVarint64(this.b, this.pos, lo, hi);
  }

  /**
   * A JSON integer (`-?(0|[1-9][0-9]*)`, RFC 8259 §6) of at most 10 digits, as a number (-0 read as 0). A
   * fraction or exponent is not read here, so what follows fails the caller's next literal and bails.
   */
  jsonInt(): number {
    const s = this.src;
    let i = this.i;
    const negative = s[i] === 0x2d;
    if (negative) i++;
    const from = i;
    let v = 0;
    for (let d = s[i]! - 0x30; d >= 0 && d <= 9; d = s[++i]! - 0x30) v = v * 10 + d;
    const n = i - from;
    if (n === 0 || n > 10 || (n > 1 && s[from] === 0x30)) bail();
    this.i = i;
    return negative ? -v || 0 : v;
  }

  // -------------------------------------------------------------------------------------------------------
  // Other AnyValue members: written even when they hold their type's default

  /** `doubleValue`: a JSON number, or "NaN" / "Infinity" / "-Infinity" (proto3 JSON mapping). */
  doubleValue(): void {
    const s = this.src;
    let v: number;
    if (s[this.i] === QUOTE) {
      if (this.take(NAN)) v = Number.NaN;
      else if (this.take(INFINITY)) v = Number.POSITIVE_INFINITY;
      else if (this.take(MINUS_INFINITY)) v = Number.NEGATIVE_INFINITY;
      else bail(); // a numeric string: rare, the slow path reads it
    } else {
      const from = this.i;
      let i = from;
      if (s[i] === 0x2d) i++;
      const int = i;
      while (isDigit(s[i]!)) i++;
      if (i === int || (i - int > 1 && s[int] === 0x30)) bail();
      if (s[i] === 0x2e) {
        const f = ++i;
        while (isDigit(s[i]!)) i++;
        if (i === f) bail();
      }
      if ((s[i]! | 0x20) === 0x65) {
        i++;
        if (s[i] === 0x2b || s[i] === 0x2d) i++;
        const e = i;
        while (isDigit(s[i]!)) i++;
        if (i === e) bail();
      }
      this.i = i;
      // JSON's number grammar is a subset of Number()'s, and both round correctly: the same double as JSON.parse.
      v = Number(s.toString('latin1', from, i));
    }
    this.b[this.pos++] = ANY_DOUBLE;
    this.b.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  /** `boolValue`: `true` or `false`. */
  boolValue(): void {
    let v: number;
    if (this.take(TRUE)) v = 1;
    else if (this.take(FALSE)) v = 0;
    else bail();
    this.b[this.pos++] = ANY_BOOL;
    this.b[this.pos++] = v;
  }

  /**
   * `bytesValue`: base64, standard or URL alphabet, padding optional — what encodeLogsRequest accepts
   * (protobuf-writer.ts writeBase64), decoded as Node's decoder does: 6 bits a character, the last group's
   * spare bits dropped.
   */
  bytesValue(): void {
    const s = this.src;
    if (s[this.i] !== QUOTE) bail();
    const from = this.i + 1;
    let i = from;
    while (BASE64_VALUE[s[i]!]! >= 0) i++;
    const data = i - from;
    let pad = 0;
    while (s[i] === 0x3d && pad < 2) {
      i++;
      pad++;
    }
    if (s[i] !== QUOTE || data % 4 === 1 || (pad > 0 && (data + pad) % 4 !== 0)) bail();
    this.i = i + 1;
    const n = Math.floor((data * 3) / 4);
    const b = this.b;
    b[this.pos++] = ANY_BYTES;
    let p = putVarint32(b, this.pos, n);
    const stop = p + n;
    let acc = 0;
    let bits = 0;
    for (let k = from; p < stop; k++) {
      acc = ((acc << 6) | BASE64_VALUE[s[k]!]!) & 0xffffff;
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        b[p++] = (acc >> bits) & 0xff;
      }
    }
    this.pos = p;
  }

  // -------------------------------------------------------------------------------------------------------
  // Other LogRecord fields

  /** trace_id / span_id: a JSON string of exactly `size` bytes in hex, either case; "" is omitted. */
  hexId(tag: number, size: number): void {
    const s = this.src;
    let i = this.i;
    if (s[i] !== QUOTE) bail();
    if (s[i + 1] === QUOTE) {
      this.i = i + 2;
      return;
    }
    if (s[i + 1 + 2 * size] !== QUOTE) bail();
    const b = this.b;
    b[this.pos++] = tag;
    b[this.pos++] = size;
    i++;
    for (let k = 0; k < size; k++, i += 2) {
      const h = nibble(s[i]!);
      const l = nibble(s[i + 1]!);
      if ((h | l) < 0) bail();
      b[this.pos++] = (h << 4) | l;
    }
    this.i = i + 1;
  }

  /** A fixed64 from `lo`/`hi`; 0 is the default and omitted. */
  fixed64(tag: number, lo: number, hi: number): void {
    if (lo === 0 && hi === 0) return;
    const b = this.b;
    b[this.pos] = tag;
    b.writeUInt32LE(lo, this.pos + 1);
    b.writeUInt32LE(hi, this.pos + 5);
    this.pos += 9;
  }

  /** A JSON integer as a uint32 varint field; 0 is the default and omitted. */
  uint32(tag: number): void {
    const n = this.jsonInt();
    if (n < 0 || n > 0xffff_ffff) bail();
    if (n === 0) return;
    this.b[this.pos++] = tag;
    this.pos = putVarint32(this.b, this.pos, n);
  }

  /** A JSON integer as a fixed32 field (flags); 0 is the default and omitted. */
  fixed32(tag: number): void {
    const n = this.jsonInt();
    if (n < 0 || n > 0xffff_ffff) bail();
    if (n === 0) return;
    this.b[this.pos] = tag;
    this.b.writeUInt32LE(n, this.pos + 1);
    this.pos += 5;
  }

  /** SeverityNumber as a JSON integer: an enum, so an int32 varint (negative sign-extended to 10 bytes). */
  severity(tag: number): void {
    const n = this.jsonInt();
    if (n < -0x8000_0000 || n > 0x7fff_ffff) bail();
    if (n === 0) return;
    this.b[this.pos++] = tag;
    this.pos = putVarint64(this.b, this.pos, n >>> 0, n < 0 ? 0xffff_ffff : 0);
  }
}

/** A fixed run of ASCII JSON (a member name with its quotes and colon, a keyword), with its words for `take`. */
export class Literal {
  readonly bytes: Buffer;
  /** The whole little-endian 32-bit words of `bytes`, as DataView.getInt32(…, true) reads them. */
  readonly words: Int32Array;
  constructor(text: string) {
    this.bytes = Buffer.from(text, 'latin1');
    this.words = new Int32Array(this.bytes.length >> 2).map((_, k) => this.bytes.readInt32LE(4 * k));
  }
}

const NAN = new Literal('"NaN"');
const INFINITY = new Literal('"Infinity"');
const MINUS_INFINITY = new Literal('"-Infinity"');
const TRUE = new Literal('true');
const FALSE = new Literal('false');

/** Bytes copied as they are: printable ASCII but `"` and `\` (one table load beats four comparisons, measured). */
const PLAIN: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (let c = 0x20; c < 0x80; c++) t[c] = 1;
  t[QUOTE] = t[BACKSLASH] = 0;
  return t;
})();

/**
 * Are the four bytes of `w` all PLAIN? Bit tricks on the 32-bit word ("SWAR"; exact, as each test is for any
 * byte): none has bit 7 set, none is below 0x20 (given bit 7 clear, subtracting 0x20 from each byte borrows
 * only from one that is), and none is `"` or `\` (a zero byte of `w ^ pattern`, found as the borrow of
 * `x - 0x01010101` into a byte whose own bit 7 is clear).
 */
function plain4(w: number): boolean {
  const q = w ^ 0x2222_2222;
  const bs = w ^ 0x5c5c_5c5c;
  return ((w | (w - 0x2020_2020) | ((q - 0x0101_0101) & ~q) | ((bs - 0x0101_0101) & ~bs)) & 0x8080_8080) === 0;
}

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;

function nibble(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x57;
  return -1; // also for undefined (past the end): undefined | 0x20 is 0x20
}

/** Base64 digit values, both alphabets (RFC 4648 §4 and §5); -1 for anything else. */
const BASE64_VALUE: Int8Array = (() => {
  const t = new Int8Array(256).fill(-1);
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  for (let k = 0; k < 64; k++) t[abc.charCodeAt(k)] = k;
  t[0x2b] = t[0x2d] = 62; // + -
  t[0x2f] = t[0x5f] = 63; // / _
  return t;
})();

/**
 * Length of the well-formed UTF-8 sequence at `i` (RFC 3629 §4: no overlong forms, no surrogates, nothing
 * past U+10FFFF), or 0. Ill-formed bytes become U+FFFD in `toString('utf8')`: that outcome is the slow path's.
 */
function utf8Sequence(s: Buffer, i: number): number {
  const c = s[i]!;
  const d = s[i + 1]!;
  if (c < 0xc2 || c > 0xf4 || (d & 0xc0) !== 0x80) return 0;
  if (c < 0xe0) return 2;
  if ((s[i + 2]! & 0xc0) !== 0x80) return 0;
  if (c < 0xf0) {
    if ((c === 0xe0 && d < 0xa0) || (c === 0xed && d > 0x9f)) return 0;
    return 3;
  }
  if ((c === 0xf0 && d < 0x90) || (c === 0xf4 && d > 0x8f)) return 0;
  return (s[i + 3]! & 0xc0) === 0x80 ? 4 : 0;
}
