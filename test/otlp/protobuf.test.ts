/**
 * OTLP/JSON → protobuf transcoding (src/otlp/protobuf.ts) checked against protobufjs loaded with the real
 * opentelemetry-proto files (test/fixtures/proto), never against our own decoder:
 * - bytes we write, decoded by protobufjs and written back as OTLP/JSON the way the Collector does
 *   (helpers/proto-receivers.ts protoToOtlpJson), give back the input (after the Collector's normalisation);
 * - the bytes are identical to what protobufjs itself encodes for the same (strict) request;
 * - a few hand-assembled byte vectors pin field numbers and wire types independently of protobufjs;
 * - records keep their canonical hash through the round trip;
 */
import { MAX_VALUE_DEPTH } from '../../src/otlp/normalize.js';
import { canonicalFromOtlp, MAX_VALUE_NESTING } from '../../src/chain/canonical.js';
import { describe, expect, it } from 'vitest';
import { encodeLogsRequest } from '../../src/otlp/protobuf.js';
import type {
  ExportLogsServiceRequest,
  OtlpAnyValue,
  OtlpKeyValue,
  OtlpLogRecord,
} from '../../src/otlp/types.js';
import { makeChain, recordHash } from '../helpers/make-chain.js';
import {
  decodeRequestWithProtobufjs,
  protoToOtlpJson,
  type ProtoAnyValue,
} from '../helpers/proto-receivers.js';
import { forEachSeed, normalize, protobufjsEncode } from './protobuf-fixtures.js';

// ---------------------------------------------------------------------------------------------------------
// Helpers

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Our bytes → protobufjs → OTLP/JSON as the Collector writes it. */
const roundTrip = (req: ExportLogsServiceRequest): ExportLogsServiceRequest =>
  protoToOtlpJson(decodeRequestWithProtobufjs(encodeLogsRequest(req)));

const requestOf = (...records: OtlpLogRecord[]): ExportLogsServiceRequest => ({
  resourceLogs: [{ scopeLogs: [{ logRecords: records }] }],
});

const firstRecord = (req: ExportLogsServiceRequest): OtlpLogRecord | undefined =>
  req.resourceLogs?.[0]?.scopeLogs?.[0]?.logRecords?.[0];

/** protobufjs's own plain-object decoding of the body of our single record (not converted). */
const decodedBody = (body: OtlpAnyValue): ProtoAnyValue | undefined =>
  decodeRequestWithProtobufjs(encodeLogsRequest(requestOf({ body }))).resourceLogs?.[0]?.scopeLogs?.[0]?.logRecords?.[0]
    ?.body;

/** The bytes of a request holding one record with this body, from the LogRecord's body field (5) on. */
const bodyBytes = (body: OtlpAnyValue): string => {
  const all = hex(encodeLogsRequest(requestOf({ body })));
  // 0a L (ResourceLogs) 12 L (ScopeLogs) 12 L (LogRecord) then the record's fields: all lengths < 128 here.
  return all.slice(12);
};

/** The full check of one request: JSON round trip through protobufjs, and byte equality with protobufjs. */
function checkRequest(req: ExportLogsServiceRequest): void {
  const ours = encodeLogsRequest(req);
  const back = protoToOtlpJson(decodeRequestWithProtobufjs(ours));
  expect(back).toEqual(normalize(req, true));
  expect(hex(ours)).toBe(hex(protobufjsEncode(normalize(req, false))));
}

// ---------------------------------------------------------------------------------------------------------

