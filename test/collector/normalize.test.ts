import { describe, expect, it } from 'vitest';
import { countLogRecords, MAX_VALUE_DEPTH, normalizeExportRequest, OtlpFormatError } from '../../src/otlp/normalize.js';
import type { OtlpAnyValue, OtlpLogRecord } from '../../src/otlp/types.js';

/** A request with one record carrying `record`. */
function withRecord(record: unknown): unknown {
  return { resourceLogs: [{ scopeLogs: [{ logRecords: [record] }] }] };
}

function normalizedRecord(record: unknown): OtlpLogRecord {
  const out = normalizeExportRequest(withRecord(record)).resourceLogs?.[0]?.scopeLogs?.[0]?.logRecords?.[0];
  if (!out) throw new Error('record missing');
  return out;
}

function normalizedValue(value: unknown): OtlpAnyValue | undefined {
  return normalizedRecord({ attributes: [{ key: 'k', value }] }).attributes?.[0]?.value;
}

function errorOf(fn: () => unknown): OtlpFormatError {
  try {
    fn();
  } catch (err) {
    if (err instanceof OtlpFormatError) return err;
    throw err;
  }
  throw new Error('expected OtlpFormatError');
}

const R = 'resourceLogs[0].scopeLogs[0].logRecords[0]';

describe('normalizeExportRequest: values', () => {
  const cases: Array<{ name: string; input: unknown; expected: OtlpAnyValue }> = [
    { name: 'int as number', input: { intValue: 42 }, expected: { intValue: '42' } },
    { name: 'int as string', input: { intValue: '42' }, expected: { intValue: '42' } },
    { name: 'negative int', input: { intValue: -7 }, expected: { intValue: '-7' } },
    { name: 'int64 max as string', input: { intValue: '9223372036854775807' }, expected: { intValue: '9223372036854775807' } },
    { name: 'int64 min as string', input: { intValue: '-9223372036854775808' }, expected: { intValue: '-9223372036854775808' } },
    { name: 'int with leading zeros canonicalized', input: { intValue: '007' }, expected: { intValue: '7' } },
    { name: 'minus zero canonicalized', input: { intValue: '-0' }, expected: { intValue: '0' } },
    { name: 'large integral number without exponent', input: { intValue: 1e21 / 1000 }, expected: { intValue: '1000000000000000000' } },
    { name: 'double', input: { doubleValue: 1.5 }, expected: { doubleValue: 1.5 } },
    { name: 'integral double stays a double', input: { doubleValue: 2 }, expected: { doubleValue: 2 } },
    { name: 'NaN string', input: { doubleValue: 'NaN' }, expected: { doubleValue: 'NaN' } },
    { name: 'Infinity string', input: { doubleValue: 'Infinity' }, expected: { doubleValue: 'Infinity' } },
    { name: '-Infinity string', input: { doubleValue: '-Infinity' }, expected: { doubleValue: '-Infinity' } },
    { name: 'numeric double string', input: { doubleValue: '2.25' }, expected: { doubleValue: 2.25 } },
    { name: 'string', input: { stringValue: 'héllo\n' }, expected: { stringValue: 'héllo\n' } },
    { name: 'empty string kept', input: { stringValue: '' }, expected: { stringValue: '' } },
    { name: 'bool', input: { boolValue: false }, expected: { boolValue: false } },
    { name: 'bytes', input: { bytesValue: 'AQID' }, expected: { bytesValue: 'AQID' } },
    { name: 'bytes padded', input: { bytesValue: 'AQ==' }, expected: { bytesValue: 'AQ==' } },
    { name: 'bytes unpadded base64url rewritten', input: { bytesValue: '-_8' }, expected: { bytesValue: '+/8=' } },
    { name: 'empty value', input: {}, expected: {} },
    { name: 'null members dropped', input: { stringValue: null, intValue: 3 }, expected: { intValue: '3' } },
    { name: 'unknown members dropped', input: { intValue: 1, extra: 'x' }, expected: { intValue: '1' } },
    {
      name: 'nested array and kvlist',
      input: {
        arrayValue: {
          values: [
            { intValue: 1 },
            { kvlistValue: { values: [{ key: 'b', value: { doubleValue: 'NaN' } }, { key: 'a', value: { boolValue: true } }] } },
            { arrayValue: {} },
          ],
        },
      },
      expected: {
        arrayValue: {
          values: [
            { intValue: '1' },
            { kvlistValue: { values: [{ key: 'b', value: { doubleValue: 'NaN' } }, { key: 'a', value: { boolValue: true } }] } },
            { arrayValue: {} },
          ],
        },
      },
    },
  ];
  it.each(cases)('$name', ({ input, expected }) => {
    expect(normalizedValue(input)).toStrictEqual(expected);
  });
});

