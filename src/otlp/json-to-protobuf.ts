/**
 * OTLP/JSON bytes → protobuf binary `ExportLogsServiceRequest`, read straight from the bytes: the fast path of
 * the `http/protobuf` and `grpc` senders (deliver/otlp-sender.ts), with no `JSON.parse` and no object in
 * between. `encodeLogsRequest(JSON.parse(text))` (protobuf.ts) stays the definition of the result: for every
 * input this accepts, the bytes are exactly those (its header comment lists the rules: field-number order,
 * AnyValue members written even at their default, int64 exact, empty present messages, key order and
 * duplicates kept); for anything else it returns `undefined` and the caller takes that slow path, so every
 * input has today's outcome, errors included.
 *
 * Accepted: the grammar this package's encoder writes (chain/seal.ts, chain/group.ts, otlp/encode-bytes.ts,
 * otlp/request-builder.ts) and the `JSON.stringify` of its parse — no whitespace, each member at most once and
 * in that order, any of them may be absent. Member order is field-number order everywhere except
 * LogRecord's `observedTimeUnixNano` (field 11, written second), which is held until after `spanId` (field 10).
 * Field numbers: opentelemetry-proto logs.proto, common.proto, resource.proto (protobuf-fields.ts); JSON
 * names: the proto3 JSON mapping (lowerCamelCase). The byte-level reading is json-proto-cursor.ts and
 * json-proto-scalars.ts.
 */
import { bail, JsonProtoCursor, Literal, NOT_FAST } from './json-proto-cursor.js';
import { boolValue, bytesValue, doubleValue, fixed32, fixed64, hexId, intValue, severity, uint32, uint64String } from './json-proto-scalars.js';
import { MAX_VALUE_DEPTH } from './normalize.js';
import { encodeLogsRequest } from './protobuf.js';
import type { ExportLogsServiceRequest } from './types.js';
import * as F from './protobuf-fields.js';

/** A member's name as the object's first member (`"name":`) and after another (`,"name":`). */
type Member = readonly [first: Literal, next: Literal];
const member = (name: string): Member => [new Literal(`"${name}":`), new Literal(`,"${name}":`)];

const RESOURCE_LOGS = member('resourceLogs');
const RESOURCE = member('resource');
const SCOPE_LOGS = member('scopeLogs');
const SCHEMA_URL = member('schemaUrl');
const ATTRIBUTES = member('attributes');
const DROPPED = member('droppedAttributesCount');
const SCOPE = member('scope');
const LOG_RECORDS = member('logRecords');
const NAME = member('name');
const VERSION = member('version');
const TIME = member('timeUnixNano');
const OBSERVED_TIME = member('observedTimeUnixNano');
const SEVERITY_NUMBER = member('severityNumber');
const SEVERITY_TEXT = member('severityText');
const BODY = member('body');
const FLAGS = member('flags');
const TRACE_ID = member('traceId');
const SPAN_ID = member('spanId');
const EVENT_NAME = member('eventName');
const KEY_OPEN = new Literal('{"key":');
const VALUE = member('value');
const VALUES = member('values');
// AnyValue members: always the first (and only) one.
const STRING_VALUE_OPEN = new Literal('{"stringValue":');
const INT_VALUE = new Literal('"intValue":');
const BOOL_VALUE = new Literal('"boolValue":');
const DOUBLE_VALUE = new Literal('"doubleValue":');
const ARRAY_VALUE = new Literal('"arrayValue":');
const KVLIST_VALUE = new Literal('"kvlistValue":');
const BYTES_VALUE = new Literal('"bytesValue":');

const OPEN = 0x7b; // {
const CLOSE = 0x7d; // }
const LIST_OPEN = 0x5b; // [
const LIST_CLOSE = 0x5d; // ]
const COMMA = 0x2c;

const INITIAL_BYTES = 64 * 1024;
/** Above this the scratch buffer is dropped after the call, so one huge request does not pin memory. */
const KEEP_BYTES = 4 * 1024 * 1024;

