/**
 * OTLP/JSON → protobuf binary for the logs signal (`http/protobuf` and `grpc` exporters), and the
 * `ExportLogsServiceResponse` the receiver answers with. Dependency-free.
 *
 * Records are serialized as OTLP/JSON first (and hashed over a canonical form of that JSON), so this module
 * transcodes a JSON object at send time. The transcoding is lossless: a receiver that decodes these bytes
 * and writes proto3 JSON again reproduces every value. In particular:
 * - an AnyValue oneof member is always written, even when it holds its type's default (`stringValue: ""`,
 *   `intValue: "0"`, `boolValue: false`, `doubleValue: 0`, `bytesValue: ""`), because presence *is* the
 *   value's type; an empty AnyValue `{}` is written as an empty message;
 * - `intValue` is an int64 (negative values as 10-byte two's-complement varints), exact beyond 2^53;
 * - `doubleValue` is a double even when integral; "NaN" / "Infinity" / "-Infinity" and -0 keep their bits;
 * - messages that are present but empty (`resource: {}`, `scope: {}`, `value: {}`) stay present;
 * - key order and duplicate keys are kept (repeated fields are written in input order).
 * Everything else follows a normal proto3 encoder: scalars holding their default (0, "", empty bytes) are
 * omitted, and fields are written in field-number order.
 *
 * Field numbers are from opentelemetry-proto (github.com/open-telemetry/opentelemetry-proto):
 * collector/logs/v1/logs_service.proto, logs/v1/logs.proto, common/v1/common.proto, resource/v1/resource.proto.
 * Test fixtures hold copies of those files (test/fixtures/proto), and the tests decode with protobufjs.
 *
 * Encoding is one pass into a reused, growable buffer: a length-delimited field reserves one byte for its
 * length and, when the content turns out to need more, shifts the content (once per message, at its end).
 * No allocation per field; strings are written straight into the buffer.
 */
import type {
  ExportLogsServiceRequest,
  ExportLogsServiceResponse,
  OtlpAnyValue,
  OtlpInstrumentationScope,
  OtlpKeyValue,
  OtlpLogRecord,
  OtlpResource,
  OtlpResourceLogs,
  OtlpScopeLogs,
} from './types.js';

// ---------------------------------------------------------------------------------------------------------
// Wire format (https://protobuf.dev/programming-guides/encoding/)

import { I32, I64, LEN, TWO_32, VARINT, key } from './protobuf-wire.js';

// collector/logs/v1/logs_service.proto
/** ExportLogsServiceRequest: repeated opentelemetry.proto.logs.v1.ResourceLogs resource_logs = 1; */
const REQUEST_RESOURCE_LOGS = key(1, LEN);

// logs/v1/logs.proto — ResourceLogs
/** opentelemetry.proto.resource.v1.Resource resource = 1; */
const RESOURCE_LOGS_RESOURCE = key(1, LEN);
/** repeated ScopeLogs scope_logs = 2; */
const RESOURCE_LOGS_SCOPE_LOGS = key(2, LEN);
/** string schema_url = 3; */
const RESOURCE_LOGS_SCHEMA_URL = key(3, LEN);

// resource/v1/resource.proto — Resource
/** repeated opentelemetry.proto.common.v1.KeyValue attributes = 1; */
const RESOURCE_ATTRIBUTES = key(1, LEN);
/** uint32 dropped_attributes_count = 2; */
const RESOURCE_DROPPED = key(2, VARINT);

// logs/v1/logs.proto — ScopeLogs
/** opentelemetry.proto.common.v1.InstrumentationScope scope = 1; */
const SCOPE_LOGS_SCOPE = key(1, LEN);
/** repeated LogRecord log_records = 2; */
const SCOPE_LOGS_LOG_RECORDS = key(2, LEN);
/** string schema_url = 3; */
const SCOPE_LOGS_SCHEMA_URL = key(3, LEN);

// common/v1/common.proto — InstrumentationScope
/** string name = 1; */
const SCOPE_NAME = key(1, LEN);
/** string version = 2; */
const SCOPE_VERSION = key(2, LEN);
/** repeated KeyValue attributes = 3; */
const SCOPE_ATTRIBUTES = key(3, LEN);
/** uint32 dropped_attributes_count = 4; */
const SCOPE_DROPPED = key(4, VARINT);

