/** decodeLogsResponse against protobufjs-encoded responses, unknown fields and bad input. */
import { describe, expect, it } from 'vitest';
import { decodeLogsResponse } from '../../src/otlp/protobuf.js';
import { responseType } from '../helpers/proto-receivers.js';

const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

describe('decodeLogsResponse', () => {
  const encodeResponse = (obj: Record<string, unknown>): Uint8Array => {
    const t = responseType();
    return t.encode(t.fromObject(obj)).finish();
  };

  it('empty body: full success', () => {
    expect(decodeLogsResponse(new Uint8Array(0))).toEqual({});
    expect(decodeLogsResponse(encodeResponse({}))).toEqual({});
  });

  it('partial success encoded by protobufjs', () => {
    expect(decodeLogsResponse(encodeResponse({ partialSuccess: { rejectedLogRecords: '5', errorMessage: 'too big' } }))).toEqual({
      partialSuccess: { rejectedLogRecords: '5', errorMessage: 'too big' },
    });
    for (const n of ['1', '127', '128', '4294967296', '9007199254740993', '9223372036854775807', '-1', '-9223372036854775808']) {
      expect(decodeLogsResponse(encodeResponse({ partialSuccess: { rejectedLogRecords: n } }))).toEqual({ partialSuccess: { rejectedLogRecords: n } });
    }
    expect(decodeLogsResponse(encodeResponse({ partialSuccess: { errorMessage: 'warning: ünïcode 😀' } }))).toEqual({
      partialSuccess: { errorMessage: 'warning: ünïcode 😀' },
    });
    // Present but empty: still present (proto3 JSON keeps a set message field).
    expect(decodeLogsResponse(encodeResponse({ partialSuccess: {} }))).toEqual({ partialSuccess: {} });
  });

  it('skips unknown fields of every wire type, at both levels', () => {
    const unknown =
      '28 96 01' + // field 5, varint
      '31 0102030405060708' + // field 6, fixed64
      '3a 03 616263' + // field 7, length-delimited
      '45 01020304' + // field 8, fixed32
      '4b 0801 1200 4b 08ff01 4c 4c' + // field 9, group, holding fields and a nested group 9
      'f8ffffff0f 01'; // field 2^29-1 (largest field number), varint
    const partial = unknown + '08 05' + unknown + '12 02 6869' + unknown; // rejected_log_records = 5, error_message = "hi"
    const bytes = unhex(unknown + `0a ${(partial.replace(/\s+/g, '').length / 2).toString(16)} ${partial}` + unknown);
    expect(decodeLogsResponse(bytes)).toEqual({ partialSuccess: { rejectedLogRecords: '5', errorMessage: 'hi' } });
    // protobufjs agrees on what the known fields hold.
    const viaProtobufjs = responseType().toObject(responseType().decode(bytes), { longs: String });
    expect(viaProtobufjs).toEqual({ partialSuccess: { rejectedLogRecords: '5', errorMessage: 'hi' } });
  });

  it('a known field with the wrong wire type is skipped as unknown; a repeated message is merged', () => {
    expect(decodeLogsResponse(unhex('08 01'))).toEqual({}); // partial_success as a varint
    expect(decodeLogsResponse(unhex('0a05 0d01000000'))).toEqual({ partialSuccess: {} }); // rejected_log_records as fixed32
    expect(decodeLogsResponse(unhex('0a02 1005'))).toEqual({ partialSuccess: {} }); // error_message as a varint
    expect(decodeLogsResponse(unhex('0a02 0805' + '0a04 12026869'))).toEqual({ partialSuccess: { rejectedLogRecords: '5', errorMessage: 'hi' } });
    expect(decodeLogsResponse(unhex('0a02 0805' + '0a02 0800'))).toEqual({ partialSuccess: {} }); // last value wins
  });

  const bad: Array<[string, string, RegExp]> = [
    ['truncated varint', '08', /truncated varint/],
    ['truncated varint inside a message', '0a02 0880', /truncated varint/],
    ['truncated key', '80', /truncated varint/],
    ['length past the end', '0a05 0801', /truncated: length-delimited field at byte 1 runs past the end/],
    ['inner length past the message', '0a03 1205 68', /truncated: length-delimited/],
    ['truncated fixed64', '31 010203', /truncated: 8-byte field/],
    ['truncated fixed32', '45 01', /truncated: 4-byte field/],
    ['group without end', '4b 0801', /truncated: group 9 has no end/],
    ['mismatched group end', '4b 54', /end group 10 does not match start group 9/],
    ['end group alone', '4c', /unexpected end group 9/],
    ['wire type 6', '0e', /invalid wire type 6/],
    ['wire type 7', '0f', /invalid wire type 7/],
    ['field number 0', '00', /field number 0/],
    ['varint overflowing 64 bits', '08 ffffffffffffffffff7f', /overflows 64 bits/],
    ['varint longer than 10 bytes', '08 ffffffffffffffffffff01', /overflows 64 bits/],
  ];
  for (const [name, bytes, message] of bad) {
    it(`throws on ${name}`, () => {
      expect(() => decodeLogsResponse(unhex(bytes))).toThrow(message);
      expect(() => decodeLogsResponse(unhex(bytes))).toThrow(/^decodeLogsResponse: /);
    });
  }

  it('does not overflow the stack on deeply nested groups', () => {
    const bytes = unhex('4b'.repeat(10_000));
    expect(() => decodeLogsResponse(bytes)).toThrow(/groups nested too deep/);
  });
});