const c = new JsonProtoCursor();
let scratch: Buffer | undefined;
/**
 * Bytes reserved for the length of the next ResourceLogs, ScopeLogs and LogRecord: the size of the last one's,
 * so that a request's similar records are seldom moved to fit their length (JsonProtoCursor.end).
 */
let resourceLogsReserve = 3;
let scopeLogsReserve = 3;
let recordReserve = 2;

/**
 * The protobuf `ExportLogsServiceRequest` of a UTF-8 OTLP/JSON request, exactly as
 * `encodeLogsRequest(JSON.parse(text))` writes it; `undefined` when the input is outside the fast grammar
 * (then use that). One request at a time (synchronous, never re-entered).
 */
export function transcodeLogsRequest(json: Uint8Array): Uint8Array | undefined {
  const src = Buffer.isBuffer(json) ? json : Buffer.from(json.buffer, json.byteOffset, json.byteLength);
  // The output is never longer than the input (json-proto-cursor.ts), so one buffer of its size is enough;
  // the slack covers lengths reserved larger than they turn out (JsonProtoCursor.end).
  const need = src.length + 64;
  let out = scratch;
  if (out === undefined || out.length < need) out = Buffer.allocUnsafeSlow(Math.max(INITIAL_BYTES, need));
  c.reset(src, out);
  let result: Uint8Array | undefined;
  try {
    request();
    // Past the buffer would mean the size argument above is wrong: never trusted, checked.
    if (c.i === src.length && c.pos <= out.length) {
      // A copy the size of the result, not zero-filled first (measured: the fill was a tenth of the time).
      const copy = Buffer.allocUnsafe(c.pos);
      out.copy(copy, 0, 0, c.pos);
      result = copy;
    }
  } catch (e) {
    // NOT_FAST, or anything unforeseen (a bug, noted for the tests): either way the slow path decides.
    if (e !== NOT_FAST) unforeseen = e;
    result = undefined;
  } finally {
    c.reset(EMPTY, EMPTY);
    scratch = out.length > KEEP_BYTES ? undefined : out;
  }
  return result;
}

const EMPTY = Buffer.alloc(0);

let unforeseen: unknown;

/** @internal For the tests: the last error other than NOT_FAST that sent a request to the slow path; cleared. */
export function takeUnforeseenError(): unknown {
  const e = unforeseen;
  unforeseen = undefined;
  return e;
}

/**
 * The protobuf request of a UTF-8 OTLP/JSON body: `transcodeLogsRequest` when the body is in its grammar, else
 * `encodeLogsRequest(JSON.parse(text))` — the same bytes, or for what the fast path leaves, the same outcome,
 * errors included. A string body is taken as UTF-8 only when well-formed: a lone surrogate would become U+FFFD
 * in UTF-8, where the slow path refuses it.
 */
export function encodeLogsJson(body: Uint8Array | string): Uint8Array {
  const bytes = typeof body !== 'string' ? body : body.isWellFormed() ? Buffer.from(body, 'utf8') : undefined;
  const fast = bytes === undefined ? undefined : transcodeLogsRequest(bytes);
  if (fast !== undefined) return fast;
  const text = typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  return encodeLogsRequest(JSON.parse(text) as ExportLogsServiceRequest);
}

function expect(ch: number): void {
  if (!c.byte(ch)) bail();
}

/** The member `m`, first in its object or after another. */
function has(m: Member, first: boolean): boolean {
  return c.take(first ? m[0] : m[1]);
}

/**
 * A JSON array of messages as the repeated field `tag`, each one's content written by `item(depth)`; `reserve`
 * as for JsonProtoCursor.end. Returns the size of the last one's length: the next call's `reserve`.
 */
