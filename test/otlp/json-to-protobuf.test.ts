/**
 * The fast OTLP/JSON → protobuf transcoder (src/otlp/json-to-protobuf.ts) against its definition,
 * `encodeLogsRequest(JSON.parse(text))` (src/otlp/protobuf.ts):
 * - requests written by the real encoder path (RecordSealer → RequestBuilder) with random values take the
 *   fast path and give byte-identical output, also as the `JSON.stringify` of their parse (what bisect sends);
 * - hand-written JSON outside the fast grammar is refused by it, and `encodeLogsJson` (fast path, else slow
 *   path) then has today's outcome: the same bytes or the same error;
 * - random byte mutations of real requests: whatever the fast path accepts, the slow path accepts with the
 *   same bytes.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Resource } from '@opentelemetry/resources';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { describe, expect, it } from 'vitest';
import { HashChain } from '../../src/chain/chain.js';
import { RecordSealer } from '../../src/chain/seal.js';
import { SyntheticRecord } from '../../src/chain/synthetic-record.js';
import { OtlpSender } from '../../src/deliver/otlp-sender.js';
import { encodeLogsJson, takeUnforeseenError, transcodeLogsRequest as transcode } from '../../src/otlp/json-to-protobuf.js';
import { MAX_VALUE_DEPTH } from '../../src/otlp/normalize.js';
import { encodeLogsRequest } from '../../src/otlp/protobuf.js';
import { RequestBuilder } from '../../src/otlp/request-builder.js';
import type { ExportLogsServiceRequest } from '../../src/otlp/types.js';
import { prng } from '../helpers/prng.js';

const hex = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : Buffer.from(b).toString('hex'));

/** The fast path, which must never fail but by bailing out (an exception of its own: the slow path decides). */
function transcodeLogsRequest(json: Uint8Array): Uint8Array | undefined {
  const out = transcode(json);
  expect(takeUnforeseenError()).toBeUndefined();
  return out;
}

/** Today's outcome: the bytes, or the error's message. */
function slow(json: Uint8Array | string): string {
  try {
    const text = typeof json === 'string' ? json : Buffer.from(json).toString('utf8');
    return hex(encodeLogsRequest(JSON.parse(text) as ExportLogsServiceRequest))!;
  } catch (e) {
    return `error: ${(e as Error).message}`;
  }
}

