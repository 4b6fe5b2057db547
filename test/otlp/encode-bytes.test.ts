/**
 * The byte encoder (the sealer's hot path) against the string encoder it falls back to: for every value and
 * map, the same OTLP/JSON bytes, the same canonical text and the same recorded problems. Inputs are chosen
 * around the fast paths' edges: the 64-character boundary of the short-string loop, every character class
 * that forces escaping or sanitizing, numbers with defined outcomes, arrays that are scalar-only but for one
 * element, limits that truncate.
 */
import { describe, expect, it } from 'vitest';
import { ByteWriter } from '../../src/otlp/byte-writer.js';
import {
  DEFAULT_ENCODE_LIMITS,
  EncodeProblems,
  encodeAnyValue,
  encodeAttributes,
  type EncodeLimits,
} from '../../src/otlp/encode.js';
import * as B from '../../src/otlp/encode-bytes.js';
import { prng } from '../helpers/prng.js';

const SMALL: EncodeLimits = { ...DEFAULT_ENCODE_LIMITS, maxStringLength: 70, maxItems: 3, maxDepth: 2 };
const UNSAFE = ['"', '\\', '\n', '\u0000', '\u001f', '\u007f', 'é', '€', '\u{1F600}', '\u2028', '\ud800', '\udfff'];
const SAFE = 'abcXYZ019 !#$%&\'()*+,-./:;<=>?@[]^_`{|}~';

function gen(seed: number) {
  const r = prng(seed);
  const chance = (p: number): boolean => r(1_000_000) < p * 1_000_000;
  const pick = <T>(xs: readonly T[]): T => xs[r(xs.length)]!;
  const string = (): string => {
    const n = pick([0, 1, 5, 63, 64, 65, 69, 70, 71, 200, r(300)]);
    let s = '';
    for (let i = 0; i < n; i++) s += SAFE[r(SAFE.length)];
    if (chance(0.35)) {
      const at = r(s.length + 1);
      s = s.slice(0, at) + pick(UNSAFE) + s.slice(at);
    }
    return s;
  };
  const number = (): number =>
    pick([
      () => r(2001) - 1000,
      () => -0,
      () => Number.MAX_SAFE_INTEGER,
      () => Number.MAX_SAFE_INTEGER + 2,
      () => 2 ** 63,
      () => -(2 ** 63),
      () => 1e300,
      () => (r(1_000_000) - 500_000) / 1024,
      () => 1.5e-7,
      () => NaN,
      () => Infinity,
      () => -Infinity,
    ])();
  const scalar = (): unknown => pick([string, string, number, number, () => chance(0.5)])();
  const value = (depth: number): unknown => {
    switch (r(depth > 2 ? 3 : 8)) {
      case 0:
        return string();
      case 1:
        return number();
      case 2:
        return pick([true, false, null, undefined, () => 1, Symbol('s'), 10n, 2n ** 70n, new Uint8Array([1, 2, 250]), new Date(0)]);
      case 3:
      case 4: {
        // Mostly scalar-only arrays (the fast path), sometimes with one element of another kind.
        const a: unknown[] = Array.from({ length: r(6) }, scalar);
        if (chance(0.3) && a.length > 0) a[r(a.length)] = value(depth + 1);
        if (chance(0.05)) a.length += 2; // holes
        return a;
      }
      default:
        return map(depth + 1);
    }
  };
  const map = (depth: number): Record<string, unknown> => {
    const m: Record<string, unknown> = {};
    const n = r(6);
    for (let i = 0; i < n; i++) {
      const key = chance(0.15) ? pick(['k\ud800', 'k\ufffd', 'k\udc00', 'x'.repeat(80), 'audit.integrity.v']) : string();
      Object.defineProperty(m, key, { value: value(depth), enumerable: true, writable: true, configurable: true });
    }
    return m;
  };
  return { value, map };
}

/** The writer of the last viaBytes call (its canonical slots). */
let last = new B.JsonValueWriter(new ByteWriter(16));

function viaBytes(v: unknown, limits: EncodeLimits): { otlp: string; canonical: string; problems: string[] | undefined } | undefined {
  const w = new ByteWriter(16); // tiny: growth happens mid-value too
  w.pos = 3; // not at 0: spans are positions, not offsets from 0
  const p = new EncodeProblems();
  const vw = (last = new B.JsonValueWriter(w));
  if (!vw.writeValue(v, 'v', p, limits)) {
    expect(w.pos, 'an omitted value writes nothing').toBe(3);
    return p.list === undefined ? undefined : { otlp: '', canonical: '', problems: p.list };
  }
  const canonical = vw.canonText ?? w.view(vw.canonStart, vw.canonEnd).toString('utf8');
  return { otlp: w.view(3, w.pos).toString('utf8'), canonical, problems: p.list };
}

