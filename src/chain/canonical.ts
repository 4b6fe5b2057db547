/**
 * Canonical form v1 — what is hashed and signed (ARCHITECTURE.md §3, spec in docs/canonical-form.md).
 *
 * RFC 8785 (JCS) serialization of
 *   {attributes, body, event_name, observed_timestamp, span_id, timestamp, trace_id}
 * (that is the JCS member order), where timestamps are nanosecond decimal strings, ids lowercase hex, and a
 * member that is absent, empty or zero is omitted. Values are type-tagged as OTLP/JSON tags them; arrays
 * become JSON arrays and maps JSON objects of canonical values. `audit.integrity.*` attributes and severity
 * are excluded.
 *
 * The members, their order and their omission rules are written once, in `writeCanonicalForm`, over a sink:
 * the sealer (chain/seal.ts) writes the form as bytes beside the OTLP bytes of the same values; the verifier's
 * fast path (verify/fast-otlp.ts) and `canonicalFromParts` as text; `canonicalFromOtlp` reads a record back
 * from the local journal or the collector's output. The property tests (test/chain/canonical.test.ts,
 * test/verify/fast-otlp.test.ts) check that all of them give the same bytes for the same record.
 */
import { INTEGRITY_PREFIX } from '../core/attributes.js';
import type { OtlpAnyValue, OtlpKeyValue, OtlpLogRecord } from '../otlp/types.js';

export const CANONICALIZATION_ID = 'jcs';
export const CANONICAL_FORM_VERSION = 1;

/** Parts of a record already in canonical text, as produced by the encoder. */
export interface CanonicalParts {
  /** JCS object text of the attributes, integrity attributes excluded; "{}" when none. */
  attributes: string;
  /** Canonical text of the body; undefined when absent. */
  body: string | undefined;
  eventName: string | undefined;
  /** Nanoseconds since the epoch, decimal; "0" or "" when unset. */
  timeUnixNano: string;
  observedTimeUnixNano: string;
  /** Lowercase hex; empty or all-zero when unset. */
  traceId: string | undefined;
  spanId: string | undefined;
}

export const isIntegrityKey = (key: string): boolean => key.startsWith(INTEGRITY_PREFIX);

export const isZeroId = (id: string | undefined): boolean => id === undefined || id === '' || /^0+$/.test(id);
export const isZeroTime = (t: string): boolean => t === '' || t === '0';

/**
 * Where the top-level members of a canonical form are written: text (`canonicalFromParts`) or bytes (the sealer,
 * chain/seal.ts). `writeCanonicalForm` decides which members there are, in which order, and how the simple ones
 * are spelled; the sink only writes what it is told, and its own attributes and body text.
 */
export interface CanonicalSink {
  /** `{`. */
  open(): void;
  /** `,` unless first, then `"name":`. */
  member(name: CanonicalMemberName): void;
  /** The JCS object of the attributes. */
  attributes(): void;
  /** The canonical text of the body. */
  body(): void;
  /** A JSON string literal of a well-formed string. */
  jsonString(s: string): void;
  /** ASCII text (digits, hex) in quotes. */
  quoted(s: string): void;
  /** `}`. */
  close(): void;
}

/** What decides the members: presence of attributes and body, and the simple members' values. */
export interface CanonicalFields {
  hasAttributes: boolean;
  hasBody: boolean;
  eventName: string | undefined;
  timeUnixNano: string;
  observedTimeUnixNano: string;
  traceId: string | undefined;
  spanId: string | undefined;
}

/** The top-level members of canonical form v1, in JCS order. */
export const CANONICAL_MEMBER_NAMES = ['attributes', 'body', 'event_name', 'observed_timestamp', 'span_id', 'timestamp', 'trace_id'] as const;
export type CanonicalMemberName = (typeof CANONICAL_MEMBER_NAMES)[number];

/** Body texts that are "no body" in the canonical form: an empty value and an empty string, like an absent body. */
export const EMPTY_BODY_TEXTS: readonly string[] = ['{}', '{"stringValue":""}'];

/**
 * Canonical form v1 (docs/canonical-form.md): the members in JCS (sorted) order, each omitted when absent, empty
 * or zero. The one place these rules are written; both front ends and the sealer go through it.
 */
