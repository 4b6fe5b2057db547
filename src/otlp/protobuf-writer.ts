/**
 * The protobuf writer behind encodeLogsRequest (protobuf.ts): a reused, growable scratch buffer and the
 * field writers, each taking a value as OTLP/JSON holds it and checking it (the input comes from JSON, so its
 * types are a claim, not a guarantee). Errors name the JSON path of the offending value (`path`).
 *
 * Encoding is one pass: a length-delimited field reserves one byte for its length and, when the content
 * turns out to need more, shifts the content (once per message, at its end). No allocation per field;
 * strings are written straight into the buffer. One request at a time (synchronous, never re-entered).
 */
import { ANY_BOOL, ANY_BYTES, ANY_DOUBLE, ANY_INT } from './protobuf-fields.js';
import { TWO_32, putVarint32, putVarint64, varintSize } from './protobuf-wire.js';
import { describe } from './describe.js';

// ---------------------------------------------------------------------------------------------------------
// State

const INITIAL_BYTES = 64 * 1024;
/** Above this the scratch buffer is dropped after the call, so one huge request does not pin memory. */
const KEEP_BYTES = 4 * 1024 * 1024;

let buf: Buffer | undefined;
let b: Buffer = Buffer.alloc(0);
let pos = 0;
/** Path of the object being written, joined only for an error message. */
export const path: Array<string | number> = [];
/** Result slots of `read64`: the low and high 32 bits (two's complement for negative int64). */
let lo = 0;
let hi = 0;

/** Starts a request: the scratch buffer is taken, the path emptied. */
export function startWriting(): void {
  b = buf ??= Buffer.allocUnsafeSlow(INITIAL_BYTES);
  pos = 0;
  path.length = 0;
}

/** Ends a request: a copy of what was written when `ok` (else undefined); the scratch buffer is kept for the next. */
export function finishWriting(ok: boolean): Uint8Array | undefined {
  let out: Uint8Array | undefined;
  if (ok) {
    out = new Uint8Array(pos);
    out.set(b.subarray(0, pos));
  }
  buf = b.length > KEEP_BYTES ? undefined : b;
  b = Buffer.alloc(0);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// AnyValue members: written even when they hold their type's default, since presence is the value's type

export function writeBool(v: unknown): void {
  if (typeof v !== 'boolean') fail('boolValue', `must be a boolean, got ${describe(v)}`);
  ensure(2);
  b[pos++] = ANY_BOOL;
  b[pos++] = v ? 1 : 0;
}

export function writeInt64(v: unknown): void {
  read64(v, true, 'intValue');
  ensure(11);
  b[pos++] = ANY_INT;
  varint64(lo, hi);
}

export function writeDouble(v: unknown): void {
  const d = toDouble(v);
  ensure(9);
  b[pos++] = ANY_DOUBLE;
  b.writeDoubleLE(d, pos);
  pos += 8;
}

const NUMERIC = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** proto3 JSON double: a number, "NaN" / "Infinity" / "-Infinity", or a numeric string. */
function toDouble(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    if (v === 'NaN') return Number.NaN;
    if (v === 'Infinity') return Number.POSITIVE_INFINITY;
    if (v === '-Infinity') return Number.NEGATIVE_INFINITY;
    if (NUMERIC.test(v)) {
      const n = Number(v);
      if (Number.isFinite(n)) return n;
    }
  }
  return fail('doubleValue', `${describe(v)} is not a number`);
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** bytes_value from base64 (standard or URL alphabet, padding optional); "" is the empty, still present value. */
export function writeBase64(v: unknown): void {
  if (typeof v !== 'string') fail('bytesValue', `must be a base64 string, got ${describe(v)}`);
  let data = v.length;
  while (data > 0 && v.charCodeAt(data - 1) === 0x3d /* = */) data--;
  // Node's decoder skips what it cannot read; only text that is whole base64 groups is accepted.
  if (!BASE64.test(v) || data % 4 === 1 || (data !== v.length && v.length % 4 !== 0)) {
    fail('bytesValue', `${describe(v)} is not base64`);
  }
  const n = Math.floor((data * 3) / 4);
  ensure(1 + 5 + n);
  b[pos++] = ANY_BYTES;
  varint32(n);
  // The 'base64' decoder takes both alphabets.
  const written = n === 0 ? 0 : b.write(v, pos, n, 'base64');
  if (written !== n) fail('bytesValue', `${describe(v)} is not base64`);
  pos += n;
}

// ---------------------------------------------------------------------------------------------------------
// Scalars

/**
 * A string field. `present`: write it even when empty (an AnyValue oneof member); otherwise "" is the proto3
 * default and omitted. Strings must be well-formed UTF-16: a lone surrogate has no UTF-8 form, and replacing
 * it with U+FFFD would change the value.
 */
export function writeString(tag: number, v: unknown, name: string, present: boolean): void {
  if (v == null) return;
  if (typeof v !== 'string') fail(name, `must be a string, got ${describe(v)}`);
  const n = v.length;
  if (n === 0 && !present) return;
  if (n < 43) {
    // At most 126 UTF-8 bytes: the length is one byte. Copy ASCII directly; anything else via utf8 write.
    ensure(2 + n * 3);
    b[pos++] = tag;
    const at = pos++;
    let i = 0;
    for (; i < n; i++) {
      const c = v.charCodeAt(i);
      if (c >= 0x80) break;
      b[pos + i] = c;
    }
    if (i === n) {
      b[at] = n;
      pos += n;
      return;
    }
    if (!v.isWellFormed()) fail(name, `${describe(v)} has a lone surrogate (not representable in UTF-8)`);
    const w = b.write(v, pos, 'utf8');
    b[at] = w;
    pos += w;
    return;
  }
  if (!v.isWellFormed()) fail(name, `${describe(v)} has a lone surrogate (not representable in UTF-8)`);
  const len = Buffer.byteLength(v, 'utf8');
  ensure(6 + len);
  b[pos++] = tag;
  varint32(len);
  pos += b.write(v, pos, len, 'utf8');
}

/** fixed64 (timestamps): uint64 as a decimal string or a number; 0 is the default and omitted. */
export function writeFixed64(tag: number, v: unknown, name: string): void {
  if (v == null) return;
  read64(v, false, name);
  if (lo === 0 && hi === 0) return;
  ensure(9);
  b[pos++] = tag;
  b[pos++] = lo & 0xff;
  b[pos++] = (lo >>> 8) & 0xff;
  b[pos++] = (lo >>> 16) & 0xff;
  b[pos++] = lo >>> 24;
  b[pos++] = hi & 0xff;
  b[pos++] = (hi >>> 8) & 0xff;
  b[pos++] = (hi >>> 16) & 0xff;
  b[pos++] = hi >>> 24;
}

export function writeUint32(tag: number, v: unknown, name: string): void {
  if (v == null) return;
  const n = int32(v, name, 0, 0xffff_ffff, 'uint32');
  if (n === 0) return;
  ensure(6);
  b[pos++] = tag;
  varint32(n);
}

/** A fixed32 (flags); 0 is the default and omitted. */
export function writeFixed32(tag: number, v: unknown, name: string): void {
  if (v == null) return;
  const n = int32(v, name, 0, 0xffff_ffff, 'fixed32');
  if (n === 0) return;
  ensure(5);
  b[pos++] = tag;
  b[pos++] = n & 0xff;
  b[pos++] = (n >>> 8) & 0xff;
  b[pos++] = (n >>> 16) & 0xff;
  b[pos++] = n >>> 24;
}

/** Proto enum names, which proto3 JSON allows in place of the number. */
const SEVERITY_NAMES: ReadonlyMap<string, number> = (() => {
  const m = new Map<string, number>([['SEVERITY_NUMBER_UNSPECIFIED', 0]]);
  ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'].forEach((level, i) => {
    for (let k = 0; k < 4; k++) m.set(`SEVERITY_NUMBER_${level}${k === 0 ? '' : String(k + 1)}`, i * 4 + k + 1);
  });
  return m;
})();

