/**
 * JS values → OTLP/JSON bytes written straight into a ByteWriter, keeping where each value's canonical text
 * is: the hot path of `RecordSealer.seal` (chain/seal.ts). Fast paths, where the canonical text is the very bytes written:
 * - strings of printable ASCII other than `"` and `\` within the length limit (nothing to escape or sanitize);
 * - safe integers, finite non-integral numbers, booleans;
 * - arrays of those (the canonical array is the OTLP `values` list itself).
 * Every other value (maps, bytes, dates, bigints, strings to escape or sanitize, anything with a defined
 * outcome to record) goes through otlp/encode.ts, so the outcomes are that module's. The property test in
 * test/chain/canonical.test.ts checks the result against the file path (canonicalFromOtlp of the bytes).
 */
import type { ByteWriter } from './byte-writer.js';
import { encodeAnyValue, MemberOrder, RecordTooLargeError, sanitizeString, EncodeProblems, type EncodeLimits } from './encode.js';

const STRING_TAG = Buffer.from('{"stringValue":');
const INT_OPEN = Buffer.from('{"intValue":"');
const INT_CLOSE = Buffer.from('"}');
const TRUE = Buffer.from('{"boolValue":true}');
const FALSE = Buffer.from('{"boolValue":false}');
const ARRAY_HEAD = Buffer.from('{"arrayValue":{"values":[');
const ARRAY_TAIL = Buffer.from(']}}');
const NOT_SAFE = /[^\x20\x21\x23-\x5b\x5d-\x7e]/;

/** Writes `"s"` when `s` needs no escaping or sanitizing; otherwise writes nothing and returns false. */
export function writeSafeString(w: ByteWriter, s: string, maxLength: number): boolean {
  const n = s.length;
  if (n > maxLength) return false;
  w.ensure(n + 2);
  const b = w.buf;
  let at = w.pos;
  b[at++] = 0x22;
  if (n <= 64) {
    // Short strings (most audit values): checked and copied in one pass.
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
      b[at++] = c;
    }
  } else {
    if (NOT_SAFE.test(s)) return false;
    at += b.write(s, at, 'latin1');
  }
  b[at++] = 0x22;
  w.pos = at;
  return true;
}

/** A JSON string literal of a string that was already sanitized (well-formed, within limits). */
export function writeJsonString(w: ByteWriter, s: string): void {
  if (!writeSafeString(w, s, Infinity)) w.utf8(JSON.stringify(s));
}

/** The fast-path scalars; false (nothing written) for anything else, including numbers with a defined outcome. */
function writeScalar(w: ByteWriter, v: unknown, limits: EncodeLimits): boolean {
  switch (typeof v) {
    case 'string': {
      const start = w.pos;
      w.bytes(STRING_TAG);
      if (writeSafeString(w, v, limits.maxStringLength)) {
        w.byte(0x7d);
        return true;
      }
      w.pos = start;
      return false;
    }
    case 'number':
      if (Number.isSafeInteger(v)) {
        w.bytes(INT_OPEN);
        w.ascii(String(v));
        w.bytes(INT_CLOSE);
      }
      else if (Number.isFinite(v) && !Number.isInteger(v)) w.ascii(`{"doubleValue":${JSON.stringify(v)}}`);
      else return false; // NaN, ±Infinity, integers beyond 2^53: encode.ts decides and records the outcome
      return true;
    case 'boolean':
      w.bytes(v ? TRUE : FALSE);
      return true;
    default:
      return false;
  }
}

/** `{"key":"k","value":` and `"k":` of a key that needs no sanitizing: keys repeat, their bytes need not. */
interface KeyBytes {
  kv: Buffer;
  /** `kv` followed by `{"stringValue":`: a string value's KeyValue head in one copy. */
  kvString: Buffer;
  /** Where, in kvString, the value's canonical text starts. */
  member: Buffer;
}
const KEY_CACHE_MAX = 4096;

function keyBytes(raw: string): KeyBytes {
  const json = JSON.stringify(raw);
  const kv = Buffer.from(`{"key":${json},"value":`, 'utf8');
  return { kv, kvString: Buffer.concat([kv, STRING_TAG]), member: Buffer.from(`${json}:`, 'utf8') };
}

/** Values that `writeValue` omits (it returns false for exactly these). */
const isOmitted = (v: unknown): boolean => v === undefined || typeof v === 'function' || typeof v === 'symbol';
const never = (): boolean => false;