export function writeCanonicalForm(w: CanonicalSink, f: CanonicalFields): void {
  w.open();
  if (f.hasAttributes) {
    w.member('attributes');
    w.attributes();
  }
  if (f.hasBody) {
    w.member('body');
    w.body();
  }
  if (f.eventName !== undefined && f.eventName !== '') {
    w.member('event_name');
    w.jsonString(f.eventName);
  }
  if (!isZeroTime(f.observedTimeUnixNano)) {
    w.member('observed_timestamp');
    w.quoted(f.observedTimeUnixNano);
  }
  if (!isZeroId(f.spanId)) {
    w.member('span_id');
    w.quoted(f.spanId!.toLowerCase());
  }
  if (!isZeroTime(f.timeUnixNano)) {
    w.member('timestamp');
    w.quoted(f.timeUnixNano);
  }
  if (!isZeroId(f.traceId)) {
    w.member('trace_id');
    w.quoted(f.traceId!.toLowerCase());
  }
  w.close();
}

/** A string sink over canonical parts (one per call: canonicalFromParts is not on the sealer's hot path). */
class TextSink implements CanonicalSink {
  out = '';
  private first = true;
  constructor(private readonly p: CanonicalParts) {}
  open(): void {
    this.out = '{';
  }
  member(name: CanonicalMemberName): void {
    this.out += (this.first ? '"' : ',"') + name + '":';
    this.first = false;
  }
  attributes(): void {
    this.out += this.p.attributes;
  }
  body(): void {
    this.out += this.p.body!;
  }
  jsonString(s: string): void {
    this.out += JSON.stringify(s);
  }
  quoted(s: string): void {
    this.out += '"' + s + '"';
  }
  close(): void {
    this.out += '}';
  }
}

/** Assembles canonical form v1 from canonical parts. */
export function canonicalFromParts(p: CanonicalParts): string {
  const sink = new TextSink(p);
  writeCanonicalForm(sink, {
    hasAttributes: p.attributes !== '{}',
    hasBody: p.body !== undefined && !EMPTY_BODY_TEXTS.includes(p.body),
    eventName: p.eventName,
    timeUnixNano: p.timeUnixNano,
    observedTimeUnixNano: p.observedTimeUnixNano,
    traceId: p.traceId,
    spanId: p.spanId,
  });
  return sink.out;
}

/** Thrown when a record read from a file has a value that canonical form v1 cannot represent. */
export class CanonicalFormError extends Error {
  override name = 'CanonicalFormError';
}

/** RFC 8785 §3.2.2.2: strings must be valid Unicode; JSON.stringify then gives exactly the JCS text. */
function jcsString(s: string, where: string): string {
  if (!s.isWellFormed()) throw new CanonicalFormError(`${where}: lone surrogate in string`);
  return JSON.stringify(s);
}

/** Decimal text of an OTLP int64 given as a string or a (lenient) JSON number. */
function intText(v: unknown, where: string): string {
  if (typeof v !== 'string' && typeof v !== 'number') {
    throw new CanonicalFormError(`${where}: intValue must be a decimal string or a number, got ${typeof v}`);
  }
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new CanonicalFormError(`${where}: intValue ${v} is not an integer`);
    // JSON.parse has already rounded a number beyond 2^53 − 1 to a double: "9007199254740993" would read as
    // …992, so the text that was written cannot be known. Such an int64 must be a decimal string.
    if (!Number.isSafeInteger(v)) {
      throw new CanonicalFormError(`${where}: intValue ${BigInt(v)} given as a JSON number is beyond 2^53 − 1, where a JSON parser rounds it (write int64 as a decimal string)`);
    }
    return String(v);
  }
  if (!/^-?(0|[1-9][0-9]*)$/.test(v)) throw new CanonicalFormError(`${where}: intValue "${v}" is not a decimal integer`);
  return v === '-0' ? '0' : v;
}

/** A JSON number (RFC 8259 §6), as proto3 JSON also allows a double to be quoted. */
const JSON_NUMBER = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/;