/** SeverityNumber: an enum, so an int32 varint (a negative value sign-extended to 10 bytes). */
export function writeSeverity(tag: number, v: unknown): void {
  if (v == null) return;
  let n: number | undefined;
  if (typeof v === 'string' && !DECIMAL.test(v)) {
    n = SEVERITY_NAMES.get(v);
    if (n === undefined) fail('severityNumber', `${describe(v)} is not a SeverityNumber`);
  } else {
    n = int32(v, 'severityNumber', -0x8000_0000, 0x7fff_ffff, 'int32');
  }
  if (n === 0) return;
  ensure(11);
  b[pos++] = tag;
  varint64(n >>> 0, n < 0 ? 0xffff_ffff : 0);
}

const DECIMAL = /^-?\d+$/;

/** A 32-bit integer: a number or a decimal string, within [min, max]. */
function int32(v: unknown, name: string, min: number, max: number, type: string): number {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && DECIMAL.test(v)) n = Number(v);
  else return fail(name, `must be an integer, got ${describe(v)}`);
  if (!Number.isInteger(n)) return fail(name, `${describe(v)} is not an integer`);
  if (n < min || n > max) return fail(name, `${describe(v)} is out of ${type} range`);
  return n === 0 ? 0 : n; // -0 → 0
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
/** Up to 15 digits: exact as a double, so no BigInt needed. */
const SHORT_DECIMAL = /^-?\d{1,15}$/;

/**
 * A 64-bit integer from a decimal string or a number, into `lo`/`hi` (two's complement when negative).
 * `signed`: int64, else uint64 (fixed64 timestamps).
 */
