/**
 * Canonical form v1 (docs/canonical-form.md) against data:
 * - test/vectors/canonical/*.json: records whose expected canonical text was derived independently (a
 *   hand-written canonical object serialized with the generic RFC 8785 serializer), never by canonicalFromOtlp;
 * - test/vectors/canonical-negative/*.json: records that have no canonical form;
 * - a seeded property test: random JS records sealed through the SDK path (RecordSealer) must give the same
 *   canonical bytes when read back from their own OTLP/JSON text.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SpanContext } from '@opentelemetry/api';
import type { AnyValue, LogAttributes } from '../../src/otel/types.js';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { describe, expect, it } from 'vitest';
import { canonicalFromOtlp, CanonicalFormError, MAX_VALUE_NESTING } from '../../src/chain/canonical.js';
import { HashChain } from '../../src/chain/chain.js';
import { hashCanonical } from '../../src/chain/hash.js';
import { jcs } from '../../src/chain/jcs.js';
import { RecordSealer } from '../../src/chain/seal.js';
import { SyntheticRecord } from '../../src/chain/synthetic-record.js';
import { prngFloat } from '../helpers/prng.js';
import {
  ATTR_RECORD_ID,
  ATTR_SEQ_NUMBER,
  ATTR_SEQ_PREVIOUS_HASH,
  ATTR_SEQ_PREVIOUS_RECORD_ID,
  ATTR_SEQ_STREAM_ID,
  ATTR_VALIDATION_ERROR,
} from '../../src/core/attributes.js';
import type { OtlpAnyValue, OtlpKeyValue, OtlpLogRecord } from '../../src/otlp/types.js';
import { parseJsonKeysSafely } from '../helpers/json-parse-keys.js';

const VECTORS = fileURLToPath(new URL('../vectors/', import.meta.url));

interface Vector {
  description: string;
  record: OtlpLogRecord;
  canonical: string;
  sha256: string;
}
interface NegativeVector {
  description: string;
  record: OtlpLogRecord;
  error: string;
}

function load<T>(dir: string): Array<[string, T]> {
  return readdirSync(`${VECTORS}${dir}`)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => [f, JSON.parse(readFileSync(`${VECTORS}${dir}/${f}`, 'utf8')) as T]);
}

const positive = load<Vector>('canonical');
const negative = load<NegativeVector>('canonical-negative');
const byName = new Map(positive);

const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');
const attr = (r: OtlpLogRecord, key: string): OtlpAnyValue | undefined => r.attributes?.find((kv) => kv.key === key)?.value;

describe('canonical vectors (test/vectors/canonical)', () => {
  it('has the expected coverage', () => {
    expect(positive.length).toBeGreaterThanOrEqual(10);
    expect(negative.length).toBeGreaterThanOrEqual(5);
    for (const name of [
      'minimal.json',
      'int-vs-double.json',
      'bytes.json',
      'nested-kvlist-array.json',
      'unicode.json',
      'body-absent.json',
      'body-string.json',
      'body-empty-string.json',
      'trace-context.json',
      'integrity-excluded.json',
      'intvalue-json-number.json',
      'int64-large.json',
    ]) {
      expect(byName.has(name), name).toBe(true);
    }
  });

  it.each(positive)('%s: canonicalFromOtlp(record) is the expected text and hash', (_name, v) => {
    expect(typeof v.description).toBe('string');
    const canonical = canonicalFromOtlp(v.record);
    expect(canonical).toBe(v.canonical);
    expect(hashCanonical(canonical)).toBe(v.sha256);
  });

  it.each(positive)('%s: the vector is self-consistent (JCS text, SHA-256 of its UTF-8 bytes)', (_name, v) => {
    expect(jcs(parseJsonKeysSafely(v.canonical))).toBe(v.canonical);
    expect(sha256(v.canonical)).toBe(v.sha256);
    expect(v.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('minimal → integrity-excluded → stream-end form a valid chain', () => {
    const [a, b, c] = ['minimal.json', 'integrity-excluded.json', 'stream-end.json'].map((n) => byName.get(n)!);
    expect(attr(a!.record, ATTR_SEQ_PREVIOUS_HASH)).toBeUndefined();
    expect(attr(a!.record, ATTR_SEQ_PREVIOUS_RECORD_ID)).toBeUndefined();
    expect(attr(b!.record, ATTR_SEQ_PREVIOUS_HASH)?.stringValue).toBe(a!.sha256);
    expect(attr(b!.record, ATTR_SEQ_PREVIOUS_RECORD_ID)?.stringValue).toBe(attr(a!.record, ATTR_RECORD_ID)?.stringValue);
    expect(attr(c!.record, ATTR_SEQ_PREVIOUS_HASH)?.stringValue).toBe(b!.sha256);
    expect(attr(c!.record, ATTR_SEQ_PREVIOUS_RECORD_ID)?.stringValue).toBe(attr(b!.record, ATTR_RECORD_ID)?.stringValue);
    expect([a, b, c].map((v) => attr(v!.record, ATTR_SEQ_NUMBER)?.intValue)).toEqual(['1', '2', '3']);
    expect(new Set([a, b, c].map((v) => attr(v!.record, ATTR_SEQ_STREAM_ID)?.stringValue)).size).toBe(1);
  });

  it('an integral doubleValue and the same intValue have different canonical forms', () => {
    const c = byName.get('int-vs-double.json')!.canonical;
    expect(c).toContain('"two.double":{"doubleValue":2}');
    expect(c).toContain('"two.int":{"intValue":"2"}');
  });

  it('changing any signed member changes the hash; changing an excluded member does not', () => {
    const base = byName.get('integrity-excluded.json')!;
    const h = (r: OtlpLogRecord): string => hashCanonical(canonicalFromOtlp(r));
    const mutate = (f: (r: OtlpLogRecord) => void): OtlpLogRecord => {
      const r = structuredClone(base.record);
      f(r);
      return r;
    };
    const excluded = [
      mutate((r) => (r.severityNumber = 21)),
      mutate((r) => (r.severityText = 'FATAL')),
      mutate((r) => (r.flags = 1)),
      mutate((r) => (r.droppedAttributesCount = 5)),
      mutate((r) => attr(r, 'audit.integrity.value')!.stringValue = 'other'),
      mutate((r) => r.attributes!.reverse()),
    ];
    for (const r of excluded) expect(h(r)).toBe(base.sha256);
    const signed = [
      mutate((r) => (r.timeUnixNano = '1700000001000000001')),
      mutate((r) => (r.observedTimeUnixNano = '1')),
      mutate((r) => (r.eventName = 'document.delete')),
      mutate((r) => (r.body = { stringValue: 'document updated!' })),
      mutate((r) => (r.traceId = '0102030405060708090a0b0c0d0e0f10')),
      mutate((r) => (r.spanId = '0102030405060708')),
      mutate((r) => (attr(r, 'audit.actor.id')!.stringValue = 'mallory')),
      mutate((r) => (attr(r, ATTR_SEQ_NUMBER)!.intValue = '3')),
      mutate((r) => (r.attributes = r.attributes!.filter((kv) => kv.key !== 'audit.outcome'))),
      mutate((r) => r.attributes!.push({ key: 'extra', value: {} })),
    ];
    for (const r of signed) expect(h(r)).not.toBe(base.sha256);
  });
});

describe('distinct records never share a canonical form', () => {
  it('an id cannot smuggle members into the canonical text', () => {
    const real: OtlpLogRecord = { spanId: '0102030405060708', timeUnixNano: '5', eventName: 'e' };
    const forged: OtlpLogRecord = { spanId: '0102030405060708","timestamp":"5', eventName: 'e' };
    expect(canonicalFromOtlp(real)).toBe('{"event_name":"e","span_id":"0102030405060708","timestamp":"5"}');
    expect(() => canonicalFromOtlp(forged)).toThrow(CanonicalFormError);
  });

  it.each<[string, OtlpAnyValue, OtlpAnyValue]>([
    ['boolValue "false" vs true', { boolValue: 'false' as unknown as boolean }, { boolValue: true }],
    ['doubleValue "" vs 0', { doubleValue: '' }, { doubleValue: 0 }],
    ['bytesValue of 4n+1 chars vs its whole groups', { bytesValue: 'AAAAA' }, { bytesValue: 'AAAA' }],
    ['stringValue + intValue vs stringValue', { stringValue: 'a', intValue: '1' }, { stringValue: 'a' }],
  ])('%s: the malformed one is rejected', (_name, malformed, wellFormed) => {
    const rec = (v: OtlpAnyValue): OtlpLogRecord => ({ attributes: [{ key: 'x', value: v }] });
    expect(() => canonicalFromOtlp(rec(malformed))).toThrow(CanonicalFormError);
    expect(canonicalFromOtlp(rec(wellFormed))).toMatch(/^\{"attributes":\{"x":/);
  });

  it('a doubleValue given as a quoted JSON number (proto3 JSON) reads as that number', () => {
    const rec: OtlpLogRecord = { attributes: [{ key: 'x', value: { doubleValue: '2.50' } }] };
    expect(canonicalFromOtlp(rec)).toBe('{"attributes":{"x":{"doubleValue":2.5}}}');
  });
});

describe('nesting limit (MAX_VALUE_NESTING)', () => {
  const nested = (kind: 'arrayValue' | 'kvlistValue', d: number): OtlpAnyValue => {
    let v: OtlpAnyValue = { stringValue: 'x' };
    for (let i = 0; i < d; i++) v = kind === 'arrayValue' ? { arrayValue: { values: [v] } } : { kvlistValue: { values: [{ key: 'k', value: v }] } };
    return v;
  };
  it.each(['arrayValue', 'kvlistValue'] as const)('%s: 128 levels have a canonical form, 129 none (a CanonicalFormError, not a RangeError)', (kind) => {
    expect(MAX_VALUE_NESTING).toBe(128);
    expect(() => canonicalFromOtlp({ attributes: [{ key: 'a', value: nested(kind, 128) }] })).not.toThrow();
    expect(() => canonicalFromOtlp({ body: nested(kind, 128) })).not.toThrow();
    expect(() => canonicalFromOtlp({ attributes: [{ key: 'a', value: nested(kind, 129) }] })).toThrow(CanonicalFormError);
    expect(() => canonicalFromOtlp({ body: nested(kind, 129) })).toThrow(/nested deeper than 128/);
    expect(() => canonicalFromOtlp({ body: nested(kind, 20000) })).toThrow(CanonicalFormError);
  });

  it("the encoder's deepest output (nesting past maxDepth replaced) reads back with the hash it was sealed with", () => {
    let v: unknown = 'leaf';
    for (let i = 0; i < 40; i++) v = i % 2 === 0 ? [v] : { k: v };
    const r = new SyntheticRecord(resourceFromAttributes({}), { name: 'audit' }, { eventName: 'e', attributes: { a: v } as LogAttributes });
    r.body = v as AnyValue;
    const sealed = new RecordSealer().seal(r, new HashChain());
    const json = sealed.bytes.toString('utf8');
    expect(json).toContain('[MaxDepth]');
    expect(sha256(canonicalFromOtlp(JSON.parse(json) as OtlpLogRecord))).toBe(sealed.hash);
  });
});

describe('negative vectors (test/vectors/canonical-negative)', () => {
  it.each(negative)('%s throws CanonicalFormError', (_name, v) => {
    expect(typeof v.description).toBe('string');
    let err: unknown;
    try {
      canonicalFromOtlp(v.record);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CanonicalFormError);
    expect((err as Error).message).toContain(v.error);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Property test: SDK path (RecordSealer) and file path (canonicalFromOtlp of the written JSON) agree.

class Gen {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = prngFloat(seed);
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }

  static readonly PIECES = [
    'a', 'Z', '0', ' ', 'user', 'é', 'e\u0301', 'A\u030a', '\u00c5', '€', '\u{1F600}', '\u{10FFFF}', '\ue000',
    '\ufb33', '\u2028', '\u007f', '\u0000', '\u001f', '\b', '\t', '\n', '\r', '"', '\\', '/', '</script>',
    '__proto__', 'constructor', '.', 'audit.', '日本語',
  ];

  string(): string {
    // Sometimes a long plain-ASCII string: the byte encoder's long-string path (> 64 characters).
    if (this.chance(0.08)) return 'ascii '.repeat(11 + this.int(30)) + this.pick(['', '"', 'é', '\\']);
    let s = '';
    const n = this.int(6);
    for (let i = 0; i < n; i++) s += this.pick(Gen.PIECES);
    // Rarely a lone surrogate: the producer replaces it and marks the record (defined outcome).
    if (this.chance(0.01)) s += this.pick(['\ud800', '\udfff']);
    return s;
  }

  number(): number {
    switch (this.int(4)) {
      case 0:
        return this.int(2001) - 1000;
      case 1: // any safe integer
        return (this.next() * 2 - 1) * Number.MAX_SAFE_INTEGER >= 0
          ? Math.floor(this.next() * Number.MAX_SAFE_INTEGER)
          : -Math.floor(this.next() * Number.MAX_SAFE_INTEGER);
      default: {
        // non-integral double over a wide range of magnitudes (exponent forms included)
        let d: number;
        do d = (this.next() - 0.5) * 10 ** (this.int(40) - 15);
        while (Number.isInteger(d));
        return d;
      }
    }
  }

  bytes(): Uint8Array {
    const buf = new Uint8Array(this.int(10) + 2);
    for (let i = 0; i < buf.length; i++) buf[i] = this.int(256);
    return this.chance(0.3) ? buf.subarray(1, buf.length - 1) : buf; // non-zero byteOffset too
  }

  value(depth: number): unknown {
    const k = this.int(depth >= 4 ? 5 : 8);
    switch (k) {
      case 0:
        return this.string();
      case 1:
        return this.number();
      case 2:
        return this.chance(0.5);
      case 3:
        return this.bytes();
      case 4:
        return this.pick([this.string(), null, '', 0]);
      case 5:
      case 6: {
        const a: unknown[] = [];
        const n = this.int(5);
        for (let i = 0; i < n; i++) a.push(this.value(depth + 1));
        return a;
      }
      default:
        return this.map(depth + 1);
    }
  }

  map(depth: number): Record<string, unknown> {
    const m: Record<string, unknown> = {};
    const n = this.int(5);
    for (let i = 0; i < n; i++) {
      const key = this.chance(0.1) ? '__proto__' : this.string();
      // defineProperty: an own "__proto__" member, as JSON.parse would create, not a prototype change
      Object.defineProperty(m, key, { value: this.value(depth), enumerable: true, writable: true, configurable: true });
    }
    return m;
  }

  hex(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += '0123456789abcdef'[this.int(16)];
    return s;
  }
}

/** Structural check of one OTLP/JSON LogRecord as the proto3 JSON mapping (strict writer) defines it. */
function checkOtlpAnyValue(v: unknown, where: string): void {
  expect(typeof v === 'object' && v !== null && !Array.isArray(v), where).toBe(true);
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  expect(keys.length, `${where}: at most one member`).toBeLessThanOrEqual(1);
  const [k] = keys;
  if (k === undefined) return;
  const x = o[k];
  switch (k) {
    case 'stringValue':
      expect(typeof x, where).toBe('string');
      expect((x as string).isWellFormed(), where).toBe(true);
      break;
    case 'boolValue':
      expect(typeof x, where).toBe('boolean');
      break;
    case 'intValue':
      expect(x, where).toMatch(/^(0|-?[1-9][0-9]*)$/);
      expect(BigInt(x as string) >= -(2n ** 63n) && BigInt(x as string) < 2n ** 63n, where).toBe(true);
      break;
    case 'doubleValue':
      expect(typeof x === 'number' && Number.isFinite(x), where).toBe(true);
      break;
    case 'bytesValue':
      expect(x, where).toMatch(/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/);
      break;
    case 'arrayValue': {
      const values = (x as { values?: unknown }).values;
      expect(Array.isArray(values), where).toBe(true);
      (values as unknown[]).forEach((e, i) => checkOtlpAnyValue(e, `${where}[${i}]`));
      break;
    }
    case 'kvlistValue': {
      const values = (x as { values?: unknown }).values;
      expect(Array.isArray(values), where).toBe(true);
      checkKeyValues(values as unknown[], where);
      break;
    }
    default:
      throw new Error(`${where}: unknown AnyValue member ${k}`);
  }
}

