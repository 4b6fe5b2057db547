/**
 * RFC 8785 (JCS) serializer: the public vectors of the reference implementation byte-for-byte, the number
 * table of RFC 8785 Appendix B, string escaping (§3.2.2.2), member sorting (§3.2.3), and the values that
 * have no canonical form.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { jcs, jcsBytes, JcsError } from '../../src/chain/jcs.js';
import { parseJsonKeysSafely } from '../helpers/json-parse-keys.js';

const VECTORS = fileURLToPath(new URL('../vectors/jcs/', import.meta.url));
const names = readdirSync(`${VECTORS}input`).filter((f) => f.endsWith('.json')).sort();

describe('RFC 8785 public vectors (test/vectors/jcs)', () => {
  it('has all six vector files, each with an output', () => {
    expect(names).toEqual(['arrays.json', 'french.json', 'structures.json', 'unicode.json', 'values.json', 'weird.json']);
    expect(readdirSync(`${VECTORS}output`).sort()).toEqual(names);
  });

  it.each(names)('%s canonicalizes to exactly the bytes of output/', (name) => {
    const input: unknown = parseJsonKeysSafely(readFileSync(`${VECTORS}input/${name}`, 'utf8'));
    const expected = readFileSync(`${VECTORS}output/${name}`);
    expect(Buffer.from(jcsBytes(input)).equals(expected)).toBe(true);
    expect(jcs(input)).toBe(expected.toString('utf8'));
  });

  it.each(names)('%s: canonical text is a fixed point', (name) => {
    const out = readFileSync(`${VECTORS}output/${name}`, 'utf8');
    expect(jcs(parseJsonKeysSafely(out))).toBe(out);
  });
});

/** RFC 8785 Appendix B: IEEE 754 bit patterns and their required serialization. */
const APPENDIX_B: Array<[string, string]> = [
  ['0000000000000000', '0'],
  ['8000000000000000', '0'],
  ['0000000000000001', '5e-324'],
  ['8000000000000001', '-5e-324'],
  ['7fefffffffffffff', '1.7976931348623157e+308'],
  ['ffefffffffffffff', '-1.7976931348623157e+308'],
  ['4340000000000000', '9007199254740992'],
  ['c340000000000000', '-9007199254740992'],
  ['4430000000000000', '295147905179352830000'],
  ['44b52d02c7e14af5', '9.999999999999997e+22'],
  ['44b52d02c7e14af6', '1e+23'],
  ['44b52d02c7e14af7', '1.0000000000000001e+23'],
  ['444b1ae4d6e2ef4e', '999999999999999700000'],
  ['444b1ae4d6e2ef4f', '999999999999999900000'],
  ['444b1ae4d6e2ef50', '1e+21'],
  ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
  ['3eb0c6f7a0b5ed8d', '0.000001'],
  ['41b3de4355555553', '333333333.3333332'],
  ['41b3de4355555554', '333333333.33333325'],
  ['41b3de4355555555', '333333333.3333333'],
  ['41b3de4355555556', '333333333.3333334'],
  ['41b3de4355555557', '333333333.33333343'],
  ['becbf647612f3696', '-0.0000033333333333333333'],
  ['43143ff3c1cb0959', '1424953923781206.2'],
];

const fromBits = (hex: string): number => Buffer.from(hex, 'hex').readDoubleBE(0);

describe('numbers (RFC 8785 §3.2.2.3)', () => {
  it.each(APPENDIX_B)('%s → %s', (bits, expected) => {
    expect(jcs(fromBits(bits))).toBe(expected);
    expect(jcs([fromBits(bits)])).toBe(`[${expected}]`);
  });

  it.each([
    ['7fffffffffffffff', 'NaN'],
    ['7ff0000000000000', 'Infinity'],
    ['fff0000000000000', '-Infinity'],
  ])('%s (%s) has no canonical form', (bits) => {
    expect(() => jcs(fromBits(bits))).toThrow(JcsError);
    expect(() => jcs({ a: [fromBits(bits)] })).toThrow(/\$\.a\[0\]: .* is not a finite number/);
  });
});

