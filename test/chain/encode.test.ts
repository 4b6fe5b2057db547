/**
 * Defined outcomes of the one-pass encoder (src/otlp/encode.ts): for every JS value the exact OTLP/JSON text,
 * the exact canonical text, and whether a problem is reported (which marks the record audit.validation.error).
 * Each case is also cross-checked: the OTLP text read back through canonicalAnyValue gives the same canonical
 * text, and the canonical text is RFC 8785 (a fixed point of the generic serializer).
 */
import { describe, expect, it } from 'vitest';
import { canonicalAnyValue, canonicalKeyValues, isIntegrityKey } from '../../src/chain/canonical.js';
import { jcs } from '../../src/chain/jcs.js';
import { DEFAULT_ENCODE_LIMITS, EncodeProblems, encodeAnyValue, encodeAttributes } from '../../src/otlp/encode.js';
import type { OtlpAnyValue, OtlpKeyValue } from '../../src/otlp/types.js';
import { parseJsonKeysSafely } from '../helpers/json-parse-keys.js';

/** OTLP/JSON text of an array / kvlist around already-encoded members. */
const arr = (...vals: string[]): string => `{"arrayValue":{"values":[${vals.join(',')}]}}`;
const kvl = (...kvs: Array<[string, string]>): string =>
  `{"kvlistValue":{"values":[${kvs.map(([k, v]) => `{"key":${JSON.stringify(k)},"value":${v}}`).join(',')}]}}`;
const str = (s: string): string => `{"stringValue":${JSON.stringify(s)}}`;
const int = (s: string): string => `{"intValue":"${s}"}`;

function nest(levels: number, inner: unknown): unknown {
  let v = inner;
  for (let i = 0; i < levels; i++) v = [v];
  return v;
}

const cyclicArray: unknown[] = [1];
cyclicArray.push(cyclicArray);
const cyclicMap: Record<string, unknown> = { a: 1 };
cyclicMap['self'] = cyclicMap;
const shared = { x: 1 };
const bytes = new Uint8Array([0, 1, 2, 253, 254, 255]);
class Point {
  x = 1;
  y = 'two';
  get hidden(): number {
    return 3; // prototype accessor: not an own enumerable property
  }
}
const longKeys: Record<string, number> = {};
for (let i = 0; i <= 1000; i++) longKeys[`k${i}`] = i;

const MAX = DEFAULT_ENCODE_LIMITS.maxStringLength;
const fffd = '\ufffd';

interface Case {
  name: string;
  value: unknown;
  otlp: string;
  canonical: string;
  /** Expected problem(s), in order; [] for a clean encode. */
  problems: RegExp[];
}