function viaStrings(v: unknown, limits: EncodeLimits): ReturnType<typeof viaBytes> {
  const p = new EncodeProblems();
  const e = encodeAnyValue(v, 'v', p, limits);
  if (e === undefined) return p.list === undefined ? undefined : { otlp: '', canonical: '', problems: p.list };
  return { ...e, problems: p.list };
}

describe('byte encoder = string encoder', () => {
  it.each([
    ['default limits', DEFAULT_ENCODE_LIMITS, 0xb17e5],
    ['small limits', SMALL, 0x5a11],
  ] as const)('values, %s: same OTLP bytes, canonical text and problems (3000 random values)', (_, limits, seed) => {
    const g = gen(seed);
    let fast = 0;
    for (let i = 0; i < 3000; i++) {
      const v = g.value(0);
      const a = viaBytes(v, limits);
      expect(a, `value #${i}`).toStrictEqual(viaStrings(v, limits));
      if (a !== undefined && last.canonText === undefined) fast++;
    }
    // The generator does exercise the fast paths (and the fallbacks: the rest).
    expect(fast).toBeGreaterThan(1000);
    expect(fast).toBeLessThan(2900);
  });

  it.each([
    ['default limits', DEFAULT_ENCODE_LIMITS, 0xa77],
    ['small limits', SMALL, 0xa78],
  ] as const)('attribute maps, %s: same KeyValues, canonical object and problems (1000 random maps)', (_, limits, seed) => {
    const g = gen(seed);
    const skip = (k: string): boolean => k.startsWith('audit.integrity.');
    for (let i = 0; i < 1000; i++) {
      const m = g.map(0);
      const w = new ByteWriter(16);
      const vw = new B.JsonValueWriter(w);
      const p = new EncodeProblems();
      vw.beginAttributes();
      const n = vw.writeAttributes(m, p, limits, skip);
      const otlp = w.view(0, w.pos).toString('utf8');
      const at = w.pos;
      vw.writeCanonicalMembers();
      const canonical = w.view(at, w.pos).toString('utf8');
      const q = new EncodeProblems();
      const e = encodeAttributes(m, q, limits, skip);
      expect({ otlp, canonical, problems: p.list }, `map #${i}`).toStrictEqual({ otlp: e.otlp, canonical: e.canonical, problems: q.list });
      expect(n).toBe(otlp === '' ? 0 : (JSON.parse(`[${otlp}]`) as unknown[]).length);
    }
  });

  it('stamps follow the attributes the record keeps (except the stamped keys), in one sorted canonical object', () => {
    const w = new ByteWriter();
    const vw = new B.JsonValueWriter(w);
    const p = new EncodeProblems();
    vw.beginAttributes();
    const own = { 'b.own': 'x', 'z.seq': 'user value, replaced', 'audit.integrity.v': 'otlp only' };
    vw.writeAttributes(own, p, DEFAULT_ENCODE_LIMITS, (k) => k.startsWith('audit.integrity.'), (k) => k === 'z.seq');
    vw.writeStamp('z.seq', 7, p, DEFAULT_ENCODE_LIMITS);
    const n = vw.writeStamp('a.id', 'id-1', p, DEFAULT_ENCODE_LIMITS);
    const otlp = w.view(0, w.pos).toString();
    const at = w.pos;
    vw.writeCanonicalMembers();
    expect(n).toBe(4);
    expect(JSON.parse(`[${otlp}]`)).toEqual([
      { key: 'b.own', value: { stringValue: 'x' } },
      { key: 'audit.integrity.v', value: { stringValue: 'otlp only' } },
      { key: 'z.seq', value: { intValue: '7' } },
      { key: 'a.id', value: { stringValue: 'id-1' } },
    ]);
    expect(w.view(at, w.pos).toString()).toBe('{"a.id":{"stringValue":"id-1"},"b.own":{"stringValue":"x"},"z.seq":{"intValue":"7"}}');
    expect(p.list).toBeUndefined();
  });

  it('reuses the sort order only for the same key list', () => {
    const w = new ByteWriter();
    const vw = new B.JsonValueWriter(w);
    const canon = (m: Record<string, unknown>): string => {
      w.pos = 0;
      vw.beginAttributes();
      vw.writeAttributes(m, new EncodeProblems(), DEFAULT_ENCODE_LIMITS, () => false);
      const at = w.pos;
      vw.writeCanonicalMembers();
      return w.view(at, w.pos).toString();
    };
    expect(canon({ b: 1, a: 2 })).toBe('{"a":{"intValue":"2"},"b":{"intValue":"1"}}');
    expect(canon({ b: 3, a: 4 })).toBe('{"a":{"intValue":"4"},"b":{"intValue":"3"}}');
    expect(canon({ a: 5, b: 6 })).toBe('{"a":{"intValue":"5"},"b":{"intValue":"6"}}');
    expect(canon({ b: 7, c: undefined, a: 8 })).toBe('{"a":{"intValue":"8"},"b":{"intValue":"7"}}');
  });
});