describe('strings (RFC 8785 §3.2.2.2)', () => {
  it('escapes exactly the required characters', () => {
    const named: Record<number, string> = { 0x08: '\\b', 0x09: '\\t', 0x0a: '\\n', 0x0c: '\\f', 0x0d: '\\r' };
    let input = '';
    let expected = '"';
    for (let c = 0; c < 0x20; c++) {
      input += String.fromCharCode(c);
      expected += named[c] ?? `\\u00${c.toString(16).padStart(2, '0')}`;
    }
    // Not escaped: DEL, '/', U+2028/U+2029, non-ASCII, non-BMP. Escaped: '"' and '\'.
    input += '\u007f/\u2028\u2029é€😀"\\';
    expected += '\u007f/\u2028\u2029é€😀\\"\\\\"';
    expect(jcs(input)).toBe(expected);
  });

  it('does not normalize Unicode (combining sequences stay as given)', () => {
    expect(jcs('A\u030a')).toBe('"A\u030a"');
    expect(jcs('\u00c5')).toBe('"\u00c5"');
  });

  it('encodes as UTF-8 octets', () => {
    expect(Buffer.from(jcsBytes({ '😀': 'é' })).toString('hex')).toBe('7b22f09f988022' + '3a22c3a9227d');
  });
});

describe('objects (RFC 8785 §3.2.3)', () => {
  it('sorts members by UTF-16 code units, not by code point or locale', () => {
    // U+E000 < U+1F600 by code point, but 0xD83D (high surrogate of U+1F600) < 0xE000 by UTF-16 unit.
    expect(jcs({ '\ue000': 1, '\ud83d\ude00': 2, z: 3, Z: 4, é: 5, '': 6, '10': 7, '9': 8 })).toBe(
      '{"":6,"10":7,"9":8,"Z":4,"z":3,"é":5,"😀":2,"\ue000":1}',
    );
  });

  it('sorts nested objects and keeps array order', () => {
    expect(jcs({ b: [{ y: 1, x: 2 }, 3, 'a'], a: { d: null, c: false } })).toBe(
      '{"a":{"c":false,"d":null},"b":[{"x":2,"y":1},3,"a"]}',
    );
  });

  it('treats "__proto__" from JSON.parse as a plain member', () => {
    const v: unknown = JSON.parse('{"__proto__":{"x":1},"a":[]}');
    expect(jcs(v)).toBe('{"__proto__":{"x":1},"a":[]}');
  });

  it('accepts null-prototype objects and serializes shared (acyclic) references each time', () => {
    const o = Object.create(null) as Record<string, unknown>;
    o['k'] = 'v';
    const shared = { s: 1 };
    expect(jcs({ o, p: [shared, shared] })).toBe('{"o":{"k":"v"},"p":[{"s":1},{"s":1}]}');
  });

  it('writes empty containers and literals without whitespace', () => {
    expect(jcs({ a: {}, b: [], c: null, d: true, e: false, f: -0 })).toBe('{"a":{},"b":[],"c":null,"d":true,"e":false,"f":0}');
  });
});

class Point {
  x = 1;
}

