/**
 * OTLP/JSON → protobuf binary `ExportLogsServiceRequest` for the logs signal (`http/protobuf` and `grpc`
 * exporters). Dependency-free. The reverse, protobuf → OTLP/JSON, is protobuf-decode.ts; the response the
 * receiver answers with is protobuf-response.ts; both are re-exported here.
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
 * Field numbers are in protobuf-fields.ts, the buffer and the scalar writers in protobuf-writer.ts; the tests
 * decode with protobufjs loaded with copies of the opentelemetry-proto files (test/fixtures/proto).
 */
import type {
  ExportLogsServiceRequest,
  OtlpAnyValue,
  OtlpInstrumentationScope,
  OtlpKeyValue,
  OtlpLogRecord,
  OtlpResource,
  OtlpResourceLogs,
  OtlpScopeLogs,
} from './types.js';
import {
  ANY_ARRAY,
  ANY_KVLIST,
  ANY_STRING,
  KV_KEY,
  KV_VALUE,
  LIST_VALUES,
  LOG_ATTRIBUTES,
  LOG_BODY,
  LOG_DROPPED,
  LOG_EVENT_NAME,
  LOG_FLAGS,
  LOG_OBSERVED_TIME,
  LOG_SEVERITY_NUMBER,
  LOG_SEVERITY_TEXT,
  LOG_SPAN_ID,
  LOG_TIME,
  LOG_TRACE_ID,
  REQUEST_RESOURCE_LOGS,
  RESOURCE_ATTRIBUTES,
  RESOURCE_DROPPED,
  RESOURCE_LOGS_RESOURCE,
  RESOURCE_LOGS_SCHEMA_URL,
  RESOURCE_LOGS_SCOPE_LOGS,
  SCOPE_ATTRIBUTES,
  SCOPE_DROPPED,
  SCOPE_LOGS_LOG_RECORDS,
  SCOPE_LOGS_SCHEMA_URL,
  SCOPE_LOGS_SCOPE,
  SCOPE_NAME,
  SCOPE_VERSION,
} from './protobuf-fields.js';
import {
  beginMessage,
  endMessage,
  fail,
  finishWriting,
  list,
  object,
  path,
  startWriting,
  writeBase64,
  writeBool,
  writeDouble,
  writeFixed32,
  writeFixed64,
  writeHexId,
  writeInt64,
  writeSeverity,
  writeString,
  writeUint32,
} from './protobuf-writer.js';
// AnyValue nesting limit (arrayValue/kvlistValue levels), the OTLP/JSON normalizer's: deeper input is an error, not a
// stack overflow.
import { MAX_VALUE_DEPTH } from './normalize.js';


/**
 * The protobuf binary `ExportLogsServiceRequest` (opentelemetry.proto.collector.logs.v1) of an OTLP/JSON
 * request. Accepts what lenient OTLP/JSON readers accept (64-bit integers as decimal strings or numbers,
 * 32-bit integers and doubles as numbers or decimal strings, severity names, hex ids in either case, base64
 * with or without padding or in the URL alphabet; `null` means absent); unknown members are ignored.
 * Throws an `Error` naming the JSON path of anything it cannot write exactly.
 */
export function encodeLogsRequest(req: ExportLogsServiceRequest): Uint8Array {
  startWriting();
  let ok = false;
  let out: Uint8Array | undefined;
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
    ok = true;
  } finally {
    out = finishWriting(ok);
  }
  return out!;
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
  writeSeverity(LOG_SEVERITY_NUMBER, r.severityNumber);
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
  writeFixed32(LOG_FLAGS, r.flags, 'flags');
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
      writeBool(bool);
      return;
    case 'intValue':
      writeInt64(int);
      return;
    case 'doubleValue':
      writeDouble(dbl);
      return;
    case 'bytesValue':
      writeBase64(bytes);
      return;
    case 'arrayValue':
      writeArrayValue(arr, depth);
      return;
    case 'kvlistValue':
      writeKvlistValue(kvl, depth);
      return;
  }
}

function writeArrayValue(arr: unknown, depth: number): void {
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
}

function writeKvlistValue(kvl: unknown, depth: number): void {
  path.push('kvlistValue');
  if (depth >= MAX_VALUE_DEPTH) fail('', `values nested deeper than ${MAX_VALUE_DEPTH} levels`);
  const k = object<{ values?: unknown }>(kvl, 'a KeyValueList object');
  const at = beginMessage(ANY_KVLIST);
  const vals = list(k.values, 'values');
  if (vals !== undefined) writeKeyValues(LIST_VALUES, vals, 'values', depth + 1);
  endMessage(at);
  path.pop();
}

function another(kind: string, name: string): string {
  if (kind !== '') fail('', `AnyValue has more than one value (${kind} and ${name})`);
  return name;
}

export { decodeLogsResponse } from './protobuf-response.js';
export { decodeLogsRequest } from './protobuf-decode.js';
