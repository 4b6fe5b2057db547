/**
 * JS values → OTLP/JSON text, in one pass that also yields the canonical (JCS) text of the same values.
 *
 * A scalar's OTLP/JSON tagged form (`{"stringValue":"x"}`, `{"intValue":"5"}`, …) is byte-for-byte its canonical
 * form too, so it is computed once and used in both; only arrays and maps differ (OTLP wraps them in
 * `arrayValue`/`kvlistValue` lists, the canonical form uses plain JSON arrays/objects with sorted keys).
 * The sealing stage's byte encoder (otlp/encode-bytes.ts) writes the common values itself and comes here for
 * the rest, so the outcomes below are defined once.
 *
 * Defined outcomes for values that have no faithful OTLP/JSON form (ARCHITECTURE.md §8), each noted as a problem so
 * the record is marked `audit.validation.error`, never thrown and never dropped:
 * - lone surrogate → replaced by U+FFFD (RFC 8785 §3.2.2.2 forbids them);
 * - NaN / ±Infinity → `stringValue` "NaN" / "Infinity" / "-Infinity" (JCS has no such numbers);
 * - integer-valued number with |n| ≥ 2^63 → `doubleValue` (it does not fit OTLP's int64);
 * - bigint within int64 → `intValue` (no problem); outside → `stringValue` decimal;
 * - cycle → `stringValue` "[Circular]"; nesting deeper than `maxDepth` → "[MaxDepth]";
 * - string longer than `maxStringLength` UTF-16 units, or more than `maxItems` array/map entries → truncated;
 * - function / symbol → dropped from maps, `{}` (empty value) in arrays; `undefined` → omitted / `{}`;
 * - a map key that equals an earlier key of the same map once sanitized → that member dropped;
 * - Date → `stringValue` ISO-8601; Set → array; Map → map of its entries (keys as text; keys of one text → the last
 *   entry, marked); Error → map of its name, message, cause (an AggregateError's errors) and own enumerable fields;
 *   another object → map of its own enumerable properties, or with none (a URL) → `stringValue` of its text, marked;
 * - a record over `maxRecordBytes` of OTLP/JSON in all → RecordTooLargeError: the sealer replaces the record by an
 *   `audit.record.unsealable` one (its record id, the reason) and reports it lost (ARCHITECTURE.md §2.3).
 */
import { asText } from './describe.js';

export interface EncodeLimits {
  maxStringLength: number;
  maxItems: number;
  maxDepth: number;
  /**
   * Bytes of OTLP/JSON one record may take. The limits above bound each string and container, not their sum: a
   * value that reuses one array at every level, or many long strings, could otherwise fill the heap (a crash) or
   * make a journal line no verifier reads (64 MiB) and a request collectors refuse (commonly 20 MiB).
   */
  maxRecordBytes: number;
}

export const DEFAULT_ENCODE_LIMITS: EncodeLimits = Object.freeze({
  maxStringLength: 65536,
  maxItems: 1000,
  maxDepth: 16,
  maxRecordBytes: 16 * 1024 * 1024,
});

/** A record whose OTLP/JSON would pass `maxRecordBytes`: sealing stops, and the record is replaced (reported lost). */
export class RecordTooLargeError extends Error {
  override name = 'RecordTooLargeError';
  constructor(limit: number) {
    super(`the record takes more than ${limit} bytes of OTLP/JSON (the bound per record)`);
  }
}

/** Problems met while encoding; `list` stays undefined on the (normal) clean path to avoid allocation. */
export class EncodeProblems {
  list: string[] | undefined = undefined;
  add(path: string, what: string): void {
    (this.list ??= []).push(`${path}: ${what}`);
  }
  /** Empty again, for the next value (a sealer reuses one from record to record). */
  reset(): void {
    this.list = undefined;
  }
}

const INT64_LIMIT = 9223372036854775808; // 2^63, exactly representable
const INT64_MIN_BIG = -(2n ** 63n);
const INT64_MAX_BIG = 2n ** 63n - 1n;

/** The string as it will be written: within the length limit and well-formed (lone surrogates replaced). */
export function sanitizeString(s: string, path: string, p: EncodeProblems, limits: EncodeLimits): string {
  if (s.length > limits.maxStringLength) {
    p.add(path, `string of ${s.length} UTF-16 units truncated to ${limits.maxStringLength}`);
    s = s.slice(0, limits.maxStringLength);
  }
  if (!s.isWellFormed()) {
    p.add(path, 'lone surrogate replaced by U+FFFD');
    s = s.toWellFormed();
  }
  return s;
}

