/**
 * decodeLogsRequest (src/otlp/protobuf-decode.ts): protobuf → the OTLP/JSON normalizeExportRequest gives.
 * - round trip: lenient JSON → our encoder → our decoder is normalizeExportRequest(JSON) with the proto3
 *   defaults left out, member order included (the collector's `--out` lines are compared as text);
 * - protobufjs, loaded with the real opentelemetry-proto files, is the independent reference: what it
 *   encodes we decode to what it decodes;
 * - hand-assembled bytes for what encoders never write: fields out of order, repeated singular messages
 *   (merged), oneof members replaced, unknown fields and groups, wrong wire types;
 * - malformed input throws OtlpFormatError (never anything else), including every truncation and byte flip.
 */
import { describe, expect, it } from 'vitest';
import { MAX_VALUE_DEPTH, normalizeExportRequest, OtlpFormatError } from '../../src/otlp/normalize.js';
import { decodeLogsRequest, encodeLogsRequest } from '../../src/otlp/protobuf.js';
import { int64Text, uint64Text } from '../../src/otlp/protobuf-reader.js';
import type { ExportLogsServiceRequest } from '../../src/otlp/types.js';
import { prng } from '../helpers/prng.js';
import { decodeRequestWithProtobufjs, protoToOtlpJson } from '../helpers/proto-receivers.js';
import { forEachSeed, generator, normalize, protobufjsEncode } from './protobuf-fixtures.js';

const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

/** Members a proto3 encoder leaves out when they hold their default (never AnyValue oneof members). */
const PROTO3_OMITTED = new Set([
  'resourceLogs',
  'scopeLogs',
  'logRecords',
  'attributes',
  'values',
  'schemaUrl',
  'name',
  'version',
  'timeUnixNano',
  'observedTimeUnixNano',
  'severityNumber',
  'severityText',
  'droppedAttributesCount',
  'flags',
  'eventName',
]);

/** A deep copy of a normalized request without the members protobuf cannot carry; member order kept. */
function withoutProto3Defaults<T>(v: T): T {
  if (Array.isArray(v)) return v.map(withoutProto3Defaults) as T;
  if (typeof v !== 'object' || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    const isDefault = x === '' || x === '0' || x === 0 || (Array.isArray(x) && x.length === 0);
    if (PROTO3_OMITTED.has(k) && isDefault) continue;
    out[k] = withoutProto3Defaults(x);
  }
  return out as T;
}

/** What the JSON path of the collector keeps of `req`, as protobuf can carry it. */
const expected = (req: ExportLogsServiceRequest): ExportLogsServiceRequest => withoutProto3Defaults(normalizeExportRequest(req));

/** `protobufjs`: also compare with protobufjs's decoding (it refuses values nested deeper than 32 levels). */
function checkRoundTrip(req: ExportLogsServiceRequest, protobufjs = true): void {
  const bytes = encodeLogsRequest(req);
  const decoded = decodeLogsRequest(bytes);
  const want = expected(req);
  expect(decoded).toStrictEqual(want); // -0 and NaN strings included
  expect(JSON.stringify(decoded)).toBe(JSON.stringify(want)); // member order: the `--out` line is the same text
  expect(decoded).toStrictEqual(normalize(req, true)); // the Collector's reading agrees
  expect(normalizeExportRequest(decoded)).toStrictEqual(decoded); // already normalized
  if (protobufjs) expect(decoded).toStrictEqual(protoToOtlpJson(decodeRequestWithProtobufjs(bytes)));
}

const record = (fields: string): string => {
  const len = (h: string): string => (h.replace(/\s+/g, '').length / 2).toString(16).padStart(2, '0');
  const lr = fields.replace(/\s+/g, '');
  const sl = `12${len(lr)}${lr}`;
  const rl = `12${len(sl)}${sl}`;
  return `0a${len(rl)}${rl}`;
};
const firstRecord = (req: ExportLogsServiceRequest) => req.resourceLogs?.[0]?.scopeLogs?.[0]?.logRecords?.[0];