/**
 * Writes OTLP/JSON values and KeyValue lists into a ByteWriter and keeps, beside them, where each one's
 * canonical text is, so that the canonical object of a record's attributes is written from the same bytes.
 * All of its state is in the instance (one per sealer): nothing is shared between two writers.
 */
export class JsonValueWriter {
  /**
   * Where the canonical text of the value last written by `writeValue` is: bytes [canonStart, canonEnd) of the
   * writer, or `canonText` when it differs from the OTLP bytes (maps, nested arrays). Slots, not a result
   * object, to keep the hot path free of an allocation per value.
   */
  canonStart = 0;
  canonEnd = 0;
  canonText: string | undefined;
  /**
   * The KeyValues written since `beginAttributes`, and their canonical members as parallel arrays reused from
   * record to record: raw key, `"key":` bytes, and the canonical value (span of the writer, or text).
   */
  private kvCount = 0;
  private memberCount = 0;
  private readonly memberKeys: string[] = [];
  private readonly memberKeyBytes: Buffer[] = [];
  private readonly memberStart: number[] = [];
  private readonly memberEnd: number[] = [];
  private readonly memberText: (string | undefined)[] = [];
  private readonly keyCache = new Map<string, KeyBytes>();
  private readonly order = new MemberOrder();

  constructor(readonly w: ByteWriter) {}

  /**
   * Writes the OTLP/JSON AnyValue of `v` and sets the canonical slots. Returns false, writing nothing, when the
   * value is omitted (undefined, function, symbol — the latter two recorded as problems).
   */
  writeValue(v: unknown, path: string, p: EncodeProblems, limits: EncodeLimits): boolean {
    const w = this.w;
    const start = w.pos;
    this.canonText = undefined;
    if (writeScalar(w, v, limits)) {
      this.canonStart = start;
      this.canonEnd = w.pos;
      return true;
    }
    if (Array.isArray(v) && v.length <= limits.maxItems) {
      w.bytes(ARRAY_HEAD);
      let i = 0;
      for (; i < v.length; i++) {
        if (i > 0) w.byte(0x2c);
        if (!writeScalar(w, v[i], limits)) break;
        if (w.pos > limits.maxRecordBytes) throw new RecordTooLargeError(limits.maxRecordBytes);
      }
      if (i === v.length) {
        w.bytes(ARRAY_TAIL);
        // `{"arrayValue":{"values":[…]}}` → the canonical array is the `[…]` inside.
        this.canonStart = start + ARRAY_HEAD.length - 1;
        this.canonEnd = w.pos - 2;
        return true;
      }
      w.pos = start;
    }
    const e = encodeAnyValue(v, path, p, limits);
    if (e === undefined) return false;
    w.utf8(e.otlp);
    if (e.canonical === e.otlp) {
      this.canonStart = start;
      this.canonEnd = w.pos;
    } else {
      this.canonText = e.canonical;
    }
    return true;
  }

  /** `{"key":K,"value":` and the value; a string that needs no escaping is written after one copy of its head. */
  private writeKeyValue(kb: KeyBytes, v: unknown, path: string, p: EncodeProblems, limits: EncodeLimits): boolean {
    const w = this.w;
    if (typeof v === 'string') {
      const at = w.pos;
      w.bytes(kb.kvString);
      if (writeSafeString(w, v, limits.maxStringLength)) {
        w.byte(0x7d);
        this.canonText = undefined;
        this.canonStart = at + kb.kv.length;
        this.canonEnd = w.pos;
        return true;
      }
      w.pos = at;
    }
    w.bytes(kb.kv);
    return this.writeValue(v, path, p, limits);
  }

  /** Starts a new attribute list (a record's attributes: the record's own, then the processor's stamps). */
  beginAttributes(): void {
    this.kvCount = 0;
    this.memberCount = 0;
  }