// logs/v1/logs.proto — LogRecord (field 4 is reserved: the removed `name`)
/** fixed64 time_unix_nano = 1; */
const LOG_TIME = key(1, I64);
/** SeverityNumber severity_number = 2; (enum: int32 varint) */
const LOG_SEVERITY_NUMBER = key(2, VARINT);
/** string severity_text = 3; */
const LOG_SEVERITY_TEXT = key(3, LEN);
/** opentelemetry.proto.common.v1.AnyValue body = 5; */
const LOG_BODY = key(5, LEN);
/** repeated opentelemetry.proto.common.v1.KeyValue attributes = 6; */
const LOG_ATTRIBUTES = key(6, LEN);
/** uint32 dropped_attributes_count = 7; */
const LOG_DROPPED = key(7, VARINT);
/** fixed32 flags = 8; */
const LOG_FLAGS = key(8, I32);
/** bytes trace_id = 9; (16 bytes) */
const LOG_TRACE_ID = key(9, LEN);
/** bytes span_id = 10; (8 bytes) */
const LOG_SPAN_ID = key(10, LEN);
/** fixed64 observed_time_unix_nano = 11; */
const LOG_OBSERVED_TIME = key(11, I64);
/** string event_name = 12; */
const LOG_EVENT_NAME = key(12, LEN);

// common/v1/common.proto — KeyValue, AnyValue, ArrayValue, KeyValueList
/** KeyValue: string key = 1; */
const KV_KEY = key(1, LEN);
/** KeyValue: AnyValue value = 2; */
const KV_VALUE = key(2, LEN);
/** AnyValue oneof value: string string_value = 1; */
const ANY_STRING = key(1, LEN);
/** AnyValue oneof value: bool bool_value = 2; */
const ANY_BOOL = key(2, VARINT);
/** AnyValue oneof value: int64 int_value = 3; */
const ANY_INT = key(3, VARINT);
/** AnyValue oneof value: double double_value = 4; */
const ANY_DOUBLE = key(4, I64);
/** AnyValue oneof value: ArrayValue array_value = 5; */
const ANY_ARRAY = key(5, LEN);
/** AnyValue oneof value: KeyValueList kvlist_value = 6; */
const ANY_KVLIST = key(6, LEN);
/** AnyValue oneof value: bytes bytes_value = 7; */
const ANY_BYTES = key(7, LEN);
/** ArrayValue: repeated AnyValue values = 1;  KeyValueList: repeated KeyValue values = 1; */
const LIST_VALUES = key(1, LEN);


/**
 * AnyValue nesting limit (arrayValue/kvlistValue levels), the same as the OTLP/JSON normalizer's
 * (otlp/normalize.ts MAX_VALUE_DEPTH): deeper input is an error, not a stack overflow.
 */
const MAX_VALUE_DEPTH = 100;


// ---------------------------------------------------------------------------------------------------------
// Encoder state: one request at a time (synchronous, never re-entered).

const INITIAL_BYTES = 64 * 1024;
/** Above this the scratch buffer is dropped after the call, so one huge request does not pin memory. */
const KEEP_BYTES = 4 * 1024 * 1024;

let buf: Buffer | undefined;
let b: Buffer = Buffer.alloc(0);
let pos = 0;
/** Path of the object being written, joined only for an error message. */
const path: Array<string | number> = [];
/** Result slots of `read64`: the low and high 32 bits (two's complement for negative int64). */
let lo = 0;
let hi = 0;

/**
 * The protobuf binary `ExportLogsServiceRequest` (opentelemetry.proto.collector.logs.v1) of an OTLP/JSON
 * request. Accepts what lenient OTLP/JSON readers accept (64-bit integers as decimal strings or numbers,
 * 32-bit integers and doubles as numbers or decimal strings, severity names, hex ids in either case, base64
 * with or without padding or in the URL alphabet; `null` means absent); unknown members are ignored.
 * Throws an `Error` naming the JSON path of anything it cannot write exactly.
 */