describe('decodeLogsRequest: round trip through our encoder', () => {
  it('seeded requests (lenient JSON) decode to the normalized JSON, member order included', () => {
    const records = forEachSeed(1, 400, checkRoundTrip);
    expect(records).toBeGreaterThan(1000);
  });

  const values: Array<[string, unknown]> = [
    ['empty string', { stringValue: '' }],
    ['false', { boolValue: false }],
    ['int 0', { intValue: '0' }],
    ['int64 min', { intValue: '-9223372036854775808' }],
    ['int64 max', { intValue: '9223372036854775807' }],
    ['2^53 + 1', { intValue: '9007199254740993' }],
    ['-(2^53 + 1)', { intValue: '-9007199254740993' }],
    ['double -0', { doubleValue: -0 }],
    ['NaN', { doubleValue: 'NaN' }],
    ['-Infinity', { doubleValue: '-Infinity' }],
    ['subnormal', { doubleValue: 5e-324 }],
    ['empty bytes', { bytesValue: '' }],
    ['bytes', { bytesValue: 'AAEC/w==' }],
    ['empty value', {}],
    ['empty array', { arrayValue: {} }],
    ['empty kvlist', { kvlistValue: {} }],
    ['BOM and astral characters', { stringValue: '\ufeffa😀\u0000' }],
    ['long string', { stringValue: 'é'.repeat(5000) }],
  ];
  it.each(values)('%s', (_name, body) => {
    const req = { resourceLogs: [{ scopeLogs: [{ logRecords: [{ body, eventName: 'e' }] }] }] } as ExportLogsServiceRequest;
    checkRoundTrip(req);
    if (typeof body === 'object' && body !== null && 'doubleValue' in body && body.doubleValue === -0) {
      expect(Object.is(firstRecord(decodeLogsRequest(encodeLogsRequest(req)))?.body?.doubleValue, -0)).toBe(true);
    }
  });

  it('timestamps, ids and the extreme uint64', () => {
    checkRoundTrip({
      resourceLogs: [
        {
          scopeLogs: [
            {
              logRecords: [
                {
                  timeUnixNano: '18446744073709551615',
                  observedTimeUnixNano: '1700000000123456789',
                  traceId: '0102030405060708090A0B0C0D0E0F10',
                  spanId: 'ffffffffffffffff',
                  flags: 0xffff_ffff,
                  severityNumber: -2147483648,
                  droppedAttributesCount: 0xffff_ffff,
                },
              ],
            },
          ],
        },
      ],
    });
  });

  it('values nested 100 levels deep decode; the limit is the normalizer\'s', () => {
    let v: unknown = { intValue: '1' };
    for (let i = 0; i < 100; i++) v = { arrayValue: { values: [v] } };
    checkRoundTrip({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: v as never }] }] }] }, false);
  });
});

describe('decodeLogsRequest: protobufjs as the reference', () => {
  it('what protobufjs encodes decodes to what protobufjs decodes', () => {
    for (let seed = 1000; seed < 1300; seed++) {
      const strict = normalize(generator(seed)(), false);
      const bytes = protobufjsEncode(strict);
      try {
        expect(decodeLogsRequest(bytes)).toStrictEqual(protoToOtlpJson(decodeRequestWithProtobufjs(bytes)));
        expect(decodeLogsRequest(bytes)).toStrictEqual(expected(strict));
      } catch (err) {
        throw new Error(`seed ${seed}: ${String(err)}`);
      }
    }
  });
});

describe('decodeLogsRequest: what encoders do not usually write', () => {
  it('fields in any order come out in the normalizer\'s member order', () => {
    // event_name, observed time, trace id, body, time: reversed-ish on the wire.
    const bytes = unhex(record('62 01 65  59 0200000000000000  4a 10 0102030405060708090a0b0c0d0e0f10  2a 03 0a0162  09 0100000000000000'));
    const rec = firstRecord(decodeLogsRequest(bytes));
    expect(JSON.stringify(rec)).toBe(
      '{"timeUnixNano":"1","observedTimeUnixNano":"2","body":{"stringValue":"b"},"traceId":"0102030405060708090a0b0c0d0e0f10","eventName":"e"}',
    );
  });

  it('a scalar seen twice: the last wins; explicit defaults are absent', () => {
    expect(firstRecord(decodeLogsRequest(unhex(record('1a 01 41  1a 01 42  38 05  38 00'))))).toStrictEqual({ severityText: 'B' });
  });

  it('a singular message seen twice is merged; a oneof member replaced, an array member merged', () => {
    // body = {string "a"}, then body = {array [int 1]}, then body = {array [int 2]}: the array, merged.
    const bytes = unhex(record('2a 03 0a0161  2a 06 2a04 0a021801  2a 06 2a04 0a021802'));
    expect(firstRecord(decodeLogsRequest(bytes))?.body).toStrictEqual({ arrayValue: { values: [{ intValue: '1' }, { intValue: '2' }] } });
    // body {string} then an empty body message: the string stays (nothing set in the second).
    expect(firstRecord(decodeLogsRequest(unhex(record('2a 03 0a0161  2a 00'))))?.body).toStrictEqual({ stringValue: 'a' });
    // ResourceLogs.resource twice: attributes appended, dropped count from the second.
    const resource = '0a 07 0a05 0a01 61 1200  0a 09 0a05 0a01 62 1200 1003';
    const rl = `${resource} 12 00`.replace(/\s+/g, '');
    const req = decodeLogsRequest(unhex(`0a ${(rl.length / 2).toString(16).padStart(2, '0')} ${rl}`));
    expect(req.resourceLogs?.[0]?.resource).toStrictEqual({
      attributes: [
        { key: 'a', value: {} },
        { key: 'b', value: {} },
      ],
      droppedAttributesCount: 3,
    });
  });

  it('skips unknown fields of every wire type, the reserved field 4, and known fields with another wire type', () => {
    const unknown = '7896 01  71 0102030405060708  7a03 616263  7d 01020304  7b 0801 7c  22 01 78';
    const wrongWire = '18 05  0a 02 0000  50 01';
    expect(firstRecord(decodeLogsRequest(unhex(record(`${unknown} 62 01 65 ${wrongWire}`))))).toStrictEqual({ eventName: 'e' });
  });

  it('all-zero and empty ids are absent; uint32 takes the low 32 bits of a longer varint', () => {
    const rec = firstRecord(decodeLogsRequest(unhex(record('4a 10 00000000000000000000000000000000  52 00  38 ffffffff1f'))));
    expect(rec).toStrictEqual({ droppedAttributesCount: 0xffff_ffff });
  });
});