  /**
   * Appends the OTLP KeyValues of a map to the list begun by `beginAttributes`, comma-separated, in insertion
   * order (no brackets), and records their canonical members for `writeCanonicalMembers`. `skip` names keys
   * that go to OTLP only (`audit.integrity.*`); `except`, keys not written at all (the processor stamps them
   * after). Returns the number of KeyValues in the list. Key outcomes are those of otlp/encode.ts: a key is
   * sanitized like a string, and a member whose key equals an earlier one once sanitized is dropped.
   */
  writeAttributes(
    attrs: Readonly<Record<string, unknown>>,
    p: EncodeProblems,
    limits: EncodeLimits,
    skip: (key: string) => boolean,
    except?: (key: string) => boolean,
  ): number {
    const w = this.w;
    const keys = Object.keys(attrs);
    // Keys written so far; built only once a key had to be sanitized (rare path), see below.
    let seen: Set<string> | undefined;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      if (except !== undefined && except(key)) continue;
      const v = attrs[key];
      const entry = w.pos;
      if (this.kvCount > 0) w.byte(0x2c);
      let raw = key;
      let kb = key.length <= limits.maxStringLength ? this.keyCache.get(key) : undefined;
      let keyProblems: string[] | undefined;
      if (kb === undefined) {
        const kp = new EncodeProblems();
        raw = sanitizeString(key, `{${key}}`, kp, limits);
        keyProblems = kp.list;
        kb = keyBytes(raw);
        if (raw === key) this.cacheKey(key, kb);
      }
      if (!this.writeKeyValue(kb, v, key, p, limits)) {
        w.pos = entry;
        continue;
      }
      if (keyProblems !== undefined) for (const k of keyProblems) (p.list ??= []).push(k);
      if (raw !== key && seen === undefined) {
        // A sanitized key (lone surrogate replaced, or truncated) can equal another key of the same map, which
        // would write a duplicate key: a record that canonicalFromOtlp rejects. From here on, every key is
        // checked; the keys before this one were written unchanged unless their value was omitted or excepted.
        seen = new Set();
        for (let j = 0; j < i; j++) if (!isOmitted(attrs[keys[j]!]) && !(except !== undefined && except(keys[j]!))) seen.add(keys[j]!);
      }
      if (seen !== undefined) {
        if (seen.has(raw)) {
          p.add(`{${key}}`, 'key equals another key after sanitizing; member dropped');
          w.pos = entry;
          continue;
        }
        seen.add(raw);
      }
      this.endMember(raw, kb, skip);
      // The writer holds this record alone, from position 0: its size so far (EncodeLimits.maxRecordBytes).
      if (w.pos > limits.maxRecordBytes) throw new RecordTooLargeError(limits.maxRecordBytes);
    }
    return this.kvCount;
  }

  /**
   * Appends one KeyValue whose key needs no sanitizing and is not in the list yet (the processor's own stamps,
   * after the record's attributes written with `except` for them). `skip` as for writeAttributes. Returns the
   * number of KeyValues in the list.
   */
  writeStamp(key: string, v: string | number, p: EncodeProblems, limits: EncodeLimits, skip: (key: string) => boolean = never): number {
    const w = this.w;
    let kb = this.keyCache.get(key);
    if (kb === undefined) this.cacheKey(key, (kb = keyBytes(key)));
    const entry = w.pos;
    if (this.kvCount > 0) w.byte(0x2c);
    if (!this.writeKeyValue(kb, v, key, p, limits)) w.pos = entry;
    else this.endMember(key, kb, skip);
    return this.kvCount;
  }

  /** Canonical members recorded since `beginAttributes`. */
  get canonicalMemberCount(): number {
    return this.memberCount;
  }

  /** Writes the canonical (JCS) object of the members recorded since `beginAttributes`, in JCS member order. */
  writeCanonicalMembers(): void {
    const w = this.w;
    const order = this.order.of(this.memberKeys, this.memberCount);
    w.byte(0x7b);
    for (let j = 0; j < order.length; j++) {
      const i = order[j]!;
      if (j > 0) w.byte(0x2c);
      w.bytes(this.memberKeyBytes[i]!);
      const text = this.memberText[i];
      if (text !== undefined) w.utf8(text);
      else w.copyWithin(this.memberStart[i]!, this.memberEnd[i]!);
    }
    w.byte(0x7d);
  }

  private cacheKey(key: string, kb: KeyBytes): void {
    if (this.keyCache.size >= KEY_CACHE_MAX) this.keyCache.clear();
    this.keyCache.set(key, kb);
  }

  private endMember(raw: string, kb: KeyBytes, skip: (key: string) => boolean): void {
    this.w.byte(0x7d);
    this.kvCount++;
    if (skip(raw)) return;
    const m = this.memberCount++;
    this.memberKeys[m] = raw;
    this.memberKeyBytes[m] = kb.member;
    this.memberStart[m] = this.canonStart;
    this.memberEnd[m] = this.canonEnd;
    this.memberText[m] = this.canonText;
  }
}
