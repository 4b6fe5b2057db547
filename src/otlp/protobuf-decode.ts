/**
 * Protobuf binary `ExportLogsServiceRequest` → OTLP/JSON, the exact form `normalizeExportRequest`
 * (normalize.ts) gives for the same request sent as JSON: the proto3 JSON mapping, OTLP flavour. Used by the
 * development collector to take `application/x-protobuf`. Dependency-free; field keys in protobuf-fields.ts.
 *
 * Lossless and exact:
 * - fixed64 times and int64 values → decimal strings (exact beyond 2^53); uint32/fixed32/enums → numbers;
 * - doubles keep their bits (-0 stays -0; NaN and the infinities become "NaN" / "Infinity" / "-Infinity");
 * - trace_id / span_id → lowercase hex, bytes_value → padded standard base64;
 * - strings must be valid UTF-8 (an error otherwise, never U+FFFD);
 * - an AnyValue oneof member is kept even when it holds its default (presence is the value's type), and a
 *   message present on the wire stays present even when empty (`"resource":{}`, `"body":{}`);
 * - members come out in the order normalize.ts writes them, whatever the order on the wire, so the
 *   collector's `--out` line for a protobuf request is byte-for-byte the one for the same JSON request,
 *   except for what JSON can spell out and protobuf cannot:
 * scalars holding their proto3 default (0, "", empty bytes) and empty repeated fields (`"values":[]`,
 * `"attributes":[]`) are absent, as protobuf cannot tell them from unset; so are all-zero ids (normalize.ts
 * drops those too). The canonical forms are the same either way. Proto semantics otherwise: the last value of a
 * scalar field wins, repeated fields append, a singular message (or oneof message member) seen twice is
 * merged, unknown fields (any wire type, groups included) are skipped, and so is a known field number with
 * an unexpected wire type.
 *
 * Malformed input throws `OtlpFormatError` naming the path of the message being read and the byte offset:
 * truncation, bad varints, lengths past the end, ids of the wrong size, invalid UTF-8, values nested deeper
 * than MAX_VALUE_DEPTH. Nothing recurses without a bound.
 */