describe('encodeLogsRequest: AnyValue kinds (decoded by protobufjs)', () => {
  const cases: Array<{ name: string; body: OtlpAnyValue; json?: OtlpAnyValue; bytes?: string }> = [
    // Oneof members holding their default are still written: presence is the value's type.
    { name: 'empty string', body: { stringValue: '' }, bytes: '2a02 0a00' },
    { name: 'false', body: { boolValue: false }, bytes: '2a02 1000' },
    { name: 'true', body: { boolValue: true }, bytes: '2a02 1001' },
    { name: 'int 0 (string)', body: { intValue: '0' }, bytes: '2a02 1800' },
    { name: 'int 0 (number)', body: { intValue: 0 }, json: { intValue: '0' }, bytes: '2a02 1800' },
    { name: 'double 0', body: { doubleValue: 0 }, bytes: '2a09 21 0000000000000000' },
    { name: 'empty bytes', body: { bytesValue: '' }, bytes: '2a02 3a00' },
    { name: 'empty AnyValue', body: {}, bytes: '2a00' },
    { name: 'empty array', body: { arrayValue: {} }, bytes: '2a02 2a00' },
    { name: 'empty array (values: [])', body: { arrayValue: { values: [] } }, json: { arrayValue: {} }, bytes: '2a02 2a00' },
    { name: 'empty kvlist', body: { kvlistValue: {} }, bytes: '2a02 3200' },
    { name: 'string', body: { stringValue: 'hé' }, bytes: '2a05 0a03 68c3a9' },
    { name: 'int -1: ten-byte varint', body: { intValue: '-1' }, bytes: '2a0b 18 ffffffffffffffffff01' },
    { name: 'int -1 (number)', body: { intValue: -1 }, json: { intValue: '-1' } },
    { name: 'int64 max', body: { intValue: '9223372036854775807' }, bytes: '2a0a 18 ffffffffffffffff7f' },
    { name: 'int64 min', body: { intValue: '-9223372036854775808' }, bytes: '2a0b 18 80808080808080808001' },
    { name: 'int64 min (number)', body: { intValue: -(2 ** 63) }, json: { intValue: '-9223372036854775808' } },
    { name: '2^53 + 1', body: { intValue: '9007199254740993' } },
    { name: '-(2^53 + 1)', body: { intValue: '-9007199254740993' } },
    { name: '2^60 (number)', body: { intValue: 2 ** 60 }, json: { intValue: '1152921504606846976' } },
    { name: 'leading zeros', body: { intValue: '007' }, json: { intValue: '7' } },
    { name: 'int 150', body: { intValue: '150' }, bytes: '2a03 18 9601' },
    { name: 'integral double stays double', body: { doubleValue: 5 }, bytes: '2a09 21 0000000000001440' },
    { name: 'double 1.5', body: { doubleValue: 1.5 }, bytes: '2a09 21 000000000000f83f' },
    { name: 'double -0', body: { doubleValue: -0 }, bytes: '2a09 21 0000000000000080' },
    { name: 'NaN', body: { doubleValue: 'NaN' }, bytes: '2a09 21 000000000000f87f' },
    { name: 'Infinity', body: { doubleValue: 'Infinity' }, bytes: '2a09 21 000000000000f07f' },
    { name: '-Infinity', body: { doubleValue: '-Infinity' }, bytes: '2a09 21 000000000000f0ff' },
    { name: 'double as numeric string', body: { doubleValue: '2.5' }, json: { doubleValue: 2.5 } },
    { name: 'smallest subnormal', body: { doubleValue: 5e-324 } },
    { name: 'max double', body: { doubleValue: Number.MAX_VALUE } },
    { name: 'bytes', body: { bytesValue: 'AAEC/w==' }, bytes: '2a06 3a04 000102ff' },
    { name: 'bytes unpadded, URL alphabet', body: { bytesValue: 'AAEC_w' }, json: { bytesValue: 'AAEC/w==' } },
    {
      name: 'array of every kind, empties included',
      body: {
        arrayValue: {
          values: [
            { stringValue: '' },
            { boolValue: false },
            { intValue: '0' },
            { doubleValue: 0 },
            { bytesValue: '' },
            {},
            { arrayValue: {} },
            { kvlistValue: {} },
          ],
        },
      },
    },
    {
      name: 'nested arrays and kvlists, duplicate keys, key order',
      body: {
        kvlistValue: {
          values: [
            { key: 'z', value: { arrayValue: { values: [{ arrayValue: { values: [{ intValue: '-2' }, {}] } }] } } },
            { key: 'a', value: { kvlistValue: { values: [{ key: 'x', value: { stringValue: '1' } }, { key: 'x' }] } } },
            { key: 'z', value: { doubleValue: 'NaN' } },
            { key: '' },
            { key: 'no value' },
            { key: 'empty value', value: {} },
          ],
        },
      },
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const back = firstRecord(roundTrip(requestOf({ body: c.body })));
      expect(back).toEqual({ body: c.json ?? c.body });
      if (c.bytes !== undefined) expect(bodyBytes(c.body)).toBe(c.bytes.replace(/\s+/g, ''));
      checkRequest(requestOf({ body: c.body }));
    });
  }

  it('protobufjs sees the oneof member set, with its default value', () => {
    const s = decodedBody({ stringValue: '' });
    expect(s?.value).toBe('stringValue');
    expect(s?.stringValue).toBe('');
    expect(decodedBody({ boolValue: false })).toMatchObject({ value: 'boolValue', boolValue: false });
    expect(decodedBody({ intValue: '0' })).toMatchObject({ value: 'intValue', intValue: '0' });
    expect(decodedBody({ doubleValue: 0 })).toMatchObject({ value: 'doubleValue', doubleValue: 0 });
    expect(decodedBody({ bytesValue: '' })?.value).toBe('bytesValue');
    expect(decodedBody({})).toEqual({});
  });

  it('an integral double is a double for protobufjs, an int an int64', () => {
    expect(decodedBody({ doubleValue: 5 })).toEqual({ value: 'doubleValue', doubleValue: 5 });
    expect(decodedBody({ intValue: '-9223372036854775808' })).toEqual({ value: 'intValue', intValue: '-9223372036854775808' });
  });

  it('-0 and NaN keep their bits', () => {
    expect(Object.is(decodedBody({ doubleValue: -0 })?.doubleValue, -0)).toBe(true);
    expect(Number.isNaN(decodedBody({ doubleValue: 'NaN' })?.doubleValue)).toBe(true);
    expect(decodedBody({ doubleValue: '-Infinity' })?.doubleValue).toBe(Number.NEGATIVE_INFINITY);
  });

  it('strings of every length class (one-, two- and three-byte lengths)', () => {
    for (const s of ['a'.repeat(42), 'é'.repeat(42), '😀'.repeat(21), 'a'.repeat(43), 'a'.repeat(127), 'a'.repeat(128), 'é'.repeat(64), '日'.repeat(6000), 'x'.repeat(20_000)]) {
      checkRequest(requestOf({ body: { stringValue: s }, attributes: [{ key: s, value: { stringValue: s } }] }));
    }
  });
});