describe('normalizeExportRequest: records', () => {
  it('writes 64-bit times as strings and keeps small ints as numbers', () => {
    const out = normalizedRecord({
      timeUnixNano: 1_700_000_000_000_000_000,
      observedTimeUnixNano: '1700000000000000001',
      severityNumber: 9,
      severityText: 'INFO',
      flags: '1',
      droppedAttributesCount: 0,
      eventName: 'user.login',
    });
    expect(out).toStrictEqual({
      timeUnixNano: '1700000000000000000',
      observedTimeUnixNano: '1700000000000000001',
      severityNumber: 9,
      severityText: 'INFO',
      droppedAttributesCount: 0,
      flags: 1,
      eventName: 'user.login',
    });
  });

  it('accepts a severity enum name', () => {
    expect(normalizedRecord({ severityNumber: 'SEVERITY_NUMBER_WARN2' }).severityNumber).toBe(14);
  });

  const idCases: Array<{ name: string; input: Record<string, unknown>; expected: Record<string, unknown> }> = [
    {
      name: 'hex ids lowercased',
      input: { traceId: '5B8EFFF798038103D269B633813FC60C', spanId: 'EEE19B7EC3C1B174' },
      expected: { traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b174' },
    },
    { name: 'all-zero ids removed', input: { traceId: '0'.repeat(32), spanId: '0'.repeat(16) }, expected: {} },
    { name: 'empty ids removed', input: { traceId: '', spanId: '' }, expected: {} },
    { name: 'null ids removed', input: { traceId: null, spanId: null }, expected: {} },
  ];
  it.each(idCases)('$name', ({ input, expected }) => {
    expect(normalizedRecord(input)).toStrictEqual(expected);
  });

  it('keeps attribute order, drops unknown fields, writes fields in a fixed order', () => {
    const input = {
      extra: 1,
      resourceLogs: [
        {
          schemaUrl: 's',
          junk: true,
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }], entityRefs: [] },
          scopeLogs: [
            {
              scope: { name: 'audit', version: '1', other: 1 },
              logRecords: [
                {
                  eventName: 'e',
                  attributes: [
                    { key: 'z', value: { intValue: 1 } },
                    { key: 'a', value: { intValue: 2 } },
                    { key: 'm' },
                  ],
                  timeUnixNano: '5',
                },
              ],
            },
          ],
        },
      ],
    };
    const out = normalizeExportRequest(input);
    expect(JSON.stringify(out)).toBe(
      '{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},' +
        '"scopeLogs":[{"scope":{"name":"audit","version":"1"},"logRecords":[{"timeUnixNano":"5",' +
        '"attributes":[{"key":"z","value":{"intValue":"1"}},{"key":"a","value":{"intValue":"2"}},{"key":"m"}],' +
        '"eventName":"e"}]}],"schemaUrl":"s"}]}',
    );
    expect(countLogRecords(out)).toBe(1);
  });

  it('accepts an empty request', () => {
    expect(normalizeExportRequest({})).toStrictEqual({});
    expect(normalizeExportRequest({ resourceLogs: null })).toStrictEqual({});
  });

  it('counts records across resources and scopes', () => {
    const req = normalizeExportRequest({
      resourceLogs: [
        { scopeLogs: [{ logRecords: [{}, {}] }, { logRecords: [{}] }, {}] },
        {},
        { scopeLogs: [{ logRecords: [{}] }] },
      ],
    });
    expect(countLogRecords(req)).toBe(4);
  });
});

