/**
 * duplicateMemberName (src/otlp/json-members.ts) against a reference: the tests' recursive-descent JSON
 * reader (test/helpers/json-parse-keys.ts) noting the first member name repeated in one object, in text
 * order, comparing names unescaped. Random documents draw names from a small pool (so duplicates are
 * common), spell some of them with escapes, nest objects in arrays and objects, and give some objects more
 * members than the scanner keeps as offsets.
 */
import { describe, expect, it } from 'vitest';
import { duplicateMemberName, memberNames, PROTO_FIELD_NAMES } from '../../src/otlp/json-members.js';
import { parseJsonKeysSafely } from '../helpers/json-parse-keys.js';
import { prng } from '../helpers/prng.js';

/** Reference: the first repeated name in text order, as a recursive-descent reader of valid JSON hears it. */
function reference(text: string): string | undefined {
  let found: string | undefined;
  parseJsonKeysSafely(text, (name) => (found ??= name));
  return found;
}

const NAMES = ['a', 'b', 'key', 'value', 'stringValue', 'k"q', 'back\\slash', 'ü', '😀', '', 'x y'];

/** A JSON name as written: plain, or with some characters as \u escapes. */
function quoted(name: string, rand: (n: number) => number): string {
  const plain = JSON.stringify(name);
  if (rand(3) !== 0) return plain;
  return '"' + [...name].map((ch) => (rand(2) === 0 && ch.length === 1 ? `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}` : JSON.stringify(ch).slice(1, -1))).join('') + '"';
}

function doc(rand: (n: number) => number, depth: number): string {
  const r = rand(10);
  if (depth > 4 || r < 3) return [JSON.stringify('s"\\{,}[]:x'), '12.5', 'true', 'null', '"a\\"b"'][rand(5)]!;
  const sp = (): string => [' ', '', '\n', ''][rand(4)]!;
  if (r < 5) return `[${sp()}${Array.from({ length: rand(4) }, () => doc(rand, depth + 1)).join(`,${sp()}`)}]`;
  const size = rand(8) === 0 ? 20 + rand(10) : rand(5);
  const members = Array.from({ length: size }, (_, i) => {
    const name = size > 12 ? (rand(20) === 0 ? NAMES[rand(NAMES.length)]! : `m${i}`) : NAMES[rand(NAMES.length)]!;
    return `${sp()}${quoted(name, rand)}${sp()}:${sp()}${doc(rand, depth + 1)}`;
  });
  return `{${members.join(',')}${sp()}}`;
}

describe('duplicateMemberName', () => {
  it('matches the reference on 3000 random documents (escapes, nesting, wide objects)', () => {
    const rand = prng(0xd0b1e);
    let withDup = 0;
    for (let i = 0; i < 3000; i++) {
      const text = doc(rand, 0);
      expect(() => JSON.parse(text)).not.toThrow();
      const want = reference(text);
      if (want !== undefined) withDup++;
      expect([text, duplicateMemberName(text)]).toEqual([text, want]);
    }
    expect(withDup).toBeGreaterThan(300); // both outcomes are exercised
    expect(withDup).toBeLessThan(2700);
  });

  it.each([
    ['{"a":1,"a":2}', 'a'],
    ['{"a":1,"\\u0061":2}', 'a'],
    ['{"a\\\\":1,"a\\u005c":2}', 'a\\'],
    ['{"a":{"a":1},"b":[{"a":1,"b":2}]}', undefined],
    ['[{"a":1},{"a":1}]', undefined],
    ['{"x":"\\"a\\":1,\\"a\\":2"}', undefined],
    ['{"s":"a\\\\","a":1,"a":2}', 'a'],
    ['{ "a" : 1 , "b" : { "c" : 2 , "c" : 3 } }', 'c'],
  ])('%s → %s', (text, want) => {
    expect(duplicateMemberName(text)).toBe(want);
  });
});

describe('memberNames: protobuf field names', () => {
  it.each([
    ['{"stringValue":"a","string_value":"b"}', 'string_value'],
    ['{"a":[{"b":{"event_name":1}}],"c":1}', 'event_name'],
    ['{"\\u0073tring_value":1}', 'string_value'],
    ['{"x":{"log_records":[]},"y":{"scope_logs":[]}}', 'log_records'],
    // Not member names, or not protobuf names: no finding.
    ['{"key":"string_value","value":{"stringValue":"event_name"}}', undefined],
    ['{"s":"\\"string_value\\":1"}', undefined],
    ['{"string_valuex":1,"my_attr":2,"stringValue":"x"}', undefined],
    ['["string_value",{"a":"time_unix_nano"}]', undefined],
  ])('%s → %s', (text, want) => {
    JSON.parse(text);
    expect(memberNames(text).protoName).toBe(want);
  });

  it('names each protobuf field of a logs request whose JSON name differs, beside that JSON name', () => {
    for (const [proto, json] of PROTO_FIELD_NAMES) {
      expect(proto).toMatch(/^[a-z]+(_[a-z]+)+$/);
      expect(json).toBe(proto.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase()));
      expect(memberNames(`{"a":{"${json}":1,"${proto}":2}}`).protoName).toBe(proto);
    }
    expect([...PROTO_FIELD_NAMES.values()]).toEqual(
      expect.arrayContaining(['resourceLogs', 'scopeLogs', 'logRecords', 'timeUnixNano', 'observedTimeUnixNano', 'traceId', 'spanId', 'eventName', 'stringValue', 'intValue', 'doubleValue', 'boolValue', 'bytesValue', 'arrayValue', 'kvlistValue']),
    );
  });
});