function read64(v: unknown, signed: boolean, name: string): void {
  const range = signed ? 'int64' : 'uint64';
  let n: number;
  if (typeof v === 'string') {
    if (!SHORT_DECIMAL.test(v)) {
      if (!DECIMAL.test(v)) fail(name, `${describe(v)} is not an integer`);
      // Leading zeros off first, so a huge digit string is rejected without a costly BigInt parse.
      const digits = v.replace(/^(-?)0+(?=\d)/, '$1');
      if (digits.length > 21) fail(name, `${describe(v)} is out of ${range} range`);
      read64Big(BigInt(digits), signed, v, name);
      return;
    }
    n = Number(v);
  } else if (typeof v === 'number') {
    if (!Number.isInteger(v)) fail(name, `${describe(v)} is not an integer`);
    if (!Number.isSafeInteger(v)) {
      read64Big(BigInt(v), signed, v, name); // exact for any integral double
      return;
    }
    n = v;
  } else {
    return fail(name, `must be an integer (a decimal string or a number), got ${describe(v)}`);
  }
  if (!signed && n < 0) fail(name, `${describe(v)} is out of ${range} range`);
  lo = n >>> 0; // ToUint32 is n mod 2^32, also for negative n
  hi = Math.floor(n / TWO_32) >>> 0;
}

function read64Big(x: bigint, signed: boolean, v: unknown, name: string): void {
  if (signed ? x < INT64_MIN || x > INT64_MAX : x < 0n || x > UINT64_MAX) {
    fail(name, `${describe(v)} is out of ${signed ? 'int64' : 'uint64'} range`);
  }
  const u = BigInt.asUintN(64, x);
  lo = Number(u & 0xffff_ffffn);
  hi = Number(u >> 32n);
}

/** trace_id / span_id: hex text of exactly `size` bytes, either case; "" is the default and omitted. */
export function writeHexId(tag: number, v: unknown, size: number, name: string): void {
  if (v == null) return;
  if (typeof v !== 'string') fail(name, `must be a hex string, got ${describe(v)}`);
  if (v.length === 0) return;
  if (v.length !== size * 2) fail(name, `${describe(v)} is not ${size * 2} hex digits`);
  ensure(2 + size);
  b[pos++] = tag;
  b[pos++] = size;
  for (let i = 0; i < size; i++) {
    const h = nibble(v.charCodeAt(2 * i));
    const l = nibble(v.charCodeAt(2 * i + 1));
    if (h < 0 || l < 0) fail(name, `${describe(v)} is not ${size * 2} hex digits`);
    b[pos++] = (h << 4) | l;
  }
}

function nibble(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30; // 0-9
  const l = c | 0x20; // ASCII lower case
  if (l >= 0x61 && l <= 0x66) return l - 0x57; // a-f
  return -1;
}

// ---------------------------------------------------------------------------------------------------------
// Buffer

function ensure(n: number): void {
  const need = pos + n;
  if (need <= b.length) return;
  let size = b.length * 2;
  while (size < need) size *= 2;
  const next = Buffer.allocUnsafeSlow(size);
  b.copy(next, 0, 0, pos);
  b = next;
}

/** Writes a length-delimited field's key and reserves one byte for its length; returns where that byte is. */
export function beginMessage(tag: number): number {
  ensure(2);
  b[pos++] = tag;
  return pos++;
}

/** Writes the length of the message begun at `at`, moving its content when the length takes more bytes. */
export function endMessage(at: number): void {
  const len = pos - at - 1;
  if (len < 0x80) {
    b[at] = len;
    return;
  }
  const extra = varintSize(len) - 1;
  ensure(extra);
  b.copyWithin(at + 1 + extra, at + 1, pos);
  pos += extra;
  const end = pos;
  pos = at;
  varint32(len);
  pos = end;
}

/** An unsigned 32-bit varint (the caller ensured 5 bytes). */
function varint32(n: number): void {
  pos = putVarint32(b, pos, n);
}

/** A 64-bit varint from its halves (the caller ensured 10 bytes). */
function varint64(l: number, h: number): void {
  pos = putVarint64(b, pos, l, h);
}

// ---------------------------------------------------------------------------------------------------------
// Input checks

/**
 * `v` as an object of the expected OTLP/JSON shape. Only that it is an object is checked here: every member
 * is checked where it is read, since the input comes from JSON and its types are a claim, not a guarantee.
 */
export function object<T extends object>(v: unknown, what: string): T {
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as T;
  return fail('', `expected ${what}, got ${describe(v)}`);
}

/** A repeated field: absent (undefined or null) or an array. */
export function list(v: unknown, name: string): readonly unknown[] | undefined {
  if (v == null) return undefined;
  if (!Array.isArray(v)) return fail(name, `expected an array, got ${describe(v)}`);
  return v as readonly unknown[];
}

export function fail(field: string, detail: string): never {
  let where = '';
  for (const seg of path) where += typeof seg === 'number' ? `[${seg}]` : where === '' ? seg : `.${seg}`;
  if (field !== '') where += where === '' ? field : `.${field}`;
  throw new Error(`encodeLogsRequest: ${where === '' ? 'request' : where}: ${detail}`);
}


export { decodeLogsResponse } from './protobuf-response.js';
