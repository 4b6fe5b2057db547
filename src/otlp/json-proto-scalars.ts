/**
 * The scalar fields of the OTLP/JSON → protobuf transcoder (json-to-protobuf.ts): each reads one JSON value at
 * the cursor (json-proto-cursor.ts) and writes its protobuf field (https://protobuf.dev/programming-guides/encoding/),
 * or bails where `JSON.parse` + `encodeLogsRequest` (protobuf.ts, protobuf-writer.ts) would not give the very
 * same bytes: proto3 JSON's other spellings (numbers as strings, enum names, …) and every error are that slow
 * path's. Room for the output needs no check (json-proto-cursor.ts).
 */
import { bail, type JsonProtoCursor, Literal, nibble, QUOTE } from './json-proto-cursor.js';
import { ANY_BOOL, ANY_BYTES, ANY_DOUBLE, ANY_INT } from './protobuf-fields.js';
import { putVarint32, putVarint64, TWO_32 } from './protobuf-wire.js';

/** Digits of an integer read as one double before switching to 32-bit halves: below 2^53, so exact. */
const EXACT_DIGITS = 15;

// -------------------------------------------------------------------------------------------------------
// Integers

/**
 * Decimal digits (at least one) into `lo`/`hi` as an unsigned 64-bit value; bails past 2^64 - 1. Leading
 * zeros are allowed: this reads the inside of a JSON string.
 */
export function digits64(c: JsonProtoCursor): void {
  const s = c.src;
  let i = c.i;
  const from = i;
  let v = 0;
  let d = s[i]! - 0x30;
  for (; d >= 0 && d <= 9 && i - from < EXACT_DIGITS; d = s[++i]! - 0x30) v = v * 10 + d;
  if (i === from) bail();
  let lo = v % TWO_32;
  let hi = (v - lo) / TWO_32;
  // Up to 5 more digits (a timestamp has 19) as one number `r` of `k` digits: hi·10^k < 2^35 and
  // lo·10^k + r < 2^49, both exact, then one carry.
  let r = 0;
  let scale = 1;
  for (; d >= 0 && d <= 9 && scale < 100_000; d = s[++i]! - 0x30) {
    r = r * 10 + d;
    scale *= 10;
  }
  if (scale > 1) {
    lo = lo * scale + r;
    const carry = Math.floor(lo / TWO_32);
    lo -= carry * TWO_32;
    hi = hi * scale + carry;
    if (hi >= TWO_32) bail(); // beyond uint64: encodeLogsRequest's range error is the slow path's
  }
  // Past 20 digits (leading zeros): base-10 steps on the two halves, each product below 2^36 and so exact.
  for (; d >= 0 && d <= 9; d = s[++i]! - 0x30) {
    lo = lo * 10 + d;
    const carry = Math.floor(lo / TWO_32);
    lo -= carry * TWO_32;
    hi = hi * 10 + carry;
    if (hi >= TWO_32) bail();
  }
  c.i = i;
  c.lo = lo;
  c.hi = hi;
}

/** A uint64 as a JSON decimal string (a timestamp), into `lo`/`hi`. */
export function uint64String(c: JsonProtoCursor): void {
  if (!c.byte(QUOTE)) bail();
  digits64(c);
  if (!c.byte(QUOTE)) bail();
}

/** The `intValue` member's value: an int64 as a decimal string, written (even 0) as a varint, negative as 10 bytes. */
export function intValue(c: JsonProtoCursor): void {
  if (!c.byte(QUOTE)) bail();
  const negative = c.byte(0x2d);
  digits64(c);
  if (!c.byte(QUOTE)) bail();
  let lo = c.lo;
  let hi = c.hi;
  if (negative) {
    // |v| ≤ 2^63, then two's complement.
    if (hi > 0x8000_0000 || (hi === 0x8000_0000 && lo !== 0)) bail();
    hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
    lo = (~lo + 1) >>> 0;
  } else if (hi >= 0x8000_0000) {
    bail();
  }
  c.b[c.pos++] = ANY_INT;
  c.pos = putVarint64(c.b, c.pos, lo, hi);
}

/**
 * A JSON integer (`-?(0|[1-9][0-9]*)`, RFC 8259 §6) of at most 10 digits, as a number (-0 read as 0). A
 * fraction or exponent is not read here, so what follows fails the caller's next literal and bails.
 */
export function jsonInt(c: JsonProtoCursor): number {
  const s = c.src;
  let i = c.i;
  const negative = s[i] === 0x2d;
  if (negative) i++;
  const from = i;
  let v = 0;
  for (let d = s[i]! - 0x30; d >= 0 && d <= 9; d = s[++i]! - 0x30) v = v * 10 + d;
  const n = i - from;
  if (n === 0 || n > 10 || (n > 1 && s[from] === 0x30)) bail();
  c.i = i;
  return negative ? -v || 0 : v;
}

// -------------------------------------------------------------------------------------------------------
// Other AnyValue members: written even when they hold their type's default

