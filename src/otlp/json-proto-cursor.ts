/**
 * The byte cursor of the OTLP/JSON → protobuf transcoder (json-to-protobuf.ts): where it is in the JSON bytes
 * and in the protobuf it writes (https://protobuf.dev/programming-guides/encoding/), with the literals, the
 * strings and the length-delimited messages; the scalar fields are json-proto-scalars.ts. No string or object is
 * made in between.
 *
 * It reads only a strict subset of JSON, the one this package's encoder writes: no whitespace, JSON integers
 * without fraction or exponent where protobuf wants an integer, 64-bit integers as decimal strings. Anything
 * else — or anything whose outcome through `JSON.parse` + `encodeLogsRequest` (protobuf.ts) it cannot match
 * byte for byte, such as invalid UTF-8 (which `toString('utf8')` turns into U+FFFD) or an escaped lone
 * surrogate (which `encodeLogsRequest` refuses) — makes it `bail()`, and the caller takes that slow path.
 *
 * The output never outgrows the input (each JSON member, name and punctuation included, is at least as long as
 * the protobuf field it becomes), so the caller sizes the output buffer once and no write checks for room; a
 * write past it would show in `pos`, which is checked (JsonProtoCursor.end, transcodeLogsRequest).
 */
import { putVarint32, varintSize } from './protobuf-wire.js';

/** Thrown by `bail()`; caught by transcodeLogsRequest only. */
export const NOT_FAST: unique symbol = Symbol('not on the fast path');

export function bail(): never {
  throw NOT_FAST;
}

export const QUOTE = 0x22;
const BACKSLASH = 0x5c;

export class JsonProtoCursor {
  /** The JSON being read and the position in it. */
  src: Buffer = Buffer.alloc(0);
  i = 0;
  /** The protobuf being written and the position in it. */
  b: Buffer = Buffer.alloc(0);
  pos = 0;
  /** Result slots of `digits64` (json-proto-scalars.ts): the low and high 32 bits of an unsigned value. */
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


/** The value of a hex digit, either case; -1 for anything else. */
export function nibble(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x57;
  return -1; // also for undefined (past the end): undefined | 0x20 is 0x20
}


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