describe('decodeLogsRequest: malformed input is an OtlpFormatError', () => {
  const bad: Array<[string, string, RegExp]> = [
    ['truncated varint', record('38'), /truncated varint/],
    ['length past the end', '0a05 1203', /truncated: length-delimited field/],
    ['truncated fixed64 time', record('09 0102'), /resourceLogs\[0\]\.scopeLogs\[0\]\.logRecords\[0\]: truncated: 8-byte field/],
    ['trace id of 5 bytes', record('4a 05 0102030405'), /logRecords\[0\]\.traceId: 5 bytes at byte \d+, expected 16/],
    ['span id of 16 bytes', record('52 10 0102030405060708090a0b0c0d0e0f10'), /spanId: 16 bytes at byte \d+, expected 8/],
    ['invalid UTF-8 in a string', record('1a 02 c328'), /not valid UTF-8/],
    ['a lone surrogate as UTF-8', record('62 03 eda080'), /not valid UTF-8/],
    ['invalid UTF-8 in an attribute key', record('32 04 0a02 ff61'), /attributes\[0\]: string at byte \d+ is not valid UTF-8/],
    ['field number 0', '00', /request: field number 0/],
    ['wire type 7', '0f', /invalid wire type 7/],
    ['group without end', record('7b 0801'), /group 15 has no end/],
    ['varint overflowing 64 bits', record('38 ffffffffffffffffff7f'), /overflows 64 bits/],
  ];
  it.each(bad)('%s', (_name, hex, message) => {
    const run = (): unknown => decodeLogsRequest(unhex(hex));
    expect(run).toThrow(OtlpFormatError);
    expect(run).toThrow(message);
  });

  it(`values nested deeper than ${MAX_VALUE_DEPTH} levels`, () => {
    /** A request whose one record's body is `levels` arrays around an int. */
    const nested = (levels: number): Buffer => {
      let any: Buffer = Buffer.from('1801', 'hex'); // AnyValue{int_value = 1}
      for (let i = 0; i < levels; i++) any = wrap(0x2a, wrap(0x0a, any)); // AnyValue{array_value{values = [any]}}
      return wrap(0x0a, wrap(0x12, wrap(0x12, wrap(0x2a, any))));
    };
    expect(() => decodeLogsRequest(nested(MAX_VALUE_DEPTH))).not.toThrow();
    expect(() => decodeLogsRequest(nested(MAX_VALUE_DEPTH + 1))).toThrow(new RegExp(`body(\\.arrayValue\\.values\\[0\\])+\\.arrayValue: values nested deeper than ${MAX_VALUE_DEPTH} levels`));
    expect(() => decodeLogsRequest(nested(5000))).toThrow(OtlpFormatError);
  });

  it('every truncation and every single-byte change of a valid request either decodes or throws OtlpFormatError', () => {
    const r = prng(7);
    for (let seed = 1; seed <= 30; seed++) {
      const bytes = encodeLogsRequest(generator(seed)());
      for (let cut = 0; cut < bytes.length; cut++) tryDecode(bytes.subarray(0, cut));
      for (let k = 0; k < 200 && bytes.length > 0; k++) {
        const copy = Uint8Array.from(bytes);
        copy[r(copy.length)] = r(256);
        tryDecode(copy);
      }
    }
  });
});

describe('64-bit decimal text', () => {
  it('uint64Text and int64Text agree with BigInt', () => {
    const r = prng(3);
    const samples: bigint[] = [0n, 1n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n, 1_700_000_000_123_456_789n];
    for (let i = 0; i < 5000; i++) samples.push(BigInt(r(2 ** 30)) * 2n ** 34n + BigInt(r(2 ** 30)) * BigInt(r(2 ** 4)));
    for (const x of samples) {
      const u = BigInt.asUintN(64, x);
      const lo = Number(u & 0xffff_ffffn);
      const hi = Number(u >> 32n);
      expect(uint64Text(lo, hi)).toBe(u.toString());
      expect(int64Text(lo, hi)).toBe(BigInt.asIntN(64, u).toString());
    }
  });
});

function tryDecode(bytes: Uint8Array): void {
  try {
    decodeLogsRequest(bytes);
  } catch (err) {
    if (!(err instanceof OtlpFormatError)) throw err;
  }
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

/** A length-delimited field `tag` holding `content`. */
function wrap(tag: number, content: Uint8Array): Buffer {
  return Buffer.concat([Buffer.of(tag), varint(content.length), content]);
}