/** JSON string literal of the sanitized string: valid I-JSON, and JCS (RFC 8785 §3.2.2.2) by construction. */
export function encodeString(s: string, path: string, p: EncodeProblems, limits: EncodeLimits): string {
  return JSON.stringify(sanitizeString(s, path, p, limits));
}

/** Tagged form of a JS number, per ARCHITECTURE.md §3: integer → intValue (decimal string), otherwise doubleValue. */
export function encodeNumber(n: number, path: string, p: EncodeProblems): string {
  if (Number.isInteger(n)) {
    if (Number.isSafeInteger(n)) return `{"intValue":"${n}"}`;
    if (n > -INT64_LIMIT && n < INT64_LIMIT) return `{"intValue":"${BigInt(n)}"}`;
    p.add(path, 'integer outside int64 encoded as doubleValue');
    return `{"doubleValue":${JSON.stringify(n)}}`;
  }
  if (Number.isFinite(n)) return `{"doubleValue":${JSON.stringify(n)}}`;
  p.add(path, `${n} encoded as stringValue`);
  return `{"stringValue":"${n}"}`;
}

/** Standard base64 with padding (RFC 4648 §4), as proto3 JSON writes `bytes`. */
export function encodeBytes(b: Uint8Array): string {
  return `{"bytesValue":"${Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64')}"}`;
}

/** The empty AnyValue (OTLP: a value with no member set). */
const EMPTY = '{}';

export interface EncodedKeyValues {
  /** Comma-separated OTLP KeyValue objects, insertion order, without the enclosing brackets. */
  otlp: string;
  /** A JCS object: members sorted by key (UTF-16 code units, RFC 8785 §3.2.3). "{}" when empty. */
  canonical: string;
  count: number;
}

/**
 * One encoding of one value tree: its output slots (the OTLP/JSON text and the canonical text of the value
 * just encoded, read by the caller one level up) and what it met on the way. An instance per call: the state of
 * an encoding is never shared, so nothing here depends on a call order or breaks when re-entered.
 */
class ValueEncoder {
  otlp = '';
  canon = '';
  /** Characters of OTLP text written so far by this encoding (a UTF-16 count: a lower bound of its bytes). */
  private used = 0;
  private readonly seen: unknown[] = [];
  private readonly order = new MemberOrder();

  constructor(
    private readonly p: EncodeProblems,
    private readonly limits: EncodeLimits,
  ) {}

  /**
   * Encodes one value into `otlp`/`canon`. Returns false when the value is to be omitted (undefined, function,
   * symbol) — the caller decides what omission means in its container.
   */
  value(v: unknown, path: string, depth: number): boolean {
    const written = this.encode(v, path, depth);
    // Leaves only: a container's text is its members' text again (plus a few brackets per member).
    if (written && (typeof v !== 'object' || v === null || v instanceof Uint8Array || v instanceof Date || this.otlp.startsWith('{"stringValue"'))) {
      this.used += this.otlp.length;
      if (this.used > this.limits.maxRecordBytes) throw new RecordTooLargeError(this.limits.maxRecordBytes);
    }
    return written;
  }

  private encode(v: unknown, path: string, depth: number): boolean {
    const p = this.p;
    switch (typeof v) {
      case 'string':
        this.otlp = this.canon = `{"stringValue":${encodeString(v, path, p, this.limits)}}`;
        return true;
      case 'number':
        this.otlp = this.canon = encodeNumber(v, path, p);
        return true;
      case 'boolean':
        this.otlp = this.canon = v ? '{"boolValue":true}' : '{"boolValue":false}';
        return true;
      case 'bigint':
        if (v >= INT64_MIN_BIG && v <= INT64_MAX_BIG) {
          this.otlp = this.canon = `{"intValue":"${v}"}`;
        } else {
          p.add(path, 'bigint outside int64 encoded as stringValue');
          this.otlp = this.canon = `{"stringValue":"${v}"}`;
        }
        return true;
      case 'undefined':
        return false;
      case 'function':
      case 'symbol':
        p.add(path, `${typeof v} dropped`);
        return false;
      default:
        return this.object(v, path, depth);
    }
  }