function checkKeyValues(kvs: readonly unknown[], where: string): void {
  const seen = new Set<string>();
  for (const kv of kvs) {
    const { key, value } = kv as OtlpKeyValue;
    expect(typeof key, where).toBe('string');
    expect(key.isWellFormed(), where).toBe(true);
    expect(seen.has(key), `${where}: duplicate key ${JSON.stringify(key)}`).toBe(false);
    seen.add(key);
    checkOtlpAnyValue(value, `${where}.${key}`);
  }
}

function checkOtlpLogRecord(r: Record<string, unknown>): void {
  const allowed = [
    'timeUnixNano', 'observedTimeUnixNano', 'severityNumber', 'severityText', 'body', 'attributes',
    'droppedAttributesCount', 'flags', 'traceId', 'spanId', 'eventName',
  ];
  for (const k of Object.keys(r)) expect(allowed, k).toContain(k);
  expect(r['timeUnixNano']).toMatch(/^(0|[1-9][0-9]*)$/);
  expect(r['observedTimeUnixNano']).toMatch(/^(0|[1-9][0-9]*)$/);
  if (r['severityNumber'] !== undefined) expect(Number.isInteger(r['severityNumber'])).toBe(true);
  if (r['severityText'] !== undefined) expect(typeof r['severityText']).toBe('string');
  if (r['body'] !== undefined) checkOtlpAnyValue(r['body'], 'body');
  expect(Array.isArray(r['attributes'])).toBe(true);
  checkKeyValues(r['attributes'] as unknown[], 'attributes');
  if (r['flags'] !== undefined) expect(r['flags']).toBeTypeOf('number');
  if (r['traceId'] !== undefined) expect(r['traceId']).toMatch(/^[0-9a-f]{32}$/);
  if (r['spanId'] !== undefined) expect(r['spanId']).toMatch(/^[0-9a-f]{16}$/);
  if (r['eventName'] !== undefined) expect(typeof r['eventName']).toBe('string');
}