const cases: Case[] = [
  // numbers
  { name: 'safe integer', value: 42, otlp: int('42'), canonical: int('42'), problems: [] },
  { name: '-0 is the integer 0', value: -0, otlp: int('0'), canonical: int('0'), problems: [] },
  { name: 'non-integral double', value: 0.1, otlp: '{"doubleValue":0.1}', canonical: '{"doubleValue":0.1}', problems: [] },
  { name: 'small double uses exponent form', value: 1.5e-7, otlp: '{"doubleValue":1.5e-7}', canonical: '{"doubleValue":1.5e-7}', problems: [] },
  { name: '2^53+2 is an exact intValue', value: 2 ** 53 + 2, otlp: int('9007199254740994'), canonical: int('9007199254740994'), problems: [] },
  { name: 'largest double below 2^63 is an intValue', value: 2 ** 63 - 1024, otlp: int('9223372036854774784'), canonical: int('9223372036854774784'), problems: [] },
  { name: '2^63 does not fit int64 → doubleValue', value: 2 ** 63, otlp: '{"doubleValue":9223372036854776000}', canonical: '{"doubleValue":9223372036854776000}', problems: [/^v: integer outside int64 encoded as doubleValue$/] },
  { name: '-2^63 (|n| ≥ 2^63) → doubleValue', value: -(2 ** 63), otlp: '{"doubleValue":-9223372036854776000}', canonical: '{"doubleValue":-9223372036854776000}', problems: [/integer outside int64/] },
  { name: '1e300 → doubleValue', value: 1e300, otlp: '{"doubleValue":1e+300}', canonical: '{"doubleValue":1e+300}', problems: [/integer outside int64/] },
  { name: 'NaN → stringValue', value: NaN, otlp: str('NaN'), canonical: str('NaN'), problems: [/^v: NaN encoded as stringValue$/] },
  { name: 'Infinity → stringValue', value: Infinity, otlp: str('Infinity'), canonical: str('Infinity'), problems: [/^v: Infinity encoded as stringValue$/] },
  { name: '-Infinity → stringValue', value: -Infinity, otlp: str('-Infinity'), canonical: str('-Infinity'), problems: [/^v: -Infinity encoded as stringValue$/] },
  // bigint
  { name: 'bigint int64 max', value: 2n ** 63n - 1n, otlp: int('9223372036854775807'), canonical: int('9223372036854775807'), problems: [] },
  { name: 'bigint int64 min', value: -(2n ** 63n), otlp: int('-9223372036854775808'), canonical: int('-9223372036854775808'), problems: [] },
  { name: 'bigint 2^63 → stringValue', value: 2n ** 63n, otlp: str('9223372036854775808'), canonical: str('9223372036854775808'), problems: [/^v: bigint outside int64 encoded as stringValue$/] },
  { name: 'bigint -2^63-1 → stringValue', value: -(2n ** 63n) - 1n, otlp: str('-9223372036854775809'), canonical: str('-9223372036854775809'), problems: [/bigint outside int64/] },
  // other scalars
  { name: 'true', value: true, otlp: '{"boolValue":true}', canonical: '{"boolValue":true}', problems: [] },
  { name: 'false', value: false, otlp: '{"boolValue":false}', canonical: '{"boolValue":false}', problems: [] },
  { name: 'null → empty value', value: null, otlp: '{}', canonical: '{}', problems: [] },
  { name: 'Uint8Array → standard base64', value: bytes, otlp: '{"bytesValue":"AAEC/f7/"}', canonical: '{"bytesValue":"AAEC/f7/"}', problems: [] },
  { name: 'Uint8Array view with byteOffset', value: bytes.subarray(2, 4), otlp: '{"bytesValue":"Av0="}', canonical: '{"bytesValue":"Av0="}', problems: [] },
  { name: 'empty Uint8Array', value: new Uint8Array(0), otlp: '{"bytesValue":""}', canonical: '{"bytesValue":""}', problems: [] },
  { name: 'Date → ISO-8601 stringValue', value: new Date(Date.UTC(2024, 1, 29, 12, 30, 45, 678)), otlp: str('2024-02-29T12:30:45.678Z'), canonical: str('2024-02-29T12:30:45.678Z'), problems: [] },
  { name: 'invalid Date → "Invalid Date"', value: new Date(NaN), otlp: str('Invalid Date'), canonical: str('Invalid Date'), problems: [] },
  // strings
  { name: 'string with controls, quotes and unicode', value: 'a\n"\\\u0000\u{1F600}\u2028', otlp: str('a\n"\\\u0000\u{1F600}\u2028'), canonical: str('a\n"\\\u0000\u{1F600}\u2028'), problems: [] },
  { name: 'lone surrogate in a value → U+FFFD', value: 'a\ud800b', otlp: str(`a${fffd}b`), canonical: str(`a${fffd}b`), problems: [/^v: lone surrogate replaced by U\+FFFD$/] },
  { name: 'string of exactly maxStringLength', value: 'a'.repeat(MAX), otlp: str('a'.repeat(MAX)), canonical: str('a'.repeat(MAX)), problems: [] },
  { name: 'long string truncated', value: 'a'.repeat(MAX + 1), otlp: str('a'.repeat(MAX)), canonical: str('a'.repeat(MAX)), problems: [/^v: string of 65537 UTF-16 units truncated to 65536$/] },
  {
    name: 'truncation inside a surrogate pair leaves U+FFFD',
    value: 'a'.repeat(MAX - 1) + '\u{1F600}',
    otlp: str('a'.repeat(MAX - 1) + fffd),
    canonical: str('a'.repeat(MAX - 1) + fffd),
    problems: [/truncated to 65536/, /lone surrogate replaced/],
  },
  // arrays
  { name: 'empty array', value: [], otlp: arr(), canonical: '[]', problems: [] },
  { name: 'undefined in an array → empty value', value: [undefined, 1], otlp: arr('{}', int('1')), canonical: '[{},{"intValue":"1"}]', problems: [] },
  { name: 'function in an array → empty value', value: [() => 1], otlp: arr('{}'), canonical: '[{}]', problems: [/^v\[0\]: function dropped$/] },
  { name: 'symbol in an array → empty value', value: [Symbol('s')], otlp: arr('{}'), canonical: '[{}]', problems: [/^v\[0\]: symbol dropped$/] },
  { name: 'array of exactly maxItems', value: new Array(1000).fill(1), otlp: arr(...new Array(1000).fill(int('1'))), canonical: `[${new Array(1000).fill(int('1')).join(',')}]`, problems: [] },
  { name: 'more than maxItems array items truncated', value: new Array(1001).fill(1), otlp: arr(...new Array(1000).fill(int('1'))), canonical: `[${new Array(1000).fill(int('1')).join(',')}]`, problems: [/^v: array of 1001 items truncated to 1000$/] },
  { name: 'cyclic array', value: cyclicArray, otlp: arr(int('1'), str('[Circular]')), canonical: '[{"intValue":"1"},{"stringValue":"[Circular]"}]', problems: [/^v\[1\]: cycle replaced by "\[Circular\]"$/] },
  { name: 'shared (acyclic) reference is not a cycle', value: [shared, shared], otlp: arr(kvl(['x', int('1')]), kvl(['x', int('1')])), canonical: '[{"x":{"intValue":"1"}},{"x":{"intValue":"1"}}]', problems: [] },
  {
    name: 'depth 16 is kept',
    value: nest(16, 'x'),
    otlp: '{"arrayValue":{"values":['.repeat(16) + str('x') + ']}}'.repeat(16),
    canonical: '['.repeat(16) + str('x') + ']'.repeat(16),
    problems: [],
  },
  {
    name: 'depth > 16 → "[MaxDepth]"',
    value: nest(17, 'x'),
    otlp: '{"arrayValue":{"values":['.repeat(16) + str('[MaxDepth]') + ']}}'.repeat(16),
    canonical: '['.repeat(16) + str('[MaxDepth]') + ']'.repeat(16),
    problems: [/^v(\[0\]){16}: nesting deeper than 16 replaced by "\[MaxDepth\]"$/],
  },
  // maps
  { name: 'empty map (same canonical form as the empty value)', value: {}, otlp: kvl(), canonical: '{}', problems: [] },
  {
    name: 'map: OTLP in key order, canonical sorted by UTF-16 units',
    value: { b: 1, a: 'x', '\ue000': true, '\u{1F600}': null },
    otlp: kvl(['b', int('1')], ['a', str('x')], ['\ue000', '{"boolValue":true}'], ['\u{1F600}', '{}']),
    canonical: '{"a":{"stringValue":"x"},"b":{"intValue":"1"},"\u{1F600}":{},"\ue000":{"boolValue":true}}',
    problems: [],
  },
  {
    name: 'integer-like keys: JS enumeration order in OTLP, string order in canonical',
    value: { a: 1, '10': 2, '9': 3 },
    otlp: kvl(['9', int('3')], ['10', int('2')], ['a', int('1')]),
    canonical: '{"10":{"intValue":"2"},"9":{"intValue":"3"},"a":{"intValue":"1"}}',
    problems: [],
  },
  {
    name: '"__proto__" own key is a plain member',
    value: JSON.parse('{"__proto__":{"polluted":true}}') as unknown,
    otlp: kvl(['__proto__', kvl(['polluted', '{"boolValue":true}'])]),
    canonical: '{"__proto__":{"polluted":{"boolValue":true}}}',
    problems: [],
  },
  { name: 'undefined in a map → member omitted', value: { a: undefined, b: 1 }, otlp: kvl(['b', int('1')]), canonical: '{"b":{"intValue":"1"}}', problems: [] },
  { name: 'function in a map → member dropped', value: { f: () => 1, b: 1 }, otlp: kvl(['b', int('1')]), canonical: '{"b":{"intValue":"1"}}', problems: [/^v\.f: function dropped$/] },
  { name: 'symbol in a map → member dropped', value: { s: Symbol('s') }, otlp: kvl(), canonical: '{}', problems: [/^v\.s: symbol dropped$/] },
  { name: 'cyclic map', value: cyclicMap, otlp: kvl(['a', int('1')], ['self', str('[Circular]')]), canonical: '{"a":{"intValue":"1"},"self":{"stringValue":"[Circular]"}}', problems: [/^v\.self: cycle replaced/] },
  { name: 'lone surrogate in a map key → U+FFFD', value: { 'k\udc00': 1 }, otlp: kvl([`k${fffd}`, int('1')]), canonical: `{"k${fffd}":{"intValue":"1"}}`, problems: [/^v\{k\udc00\}: lone surrogate replaced by U\+FFFD$/] },
  {
    name: 'keys equal after sanitizing: the first is kept',
    value: { 'k\ud800': 1, 'k\udc00': 2, [`k${fffd}`]: 3, z: 4 },
    otlp: kvl([`k${fffd}`, int('1')], ['z', int('4')]),
    canonical: `{"k${fffd}":{"intValue":"1"},"z":{"intValue":"4"}}`,
    problems: [/lone surrogate replaced/, /lone surrogate replaced/, /^v\{k\udc00\}: key equals another key after sanitizing; member dropped$/, /^v\{k\ufffd\}: key equals another key/],
  },
  {
    name: 'a sanitized key equal to an earlier plain key is dropped',
    value: { [`k${fffd}`]: 1, u: undefined, 'k\ud800': 2 },
    otlp: kvl([`k${fffd}`, int('1')]),
    canonical: `{"k${fffd}":{"intValue":"1"}}`,
    problems: [/lone surrogate replaced/, /key equals another key/],
  },
  {
    name: 'more than maxItems map entries truncated (insertion order)',
    value: longKeys,
    otlp: kvl(...Array.from({ length: 1000 }, (_, i): [string, string] => [`k${i}`, int(String(i))])),
    canonical: `{${Array.from({ length: 1000 }, (_, i) => `k${i}`)
      .sort()
      .map((k) => `"${k}":${int(k.slice(1))}`)
      .join(',')}}`,
    problems: [/^v: map of 1001 entries truncated to 1000$/],
  },
  {
    name: 'class instance → its own enumerable properties',
    value: new Point(),
    otlp: kvl(['x', int('1')], ['y', str('two')]),
    canonical: '{"x":{"intValue":"1"},"y":{"stringValue":"two"}}',
    problems: [],
  },
  // Objects whose content is not in own enumerable properties (`{}` to JSON.stringify and to the stock exporter):
  // never an empty kvlist that loses it without a word (found in review).
  { name: 'Map → its entries as a kvlist (keys as text, in the order an object keeps them)', value: new Map<unknown, unknown>([['a', 1], [2, 'b']]), otlp: kvl(['2', str('b')], ['a', int('1')]), canonical: '{"2":{"stringValue":"b"},"a":{"intValue":"1"}}', problems: [] },
  { name: 'Set → its values as an array', value: new Set([1, 'x']), otlp: arr(int('1'), str('x')), canonical: '[{"intValue":"1"},{"stringValue":"x"}]', problems: [] },
  { name: 'Error → name and message', value: new TypeError('permission denied on /etc/shadow'), otlp: kvl(['name', str('TypeError')], ['message', str('permission denied on /etc/shadow')]), canonical: '{"message":{"stringValue":"permission denied on /etc/shadow"},"name":{"stringValue":"TypeError"}}', problems: [] },
  {
    name: 'Error with own fields (a system error) → name, message, then its fields',
    value: Object.assign(new Error('EACCES: open'), { code: 'EACCES', errno: -13 }),
    otlp: kvl(['name', str('Error')], ['message', str('EACCES: open')], ['code', str('EACCES')], ['errno', int('-13')]),
    canonical: '{"code":{"stringValue":"EACCES"},"errno":{"intValue":"-13"},"message":{"stringValue":"EACCES: open"},"name":{"stringValue":"Error"}}',
    problems: [],
  },
  { name: 'URL → its text, marked', value: new URL('https://example.com/a?b=1'), otlp: str('https://example.com/a?b=1'), canonical: str('https://example.com/a?b=1'), problems: [/^v: a URL with no own enumerable properties written as its text$/] },
  { name: 'RegExp → its text, marked', value: /a+b/g, otlp: str('/a+b/g'), canonical: str('/a+b/g'), problems: [/^v: a RegExp with no own enumerable properties written as its text$/] },
  {
    name: 'Map keys with the same text (1 and "1", two objects): the last entry kept, marked',
    value: new Map<unknown, unknown>([[1, 'a'], ['1', 'b'], [{ u: 1 }, 'alice'], [{ u: 2 }, 'bob']]),
    otlp: kvl(['1', str('b')], ['[object Object]', str('bob')]),
    canonical: '{"1":{"stringValue":"b"},"[object Object]":{"stringValue":"bob"}}',
    problems: [/^v: Map keys with the same text \("1"\): the last entry kept$/],
  },
  {
    name: 'a Map key whose toString throws → "[unprintable]" (otlp/describe.ts asText)',
    value: new Map<unknown, unknown>([[{ toString: (): string => { throw new Error('no'); } }, 1]]),
    otlp: kvl(['[unprintable]', int('1')]),
    canonical: '{"[unprintable]":{"intValue":"1"}}',
    problems: [],
  },
  {
    name: 'Error with a cause, AggregateError with its errors',
    value: new AggregateError([new Error('e1')], 'all failed', { cause: 'disk' }),
    otlp: kvl(['name', str('AggregateError')], ['message', str('all failed')], ['cause', str('disk')], ['errors', arr(kvl(['name', str('Error')], ['message', str('e1')]))]),
    canonical: '{"cause":{"stringValue":"disk"},"errors":[{"message":{"stringValue":"e1"},"name":{"stringValue":"Error"}}],"message":{"stringValue":"all failed"},"name":{"stringValue":"AggregateError"}}',
    problems: [],
  },
  { name: 'a Map inside a map', value: { m: new Map([['k', true]]) }, otlp: kvl(['m', kvl(['k', '{"boolValue":true}'])]), canonical: '{"m":{"k":{"boolValue":true}}}', problems: [] },
];