describe('values with no canonical form throw JcsError', () => {
  const cyclicObject: Record<string, unknown> = { a: 1 };
  cyclicObject['self'] = cyclicObject;
  const cyclicArray: unknown[] = [1];
  cyclicArray.push({ back: cyclicArray });

  const cases: Array<[string, unknown, RegExp]> = [
    ['lone high surrogate in a string', 'a\ud800', /^\$: lone surrogate/],
    ['lone low surrogate in a string', '\udc00', /lone surrogate/],
    ['reversed surrogate pair', '\ude00\ud83d', /lone surrogate/],
    ['lone surrogate in a member name', { ['k\ud800']: 1 }, /lone surrogate/],
    ['lone surrogate deep inside', { a: [{ b: 'x\udfff' }] }, /^\$\.a\[0\]\.b: lone surrogate/],
    ['NaN', NaN, /not a finite number/],
    ['Infinity', Infinity, /not a finite number/],
    ['-Infinity in an object', { n: -Infinity }, /^\$\.n: -Infinity is not a finite number/],
    ['undefined', undefined, /undefined is not a JSON value/],
    ['undefined member', { a: undefined }, /^\$\.a: undefined is not a JSON value/],
    ['bigint', 1n, /bigint is not a JSON value/],
    ['function', () => 1, /function is not a JSON value/],
    ['symbol', Symbol('s'), /symbol is not a JSON value/],
    ['symbol-keyed property', { [Symbol('s')]: 1 }, /symbol-keyed/],
    ['Date', new Date(0), /Date is not a plain JSON object/],
    ['Map', new Map([['a', 1]]), /Map is not a plain JSON object/],
    ['Uint8Array', new Uint8Array([1]), /Uint8Array is not a plain JSON object/],
    ['class instance', new Point(), /Point is not a plain JSON object/],
    ['sparse array', [1, , 3], /^\$\[1\]: sparse array hole/], // eslint-disable-line no-sparse-arrays
    ['cyclic object', cyclicObject, /^\$\.self: cycle/],
    ['cyclic array', cyclicArray, /^\$\[1\]\.back: cycle/],
  ];

  it.each(cases)('%s', (_name, value, message) => {
    let err: unknown;
    try {
      jcs(value);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(JcsError);
    expect((err as JcsError).name).toBe('JcsError');
    expect((err as JcsError).message).toMatch(message);
  });
});

describe('parseJsonKeysSafely (test/helpers/json-parse-keys.ts), the reader the JCS checks use', () => {
  it('reads an escaped property name right where JSON.parse on V8 13.6–14.6 may not (nodejs/node#63785)', () => {
    JSON.parse('{"h":[],"\\\\":0}'); // what feeds V8's key cache the `\` name
    expect(Object.keys(parseJsonKeysSafely('{"h":1,"\\"":2}') as object)).toEqual(['h', '"']);
    expect(Object.keys(parseJsonKeysSafely('{"\\\\":1,"\\"":2,"\\n":3,"__proto__":4}') as object)).toEqual(['\\', '"', '\n', '__proto__']);
  });

  it('reads back what JSON.stringify wrote, on random documents (compared without JSON.parse, which may be the broken side)', () => {
    let seed = 7;
    const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const chars = ['a', 'é', '😀', '"', '\\', '\n', '\u0000', '/', ' ', '1'];
    const str = (): string => Array.from({ length: rnd(6) }, () => chars[rnd(chars.length)]).join('');
    const gen = (d: number): unknown => {
      const k = rnd(d > 2 ? 4 : 7);
      if (k === 0) return str();
      if (k === 1) return rnd(3) === 0 ? -rnd(1e6) / 8 : rnd(1e9);
      if (k === 2) return [true, false, null][rnd(3)];
      if (k === 3) return str() + 'x';
      if (k === 4) return Array.from({ length: rnd(4) }, () => gen(d + 1));
      return Object.fromEntries(Array.from({ length: rnd(5) }, () => [str(), gen(d + 1)]));
    };
    for (let n = 0; n < 500; n++) {
      const v = gen(0);
      expect(jcs(parseJsonKeysSafely(JSON.stringify(v, null, n % 3 === 0 ? 1 : undefined)))).toBe(jcs(v));
    }
    expect(() => parseJsonKeysSafely('{"a":1,}')).toThrow(SyntaxError);
    expect(() => parseJsonKeysSafely('[1] x')).toThrow(SyntaxError);
  });
});