describe('property: RecordSealer (SDK path) and canonicalFromOtlp (file path) agree', () => {
  const resource = resourceFromAttributes({ 'service.name': 'canonical-test' });
  const scope = { name: 'audit' };

  function randomRecord(g: Gen, i: number): SyntheticRecord {
    const attributes: Record<string, unknown> = { 'audit.action': g.pick(['READ', 'UPDATE', 'LOGIN']) };
    const n = g.int(6);
    for (let j = 0; j < n; j++) {
      // Top-level keys go through SyntheticRecord.setAttribute (plain assignment), so no "__proto__" here.
      let key = g.string();
      if (key.includes('__proto__')) key = key.replaceAll('__proto__', '_proto_');
      if (g.chance(0.1)) key = `audit.integrity.${key}`;
      attributes[key] = g.value(0);
    }
    const r = new SyntheticRecord(resource, scope, { eventName: g.chance(0.8) ? g.string() : '', attributes: attributes as LogAttributes });
    if (g.chance(0.2)) r.eventName = undefined;
    r.hrTime = [g.int(2_000_000_000), g.int(1_000_000_000)];
    r.hrTimeObserved = g.chance(0.1) ? [0, 0] : [g.int(2_000_000_000), g.int(1_000_000_000)];
    if (g.chance(0.7)) r.body = g.value(0) as AnyValue;
    if (g.chance(0.3)) r.severityNumber = g.int(25);
    if (g.chance(0.2)) r.severityText = g.string();
    if (g.chance(0.5)) {
      const sc: SpanContext = { traceId: g.hex(32), spanId: g.hex(16), traceFlags: g.int(2) };
      r.spanContext = sc;
    }
    if (i % 50 === 0) r.eventName = 'audit.stream.end';
    return r;
  }

  it('1000 random records: same canonical bytes from the SDK record and from its OTLP/JSON text', () => {
    const sealer = new RecordSealer();
    const g = new Gen(0x5eed1234);
    const chain = new HashChain();
    let prev: { hash: string; id: string } | undefined;
    let marked = 0;
    for (let i = 0; i < 1000; i++) {
      const sealed = sealer.seal(randomRecord(g, i), chain);
      const json = sealed.bytes.toString('utf8');
      const where = `record #${i} ${json.slice(0, 200)}`;
      const parsed = JSON.parse(json) as Record<string, unknown>;
      checkOtlpLogRecord(parsed);
      const record = parsed as OtlpLogRecord;
      const canonical = canonicalFromOtlp(record);
      expect(hashCanonical(canonical), where).toBe(sealed.hash);
      expect(sha256(canonical), where).toBe(sealed.hash);
      // The canonical text is RFC 8785: the generic serializer reproduces it from its own parse.
      expect(jcs(parseJsonKeysSafely(canonical)), where).toBe(canonical);
      // Chain attributes are stamped and part of the hashed form.
      expect(attr(record, ATTR_SEQ_NUMBER)?.intValue, where).toBe(String(i + 1));
      expect(attr(record, ATTR_SEQ_STREAM_ID)?.stringValue).toBe(chain.streamId);
      expect(attr(record, ATTR_SEQ_PREVIOUS_HASH)?.stringValue).toBe(prev?.hash);
      expect(attr(record, ATTR_SEQ_PREVIOUS_RECORD_ID)?.stringValue).toBe(prev?.id);
      if (attr(record, ATTR_VALIDATION_ERROR) !== undefined) marked++;
      prev = { hash: sealed.hash, id: sealed.recordId };
    }
    expect(chain.last).toBe(1000);
    // Some records hit a defined outcome (lone surrogate replaced); most do not.
    expect(marked).toBeGreaterThan(0);
    expect(marked).toBeLessThan(500);
  });

  it('keys that collide after sanitizing do not make a record the file path rejects', () => {
    const r = new SyntheticRecord(resource, scope, {
      eventName: 'collide',
      attributes: { 'k\ud800': 1, 'k\udc00': 2, 'k\ufffd': 3 },
    });
    r.setBody({ ['m\ud800']: 'a', ['m\ufffd']: 'b' });
    const sealed = new RecordSealer().seal(r, new HashChain());
    const record = JSON.parse(sealed.bytes.toString('utf8')) as OtlpLogRecord;
    checkOtlpLogRecord(record as Record<string, unknown>);
    expect(hashCanonical(canonicalFromOtlp(record))).toBe(sealed.hash);
    expect(attr(record, ATTR_VALIDATION_ERROR)?.stringValue).toMatch(/equals another key/);
  });
});