export function encodeLogsRequest(req: ExportLogsServiceRequest): Uint8Array {
  b = buf ??= Buffer.allocUnsafeSlow(INITIAL_BYTES);
  pos = 0;
  path.length = 0;
  try {
    const root = object<ExportLogsServiceRequest>(req, 'an ExportLogsServiceRequest object');
    const rls = list(root.resourceLogs, 'resourceLogs');
    if (rls !== undefined) {
      path.push('resourceLogs', 0);
      for (let i = 0; i < rls.length; i++) {
        path[1] = i;
        const at = beginMessage(REQUEST_RESOURCE_LOGS);
        writeResourceLogs(object<OtlpResourceLogs>(rls[i], 'a ResourceLogs object'));
        endMessage(at);
      }
      path.length = 0;
    }
    const out = new Uint8Array(pos);
    out.set(b.subarray(0, pos));
    return out;
  } finally {
    buf = b.length > KEEP_BYTES ? undefined : b;
    b = Buffer.alloc(0);
  }
}

function writeResourceLogs(rl: OtlpResourceLogs): void {
  const resource = rl.resource;
  if (resource != null) {
    path.push('resource');
    const at = beginMessage(RESOURCE_LOGS_RESOURCE);
    writeResource(object<OtlpResource>(resource, 'a Resource object'));
    endMessage(at);
    path.pop();
  }
  const sls = list(rl.scopeLogs, 'scopeLogs');
  if (sls !== undefined) {
    const base = path.length;
    path.push('scopeLogs', 0);
    for (let i = 0; i < sls.length; i++) {
      path[base + 1] = i;
      const at = beginMessage(RESOURCE_LOGS_SCOPE_LOGS);
      writeScopeLogs(object<OtlpScopeLogs>(sls[i], 'a ScopeLogs object'));
      endMessage(at);
    }
    path.length = base;
  }
  writeString(RESOURCE_LOGS_SCHEMA_URL, rl.schemaUrl, 'schemaUrl', false);
}

function writeResource(r: OtlpResource): void {
  writeAttributes(RESOURCE_ATTRIBUTES, r.attributes, 'attributes');
  writeUint32(RESOURCE_DROPPED, r.droppedAttributesCount, 'droppedAttributesCount');
}

function writeScopeLogs(sl: OtlpScopeLogs): void {
  const scope = sl.scope;
  if (scope != null) {
    path.push('scope');
    const at = beginMessage(SCOPE_LOGS_SCOPE);
    writeScope(object<OtlpInstrumentationScope>(scope, 'an InstrumentationScope object'));
    endMessage(at);
    path.pop();
  }
  const lrs = list(sl.logRecords, 'logRecords');
  if (lrs !== undefined) {
    const base = path.length;
    path.push('logRecords', 0);
    for (let i = 0; i < lrs.length; i++) {
      path[base + 1] = i;
      const at = beginMessage(SCOPE_LOGS_LOG_RECORDS);
      writeLogRecord(object<OtlpLogRecord>(lrs[i], 'a LogRecord object'));
      endMessage(at);
    }
    path.length = base;
  }
  writeString(SCOPE_LOGS_SCHEMA_URL, sl.schemaUrl, 'schemaUrl', false);
}

function writeScope(s: OtlpInstrumentationScope): void {
  writeString(SCOPE_NAME, s.name, 'name', false);
  writeString(SCOPE_VERSION, s.version, 'version', false);
  writeAttributes(SCOPE_ATTRIBUTES, s.attributes, 'attributes');
  writeUint32(SCOPE_DROPPED, s.droppedAttributesCount, 'droppedAttributesCount');
}

/** In field-number order, as protobuf encoders write (observed_time_unix_nano = 11 comes after span_id). */
function writeLogRecord(r: OtlpLogRecord): void {
  writeFixed64(LOG_TIME, r.timeUnixNano, 'timeUnixNano');
  writeSeverity(r.severityNumber);
  writeString(LOG_SEVERITY_TEXT, r.severityText, 'severityText', false);
  const body = r.body;
  if (body != null) {
    path.push('body');
    const at = beginMessage(LOG_BODY);
    writeAnyValue(body, 0);
    endMessage(at);
    path.pop();
  }
  writeAttributes(LOG_ATTRIBUTES, r.attributes, 'attributes');
  writeUint32(LOG_DROPPED, r.droppedAttributesCount, 'droppedAttributesCount');
  writeFlags(r.flags);
  writeHexId(LOG_TRACE_ID, r.traceId, 16, 'traceId');
  writeHexId(LOG_SPAN_ID, r.spanId, 8, 'spanId');
  writeFixed64(LOG_OBSERVED_TIME, r.observedTimeUnixNano, 'observedTimeUnixNano');
  writeString(LOG_EVENT_NAME, r.eventName, 'eventName', false);
}