/** `doubleValue`: a JSON number, or "NaN" / "Infinity" / "-Infinity" (proto3 JSON mapping). */
export function doubleValue(c: JsonProtoCursor): void {
  const s = c.src;
  let v: number;
  if (s[c.i] === QUOTE) {
    if (c.take(NAN)) v = Number.NaN;
    else if (c.take(INFINITY)) v = Number.POSITIVE_INFINITY;
    else if (c.take(MINUS_INFINITY)) v = Number.NEGATIVE_INFINITY;
    else bail(); // a numeric string: rare, the slow path reads it
  } else {
    const from = c.i;
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
    c.i = i;
    // JSON's number grammar is a subset of Number()'s, and both round correctly: the same double as JSON.parse.
    v = Number(s.toString('latin1', from, i));
  }
  c.b[c.pos++] = ANY_DOUBLE;
  c.b.writeDoubleLE(v, c.pos);
  c.pos += 8;
}

/** `boolValue`: `true` or `false`. */
export function boolValue(c: JsonProtoCursor): void {
  let v: number;
  if (c.take(TRUE)) v = 1;
  else if (c.take(FALSE)) v = 0;
  else bail();
  c.b[c.pos++] = ANY_BOOL;
  c.b[c.pos++] = v;
}

/**
 * `bytesValue`: base64, standard or URL alphabet, padding optional — what encodeLogsRequest accepts
 * (protobuf-writer.ts writeBase64), decoded as Node's decoder does: 6 bits a character, the last group's
 * spare bits dropped.
 */
export function bytesValue(c: JsonProtoCursor): void {
  const s = c.src;
  if (s[c.i] !== QUOTE) bail();
  const from = c.i + 1;
  let i = from;
  while (BASE64_VALUE[s[i]!]! >= 0) i++;
  const data = i - from;
  let pad = 0;
  while (s[i] === 0x3d && pad < 2) {
    i++;
    pad++;
  }
  if (s[i] !== QUOTE || data % 4 === 1 || (pad > 0 && (data + pad) % 4 !== 0)) bail();
  c.i = i + 1;
  const n = Math.floor((data * 3) / 4);
  const b = c.b;
  b[c.pos++] = ANY_BYTES;
  let p = putVarint32(b, c.pos, n);
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
  c.pos = p;
}

// -------------------------------------------------------------------------------------------------------
// Other LogRecord fields

/** trace_id / span_id: a JSON string of exactly `size` bytes in hex, either case; "" is omitted. */
export function hexId(c: JsonProtoCursor, tag: number, size: number): void {
  const s = c.src;
  let i = c.i;
  if (s[i] !== QUOTE) bail();
  if (s[i + 1] === QUOTE) {
    c.i = i + 2;
    return;
  }
  if (s[i + 1 + 2 * size] !== QUOTE) bail();
  const b = c.b;
  b[c.pos++] = tag;
  b[c.pos++] = size;
  i++;
  for (let k = 0; k < size; k++, i += 2) {
    const h = nibble(s[i]!);
    const l = nibble(s[i + 1]!);
    if ((h | l) < 0) bail();
    b[c.pos++] = (h << 4) | l;
  }
  c.i = i + 1;
}

/** A fixed64 from `lo`/`hi`; 0 is the default and omitted. */
export function fixed64(c: JsonProtoCursor, tag: number, lo: number, hi: number): void {
  if (lo === 0 && hi === 0) return;
  const b = c.b;
  b[c.pos] = tag;
  b.writeUInt32LE(lo, c.pos + 1);
  b.writeUInt32LE(hi, c.pos + 5);
  c.pos += 9;
}

/** A JSON integer as a uint32 varint field; 0 is the default and omitted. */
export function uint32(c: JsonProtoCursor, tag: number): void {
  const n = jsonInt(c);
  if (n < 0 || n > 0xffff_ffff) bail();
  if (n === 0) return;
  c.b[c.pos++] = tag;
  c.pos = putVarint32(c.b, c.pos, n);
}

/** A JSON integer as a fixed32 field (flags); 0 is the default and omitted. */
export function fixed32(c: JsonProtoCursor, tag: number): void {
  const n = jsonInt(c);
  if (n < 0 || n > 0xffff_ffff) bail();
  if (n === 0) return;
  c.b[c.pos] = tag;
  c.b.writeUInt32LE(n, c.pos + 1);
  c.pos += 5;
}

/** SeverityNumber as a JSON integer: an enum, so an int32 varint (negative sign-extended to 10 bytes). */
export function severity(c: JsonProtoCursor, tag: number): void {
  const n = jsonInt(c);
  if (n < -0x8000_0000 || n > 0x7fff_ffff) bail();
  if (n === 0) return;
  c.b[c.pos++] = tag;
  c.pos = putVarint64(c.b, c.pos, n >>> 0, n < 0 ? 0xffff_ffff : 0);
}

const NAN = new Literal('"NaN"');
const INFINITY = new Literal('"Infinity"');
const MINUS_INFINITY = new Literal('"-Infinity"');
const TRUE = new Literal('true');
const FALSE = new Literal('false');

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;

/** Base64 digit values, both alphabets (RFC 4648 §4 and §5); -1 for anything else. */
const BASE64_VALUE: Int8Array = (() => {
  const t = new Int8Array(256).fill(-1);
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  for (let k = 0; k < 64; k++) t[abc.charCodeAt(k)] = k;
  t[0x2b] = t[0x2d] = 62; // + -
  t[0x2f] = t[0x5f] = 63; // / _
  return t;
})();