  /** null, bytes, dates, and containers (with the cycle and depth outcomes). */
  private object(v: unknown, path: string, depth: number): boolean {
    if (v === null) {
      this.otlp = this.canon = EMPTY;
      return true;
    }
    if (v instanceof Uint8Array) {
      // Checked before the base64 text is made: 4 characters for every 3 bytes.
      if (this.used + (v.byteLength / 3) * 4 > this.limits.maxRecordBytes) throw new RecordTooLargeError(this.limits.maxRecordBytes);
      this.otlp = this.canon = encodeBytes(v);
      return true;
    }
    if (v instanceof Date) {
      const t = v.getTime();
      this.otlp = this.canon = Number.isNaN(t) ? '{"stringValue":"Invalid Date"}' : `{"stringValue":"${v.toISOString()}"}`;
      return true;
    }
    if (this.seen.includes(v)) {
      this.p.add(path, 'cycle replaced by "[Circular]"');
      this.otlp = this.canon = '{"stringValue":"[Circular]"}';
      return true;
    }
    if (depth >= this.limits.maxDepth) {
      this.p.add(path, `nesting deeper than ${this.limits.maxDepth} replaced by "[MaxDepth]"`);
      this.otlp = this.canon = '{"stringValue":"[MaxDepth]"}';
      return true;
    }
    this.seen.push(v);
    if (Array.isArray(v)) this.array(v, path, depth);
    else if (isPlain(v as object)) this.map(v as Record<string, unknown>, path, depth); // the usual case, tested first
    else if (v instanceof Set) this.array(Array.from(v as Set<unknown>), path, depth);
    else if (v instanceof Map) {
      const { entries, collided } = entriesOf(v as Map<unknown, unknown>);
      if (collided !== undefined) this.p.add(path, `Map keys with the same text (${collided}): the last entry kept`);
      this.map(entries, path, depth);
    }
    else if (v instanceof Error) this.map(errorFields(v), path, depth);
    else if (Object.keys(v as object).length === 0) {
      // A URL, a RegExp, a boxed primitive, a class whose state is not in own enumerable properties: written as
      // `{}` it would be an empty kvlist, its content lost without a word. Its text keeps it; the record is marked.
      this.p.add(path, `${kindOfObject(v as object)} with no own enumerable properties written as its text`);
      this.otlp = this.canon = `{"stringValue":${encodeString(asText(v), path, this.p, this.limits)}}`;
    } else this.map(v as Record<string, unknown>, path, depth);
    this.seen.pop();
    return true;
  }

  private array(a: readonly unknown[], path: string, depth: number): void {
    let n = a.length;
    if (n > this.limits.maxItems) {
      this.p.add(path, `array of ${n} items truncated to ${this.limits.maxItems}`);
      n = this.limits.maxItems;
    }
    let o = '';
    let c = '';
    for (let i = 0; i < n; i++) {
      const sep = i === 0 ? '' : ',';
      if (this.value(a[i], `${path}[${i}]`, depth + 1)) {
        o += sep + this.otlp;
        c += sep + this.canon;
      } else {
        o += sep + EMPTY;
        c += sep + EMPTY;
      }
    }
    this.otlp = `{"arrayValue":{"values":[${o}]}}`;
    this.canon = `[${c}]`;
  }

  private map(m: Record<string, unknown>, path: string, depth: number): void {
    let keys = Object.keys(m);
    if (keys.length > this.limits.maxItems) {
      this.p.add(path, `map of ${keys.length} entries truncated to ${this.limits.maxItems}`);
      keys = keys.slice(0, this.limits.maxItems);
    }
    const list = this.keyValues(m, keys, path, depth + 1);
    this.otlp = `{"kvlistValue":{"values":[${list.otlp}]}}`;
    this.canon = list.canonical;
  }

  keyValues(m: Record<string, unknown>, keys: readonly string[], path: string, depth: number, skip?: (key: string) => boolean): EncodedKeyValues {
    let o = '';
    // Canonical members as parallel arrays (raw key, "key":value text).
    const rawKeys: string[] = [];
    const members: string[] = [];
    // Keys written so far, as written (a value read again could differ: a getter); checked as a set only once a
    // key had to be sanitized (rare path), see below.
    const outKeys: string[] = [];
    let written: Set<string> | undefined;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      if (!this.value(m[key], path === '' ? key : `${path}.${key}`, depth)) continue;
      const keyPath = path === '' ? `{${key}}` : `${path}{${key}}`;
      const raw = sanitizeString(key, keyPath, this.p, this.limits);
      if (raw !== key && written === undefined) {
        // A sanitized key (lone surrogate replaced, or truncated) can equal another key of the same map, which
        // would write a duplicate key: a record that canonicalFromOtlp rejects. From here on, every key is checked.
        written = new Set(outKeys);
      }
      if (written !== undefined) {
        if (written.has(raw)) {
          this.p.add(keyPath, 'key equals another key after sanitizing; member dropped');
          continue;
        }
        written.add(raw);
      }
      outKeys.push(raw);
      const k = JSON.stringify(raw);
      o += (o === '' ? '' : ',') + `{"key":${k},"value":${this.otlp}}`;
      if (skip === undefined || !skip(raw)) {
        rawKeys.push(raw);
        members.push(k + ':' + this.canon);
      }
    }
    return { otlp: o, canonical: `{${this.joinSorted(rawKeys, members)}}`, count: members.length };
  }

  /** Members joined in JCS order. */
  private joinSorted(keys: string[], members: string[]): string {
    const order = this.order.of(keys);
    let out = '';
    for (let i = 0; i < order.length; i++) out += (i === 0 ? '' : ',') + members[order[i]!]!;
    return out;
  }
}