// ---------------------------------------------------------------------------------------------------------
// Values

function writeAttributes(tag: number, v: unknown, name: string): void {
  const kvs = list(v, name);
  if (kvs === undefined) return;
  writeKeyValues(tag, kvs, name, 0);
}

/** `depth` counts the arrayValue/kvlistValue levels around these KeyValues. */
function writeKeyValues(tag: number, kvs: readonly unknown[], name: string, depth: number): void {
  const base = path.length;
  path.push(name, 0);
  for (let i = 0; i < kvs.length; i++) {
    path[base + 1] = i;
    const kv = object<OtlpKeyValue>(kvs[i], 'a KeyValue object');
    const at = beginMessage(tag);
    writeString(KV_KEY, kv.key, 'key', false);
    const value = kv.value;
    if (value != null) {
      path.push('value');
      const v = beginMessage(KV_VALUE);
      writeAnyValue(value, depth);
      endMessage(v);
      path.pop();
    }
    endMessage(at);
  }
  path.length = base;
}

/** The content of an AnyValue message (the caller wrote its key and length). */
function writeAnyValue(value: unknown, depth: number): void {
  const v = object<OtlpAnyValue>(value, 'an AnyValue object');
  // Exactly one oneof member may be set; none is the empty value (an empty message).
  let kind = '';
  const s = v.stringValue;
  if (s != null) kind = 'stringValue';
  const bool = v.boolValue;
  if (bool != null) kind = another(kind, 'boolValue');
  const int = v.intValue;
  if (int != null) kind = another(kind, 'intValue');
  const dbl = v.doubleValue;
  if (dbl != null) kind = another(kind, 'doubleValue');
  const bytes = v.bytesValue;
  if (bytes != null) kind = another(kind, 'bytesValue');
  const arr = v.arrayValue;
  if (arr != null) kind = another(kind, 'arrayValue');
  const kvl = v.kvlistValue;
  if (kvl != null) kind = another(kind, 'kvlistValue');

  switch (kind) {
    case '':
      return;
    case 'stringValue':
      writeString(ANY_STRING, s, 'stringValue', true);
      return;
    case 'boolValue':
      if (typeof bool !== 'boolean') fail('boolValue', `must be a boolean, got ${describe(bool)}`);
      ensure(2);
      b[pos++] = ANY_BOOL;
      b[pos++] = bool ? 1 : 0;
      return;
    case 'intValue':
      read64(int, true, 'intValue');
      ensure(11);
      b[pos++] = ANY_INT;
      varint64(lo, hi);
      return;
    case 'doubleValue':
      ensure(9);
      b[pos++] = ANY_DOUBLE;
      b.writeDoubleLE(toDouble(dbl), pos);
      pos += 8;
      return;
    case 'bytesValue':
      writeBase64(bytes);
      return;
    case 'arrayValue': {
      path.push('arrayValue');
      if (depth >= MAX_VALUE_DEPTH) fail('', `values nested deeper than ${MAX_VALUE_DEPTH} levels`);
      const a = object<{ values?: unknown }>(arr, 'an ArrayValue object');
      const at = beginMessage(ANY_ARRAY);
      const vals = list(a.values, 'values');
      if (vals !== undefined) {
        const base = path.length;
        path.push('values', 0);
        for (let i = 0; i < vals.length; i++) {
          path[base + 1] = i;
          const m = beginMessage(LIST_VALUES);
          writeAnyValue(vals[i], depth + 1);
          endMessage(m);
        }
        path.length = base;
      }
      endMessage(at);
      path.pop();
      return;
    }
    case 'kvlistValue': {
      path.push('kvlistValue');
      if (depth >= MAX_VALUE_DEPTH) fail('', `values nested deeper than ${MAX_VALUE_DEPTH} levels`);
      const k = object<{ values?: unknown }>(kvl, 'a KeyValueList object');
      const at = beginMessage(ANY_KVLIST);
      const vals = list(k.values, 'values');
      if (vals !== undefined) writeKeyValues(LIST_VALUES, vals, 'values', depth + 1);
      endMessage(at);
      path.pop();
      return;
    }
  }
}