/** RFC 8785 §3.2.2.3: numbers as ECMAScript serializes them; NaN/Infinity have no canonical form. */
function doubleText(v: unknown, where: string): string {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v !== 'string') throw new CanonicalFormError(`${where}: doubleValue must be a number, got ${typeof v}`);
  else if (JSON_NUMBER.test(v)) n = Number(v);
  // Number() would read "", " ", "0x10", "1_0"… as numbers: only a JSON number or a proto3 special is a double.
  else if (v === 'NaN' || v === 'Infinity' || v === '-Infinity') n = Number(v);
  else throw new CanonicalFormError(`${where}: doubleValue ${JSON.stringify(v)} is not a number`);
  if (!Number.isFinite(n)) throw new CanonicalFormError(`${where}: doubleValue ${String(v)} has no canonical form`);
  return JSON.stringify(n);
}

const isJsonObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The members of an AnyValue's oneof, in OTLP order. */
const ANY_VALUE_KINDS = ['stringValue', 'boolValue', 'intValue', 'doubleValue', 'bytesValue', 'arrayValue', 'kvlistValue'] as const;

/** `values` of an ArrayValue / KeyValueList: absent means empty. */
function valuesOf(container: unknown, kind: string, where: string): readonly unknown[] {
  if (!isJsonObject(container)) throw new CanonicalFormError(`${where}: ${kind} must be an object`);
  const vals = container['values'];
  if (vals === undefined || vals === null) return [];
  if (!Array.isArray(vals)) throw new CanonicalFormError(`${where}: ${kind}.values must be an array`);
  return vals;
}

/**
 * Most arrayValue/kvlistValue containers an AnyValue may be nested in (docs/canonical-form.md §2). The
 * processor's encoder writes at most 16 (deeper values become "[MaxDepth]"), so every record it writes is
 * within the limit; without one, recursion ended in a RangeError whose depth depends on the thread's stack
 * (the main thread and a verify worker thread judged one line differently).
 */
export const MAX_VALUE_NESTING = 128;

/** The error for a value nested too deep; its path (128 levels) shortened so that the reason stays readable. */
const tooDeep = (where: string): CanonicalFormError =>
  new CanonicalFormError(`values nested deeper than ${MAX_VALUE_NESTING} arrays/kvlists, at ${where.length <= 80 ? where : `${where.slice(0, 80)}…`}`);

/**
 * Canonical text of an OTLP/JSON AnyValue. Member types are checked: a value of the wrong JSON type (a
 * boolValue "false", a stringValue 5) or with two members of the oneof set has no canonical form, so that
 * two different texts never share a canonical form by coercion. `depth`: containers it is nested in.
 */
export function canonicalAnyValue(v: OtlpAnyValue | undefined, where: string, depth = 0): string {
  if (v === undefined || v === null) return '{}';
  if (!isJsonObject(v)) throw new CanonicalFormError(`${where}: AnyValue must be an object`);
  let kind: (typeof ANY_VALUE_KINDS)[number] | undefined;
  for (const k of ANY_VALUE_KINDS) {
    if (v[k] === undefined) continue;
    if (kind !== undefined) throw new CanonicalFormError(`${where}: AnyValue has more than one value (${kind} and ${k})`);
    kind = k;
  }
  switch (kind) {
    case undefined:
      return '{}';
    case 'stringValue':
      if (typeof v.stringValue !== 'string') throw new CanonicalFormError(`${where}: stringValue must be a string`);
      return `{"stringValue":${jcsString(v.stringValue, where)}}`;
    case 'boolValue':
      if (typeof v.boolValue !== 'boolean') throw new CanonicalFormError(`${where}: boolValue must be a boolean`);
      return v.boolValue ? '{"boolValue":true}' : '{"boolValue":false}';
    case 'intValue':
      return `{"intValue":"${intText(v.intValue, where)}"}`;
    case 'doubleValue':
      return `{"doubleValue":${doubleText(v.doubleValue, where)}}`;
    case 'bytesValue':
      return `{"bytesValue":${JSON.stringify(normalizeBase64(v.bytesValue, where))}}`;
    case 'arrayValue': {
      if (depth >= MAX_VALUE_NESTING) throw tooDeep(where);
      const vals = valuesOf(v.arrayValue, 'arrayValue', where);
      return `[${vals.map((x, i) => canonicalAnyValue(x as OtlpAnyValue, `${where}[${i}]`, depth + 1)).join(',')}]`;
    }
    case 'kvlistValue':
      if (depth >= MAX_VALUE_NESTING) throw tooDeep(where);
      return canonicalKeyValues(valuesOf(v.kvlistValue, 'kvlistValue', where) as OtlpKeyValue[], where, undefined, depth + 1);
  }
}