function repeated(tag: number, reserve: number, item: (depth: number) => void, depth: number): number {
  expect(LIST_OPEN);
  if (c.byte(LIST_CLOSE)) return reserve;
  do {
    const at = c.begin(tag, reserve);
    item(depth);
    reserve = c.end(at, reserve);
  } while (c.byte(COMMA));
  expect(LIST_CLOSE);
  return reserve;
}

function request(): void {
  expect(OPEN);
  if (has(RESOURCE_LOGS, true)) resourceLogsReserve = repeated(F.REQUEST_RESOURCE_LOGS, resourceLogsReserve, resourceLogs, 0);
  expect(CLOSE);
}

/** logs.proto ResourceLogs: resource = 1, scope_logs = 2, schema_url = 3. */
function resourceLogs(): void {
  expect(OPEN);
  let first = true;
  if (has(RESOURCE, first)) {
    first = false;
    const at = c.begin(F.RESOURCE_LOGS_RESOURCE, 1);
    resource();
    c.end(at, 1);
  }
  if (has(SCOPE_LOGS, first)) {
    first = false;
    scopeLogsReserve = repeated(F.RESOURCE_LOGS_SCOPE_LOGS, scopeLogsReserve, scopeLogs, 0);
  }
  if (has(SCHEMA_URL, first)) c.string(F.RESOURCE_LOGS_SCHEMA_URL, false);
  expect(CLOSE);
}

/** resource.proto Resource: attributes = 1, dropped_attributes_count = 2. */
function resource(): void {
  expect(OPEN);
  let first = true;
  if (has(ATTRIBUTES, first)) {
    first = false;
    keyValues(F.RESOURCE_ATTRIBUTES, 0);
  }
  if (has(DROPPED, first)) uint32(c, F.RESOURCE_DROPPED);
  expect(CLOSE);
}

/** logs.proto ScopeLogs: scope = 1, log_records = 2, schema_url = 3. */
function scopeLogs(): void {
  expect(OPEN);
  let first = true;
  if (has(SCOPE, first)) {
    first = false;
    const at = c.begin(F.SCOPE_LOGS_SCOPE, 1);
    scope();
    c.end(at, 1);
  }
  if (has(LOG_RECORDS, first)) {
    first = false;
    recordReserve = repeated(F.SCOPE_LOGS_LOG_RECORDS, recordReserve, logRecord, 0);
  }
  if (has(SCHEMA_URL, first)) c.string(F.SCOPE_LOGS_SCHEMA_URL, false);
  expect(CLOSE);
}

/** common.proto InstrumentationScope: name = 1, version = 2, attributes = 3, dropped_attributes_count = 4. */
function scope(): void {
  expect(OPEN);
  let first = true;
  if (has(NAME, first)) {
    first = false;
    c.string(F.SCOPE_NAME, false);
  }
  if (has(VERSION, first)) {
    first = false;
    c.string(F.SCOPE_VERSION, false);
  }
  if (has(ATTRIBUTES, first)) {
    first = false;
    keyValues(F.SCOPE_ATTRIBUTES, 0);
  }
  if (has(DROPPED, first)) uint32(c, F.SCOPE_DROPPED);
  expect(CLOSE);
}

/**
 * logs.proto LogRecord, in field-number order: time_unix_nano = 1, severity_number = 2, severity_text = 3,
 * body = 5, attributes = 6, dropped_attributes_count = 7, flags = 8, trace_id = 9, span_id = 10,
 * observed_time_unix_nano = 11, event_name = 12. The JSON has observedTimeUnixNano second: held till field 11.
 */