describe('normalizeExportRequest: __proto__', () => {
  it('keeps __proto__ as attribute data and pollutes nothing', () => {
    const body =
      '{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"__proto__":{"polluted":1},' +
      '"attributes":[{"key":"__proto__","value":{"kvlistValue":{"values":[{"key":"__proto__","value":{"stringValue":"x"}}]}}},' +
      '{"key":"constructor","value":{"stringValue":"y"}}]}]}]}]}';
    const out = normalizeExportRequest(JSON.parse(body));
    const record = out.resourceLogs?.[0]?.scopeLogs?.[0]?.logRecords?.[0];
    expect(record?.attributes?.[0]?.key).toBe('__proto__');
    expect(record?.attributes?.[0]?.value).toStrictEqual({
      kvlistValue: { values: [{ key: '__proto__', value: { stringValue: 'x' } }] },
    });
    expect(record?.attributes?.[1]?.key).toBe('constructor');
    expect(Object.getPrototypeOf(record)).toBe(Object.prototype);
    expect(Object.hasOwn(record ?? {}, '__proto__')).toBe(false);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(JSON.stringify(out)).toContain('"key":"__proto__"');
    expect(JSON.stringify(out)).not.toContain('polluted');
  });

  it('never reads fields from the prototype chain', () => {
    const proto = { timeUnixNano: '1', attributes: [{ key: 'inherited' }] };
    const record: unknown = Object.create(proto);
    expect(normalizedRecord(record)).toStrictEqual({});
  });
});