describe('encodeLogsRequest: LogRecord and envelope fields', () => {
  it('pins every field number and wire type (hand-assembled bytes)', () => {
    const req: ExportLogsServiceRequest = {
      resourceLogs: [
        {
          resource: { attributes: [{ key: 'r', value: { stringValue: 'R' } }], droppedAttributesCount: 1 },
          scopeLogs: [
            {
              scope: { name: 'n', version: 'v', attributes: [{ key: 's', value: { boolValue: true } }], droppedAttributesCount: 2 },
              logRecords: [
                {
                  timeUnixNano: '1',
                  observedTimeUnixNano: '2',
                  severityNumber: 9,
                  severityText: 'I',
                  body: { stringValue: 'b' },
                  attributes: [{ key: 'a', value: { intValue: '3' } }],
                  droppedAttributesCount: 4,
                  flags: 1,
                  traceId: '0102030405060708090a0b0c0d0e0f10',
                  spanId: 'a1a2a3a4a5a6a7a8',
                  eventName: 'e',
                },
              ],
              schemaUrl: 'S',
            },
          ],
          schemaUrl: 'U',
        },
      ],
    };
    const record =
      '09 0100000000000000' + // time_unix_nano = 1, fixed64
      '10 09' + // severity_number = 2, varint
      '1a 01 49' + // severity_text = 3
      '2a 03 0a0162' + // body = 5: AnyValue{string_value = 1}
      '32 07 0a0161 12021803' + // attributes = 6: KeyValue{key = 1, value = 2: AnyValue{int_value = 3}}
      '38 04' + // dropped_attributes_count = 7, varint
      '45 01000000' + // flags = 8, fixed32
      '4a 10 0102030405060708090a0b0c0d0e0f10' + // trace_id = 9
      '52 08 a1a2a3a4a5a6a7a8' + // span_id = 10
      '59 0200000000000000' + // observed_time_unix_nano = 11, fixed64
      '62 01 65'; // event_name = 12
    const scope =
      '0a 01 6e' + // name = 1
      '12 01 76' + // version = 2
      '1a 07 0a0173 12021001' + // attributes = 3: KeyValue{key, value: AnyValue{bool_value = 2}}
      '20 02'; // dropped_attributes_count = 4
    const resource = '0a 08 0a0172 1203 0a0152' + '10 01'; // attributes = 1, dropped_attributes_count = 2
    const len = (h: string): string => (h.replace(/\s+/g, '').length / 2).toString(16).padStart(2, '0');
    const scopeLogs = `0a${len(scope)}${scope}` + `12${len(record)}${record}` + '1a0153'; // scope = 1, log_records = 2, schema_url = 3
    const resourceLogs = `0a${len(resource)}${resource}` + `12${len(scopeLogs)}${scopeLogs}` + '1a0155'; // resource = 1, scope_logs = 2, schema_url = 3
    const expected = `0a${len(resourceLogs)}${resourceLogs}`; // ExportLogsServiceRequest.resource_logs = 1
    expect(hex(encodeLogsRequest(req))).toBe(expected.replace(/\s+/g, ''));
    expect(roundTrip(req)).toEqual(req);
    checkRequest(req);
  });

  it('a record with no fields is an empty message; absent resource and scope stay absent', () => {
    const req = requestOf({});
    expect(hex(encodeLogsRequest(req))).toBe('0a04' + '1202' + '1200');
    expect(roundTrip(req)).toEqual(req);
  });

  it('present but empty resource and scope stay present', () => {
    const req: ExportLogsServiceRequest = { resourceLogs: [{ resource: {}, scopeLogs: [{ scope: {}, logRecords: [{}] }] }] };
    expect(roundTrip(req)).toEqual(req);
  });

  it('proto3 defaults are omitted at the message level', () => {
    const req = requestOf({
      timeUnixNano: '0',
      observedTimeUnixNano: 0,
      severityNumber: 0,
      severityText: '',
      attributes: [],
      droppedAttributesCount: 0,
      flags: 0,
      traceId: '',
      spanId: '',
      eventName: '',
    });
    expect(hex(encodeLogsRequest(req))).toBe('0a04' + '1202' + '1200');
    expect(hex(encodeLogsRequest({ resourceLogs: [{ schemaUrl: '', resource: { droppedAttributesCount: 0 } }] }))).toBe('0a02' + '0a00');
  });

  it('null members are absent (proto3 JSON)', () => {
    const rec = { timeUnixNano: null, body: null, attributes: null, traceId: null } as unknown as OtlpLogRecord;
    expect(roundTrip(requestOf(rec))).toEqual(requestOf({}));
    const nullInAnyValue = { stringValue: null, intValue: '5' } as unknown as OtlpAnyValue;
    expect(firstRecord(roundTrip(requestOf({ body: nullInAnyValue })))).toEqual({ body: { intValue: '5' } });
  });

  it('timestamps: max fixed64, numbers and strings written exactly', () => {
    for (const t of ['18446744073709551615', '9223372036854775808', '1700000000123456789', '1']) {
      expect(firstRecord(roundTrip(requestOf({ timeUnixNano: t, observedTimeUnixNano: t })))).toEqual({ timeUnixNano: t, observedTimeUnixNano: t });
    }
    expect(firstRecord(roundTrip(requestOf({ timeUnixNano: 1_700_000_000_000 })))).toEqual({ timeUnixNano: '1700000000000' });
    expect(firstRecord(roundTrip(requestOf({ timeUnixNano: 2 ** 63 })))).toEqual({ timeUnixNano: '9223372036854775808' });
    expect(hex(encodeLogsRequest(requestOf({ timeUnixNano: '18446744073709551615' })))).toBe('0a0d' + '120b' + '1209' + '09ffffffffffffffff');
  });

  it('severity, flags and counts at their limits', () => {
    const rec: OtlpLogRecord = { severityNumber: 24, flags: 0xffff_ffff, droppedAttributesCount: 0xffff_ffff };
    expect(firstRecord(roundTrip(requestOf(rec)))).toEqual(rec);
    checkRequest(requestOf(rec));
    // An enum is an int32: a negative value is sign-extended to ten bytes, as protobufjs writes it.
    checkRequest(requestOf({ severityNumber: -1 }));
    expect(hex(encodeLogsRequest(requestOf({ severityNumber: -1 })))).toBe('0a0f120d120b' + '10ffffffffffffffffff01');
    // Lenient forms: a decimal string, an enum name.
    expect(firstRecord(roundTrip(requestOf({ severityNumber: '17' as unknown as number, flags: '1' as unknown as number })))).toEqual({
      severityNumber: 17,
      flags: 1,
    });
    expect(firstRecord(roundTrip(requestOf({ severityNumber: 'SEVERITY_NUMBER_FATAL4' as unknown as number })))).toEqual({ severityNumber: 24 });
  });

  it('ids: lower-cased; all-zero ids are written and dropped by the Collector', () => {
    const rec: OtlpLogRecord = { traceId: 'ABCDEF0123456789ABCDEF0123456789', spanId: 'FEDCBA9876543210' };
    expect(firstRecord(roundTrip(requestOf(rec)))).toEqual({ traceId: 'abcdef0123456789abcdef0123456789', spanId: 'fedcba9876543210' });
    const zero = requestOf({ traceId: '0'.repeat(32), spanId: '0'.repeat(16) });
    const raw = decodeRequestWithProtobufjs(encodeLogsRequest(zero)).resourceLogs?.[0]?.scopeLogs?.[0]?.logRecords?.[0];
    expect(raw?.traceId).toEqual(new Uint8Array(16));
    expect(raw?.spanId).toEqual(new Uint8Array(8));
    expect(firstRecord(roundTrip(zero))).toEqual({});
  });

  it('several resources and scopes, order kept', () => {
    const req: ExportLogsServiceRequest = {
      resourceLogs: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'a' } }] },
          scopeLogs: [
            { scope: { name: 's1' }, logRecords: [{ body: { stringValue: '1' } }, { body: { stringValue: '2' } }] },
            { scope: { name: 's2', version: '1.0' }, logRecords: [{ body: { intValue: '3' } }], schemaUrl: 'https://x/1' },
          ],
          schemaUrl: 'https://x/r',
        },
        { scopeLogs: [] },
        { resource: {}, scopeLogs: [{ logRecords: [] }, { logRecords: [{ eventName: 'e' }] }] },
      ],
    };
    expect(roundTrip(req)).toEqual(normalize(req, true));
    checkRequest(req);
  });

  it('large messages: two- and three-byte lengths at every level', () => {
    const attributes: OtlpKeyValue[] = [];
    for (let i = 0; i < 3000; i++) attributes.push({ key: `k${i}`, value: { stringValue: `value ${i}` } });
    const records: OtlpLogRecord[] = [];
    for (let i = 0; i < 50; i++) records.push({ timeUnixNano: String(1e18 + i), body: { stringValue: 'x'.repeat(i * 10) }, attributes: i === 7 ? attributes : [] });
    checkRequest({ resourceLogs: [{ resource: { attributes }, scopeLogs: [{ logRecords: records }] }] });
  });

  it('an empty request is empty bytes', () => {
    expect(encodeLogsRequest({}).length).toBe(0);
    expect(encodeLogsRequest({ resourceLogs: [] }).length).toBe(0);
  });

  it('real audit records keep their canonical hash through protobuf', () => {
    const records = makeChain(25, {
      extraAttrs: (seq) => [
        { key: 'n', value: { intValue: String(-seq * 1_000_000_007) } },
        { key: 'd', value: { doubleValue: seq / 3 } },
        { key: 'm', value: { kvlistValue: { values: [{ key: 'empty', value: { stringValue: '' } }, { key: 'b', value: { bytesValue: 'AQID' } }] } } },
      ],
    });
    records[3]!.traceId = '0af7651916cd43dd8448eb211c80319c';
    records[3]!.spanId = 'b7ad6b7169203331';
    const req = requestOf(...records);
    const back = roundTrip(req);
    const backRecords = back.resourceLogs?.[0]?.scopeLogs?.[0]?.logRecords ?? [];
    expect(backRecords.map(recordHash)).toEqual(records.map(recordHash));
    expect(back).toEqual(req);
  });
});