/** The outcome through encodeLogsJson (fast path, else slow path). */
function combined(json: Uint8Array | string): string {
  try {
    return hex(encodeLogsJson(json))!;
  } catch (e) {
    return `error: ${(e as Error).message}`;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Random values, as an application would log them

type Rand = (n: number) => number;

const STRING_PARTS = ['a', 'audit', ' ', '"', '\\', '/', '\n', '\t', '\r', '\b', '\f', '\u0000', '\u0001', '\u001f', '\u007f',
  'é', 'ß', '中文', '😀', '👩‍💻', '\u2028', '\uffff', '\ud800', '\udfff', '\ud83d', 'x'.repeat(130)];

function randomString(r: Rand): string {
  if (r(20) === 0) return 'y'.repeat(16_400 + r(100)); // a length of three varint bytes
  let s = '';
  const n = r(6);
  for (let i = 0; i < n; i++) s += STRING_PARTS[r(STRING_PARTS.length)];
  return s;
}

const NUMBERS = [0, -0, 1, -1, 127, 128, -129, 2 ** 31, -(2 ** 31), 2 ** 32, 2 ** 53 - 1, -(2 ** 53) + 1, 2 ** 53 + 2, -(2 ** 60),
  2 ** 63, -(2 ** 63), 2 ** 64, 1e21, 1.5, -0.25, 1e-7, 5e-324, 1.7976931348623157e308, Math.PI, NaN, Infinity, -Infinity];
const BIGINTS = [0n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 63n, -(2n ** 63n) - 1n, 12345678901234567890n];

function randomValue(r: Rand, depth: number): unknown {
  switch (r(depth > 2 ? 7 : 10)) {
    case 0:
    case 1:
      return randomString(r);
    case 2:
      return NUMBERS[r(NUMBERS.length)];
    case 3:
      return r(1e9) - 5e8;
    case 4:
      return BIGINTS[r(BIGINTS.length)];
    case 5:
      return r(2) === 0;
    case 6:
      return [undefined, null, new Date(r(2) === 0 ? NaN : 1.7e12), Buffer.from(randomString(r))][r(4)];
    case 7:
      return r(4) === 0 ? new Uint8Array(r(200)).map(() => r(256)) : [];
    case 8:
      return Array.from({ length: r(5) }, () => randomValue(r, depth + 1));
    default: {
      const m: Record<string, unknown> = {};
      for (let i = r(5); i > 0; i--) m[randomString(r)] = randomValue(r, depth + 1);
      return m;
    }
  }
}

function randomAttributes(r: Rand, n: number): Record<string, unknown> {
  const a: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) a[r(3) === 0 ? randomString(r) : `attr.${i}`] = randomValue(r, 0);
  return a;
}

// ---------------------------------------------------------------------------------------------------------
// Requests through the real encoder path

interface Group {
  resource: Resource;
  scope: { name: string; version?: string; schemaUrl?: string };
}

function randomGroup(r: Rand): Group {
  // Any value: the encoder takes what the types do not (maps, bigints, null, …).
  const attrs = (r(4) === 0 ? {} : randomAttributes(r, r(4))) as Parameters<typeof resourceFromAttributes>[0];
  const resource = r(2) === 0 ? resourceFromAttributes(attrs) : resourceFromAttributes(attrs, { schemaUrl: `https://s/${randomString(r)}` });
  // Any string, lone surrogates included: chain/group.ts replaces them, as the encoder does in values.
  const scope: Group['scope'] = { name: r(5) === 0 ? '' : randomString(r) };
  if (r(2) === 0) scope.version = randomString(r);
  if (r(3) === 0) scope.schemaUrl = `https://scope/${randomString(r)}`;
  return { resource, scope };
}

function randomRecord(r: Rand, g: Group): SyntheticRecord {
  const rec = new SyntheticRecord(g.resource, g.scope, { eventName: r(4) === 0 ? '' : randomString(r), attributes: randomAttributes(r, r(12)) as never });
  if (r(2) === 0) rec.setSeverityNumber([1, 9, 17, 24, -1, 1000][r(6)] as never);
  if (r(2) === 0) rec.setSeverityText(randomString(r));
  if (r(3) > 0) rec.setBody(randomValue(r, 0) as never);
  if (r(3) === 0) {
    rec.hrTime = [r(2) === 0 ? 0 : 1_700_000_000 + r(1e6), r(1e9)];
    rec.hrTimeObserved = [18_446_744_073, 709_551_615]; // the largest uint64
  }
  if (r(2) === 0) {
    const id = (n: number): string => Array.from({ length: n }, () => '0123456789abcdefABCDEF'[r(22)]).join('');
    rec.spanContext = { traceId: r(8) === 0 ? '0'.repeat(32) : id(32), spanId: id(16), traceFlags: r(3) === 0 ? 0 : r(256) };
  }
  if (r(4) === 0) rec.droppedAttributesCount = r(2) === 0 ? r(100) : 2 ** 32 - 1;
  return rec;
}

/** A request of `n` random records (fewer when they fill the arena) over a few resources and scopes, as the delivery stage builds it. */
function encodedRequest(seed: number, n: number): Buffer {
  const r = prng(seed);
  const sealer = new RecordSealer();
  const chain = new HashChain();
  const groups = Array.from({ length: 1 + r(3) }, () => randomGroup(r));
  const builder = new RequestBuilder();
  for (let i = 0; i < n; i++) {
    const s = sealer.seal(randomRecord(r, groups[r(groups.length)]!), chain);
    if (!builder.add(s.bytes, s.group)) break;
  }
  return Buffer.from(builder.cut()!.line); // a copy
}

describe('transcodeLogsRequest on requests the encoder writes', () => {
  it.each(Array.from({ length: 40 }, (_, i) => i + 1))('seed %i: fast path taken, bytes equal to encodeLogsRequest(JSON.parse(…))', (seed) => {
    const json = encodedRequest(seed, 1 + (seed % 7) * 9);
    const expected = slow(json);
    expect(expected.startsWith('error')).toBe(false);
    expect(hex(transcodeLogsRequest(json))).toBe(expected);
    // As bisect sends it: the JSON.stringify of the parse, a string.
    const restringified = JSON.stringify(JSON.parse(json.toString('utf8')));
    expect(hex(transcodeLogsRequest(Buffer.from(restringified, 'utf8')))).toBe(expected);
    expect(combined(restringified)).toBe(expected);
  });

  it('a request of up to 2048 random records (what fits one arena), also as a view inside a larger buffer and as a plain Uint8Array', () => {
    const json = encodedRequest(99, 2048);
    expect(json.length).toBeGreaterThan(500_000);
    const expected = slow(json);
    expect(hex(transcodeLogsRequest(json))).toBe(expected);
    const arena = Buffer.concat([Buffer.from('garbage['), json, Buffer.from(']more')]);
    expect(hex(transcodeLogsRequest(arena.subarray(8, 8 + json.length)))).toBe(expected);
    expect(hex(transcodeLogsRequest(new Uint8Array(json)))).toBe(expected);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Hand-written JSON

const rec = (members: string): string => `{"resourceLogs":[{"resource":{},"scopeLogs":[{"scope":{"name":"s"},"logRecords":[{${members}}]}]}]}`;
const attr = (value: string): string => rec(`"timeUnixNano":"1","attributes":[{"key":"k","value":${value}}]`);

/** `json` with its `@` replaced by raw bytes. */
const withBytes = (json: string, bytes: number[]): Buffer => {
  const [a, b] = json.split('@') as [string, string];
  return Buffer.concat([Buffer.from(a), Buffer.from(bytes), Buffer.from(b)]);
};

/** Inputs the fast path takes: byte-identical to the slow path. */
const FAST: [string, string][] = [
  ['the empty request', '{}'],
  ['no ResourceLogs', '{"resourceLogs":[]}'],
  ['empty ResourceLogs, Resource, ScopeLogs, Scope, LogRecord', '{"resourceLogs":[{},{"resource":{},"scopeLogs":[{},{"scope":{},"logRecords":[{}]}]}]}'],
  ['defaults omitted', rec('"timeUnixNano":"0","observedTimeUnixNano":"000","severityNumber":0,"severityText":"","droppedAttributesCount":0,"flags":0,"traceId":"","spanId":"","eventName":""')],
  ['-0 as an integer', rec('"severityNumber":-0,"flags":-0')],
  ['every LogRecord field', rec('"timeUnixNano":"18446744073709551615","observedTimeUnixNano":"1","severityNumber":-2147483648,"severityText":"W","body":{},"attributes":[],"droppedAttributesCount":4294967295,"flags":4294967295,"traceId":"0123456789ABCDEFabcdef0123456789","spanId":"fedcba9876543210","eventName":"e"')],
  ['empty key and empty KeyValue', rec('"attributes":[{"key":""},{}]')],
  ['AnyValue members at their default', attr('{"arrayValue":{"values":[{"stringValue":""},{"intValue":"-0"},{"intValue":"0"},{"boolValue":false},{"doubleValue":0}]}}')],
  ['int64 limits', attr('{"arrayValue":{"values":[{"intValue":"9223372036854775807"},{"intValue":"-9223372036854775808"},{"intValue":"-1"},{"intValue":"00042"},{"intValue":"-0000000000000000000000009223372036854775808"},{"intValue":"000000000000000000000000000000000000000123456789012345678"}]}}')],
  ['a timestamp with leading zeros past 20 digits', rec('"timeUnixNano":"000000000000000000000000018446744073709551615","observedTimeUnixNano":"0000000000000000000000001700000000123456789"')],
  ['doubles', attr('{"arrayValue":{"values":[{"doubleValue":-0},{"doubleValue":0},{"doubleValue":1E5},{"doubleValue":-1.5e-300},{"doubleValue":"NaN"},{"doubleValue":"Infinity"},{"doubleValue":"-Infinity"},{"doubleValue":123456789012345678901234567890}]}}')],
  ['bytes, both alphabets, padded or not', attr('{"arrayValue":{"values":[{"bytesValue":""},{"bytesValue":"QQ=="},{"bytesValue":"QUI"},{"bytesValue":"-_+/AA"},{"bytesValue":"QR"}]}}')],
  ['empty array and kvlist, with and without values', attr('{"arrayValue":{"values":[{"arrayValue":{}},{"kvlistValue":{}},{"arrayValue":{"values":[]}},{"kvlistValue":{"values":[]}}]}}')],
  ['escapes', attr('{"stringValue":"\\"\\\\\\/\\b\\f\\n\\r\\t\\u0000\\u00e9\\u4E2D\\ud83d\\ude00"}')],
  ['raw UTF-8 of every length', attr('{"stringValue":"é中😀\u{10ffff}\u{ffff}"}')],
  ['duplicate keys kept in order', rec('"attributes":[{"key":"a","value":{"boolValue":true}},{"key":"a","value":{"boolValue":false}}]')],
  ['values nested 100 levels deep', attr('{"arrayValue":{"values":['.repeat(100) + '{}' + ']}}'.repeat(100))],
];

/** Inputs outside the fast grammar: the slow path's outcome, whatever it is. */
const SLOW: [string, string | Buffer][] = [
  ['whitespace', '{ "resourceLogs":[]}'],
  ['trailing newline', '{"resourceLogs":[]}\n'],
  ['reordered LogRecord members', rec('"observedTimeUnixNano":"2","timeUnixNano":"1"')],
  ['reordered KeyValue members', rec('"attributes":[{"value":{"stringValue":"v"},"key":"k"}]')],
  ['unknown member', rec('"timeUnixNano":"1","foo":1')],
  ['duplicate member', rec('"timeUnixNano":"1","timeUnixNano":"2"')],
  ['null member', rec('"body":null')],
  ['time as a number', rec('"timeUnixNano":1')],
  ['negative time', rec('"timeUnixNano":"-1"')],
  ['time past uint64', rec('"timeUnixNano":"18446744073709551616"')],
  ['time past uint64 by a digit, after leading zeros', rec('"timeUnixNano":"0000000184467440737095516150"')],
  ['severity as a name', rec('"severityNumber":"SEVERITY_NUMBER_INFO"')],
  ['severity as 9.0', rec('"severityNumber":9.0')],
  ['severity out of int32', rec('"severityNumber":2147483648')],
  ['leading zero (invalid JSON)', rec('"severityNumber":09')],
  ['flags out of uint32', rec('"flags":4294967296')],
  ['short traceId', rec('"traceId":"abc"')],
  ['non-hex spanId', rec('"spanId":"zzzzzzzzzzzzzzzz"')],
  ['int64 past the range', attr('{"intValue":"9223372036854775808"}')],
  ['int64 below the range', attr('{"intValue":"-9223372036854775809"}')],
  ['int64 as a number', attr('{"intValue":5}')],
  ['double as a numeric string', attr('{"doubleValue":"1.5"}')],
  ['invalid JSON number', attr('{"doubleValue":1.}')],
  ['two AnyValue members', attr('{"stringValue":"a","boolValue":true}')],
  ['invalid base64', attr('{"bytesValue":"Q"}')],
  ['misplaced padding', attr('{"bytesValue":"QQ="}')],
  ['escaped lone high surrogate', attr('{"stringValue":"\\ud800"}')],
  ['escaped lone low surrogate', attr('{"stringValue":"a\\udc00"}')],
  ['two low surrogates', attr('{"stringValue":"\\udc00\\udc00"}')],
  ['a surrogate pair reversed', attr('{"stringValue":"\\ude00\\ud83d"}')],
  ['high surrogate then a character', attr('{"stringValue":"\\ud83d\\u0041"}')],
  ['raw control character', attr('{"stringValue":"a\u0001"}')],
  ['bad escape', attr('{"stringValue":"\\x"}')],
  [`values nested ${MAX_VALUE_DEPTH + 1} levels deep`, attr('{"kvlistValue":{"values":[{"value":'.repeat(MAX_VALUE_DEPTH + 1) + '{}' + '}]}}'.repeat(MAX_VALUE_DEPTH + 1))],
  ['truncated', rec('"timeUnixNano":"1"').slice(0, -3)],
  ['trailing comma', '{"resourceLogs":[{},]}'],
  ['not an object', '[]'],
  ['empty input', ''],
  ['invalid UTF-8: a lone continuation byte', withBytes(attr('{"stringValue":"a@"}'), [0x80])],
  ['invalid UTF-8: a truncated sequence', withBytes(attr('{"stringValue":"@"}'), [0xe4, 0xb8])],
  ['invalid UTF-8: a surrogate (CESU-8)', withBytes(attr('{"stringValue":"@"}'), [0xed, 0xa0, 0x80])],
  ['invalid UTF-8: continuation bytes only (whole 4-byte words of them)', withBytes(attr('{"stringValue":"@"}'), [0x80, 0x81, 0x82, 0x83, 0x9c, 0x9d, 0x9e, 0x9f])],
  ['raw control characters (whole 4-byte words of them)', withBytes(attr('{"stringValue":"@"}'), [1, 2, 3, 4, 0x1f, 0x1e, 0x1d, 0x1c])],
  ['invalid UTF-8: overlong', withBytes(attr('{"stringValue":"@"}'), [0xc0, 0x80])],
  ['invalid UTF-8: past U+10FFFF', withBytes(attr('{"stringValue":"@"}'), [0xf4, 0x90, 0x80, 0x80])],
  ['a byte order mark', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{}')])],
];

describe('transcodeLogsRequest on hand-written JSON', () => {
  it.each(FAST)('takes %s, byte-identical', (_, json) => {
    const expected = slow(json);
    expect(expected.startsWith('error')).toBe(false);
    expect(hex(transcodeLogsRequest(Buffer.from(json, 'utf8')))).toBe(expected);
  });

  it.each(SLOW)('leaves %s to the slow path, with today’s outcome', (_, json) => {
    const bytes = typeof json === 'string' ? Buffer.from(json, 'utf8') : json;
    expect(transcodeLogsRequest(bytes)).toBeUndefined();
    expect(combined(bytes)).toBe(slow(bytes));
    if (typeof json === 'string') expect(combined(json)).toBe(slow(json));
  });

  it('a scope name with an escaped lone surrogate (which chain/group.ts no longer writes): refused, as today', () => {
    const json = '{"resourceLogs":[{"resource":{},"scopeLogs":[{"scope":{"name":"\\ud800"},"logRecords":[]}]}]}';
    expect(slow(json)).toMatch(/scope\.name: .* has a lone surrogate/);
    expect(transcodeLogsRequest(Buffer.from(json))).toBeUndefined();
    expect(combined(json)).toBe(slow(json));
  });

  it('a string body with a raw lone surrogate goes to the slow path, which refuses it', () => {
    const json = attr('{"stringValue":"\ud800"}');
    expect(slow(json)).toMatch(/lone surrogate/);
    expect(combined(json)).toBe(slow(json));
  });
});

describe('transcodeLogsRequest on mutated requests', () => {
  it('whatever the fast path takes, the slow path takes with the same bytes (5000 random mutations)', () => {
    const r = prng(7);
    const bases = [encodedRequest(101, 3), encodedRequest(102, 5), Buffer.from(attr('{"kvlistValue":{"values":[{"key":"é","value":{"doubleValue":1.5}}]}}'))];
    const alphabet = Buffer.from('{}[]",:\\0123456789-+.eE aunfltrAF=/_\u00e9');
    let taken = 0;
    for (let k = 0; k < 5000; k++) {
      const base = bases[r(bases.length)]!;
      const m = Buffer.from(base);
      const at = r(m.length);
      let mutated: Buffer;
      switch (r(4)) {
        case 0:
          m[at] = alphabet[r(alphabet.length)]!;
          mutated = m;
          break;
        case 1:
          mutated = Buffer.concat([m.subarray(0, at), m.subarray(at + 1 + r(3))]);
          break;
        case 2:
          mutated = Buffer.concat([m.subarray(0, at), Buffer.from([alphabet[r(alphabet.length)]!]), m.subarray(at)]);
          break;
        default:
          m[at] = r(256);
          mutated = m;
      }
      const fast = transcodeLogsRequest(mutated);
      if (fast !== undefined) {
        taken++;
        expect(hex(fast)).toBe(slow(mutated));
      } else {
        expect(combined(mutated)).toBe(slow(mutated));
      }
    }
    expect(taken).toBeGreaterThan(100);
  });
});

describe('OtlpSender (http/protobuf) sends what the transcoder writes', () => {
  it('the body on the wire: fast path for an encoder request, slow path for one with whitespace; same bytes as today', async () => {
    const bodies: Buffer[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies.push(Buffer.concat(chunks));
        res.writeHead(200, { 'Content-Type': 'application/x-protobuf' }).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const sender = new OtlpSender({ protocol: 'http/protobuf', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/logs`, compression: 'none' });
    try {
      const json = encodedRequest(5, 50);
      const spaced = Buffer.from(JSON.stringify(JSON.parse(json.toString('utf8')), null, 1));
      expect(transcodeLogsRequest(spaced)).toBeUndefined();
      for (const body of [json, spaced]) expect((await sender.send(body, 1)).ok).toBe(true);
      expect(bodies.map((b) => b.toString('hex'))).toEqual([slow(json), slow(spaced)]);
      expect(bodies[0]!.toString('hex')).toBe(hex(transcodeLogsRequest(json)));
      const refused = await sender.send('{"resourceLogs":[{"resource":[]}]}', 1);
      expect(refused).toMatchObject({ ok: false, retryable: false, message: expect.stringMatching(/^protobuf encoding failed: encodeLogsRequest: resourceLogs\[0\]\.resource: expected a Resource object/) });
    } finally {
      await sender.shutdown();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('a resource and scope with lone surrogates (chain/group.ts)', () => {
  it('are written with U+FFFD, so the request still goes out as protobuf', () => {
    const resource = resourceFromAttributes({}, { schemaUrl: 'https://r/\ud800' });
    const scope = { name: 'audit-\ud800', version: '\udfff1', schemaUrl: 'https://s/\ud83d' };
    const sealed = new RecordSealer().seal(new SyntheticRecord(resource, scope, { eventName: 'e', attributes: { a: 'b' } }), new HashChain());
    const builder = new RequestBuilder();
    builder.add(sealed.bytes, sealed.group);
    const json = Buffer.from(builder.cut()!.line);
    expect(json.toString('utf8')).not.toContain('\\ud');
    const req = JSON.parse(json.toString('utf8')) as ExportLogsServiceRequest;
    const rl = req.resourceLogs![0]!;
    expect(rl.schemaUrl).toBe('https://r/\ufffd');
    expect(rl.scopeLogs![0]!.scope).toEqual({ name: 'audit-\ufffd', version: '\ufffd1' });
    expect(rl.scopeLogs![0]!.schemaUrl).toBe('https://s/\ufffd');
    expect(hex(transcodeLogsRequest(json))).toBe(slow(json));
    expect(slow(json).startsWith('error')).toBe(false);
  });
});