function another(kind: string, name: string): string {
  if (kind !== '') fail('', `AnyValue has more than one value (${kind} and ${name})`);
  return name;
}

const NUMERIC = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** proto3 JSON double: a number, "NaN" / "Infinity" / "-Infinity", or a numeric string. */
function toDouble(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    if (v === 'NaN') return Number.NaN;
    if (v === 'Infinity') return Number.POSITIVE_INFINITY;
    if (v === '-Infinity') return Number.NEGATIVE_INFINITY;
    if (NUMERIC.test(v)) {
      const n = Number(v);
      if (Number.isFinite(n)) return n;
    }
  }
  return fail('doubleValue', `${describe(v)} is not a number`);
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** bytes_value from base64 (standard or URL alphabet, padding optional); "" is the empty, still present value. */
function writeBase64(v: unknown): void {
  if (typeof v !== 'string') fail('bytesValue', `must be a base64 string, got ${describe(v)}`);
  let data = v.length;
  while (data > 0 && v.charCodeAt(data - 1) === 0x3d /* = */) data--;
  // Node's decoder skips what it cannot read; only text that is whole base64 groups is accepted.
  if (!BASE64.test(v) || data % 4 === 1 || (data !== v.length && v.length % 4 !== 0)) {
    fail('bytesValue', `${describe(v)} is not base64`);
  }
  const n = Math.floor((data * 3) / 4);
  ensure(1 + 5 + n);
  b[pos++] = ANY_BYTES;
  varint32(n);
  // The 'base64' decoder takes both alphabets.
  const written = n === 0 ? 0 : b.write(v, pos, n, 'base64');
  if (written !== n) fail('bytesValue', `${describe(v)} is not base64`);
  pos += n;
}

// ---------------------------------------------------------------------------------------------------------
// Scalars

/**
 * A string field. `present`: write it even when empty (an AnyValue oneof member); otherwise "" is the proto3
 * default and omitted. Strings must be well-formed UTF-16: a lone surrogate has no UTF-8 form, and replacing
 * it with U+FFFD would change the value.
 */
function writeString(tag: number, v: unknown, name: string, present: boolean): void {
  if (v == null) return;
  if (typeof v !== 'string') fail(name, `must be a string, got ${describe(v)}`);
  const n = v.length;
  if (n === 0 && !present) return;
  if (n < 43) {
    // At most 126 UTF-8 bytes: the length is one byte. Copy ASCII directly; anything else via utf8 write.
    ensure(2 + n * 3);
    b[pos++] = tag;
    const at = pos++;
    let i = 0;
    for (; i < n; i++) {
      const c = v.charCodeAt(i);
      if (c >= 0x80) break;
      b[pos + i] = c;
    }
    if (i === n) {
      b[at] = n;
      pos += n;
      return;
    }
    if (!v.isWellFormed()) fail(name, `${describe(v)} has a lone surrogate (not representable in UTF-8)`);
    const w = b.write(v, pos, 'utf8');
    b[at] = w;
    pos += w;
    return;
  }
  if (!v.isWellFormed()) fail(name, `${describe(v)} has a lone surrogate (not representable in UTF-8)`);
  const len = Buffer.byteLength(v, 'utf8');
  ensure(6 + len);
  b[pos++] = tag;
  varint32(len);
  pos += b.write(v, pos, len, 'utf8');
}

/** fixed64 (timestamps): uint64 as a decimal string or a number; 0 is the default and omitted. */
function writeFixed64(tag: number, v: unknown, name: string): void {
  if (v == null) return;
  read64(v, false, name);
  if (lo === 0 && hi === 0) return;
  ensure(9);
  b[pos++] = tag;
  b[pos++] = lo & 0xff;
  b[pos++] = (lo >>> 8) & 0xff;
  b[pos++] = (lo >>> 16) & 0xff;
  b[pos++] = lo >>> 24;
  b[pos++] = hi & 0xff;
  b[pos++] = (hi >>> 8) & 0xff;
  b[pos++] = (hi >>> 16) & 0xff;
  b[pos++] = hi >>> 24;
}

function writeUint32(tag: number, v: unknown, name: string): void {
  if (v == null) return;
  const n = int32(v, name, 0, 0xffff_ffff, 'uint32');
  if (n === 0) return;
  ensure(6);
  b[pos++] = tag;
  varint32(n);
}