function problemsOf(p: EncodeProblems): string[] {
  return p.list ?? [];
}

describe('encodeAnyValue: defined outcomes', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const p = new EncodeProblems();
    const out = encodeAnyValue(c.value, 'v', p);
    expect(out).toBeDefined();
    expect(out!.otlp).toBe(c.otlp);
    expect(out!.canonical).toBe(c.canonical);
    const got = problemsOf(p);
    expect(got).toHaveLength(c.problems.length);
    c.problems.forEach((re, i) => expect(got[i]).toMatch(re));
    if (c.problems.length === 0) expect(p.list).toBeUndefined(); // clean path allocates nothing
    // The written OTLP/JSON reads back to the same canonical text, and that text is RFC 8785.
    expect(canonicalAnyValue(JSON.parse(out!.otlp) as OtlpAnyValue, 'v')).toBe(c.canonical);
    expect(jcs(parseJsonKeysSafely(c.canonical))).toBe(c.canonical);
  });

  it.each<[string, unknown, RegExp[]]>([
    ['undefined', undefined, []],
    ['function', () => 1, [/^body: function dropped$/]],
    ['symbol', Symbol('s'), [/^body: symbol dropped$/]],
  ])('top-level %s → no value', (_name, value, problems) => {
    const p = new EncodeProblems();
    expect(encodeAnyValue(value, 'body', p)).toBeUndefined();
    const got = problemsOf(p);
    expect(got).toHaveLength(problems.length);
    problems.forEach((re, i) => expect(got[i]).toMatch(re));
  });

  it('honours custom limits', () => {
    const limits = { ...DEFAULT_ENCODE_LIMITS, maxStringLength: 3, maxItems: 2, maxDepth: 2 };
    const p = new EncodeProblems();
    const out = encodeAnyValue({ s: 'abcdef', a: [1, 2, [3]], d: 'dropped' }, 'v', p, limits);
    expect(out!.otlp).toBe(kvl(['s', str('abc')], ['a', arr(int('1'), int('2'))]));
    expect(out!.canonical).toBe('{"a":[{"intValue":"1"},{"intValue":"2"}],"s":{"stringValue":"abc"}}');
    expect(problemsOf(p)).toEqual([
      'v: map of 3 entries truncated to 2',
      'v.s: string of 6 UTF-16 units truncated to 3',
      'v.a: array of 3 items truncated to 2',
    ]);
    const q = new EncodeProblems();
    expect(encodeAnyValue([[[1]]], 'v', q, limits)!.canonical).toBe('[[{"stringValue":"[MaxDepth]"}]]');
    expect(problemsOf(q)).toEqual(['v[0][0]: nesting deeper than 2 replaced by "[MaxDepth]"']);
  });
});