import { MAX_VALUE_DEPTH, OtlpFormatError } from './normalize.js';
import {
  ANY_ARRAY,
  ANY_BOOL,
  ANY_BYTES,
  ANY_DOUBLE,
  ANY_INT,
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
import { int64Text, ProtoReader, uint64Text } from './protobuf-reader.js';
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

/** Path of the message being read, joined only for an error message. One request at a time (synchronous). */
const path: Array<string | number> = [];

function error(detail: string): OtlpFormatError {
  let where = '';
  for (const seg of path) where += typeof seg === 'number' ? `[${seg}]` : where === '' ? seg : `.${seg}`;
  return new OtlpFormatError(where === '' ? 'request' : where, detail);
}

/**
 * Decodes a protobuf `ExportLogsServiceRequest` into normalized OTLP/JSON; throws `OtlpFormatError`, and
 * ValueLimitError past `maxMessages` messages (value-limit.ts).
 */
export function decodeLogsRequest(bytes: Uint8Array, maxMessages = Infinity): ExportLogsServiceRequest {
  path.length = 0;
  const r = new ProtoReader(bytes, error, maxMessages);
  const resourceLogs: OtlpResourceLogs[] = [];
  while (r.pos < r.end) {
    r.tag();
    if (r.key === REQUEST_RESOURCE_LOGS) {
      path.push('resourceLogs', resourceLogs.length);
      resourceLogs.push(resourceLogsOf(r));
      path.length = 0;
    } else {
      r.skipField();
    }
  }
  return resourceLogs.length > 0 ? { resourceLogs } : {};
}

// ---------------------------------------------------------------------------------------------------------
// Messages: each reads its fields into locals, then builds the object in normalize.ts's member order.

function resourceLogsOf(r: ProtoReader): OtlpResourceLogs {
  const outer = r.enter();
  let resource: OtlpResource | undefined;
  const scopeLogs: OtlpScopeLogs[] = [];
  let schemaUrl = '';
  while (r.pos < r.end) {
    r.tag();
    switch (r.key) {
      case RESOURCE_LOGS_RESOURCE:
        path.push('resource');
        resource = resourceOf(r, resource);
        path.pop();
        break;
      case RESOURCE_LOGS_SCOPE_LOGS:
        path.push('scopeLogs', scopeLogs.length);
        scopeLogs.push(scopeLogsOf(r));
        path.length -= 2;
        break;
      case RESOURCE_LOGS_SCHEMA_URL:
        schemaUrl = r.string();
        break;
      default:
        r.skipField();
    }
  }
  r.leave(outer);
  const out: OtlpResourceLogs = {};
  if (resource !== undefined) out.resource = resource;
  if (scopeLogs.length > 0) out.scopeLogs = scopeLogs;
  if (schemaUrl !== '') out.schemaUrl = schemaUrl;
  return out;
}

/** `prev`: the same field seen before in this message, merged into (proto semantics). */
function resourceOf(r: ProtoReader, prev: OtlpResource | undefined): OtlpResource {
  const outer = r.enter();
  const attributes = prev?.attributes ?? [];
  let dropped = prev?.droppedAttributesCount ?? 0;
  while (r.pos < r.end) {
    r.tag();
    if (r.key === RESOURCE_ATTRIBUTES) attributes.push(keyValueOf(r, 'attributes', attributes.length, 0));
    else if (r.key === RESOURCE_DROPPED) dropped = uint32(r);
    else r.skipField();
  }
  r.leave(outer);
  const out: OtlpResource = {};
  if (attributes.length > 0) out.attributes = attributes;
  if (dropped !== 0) out.droppedAttributesCount = dropped;
  return out;
}

function scopeLogsOf(r: ProtoReader): OtlpScopeLogs {
  const outer = r.enter();
  let scope: OtlpInstrumentationScope | undefined;
  const logRecords: OtlpLogRecord[] = [];
  let schemaUrl = '';
  while (r.pos < r.end) {
    r.tag();
    switch (r.key) {
      case SCOPE_LOGS_SCOPE:
        path.push('scope');
        scope = scopeOf(r, scope);
        path.pop();
        break;
      case SCOPE_LOGS_LOG_RECORDS:
        path.push('logRecords', logRecords.length);
        logRecords.push(logRecordOf(r));
        path.length -= 2;
        break;
      case SCOPE_LOGS_SCHEMA_URL:
        schemaUrl = r.string();
        break;
      default:
        r.skipField();
    }
  }
  r.leave(outer);
  const out: OtlpScopeLogs = {};
  if (scope !== undefined) out.scope = scope;
  if (logRecords.length > 0) out.logRecords = logRecords;
  if (schemaUrl !== '') out.schemaUrl = schemaUrl;
  return out;
}

function scopeOf(r: ProtoReader, prev: OtlpInstrumentationScope | undefined): OtlpInstrumentationScope {
  const outer = r.enter();
  let name = prev?.name ?? '';
  let version = prev?.version ?? '';
  const attributes = prev?.attributes ?? [];
  let dropped = prev?.droppedAttributesCount ?? 0;
  while (r.pos < r.end) {
    r.tag();
    if (r.key === SCOPE_NAME) name = r.string();
    else if (r.key === SCOPE_VERSION) version = r.string();
    else if (r.key === SCOPE_ATTRIBUTES) attributes.push(keyValueOf(r, 'attributes', attributes.length, 0));
    else if (r.key === SCOPE_DROPPED) dropped = uint32(r);
    else r.skipField();
  }
  r.leave(outer);
  const out: OtlpInstrumentationScope = {};
  if (name !== '') out.name = name;
  if (version !== '') out.version = version;
  if (attributes.length > 0) out.attributes = attributes;
  if (dropped !== 0) out.droppedAttributesCount = dropped;
  return out;
}

/** The record's fields as read; its own type so logRecordOf stays one loop and one builder. */
interface RecordFields {
  time: string;
  observed: string;
  severityNumber: number;
  severityText: string;
  body: OtlpAnyValue | undefined;
  attributes: OtlpKeyValue[];
  dropped: number;
  flags: number;
  traceId: string;
  spanId: string;
  eventName: string;
}

function logRecordOf(r: ProtoReader): OtlpLogRecord {
  const outer = r.enter();
  const f: RecordFields = {
    time: '0',
    observed: '0',
    severityNumber: 0,
    severityText: '',
    body: undefined,
    attributes: [],
    dropped: 0,
    flags: 0,
    traceId: '',
    spanId: '',
    eventName: '',
  };
  while (r.pos < r.end) {
    r.tag();
    readRecordField(r, f);
  }
  r.leave(outer);
  const out: OtlpLogRecord = {};
  if (f.time !== '0') out.timeUnixNano = f.time;
  if (f.observed !== '0') out.observedTimeUnixNano = f.observed;
  if (f.severityNumber !== 0) out.severityNumber = f.severityNumber;
  if (f.severityText !== '') out.severityText = f.severityText;
  if (f.body !== undefined) out.body = f.body;
  if (f.attributes.length > 0) out.attributes = f.attributes;
  if (f.dropped !== 0) out.droppedAttributesCount = f.dropped;
  if (f.flags !== 0) out.flags = f.flags;
  if (f.traceId !== '') out.traceId = f.traceId;
  if (f.spanId !== '') out.spanId = f.spanId;
  if (f.eventName !== '') out.eventName = f.eventName;
  return out;
}

function readRecordField(r: ProtoReader, f: RecordFields): void {
  switch (r.key) {
    case LOG_TIME:
      r.fixed64();
      f.time = uint64Text(r.lo, r.hi);
      return;
    case LOG_SEVERITY_NUMBER:
      r.varint();
      f.severityNumber = r.lo | 0; // an enum is an int32: the low 32 bits, signed
      return;
    case LOG_SEVERITY_TEXT:
      f.severityText = r.string();
      return;
    case LOG_BODY:
      path.push('body');
      f.body = anyValueOf(r, 0, f.body);
      path.pop();
      return;
    case LOG_ATTRIBUTES:
      f.attributes.push(keyValueOf(r, 'attributes', f.attributes.length, 0));
      return;
    case LOG_DROPPED:
      f.dropped = uint32(r);
      return;
    case LOG_FLAGS:
      f.flags = r.fixed32();
      return;
    case LOG_TRACE_ID:
      f.traceId = id(r, 16, 'traceId');
      return;
    case LOG_SPAN_ID:
      f.spanId = id(r, 8, 'spanId');
      return;
    case LOG_OBSERVED_TIME:
      r.fixed64();
      f.observed = uint64Text(r.lo, r.hi);
      return;
    case LOG_EVENT_NAME:
      f.eventName = r.string();
      return;
    default:
      r.skipField();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Values

/** A KeyValue at `path.name[index]`; `depth` counts the arrayValue/kvlistValue levels around it. */
function keyValueOf(r: ProtoReader, name: string, index: number, depth: number): OtlpKeyValue {
  path.push(name, index);
  const outer = r.enter();
  let key = '';
  let value: OtlpAnyValue | undefined;
  while (r.pos < r.end) {
    r.tag();
    if (r.key === KV_KEY) key = r.string();
    else if (r.key === KV_VALUE) {
      path.push('value');
      value = anyValueOf(r, depth, value);
      path.pop();
    } else r.skipField();
  }
  r.leave(outer);
  path.length -= 2;
  return value === undefined ? { key } : { key, value };
}

/**
 * An AnyValue. A later oneof member replaces an earlier one, except that an array or kvlist seen again while
 * the oneof holds the same kind is merged into it (proto semantics for a message member). `prev`: the value
 * this field held before in the same message.
 */
function anyValueOf(r: ProtoReader, depth: number, prev: OtlpAnyValue | undefined): OtlpAnyValue {
  const outer = r.enter();
  let out = prev ?? {};
  while (r.pos < r.end) {
    r.tag();
    switch (r.key) {
      case ANY_STRING:
        out = { stringValue: r.string() };
        break;
      case ANY_BOOL:
        r.varint();
        out = { boolValue: r.lo !== 0 || r.hi !== 0 };
        break;
      case ANY_INT:
        r.varint();
        out = { intValue: int64Text(r.lo, r.hi) };
        break;
      case ANY_DOUBLE:
        out = { doubleValue: double(r.double()) };
        break;
      case ANY_BYTES: {
        const start = r.bytesStart();
        out = { bytesValue: r.text(start, r.pos, 'base64') };
        break;
      }
      case ANY_ARRAY:
        out = { arrayValue: arrayValueOf(r, depth, out.arrayValue?.values) };
        break;
      case ANY_KVLIST:
        out = { kvlistValue: kvlistValueOf(r, depth, out.kvlistValue?.values) };
        break;
      default:
        r.skipField();
    }
  }
  r.leave(outer);
  return out;
}

function arrayValueOf(r: ProtoReader, depth: number, prev: OtlpAnyValue[] | undefined): { values?: OtlpAnyValue[] } {
  path.push('arrayValue');
  if (depth >= MAX_VALUE_DEPTH) throw error(`values nested deeper than ${MAX_VALUE_DEPTH} levels`);
  const outer = r.enter();
  const values = prev ?? [];
  while (r.pos < r.end) {
    r.tag();
    if (r.key === LIST_VALUES) {
      path.push('values', values.length);
      values.push(anyValueOf(r, depth + 1, undefined));
      path.length -= 2;
    } else r.skipField();
  }
  r.leave(outer);
  path.pop();
  return values.length > 0 ? { values } : {};
}

function kvlistValueOf(r: ProtoReader, depth: number, prev: OtlpKeyValue[] | undefined): { values?: OtlpKeyValue[] } {
  path.push('kvlistValue');
  if (depth >= MAX_VALUE_DEPTH) throw error(`values nested deeper than ${MAX_VALUE_DEPTH} levels`);
  const outer = r.enter();
  const values = prev ?? [];
  while (r.pos < r.end) {
    r.tag();
    if (r.key === LIST_VALUES) values.push(keyValueOf(r, 'values', values.length, depth + 1));
    else r.skipField();
  }
  r.leave(outer);
  path.pop();
  return values.length > 0 ? { values } : {};
}

// ---------------------------------------------------------------------------------------------------------
// Scalars

/** uint32: the low 32 bits of the varint (protobuf truncates a longer one). */
function uint32(r: ProtoReader): number {
  r.varint();
  return r.lo;
}

/** proto3 JSON double: a number, or one of the three strings for what JSON numbers cannot hold. */
function double(d: number): number | string {
  if (Number.isFinite(d)) return d;
  if (Number.isNaN(d)) return 'NaN';
  return d > 0 ? 'Infinity' : '-Infinity';
}

/** A trace or span id: lowercase hex of exactly `size` bytes; empty or all zero is "no id" (""). */
function id(r: ProtoReader, size: number, name: string): string {
  const start = r.bytesStart();
  const end = r.pos;
  if (end === start) return '';
  if (end - start !== size) {
    path.push(name);
    throw error(`${end - start} bytes at byte ${start}, expected ${size}`);
  }
  let zero = true;
  for (let i = start; zero && i < end; i++) zero = r.bytes[i] === 0;
  return zero ? '' : r.text(start, end, 'hex');
}