describe('encodeLogsRequest: invalid input throws, naming the path', () => {
  const at = 'resourceLogs[0].scopeLogs[0].logRecords[1]';
  const cases: Array<[string, OtlpLogRecord, RegExp]> = [
    ['non-hex trace id', { traceId: 'zz'.repeat(16) }, /logRecords\[1\]\.traceId: "z+" is not 32 hex digits/],
    ['short trace id', { traceId: 'abcd' }, /traceId: "abcd" is not 32 hex digits/],
    ['long span id', { spanId: '0'.repeat(18) }, /spanId: .* is not 16 hex digits/],
    ['id not a string', { spanId: 5 as unknown as string }, /spanId: must be a hex string, got 5/],
    ['time not an integer', { timeUnixNano: '12a' }, /timeUnixNano: "12a" is not an integer/],
    ['time with a fraction', { timeUnixNano: 1.5 }, /timeUnixNano: 1.5 is not an integer/],
    ['negative time', { timeUnixNano: '-1' }, /timeUnixNano: "-1" is out of uint64 range/],
    ['time past uint64', { observedTimeUnixNano: '18446744073709551616' }, /observedTimeUnixNano: .* out of uint64 range/],
    ['time of a huge digit string', { timeUnixNano: '9'.repeat(5000) }, /timeUnixNano: .* out of uint64 range/],
    ['time as boolean', { timeUnixNano: true as unknown as string }, /timeUnixNano: must be an integer/],
    ['severity name unknown', { severityNumber: 'LOUD' as unknown as number }, /severityNumber: "LOUD" is not a SeverityNumber/],
    ['severity past int32', { severityNumber: 2 ** 31 }, /severityNumber: 2147483648 is out of int32 range/],
    ['negative flags', { flags: -1 }, /flags: -1 is out of fixed32 range/],
    ['dropped count past uint32', { droppedAttributesCount: 2 ** 32 }, /droppedAttributesCount: 4294967296 is out of uint32 range/],
    ['severityText not a string', { severityText: 5 as unknown as string }, /severityText: must be a string, got 5/],
    ['attributes not an array', { attributes: {} as unknown as OtlpKeyValue[] }, /logRecords\[1\]\.attributes: expected an array/],
    ['attribute not an object', { attributes: ['x'] as unknown as OtlpKeyValue[] }, /attributes\[0\]: expected a KeyValue object, got "x"/],
    ['key not a string', { attributes: [{ key: 1 as unknown as string }] }, /attributes\[0\]\.key: must be a string, got 1/],
    ['int not an integer', { body: { intValue: 'abc' } }, /body\.intValue: "abc" is not an integer/],
    ['int with a fraction', { body: { intValue: '1.0' } }, /body\.intValue: "1.0" is not an integer/],
    ['int with a fraction (number)', { body: { intValue: 1.5 } }, /body\.intValue: 1.5 is not an integer/],
    ['int past int64', { body: { intValue: '9223372036854775808' } }, /body\.intValue: .* out of int64 range/],
    ['int below int64', { body: { intValue: '-9223372036854775809' } }, /body\.intValue: .* out of int64 range/],
    ['int as an empty string', { body: { intValue: '' } }, /body\.intValue: "" is not an integer/],
    ['double not a number', { body: { doubleValue: 'abc' } }, /body\.doubleValue: "abc" is not a number/],
    ['double as hex text', { body: { doubleValue: '0x10' } }, /body\.doubleValue: "0x10" is not a number/],
    ['bool as a string', { body: { boolValue: 'true' as unknown as boolean } }, /body\.boolValue: must be a boolean, got "true"/],
    ['string as a number', { body: { stringValue: 5 as unknown as string } }, /body\.stringValue: must be a string, got 5/],
    ['bytes not base64', { body: { bytesValue: 'ab!d' } }, /body\.bytesValue: "ab!d" is not base64/],
    ['bytes of 4n+1 characters', { body: { bytesValue: 'abcde' } }, /body\.bytesValue: "abcde" is not base64/],
    ['bytes with bad padding', { body: { bytesValue: 'QQ=' } }, /body\.bytesValue: "QQ=" is not base64/],
    ['two oneof members', { body: { stringValue: 'a', intValue: '1' } }, /body: AnyValue has more than one value \(stringValue and intValue\)/],
    ['lone surrogate (short)', { body: { stringValue: 'a\ud800' } }, /body\.stringValue: .* lone surrogate/],
    ['lone surrogate (long)', { attributes: [{ key: 'k', value: { stringValue: '\udc00'.padEnd(100, 'x') } }] }, /attributes\[0\]\.value\.stringValue: .* lone surrogate/],
    ['lone surrogate in a key', { attributes: [{ key: 'k\udfff' }] }, /attributes\[0\]\.key: .* lone surrogate/],
    ['array not an object', { body: { arrayValue: [] as unknown as { values?: OtlpAnyValue[] } } }, /body\.arrayValue: expected an ArrayValue object, got an array/],
    ['array values not an array', { body: { arrayValue: { values: 'x' as unknown as OtlpAnyValue[] } } }, /body\.arrayValue\.values: expected an array/],
    [
      'deep path',
      { body: { kvlistValue: { values: [{ key: 'a', value: { arrayValue: { values: [{}, { intValue: 'x' }] } } }] } } },
      /logRecords\[1\]\.body\.kvlistValue\.values\[0\]\.value\.arrayValue\.values\[1\]\.intValue: "x" is not an integer/,
    ],
  ];
  for (const [name, bad, message] of cases) {
    it(name, () => {
      const req = requestOf({ body: { stringValue: 'fine' } }, bad);
      expect(() => encodeLogsRequest(req)).toThrow(message);
      expect(() => encodeLogsRequest(req)).toThrow(`encodeLogsRequest: ${at}`);
    });
  }

  it('envelope errors', () => {
    expect(() => encodeLogsRequest(null as unknown as ExportLogsServiceRequest)).toThrow(/encodeLogsRequest: request: expected an ExportLogsServiceRequest object, got null/);
    expect(() => encodeLogsRequest({ resourceLogs: [null] } as unknown as ExportLogsServiceRequest)).toThrow(/resourceLogs\[0\]: expected a ResourceLogs object, got null/);
    expect(() => encodeLogsRequest({ resourceLogs: [{ resource: 'x' }] } as unknown as ExportLogsServiceRequest)).toThrow(/resourceLogs\[0\]\.resource: expected a Resource object/);
    expect(() => encodeLogsRequest({ resourceLogs: [{}, { scopeLogs: [{ scope: { name: 1 } }] }] } as unknown as ExportLogsServiceRequest)).toThrow(
      /resourceLogs\[1\]\.scopeLogs\[0\]\.scope\.name: must be a string, got 1/,
    );
  });

  it(`values nested deeper than ${MAX_VALUE_DEPTH} levels (the canonical form's limit)`, () => {
    expect(MAX_VALUE_DEPTH).toBe(MAX_VALUE_NESTING);
    let v: OtlpAnyValue = { intValue: '1' };
    for (let i = 0; i < MAX_VALUE_DEPTH; i++) v = { arrayValue: { values: [v] } };
    expect(() => encodeLogsRequest(requestOf({ body: v }))).not.toThrow();
    expect(() => canonicalFromOtlp({ body: v })).not.toThrow();
    expect(() => encodeLogsRequest(requestOf({ body: { arrayValue: { values: [v] } } }))).toThrow(new RegExp(`nested deeper than ${MAX_VALUE_DEPTH} levels`));
    expect(() => canonicalFromOtlp({ body: { arrayValue: { values: [v] } } })).toThrow(/nested deeper than/);
  });

  it('the encoder is usable again after an error', () => {
    expect(() => encodeLogsRequest(requestOf({ body: { stringValue: 'x'.repeat(100_000) } }, { traceId: 'nope' }))).toThrow();
    checkRequest(requestOf({ body: { stringValue: 'after' } }));
  });
});

describe('encodeLogsRequest: seeded property test', () => {
  it('protobufjs decodes our bytes back to the input (Collector-normalised), and encodes the same bytes', () => {
    const records = forEachSeed(1, 400, checkRequest);
    expect(records).toBeGreaterThan(1000);
  });
});