/** fixed32 flags. */
function writeFlags(v: unknown): void {
  if (v == null) return;
  const n = int32(v, 'flags', 0, 0xffff_ffff, 'fixed32');
  if (n === 0) return;
  ensure(5);
  b[pos++] = LOG_FLAGS;
  b[pos++] = n & 0xff;
  b[pos++] = (n >>> 8) & 0xff;
  b[pos++] = (n >>> 16) & 0xff;
  b[pos++] = n >>> 24;
}

/** Proto enum names, which proto3 JSON allows in place of the number. */
const SEVERITY_NAMES: ReadonlyMap<string, number> = (() => {
  const m = new Map<string, number>([['SEVERITY_NUMBER_UNSPECIFIED', 0]]);
  ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'].forEach((level, i) => {
    for (let k = 0; k < 4; k++) m.set(`SEVERITY_NUMBER_${level}${k === 0 ? '' : String(k + 1)}`, i * 4 + k + 1);
  });
  return m;
})();

/** SeverityNumber: an enum, so an int32 varint (a negative value sign-extended to 10 bytes). */
function writeSeverity(v: unknown): void {
  if (v == null) return;
  let n: number | undefined;
  if (typeof v === 'string' && !DECIMAL.test(v)) {
    n = SEVERITY_NAMES.get(v);
    if (n === undefined) fail('severityNumber', `${describe(v)} is not a SeverityNumber`);
  } else {
    n = int32(v, 'severityNumber', -0x8000_0000, 0x7fff_ffff, 'int32');
  }
  if (n === 0) return;
  ensure(11);
  b[pos++] = LOG_SEVERITY_NUMBER;
  varint64(n >>> 0, n < 0 ? 0xffff_ffff : 0);
}

const DECIMAL = /^-?\d+$/;

/** A 32-bit integer: a number or a decimal string, within [min, max]. */
function int32(v: unknown, name: string, min: number, max: number, type: string): number {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && DECIMAL.test(v)) n = Number(v);
  else return fail(name, `must be an integer, got ${describe(v)}`);
  if (!Number.isInteger(n)) return fail(name, `${describe(v)} is not an integer`);
  if (n < min || n > max) return fail(name, `${describe(v)} is out of ${type} range`);
  return n === 0 ? 0 : n; // -0 → 0
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
/** Up to 15 digits: exact as a double, so no BigInt needed. */
const SHORT_DECIMAL = /^-?\d{1,15}$/;

/**
 * A 64-bit integer from a decimal string or a number, into `lo`/`hi` (two's complement when negative).
 * `signed`: int64, else uint64 (fixed64 timestamps).
 */
function read64(v: unknown, signed: boolean, name: string): void {
  const range = signed ? 'int64' : 'uint64';
  let n: number;
  if (typeof v === 'string') {
    if (!SHORT_DECIMAL.test(v)) {
      if (!DECIMAL.test(v)) fail(name, `${describe(v)} is not an integer`);
      // Leading zeros off first, so a huge digit string is rejected without a costly BigInt parse.
      const digits = v.replace(/^(-?)0+(?=\d)/, '$1');
      if (digits.length > 21) fail(name, `${describe(v)} is out of ${range} range`);
      read64Big(BigInt(digits), signed, v, name);
      return;
    }
    n = Number(v);
  } else if (typeof v === 'number') {
    if (!Number.isInteger(v)) fail(name, `${describe(v)} is not an integer`);
    if (!Number.isSafeInteger(v)) {
      read64Big(BigInt(v), signed, v, name); // exact for any integral double
      return;
    }
    n = v;
  } else {
    return fail(name, `must be an integer (a decimal string or a number), got ${describe(v)}`);
  }
  if (!signed && n < 0) fail(name, `${describe(v)} is out of ${range} range`);
  lo = n >>> 0; // ToUint32 is n mod 2^32, also for negative n
  hi = Math.floor(n / TWO_32) >>> 0;
}

function read64Big(x: bigint, signed: boolean, v: unknown, name: string): void {
  if (signed ? x < INT64_MIN || x > INT64_MAX : x < 0n || x > UINT64_MAX) {
    fail(name, `${describe(v)} is out of ${signed ? 'int64' : 'uint64'} range`);
  }
  const u = BigInt.asUintN(64, x);
  lo = Number(u & 0xffff_ffffn);
  hi = Number(u >> 32n);
}