/**
 * Re-encodes base64 so that padding/alphabet variants of the same bytes give the same canonical text.
 * Text that decodes to no whole number of bytes (4n+1 characters, or padding that does not complete a group)
 * is not base64: the lenient decoder would silently drop its tail.
 */
function normalizeBase64(s: unknown, where: string): string {
  if (typeof s !== 'string') throw new CanonicalFormError(`${where}: bytesValue must be a base64 string`);
  const data = s.replace(/=+$/, '');
  if (
    !/^[A-Za-z0-9+/_-]*={0,2}$/.test(s) ||
    data.length % 4 === 1 ||
    (data.length !== s.length && s.length % 4 !== 0)
  ) {
    throw new CanonicalFormError(`${where}: bytesValue is not base64`);
  }
  return Buffer.from(s, s.includes('-') || s.includes('_') ? 'base64url' : 'base64').toString('base64');
}

/** Canonical JCS object of an OTLP KeyValue list; `skip` filters keys (integrity attributes). */
export function canonicalKeyValues(kvs: readonly OtlpKeyValue[], where: string, skip?: (k: string) => boolean, depth = 0): string {
  if (!Array.isArray(kvs)) throw new CanonicalFormError(`${where}: must be an array of {key, value}`);
  const members: [string, string][] = [];
  for (const kv of kvs) {
    if (!isJsonObject(kv) || typeof kv.key !== 'string') throw new CanonicalFormError(`${where}: key must be a string`);
    if (skip !== undefined && skip(kv.key)) continue;
    members.push([kv.key, canonicalAnyValue(kv.value as OtlpAnyValue | undefined, `${where}.${kv.key}`, depth)]);
  }
  members.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  let out = '';
  for (let i = 0; i < members.length; i++) {
    const [k, val] = members[i]!;
    if (i > 0 && members[i - 1]![0] === k) throw new CanonicalFormError(`${where}: duplicate key ${JSON.stringify(k)}`);
    out += (i === 0 ? '' : ',') + jcsString(k, where) + ':' + val;
  }
  return `{${out}}`;
}

const timeText = (t: string | number | undefined, where: string): string =>
  t === undefined ? '' : intText(t, where);

/**
 * A trace/span id read from a file: empty or all-zero means none; otherwise exactly `hexDigits` hex digits.
 * Checked because canonicalFromParts writes ids into the canonical text unescaped: an id holding `"` could
 * otherwise forge members (`"0102030405060708\",\"timestamp\":\"5"` would hash like a real timestamp).
 */
function idText(id: unknown, name: string, hexDigits: number, where: string): string | undefined {
  if (id === undefined) return undefined;
  if (typeof id !== 'string') throw new CanonicalFormError(`${where}.${name} must be a hex string`);
  if (isZeroId(id)) return undefined;
  if (id.length !== hexDigits || !/^[0-9a-fA-F]+$/.test(id)) {
    throw new CanonicalFormError(`${where}.${name} ${JSON.stringify(id)} is not ${hexDigits} hex digits`);
  }
  return id;
}

function eventNameText(name: unknown, where: string): string | undefined {
  if (name === undefined) return undefined;
  if (typeof name !== 'string') throw new CanonicalFormError(`${where}: eventName must be a string`);
  jcsString(name, `${where}.eventName`);
  return name;
}

/** Canonical form v1 of a record read from OTLP/JSON (local journal or collector output). */
export function canonicalFromOtlp(r: OtlpLogRecord, where = 'logRecord'): string {
  return canonicalFromParts({
    attributes: canonicalKeyValues(r.attributes ?? [], `${where}.attributes`, isIntegrityKey),
    body: r.body === undefined ? undefined : canonicalAnyValue(r.body, `${where}.body`),
    eventName: eventNameText(r.eventName, where),
    timeUnixNano: timeText(r.timeUnixNano, `${where}.timeUnixNano`),
    observedTimeUnixNano: timeText(r.observedTimeUnixNano, `${where}.observedTimeUnixNano`),
    traceId: idText(r.traceId, 'traceId', 32, where),
    spanId: idText(r.spanId, 'spanId', 16, where),
  });
}