/**
 * The RFC 8785 §3.2.3 order of an object's members: by raw key, comparing UTF-16 code units (JS `<` does exactly
 * so). Records of one kind repeat the same keys in the same order, so the permutation of the last key list is
 * kept and reused when the next list is identical (compared element by element).
 */
export class MemberOrder {
  private keys: string[] = [];
  private perm: number[] = [];

  /** Indexes of keys[0..n) in JCS order; valid until the next call. */
  of(keys: readonly string[], n: number = keys.length): readonly number[] {
    let same = n === this.keys.length;
    for (let i = 0; same && i < n; i++) same = keys[i] === this.keys[i];
    if (!same) {
      const k = keys.slice(0, n);
      this.keys = k;
      this.perm = Array.from({ length: n }, (_, i) => i).sort((a, b) => (k[a]! < k[b]! ? -1 : k[a]! > k[b]! ? 1 : 0));
    }
    return this.perm;
  }
}

/**
 * Encodes a record's attributes (or any string-keyed map) at the top level.
 * `skip` names keys that go to OTLP but not into the canonical object (the `audit.integrity.*` family).
 */
export function encodeAttributes(
  attrs: Readonly<Record<string, unknown>>,
  p: EncodeProblems,
  limits: EncodeLimits = DEFAULT_ENCODE_LIMITS,
  skip?: (key: string) => boolean,
): EncodedKeyValues {
  return new ValueEncoder(p, limits).keyValues(attrs as Record<string, unknown>, Object.keys(attrs), '', 0, skip);
}

/** Encodes one AnyValue; `undefined` when the value is absent. */
export function encodeAnyValue(
  v: unknown,
  path: string,
  p: EncodeProblems,
  limits: EncodeLimits = DEFAULT_ENCODE_LIMITS,
): { otlp: string; canonical: string } | undefined {
  const e = new ValueEncoder(p, limits);
  if (!e.value(v, path, 0)) return undefined;
  return { otlp: e.otlp, canonical: e.canon };
}

/** A plain object: what the Logs API's AnyValue map is (an object literal, JSON.parse, Object.create(null)). */
function isPlain(v: object): boolean {
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * A Map's entries as a kvlist's members: keys as text (String), the last of keys with one text winning, as in a map;
 * `collided`: the first such text (1 and '1', two objects that are both "[object Object]"), for the record's mark.
 */
function entriesOf(m: Map<unknown, unknown>): { entries: Record<string, unknown>; collided: string | undefined } {
  const entries: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  let collided: string | undefined;
  for (const [k, v] of m) {
    const key = asText(k);
    if (collided === undefined && Object.hasOwn(entries, key)) collided = JSON.stringify(key.slice(0, 64));
    entries[key] = v;
  }
  return { entries, collided };
}

/**
 * An Error's name and message, its cause and an AggregateError's errors (none enumerable, so `{}` otherwise), then
 * its own enumerable fields (code, errno, …).
 */
function errorFields(e: Error): Record<string, unknown> {
  const o: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  o.name = safeRead(() => e.name);
  o.message = safeRead(() => e.message);
  if (Object.hasOwn(e, 'cause')) o.cause = safeRead(() => e.cause);
  if (e instanceof AggregateError) o.errors = safeRead(() => e.errors);
  for (const k of Object.keys(e)) o[k] = safeRead(() => (e as unknown as Record<string, unknown>)[k]);
  return o;
}

function safeRead(read: () => unknown): unknown {
  try {
    return read();
  } catch {
    return '[unreadable]';
  }
}

/** `a URL`, `an object`: for the mark. */
function kindOfObject(v: object): string {
  const name = safeRead(() => (v.constructor as { name?: unknown } | undefined)?.name);
  return typeof name === 'string' && name !== '' ? `a ${name}` : 'an object';
}