function logRecord(): void {
  expect(OPEN);
  let first = true;
  if (has(TIME, first)) {
    first = false;
    uint64String(c);
    fixed64(c, F.LOG_TIME, c.lo, c.hi);
  }
  let observedLo = 0;
  let observedHi = 0;
  if (has(OBSERVED_TIME, first)) {
    first = false;
    uint64String(c);
    observedLo = c.lo;
    observedHi = c.hi;
  }
  if (has(SEVERITY_NUMBER, first)) {
    first = false;
    severity(c, F.LOG_SEVERITY_NUMBER);
  }
  if (has(SEVERITY_TEXT, first)) {
    first = false;
    c.string(F.LOG_SEVERITY_TEXT, false);
  }
  if (has(BODY, first)) {
    first = false;
    const at = c.begin(F.LOG_BODY, 1);
    anyValue(0);
    c.end(at, 1);
  }
  if (has(ATTRIBUTES, first)) {
    first = false;
    keyValues(F.LOG_ATTRIBUTES, 0);
  }
  if (has(DROPPED, first)) {
    first = false;
    uint32(c, F.LOG_DROPPED);
  }
  if (has(FLAGS, first)) {
    first = false;
    fixed32(c, F.LOG_FLAGS);
  }
  if (has(TRACE_ID, first)) {
    first = false;
    hexId(c, F.LOG_TRACE_ID, 16);
  }
  if (has(SPAN_ID, first)) {
    first = false;
    hexId(c, F.LOG_SPAN_ID, 8);
  }
  fixed64(c, F.LOG_OBSERVED_TIME, observedLo, observedHi);
  if (has(EVENT_NAME, first)) c.string(F.LOG_EVENT_NAME, false);
  expect(CLOSE);
}

// ---------------------------------------------------------------------------------------------------------
// Values. `depth` counts the arrayValue/kvlistValue levels around them; past MAX_VALUE_DEPTH encodeLogsRequest
// throws, so that outcome is the slow path's (and this recursion is bounded).

/** A JSON array of KeyValue (common.proto: key = 1, value = 2), each as the repeated field `tag`. */
function keyValues(tag: number, depth: number): void {
  expect(LIST_OPEN);
  if (c.byte(LIST_CLOSE)) return;
  do {
    const at = c.begin(tag, 1);
    let first = true;
    // `{` and `"key":` in one match (measured: fewer calls on the hottest path).
    if (c.take(KEY_OPEN)) {
      first = false;
      c.string(F.KV_KEY, false);
    } else {
      expect(OPEN);
    }
    if (has(VALUE, first)) {
      const v = c.begin(F.KV_VALUE, 1);
      anyValue(depth);
      c.end(v, 1);
    }
    expect(CLOSE);
    c.end(at, 1);
  } while (c.byte(COMMA));
  expect(LIST_CLOSE);
}

/** The content of an AnyValue message: `{}` (no member: the empty value) or exactly one oneof member. */
function anyValue(depth: number): void {
  // The most common value first, `{` and its member matched at once.
  if (c.take(STRING_VALUE_OPEN)) {
    c.string(F.ANY_STRING, true);
    expect(CLOSE);
    return;
  }
  expect(OPEN);
  if (c.byte(CLOSE)) return;
  if (c.take(INT_VALUE)) intValue(c);
  else if (c.take(BOOL_VALUE)) boolValue(c);
  else if (c.take(DOUBLE_VALUE)) doubleValue(c);
  else if (c.take(ARRAY_VALUE)) list(F.ANY_ARRAY, depth, false);
  else if (c.take(KVLIST_VALUE)) list(F.ANY_KVLIST, depth, true);
  else if (c.take(BYTES_VALUE)) bytesValue(c);
  else bail();
  expect(CLOSE);
}

/** ArrayValue (repeated AnyValue values = 1) or KeyValueList (`kv`: repeated KeyValue values = 1). */
function list(tag: number, depth: number, kv: boolean): void {
  if (depth >= MAX_VALUE_DEPTH) bail();
  const at = c.begin(tag, 1);
  expect(OPEN);
  if (has(VALUES, true)) {
    if (kv) {
      keyValues(F.LIST_VALUES, depth + 1);
    } else {
      repeated(F.LIST_VALUES, 1, anyValue, depth + 1);
    }
  }
  expect(CLOSE);
  c.end(at, 1);
}