describe('normalizeExportRequest: malformed input', () => {
  const A = `${R}.attributes[0].value`;
  const cases: Array<{ name: string; input: unknown; message: string }> = [
    { name: 'root not an object', input: [], message: 'request: expected an ExportLogsServiceRequest object, got an array' },
    { name: 'root null', input: null, message: 'request: expected an ExportLogsServiceRequest object, got null' },
    { name: 'resourceLogs not an array', input: { resourceLogs: {} }, message: 'resourceLogs: expected an array, got an object' },
    {
      name: 'null element',
      input: { resourceLogs: [null] },
      message: 'resourceLogs[0]: expected a ResourceLogs object, got null',
    },
    {
      name: 'int with fraction (string), deep path',
      input: {
        resourceLogs: [
          {
            scopeLogs: [
              { logRecords: [] },
              { logRecords: [{}, {}, {}, { attributes: [{ key: 'a' }, { key: 'b' }, { key: 'c', value: { intValue: '1.5' } }] }] },
            ],
          },
        ],
      },
      message: 'resourceLogs[0].scopeLogs[1].logRecords[3].attributes[2].value: intValue "1.5" is not an integer',
    },
    { name: 'int with fraction (number)', input: withRecord({ attributes: [{ key: 'k', value: { intValue: 1.5 } }] }), message: `${A}: intValue 1.5 is not an integer` },
    {
      name: 'int above int64',
      input: withRecord({ attributes: [{ key: 'k', value: { intValue: '9223372036854775808' } }] }),
      message: `${A}: intValue "9223372036854775808" is out of int64 range`,
    },
    {
      name: 'int below int64',
      input: withRecord({ attributes: [{ key: 'k', value: { intValue: '-9223372036854775809' } }] }),
      message: `${A}: intValue "-9223372036854775809" is out of int64 range`,
    },
    {
      name: 'number above int64',
      input: withRecord({ attributes: [{ key: 'k', value: { intValue: 2 ** 63 } }] }),
      message: `${A}: intValue 9223372036854776000 is out of int64 range`,
    },
    {
      name: 'huge digit string',
      input: withRecord({ attributes: [{ key: 'k', value: { intValue: '9'.repeat(5000) } }] }),
      message: `${A}: intValue "${'9'.repeat(45)}…" (5000 chars) is out of int64 range`,
    },
    { name: 'int as bool', input: withRecord({ attributes: [{ key: 'k', value: { intValue: true } }] }), message: `${A}: intValue must be an integer (number or decimal string), got true` },
    { name: 'int with exponent string', input: withRecord({ attributes: [{ key: 'k', value: { intValue: '1e3' } }] }), message: `${A}: intValue "1e3" is not an integer` },
    { name: 'negative time', input: withRecord({ timeUnixNano: '-1' }), message: `${R}: timeUnixNano "-1" is out of uint64 range` },
    { name: 'time not integer', input: withRecord({ observedTimeUnixNano: 'soon' }), message: `${R}: observedTimeUnixNano "soon" is not an integer` },
    { name: 'double garbage', input: withRecord({ body: { doubleValue: 'nan' } }), message: `${R}.body: doubleValue "nan" is not a number` },
    { name: 'bool as string', input: withRecord({ body: { boolValue: 'true' } }), message: `${R}.body: boolValue must be a boolean, got "true"` },
    { name: 'string as number', input: withRecord({ body: { stringValue: 1 } }), message: `${R}.body: stringValue must be a string, got 1` },
    { name: 'bad base64', input: withRecord({ body: { bytesValue: 'a*b' } }), message: `${R}.body: bytesValue "a*b" is not valid base64` },
    { name: 'two members', input: withRecord({ body: { stringValue: 'a', intValue: 1 } }), message: `${R}.body: AnyValue has more than one value (stringValue and intValue)` },
    { name: 'value not an object', input: withRecord({ body: 'text' }), message: `${R}.body: expected an AnyValue object, got "text"` },
    {
      name: 'nested array element',
      input: withRecord({ body: { arrayValue: { values: [{ intValue: 1 }, { kvlistValue: { values: [{ key: 'x', value: { intValue: 'x' } }] } }] } } }),
      message: `${R}.body.arrayValue.values[1].kvlistValue.values[0].value: intValue "x" is not an integer`,
    },
    { name: 'arrayValue.values not an array', input: withRecord({ body: { arrayValue: { values: 3 } } }), message: `${R}.body.arrayValue.values: expected an array, got 3` },
    { name: 'key not a string', input: withRecord({ attributes: [{ key: 5 }] }), message: `${R}.attributes[0]: key must be a string, got 5` },
    { name: 'short traceId', input: withRecord({ traceId: 'abc' }), message: `${R}: traceId "abc" is not 32 hex digits` },
    { name: 'non-hex spanId', input: withRecord({ spanId: 'zzzzzzzzzzzzzzzz' }), message: `${R}: spanId "zzzzzzzzzzzzzzzz" is not 16 hex digits` },
    { name: 'traceId not a string', input: withRecord({ traceId: 1 }), message: `${R}: traceId must be a hex string, got 1` },
    { name: 'severity out of range', input: withRecord({ severityNumber: 2 ** 31 }), message: `${R}: severityNumber 2147483648 is out of int32 range` },
    { name: 'unknown severity name', input: withRecord({ severityNumber: 'LOUD' }), message: `${R}: severityNumber "LOUD" is not a SeverityNumber name` },
    { name: 'negative flags', input: withRecord({ flags: -1 }), message: `${R}: flags -1 is out of fixed32 range` },
    { name: 'eventName not a string', input: withRecord({ eventName: {} }), message: `${R}: eventName must be a string, got an object` },
    {
      name: 'scope name not a string',
      input: { resourceLogs: [{ scopeLogs: [{ scope: { name: 1 } }] }] },
      message: 'resourceLogs[0].scopeLogs[0].scope: name must be a string, got 1',
    },
  ];
  it.each(cases)('$name', ({ input, message }) => {
    const err = errorOf(() => normalizeExportRequest(input));
    expect(err.message).toBe(message);
    expect(err.name).toBe('OtlpFormatError');
  });

  it('limits nesting depth instead of overflowing the stack', () => {
    let value: unknown = { stringValue: 'leaf' };
    for (let i = 0; i < 10_000; i++) value = { arrayValue: { values: [value] } };
    const err = errorOf(() => normalizeExportRequest(withRecord({ body: value })));
    expect(err.detail).toBe(`values nested deeper than ${MAX_VALUE_DEPTH} levels`);
    expect(err.path.startsWith(`${R}.body.arrayValue.values[0]`)).toBe(true);

    let ok: unknown = { stringValue: 'leaf' };
    for (let i = 0; i < MAX_VALUE_DEPTH; i++) ok = { arrayValue: { values: [ok] } };
    expect(() => normalizeExportRequest(withRecord({ body: ok }))).not.toThrow();
  });
});
