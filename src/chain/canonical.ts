/**
 * Canonical form v1 — what is hashed and signed (DESIGN §3, spec in docs/canonical-form.md).
 *
 * RFC 8785 (JCS) serialization of
 *   {attributes, body, event_name, observed_timestamp, span_id, timestamp, trace_id}
 * (that is the JCS member order), where timestamps are nanosecond decimal strings, ids lowercase hex, and a
 * member that is absent, empty or zero is omitted. Values are type-tagged as OTLP/JSON tags them; arrays
 * become JSON arrays and maps JSON objects of canonical values. `audit.integrity.*` attributes and severity
 * are excluded.
 *
 * Two front ends give the same bytes for the same record: `canonicalFromParts` (the SDK record, via the
 * one-pass encoder in otlp/encode.ts) and `canonicalFromOtlp` (a record read back from the local journal or
 * the collector's OTLP/JSON output).
 */
import { INTEGRITY_PREFIX } from '../map/attributes.js';
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

const isZeroId = (id: string | undefined): boolean => id === undefined || id === '' || /^0+$/.test(id);
const isZeroTime = (t: string): boolean => t === '' || t === '0';

/** Assembles canonical form v1 from canonical parts. Member order is the JCS (sorted) order. */
export function canonicalFromParts(p: CanonicalParts): string {
  let out = '';
  const add = (name: string, text: string): void => {
    out += (out === '' ? '' : ',') + `"${name}":${text}`;
  };
  if (p.attributes !== '{}') add('attributes', p.attributes);
  // An empty string body is "empty" and omitted, like an absent one.
  if (p.body !== undefined && p.body !== '{}' && p.body !== '{"stringValue":""}') add('body', p.body);
  if (p.eventName !== undefined && p.eventName !== '') add('event_name', JSON.stringify(p.eventName));
  if (!isZeroTime(p.observedTimeUnixNano)) add('observed_timestamp', `"${p.observedTimeUnixNano}"`);
  if (!isZeroId(p.spanId)) add('span_id', `"${p.spanId!.toLowerCase()}"`);
  if (!isZeroTime(p.timeUnixNano)) add('timestamp', `"${p.timeUnixNano}"`);
  if (!isZeroId(p.traceId)) add('trace_id', `"${p.traceId!.toLowerCase()}"`);
  return `{${out}}`;
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
function intText(v: string | number, where: string): string {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new CanonicalFormError(`${where}: intValue ${v} is not an integer`);
    return Number.isSafeInteger(v) ? String(v) : BigInt(v).toString();
  }
  if (!/^-?(0|[1-9][0-9]*)$/.test(v)) throw new CanonicalFormError(`${where}: intValue "${v}" is not a decimal integer`);
  return v === '-0' ? '0' : v;
}

/** RFC 8785 §3.2.2.3: numbers as ECMAScript serializes them; NaN/Infinity have no canonical form. */
function doubleText(v: number | string, where: string): string {
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n)) throw new CanonicalFormError(`${where}: doubleValue ${String(v)} has no canonical form`);
  return JSON.stringify(n);
}

/** Canonical text of an OTLP/JSON AnyValue. */
export function canonicalAnyValue(v: OtlpAnyValue | undefined, where: string): string {
  if (v === undefined || v === null) return '{}';
  if (v.stringValue !== undefined) return `{"stringValue":${jcsString(v.stringValue, where)}}`;
  if (v.intValue !== undefined) return `{"intValue":"${intText(v.intValue, where)}"}`;
  if (v.doubleValue !== undefined) return `{"doubleValue":${doubleText(v.doubleValue, where)}}`;
  if (v.boolValue !== undefined) return v.boolValue ? '{"boolValue":true}' : '{"boolValue":false}';
  if (v.bytesValue !== undefined) return `{"bytesValue":${JSON.stringify(normalizeBase64(v.bytesValue, where))}}`;
  if (v.arrayValue !== undefined) {
    const vals = v.arrayValue.values ?? [];
    return `[${vals.map((x, i) => canonicalAnyValue(x, `${where}[${i}]`)).join(',')}]`;
  }
  if (v.kvlistValue !== undefined) return canonicalKeyValues(v.kvlistValue.values ?? [], where);
  return '{}';
}

/** Re-encodes base64 so that padding/alphabet variants of the same bytes give the same canonical text. */
function normalizeBase64(s: string, where: string): string {
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(s)) throw new CanonicalFormError(`${where}: bytesValue is not base64`);
  return Buffer.from(s, s.includes('-') || s.includes('_') ? 'base64url' : 'base64').toString('base64');
}

/** Canonical JCS object of an OTLP KeyValue list; `skip` filters keys (integrity attributes). */
export function canonicalKeyValues(kvs: readonly OtlpKeyValue[], where: string, skip?: (k: string) => boolean): string {
  const members: [string, string][] = [];
  for (const kv of kvs) {
    if (skip !== undefined && skip(kv.key)) continue;
    members.push([kv.key, canonicalAnyValue(kv.value, `${where}.${kv.key}`)]);
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

/** Canonical form v1 of a record read from OTLP/JSON (local journal or collector output). */
export function canonicalFromOtlp(r: OtlpLogRecord, where = 'logRecord'): string {
  return canonicalFromParts({
    attributes: canonicalKeyValues(r.attributes ?? [], `${where}.attributes`, isIntegrityKey),
    body: r.body === undefined ? undefined : canonicalAnyValue(r.body, `${where}.body`),
    eventName: r.eventName,
    timeUnixNano: timeText(r.timeUnixNano, `${where}.timeUnixNano`),
    observedTimeUnixNano: timeText(r.observedTimeUnixNano, `${where}.observedTimeUnixNano`),
    traceId: r.traceId,
    spanId: r.spanId,
  });
}