/** trace_id / span_id: hex text of exactly `size` bytes, either case; "" is the default and omitted. */
function writeHexId(tag: number, v: unknown, size: number, name: string): void {
  if (v == null) return;
  if (typeof v !== 'string') fail(name, `must be a hex string, got ${describe(v)}`);
  if (v.length === 0) return;
  if (v.length !== size * 2) fail(name, `${describe(v)} is not ${size * 2} hex digits`);
  ensure(2 + size);
  b[pos++] = tag;
  b[pos++] = size;
  for (let i = 0; i < size; i++) {
    const h = nibble(v.charCodeAt(2 * i));
    const l = nibble(v.charCodeAt(2 * i + 1));
    if (h < 0 || l < 0) fail(name, `${describe(v)} is not ${size * 2} hex digits`);
    b[pos++] = (h << 4) | l;
  }
}

function nibble(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30; // 0-9
  const l = c | 0x20; // ASCII lower case
  if (l >= 0x61 && l <= 0x66) return l - 0x57; // a-f
  return -1;
}

// ---------------------------------------------------------------------------------------------------------
// Buffer

function ensure(n: number): void {
  const need = pos + n;
  if (need <= b.length) return;
  let size = b.length * 2;
  while (size < need) size *= 2;
  const next = Buffer.allocUnsafeSlow(size);
  b.copy(next, 0, 0, pos);
  b = next;
}

/** Writes a length-delimited field's key and reserves one byte for its length; returns where that byte is. */
function beginMessage(tag: number): number {
  ensure(2);
  b[pos++] = tag;
  return pos++;
}

/** Writes the length of the message begun at `at`, moving its content when the length takes more bytes. */
function endMessage(at: number): void {
  const len = pos - at - 1;
  if (len < 0x80) {
    b[at] = len;
    return;
  }
  const extra = varintSize(len) - 1;
  ensure(extra);
  b.copyWithin(at + 1 + extra, at + 1, pos);
  pos += extra;
  const end = pos;
  pos = at;
  varint32(len);
  pos = end;
}

function varintSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x20_0000 ? 3 : n < 0x1000_0000 ? 4 : 5;
}

/** An unsigned 32-bit varint (the caller ensured 5 bytes). */
function varint32(n: number): void {
  while (n > 0x7f) {
    b[pos++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  b[pos++] = n;
}

/** A 64-bit varint from its halves (the caller ensured 10 bytes). */
function varint64(l: number, h: number): void {
  while (h !== 0) {
    b[pos++] = (l & 0x7f) | 0x80;
    l = ((l >>> 7) | (h << 25)) >>> 0;
    h >>>= 7;
  }
  varint32(l);
}

// ---------------------------------------------------------------------------------------------------------
// Input checks

/**
 * `v` as an object of the expected OTLP/JSON shape. Only that it is an object is checked here: every member
 * is checked where it is read, since the input comes from JSON and its types are a claim, not a guarantee.
 */
function object<T extends object>(v: unknown, what: string): T {
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as T;
  return fail('', `expected ${what}, got ${describe(v)}`);
}

/** A repeated field: absent (undefined or null) or an array. */
function list(v: unknown, name: string): readonly unknown[] | undefined {
  if (v == null) return undefined;
  if (!Array.isArray(v)) return fail(name, `expected an array, got ${describe(v)}`);
  return v as readonly unknown[];
}

function fail(field: string, detail: string): never {
  let where = '';
  for (const seg of path) where += typeof seg === 'number' ? `[${seg}]` : where === '' ? seg : `.${seg}`;
  if (field !== '') where += where === '' ? field : `.${field}`;
  throw new Error(`encodeLogsRequest: ${where === '' ? 'request' : where}: ${detail}`);
}

/** Short rendering of an offending value: strings quoted, long ones cut. */
function describe(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') {
    const quoted = JSON.stringify(v);
    return quoted.length > 50 ? `${quoted.slice(0, 46)}…" (${v.length} chars)` : quoted;
  }
  if (typeof v === 'bigint') return `${v}n`;
  return String(v);
}

export { decodeLogsResponse } from './protobuf-response.js';