describe('encodeAttributes', () => {
  it('writes OTLP in insertion order, the canonical object sorted, integrity keys only in OTLP', () => {
    const p = new EncodeProblems();
    const out = encodeAttributes(
      { 'audit.integrity.value': 'sig', 'z.last': 1.5, 'a.first': ['x'], 'audit.integrity': true, gone: undefined },
      p,
      DEFAULT_ENCODE_LIMITS,
      isIntegrityKey,
    );
    expect(out.otlp).toBe(
      '{"key":"audit.integrity.value","value":{"stringValue":"sig"}},' +
        '{"key":"z.last","value":{"doubleValue":1.5}},' +
        '{"key":"a.first","value":{"arrayValue":{"values":[{"stringValue":"x"}]}}},' +
        '{"key":"audit.integrity","value":{"boolValue":true}}',
    );
    expect(out.canonical).toBe('{"a.first":[{"stringValue":"x"}],"audit.integrity":{"boolValue":true},"z.last":{"doubleValue":1.5}}');
    expect(out.count).toBe(3);
    expect(p.list).toBeUndefined();
    expect(canonicalKeyValues(JSON.parse(`[${out.otlp}]`) as OtlpKeyValue[], 'attributes', isIntegrityKey)).toBe(out.canonical);
  });

  it('top-level problems name the attribute key', () => {
    const p = new EncodeProblems();
    const out = encodeAttributes({ 'bad\ud800': NaN, ok: 1 }, p);
    expect(out.otlp).toBe(`{"key":"bad${fffd}","value":{"stringValue":"NaN"}},{"key":"ok","value":{"intValue":"1"}}`);
    expect(out.canonical).toBe(`{"bad${fffd}":{"stringValue":"NaN"},"ok":{"intValue":"1"}}`);
    expect(problemsOf(p)).toEqual(['bad\ud800: NaN encoded as stringValue', '{bad\ud800}: lone surrogate replaced by U+FFFD']);
  });

  it('empty attributes give the empty canonical object', () => {
    const out = encodeAttributes({}, new EncodeProblems());
    expect(out).toEqual({ otlp: '', canonical: '{}', count: 0 });
  });
});
