/**
 * Validates a parsed OTLP/JSON logs request and rewrites it into the strict form the OTel Collector's file
 * exporter writes (see ./types.ts): 64-bit integers as decimal strings, ids as lowercase hex, known fields
 * only, in a fixed order.
 *
 * Hand-written rather than zod because it runs once per received request on the receiver's hot path.
 * Safety rules:
 * - input members are read only as own properties (`Object.hasOwn`), so a polluted or odd prototype never
 *   supplies a value;
 * - output objects are built from literal keys only; user-controlled strings (attribute keys) are only ever
 *   stored as values (`{ key, value }`), never used as property names, so `__proto__` is plain data.
 */
import { describe } from './describe.js';
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

/** Malformed OTLP/JSON input. `path` is the JSON path of the offending object (`request` for the root). */
export class OtlpFormatError extends Error {
  override readonly name = 'OtlpFormatError';
  readonly path: string;
  readonly detail: string;

  constructor(path: string, detail: string) {
    super(`${path}: ${detail}`);
    this.path = path;
    this.detail = detail;
  }
}

/**
 * AnyValue nesting limit (arrays and maps inside values): without a cap a hostile body could exhaust the stack.
 * The canonical form's own limit (chain/canonical.ts MAX_VALUE_NESTING, which this layer cannot import; a test
 * holds them equal), so that the dev collector takes every record the verifier accepts (at 100 it refused
 * 101–128 levels, and a sender set such a batch aside for good).
 */
export const MAX_VALUE_DEPTH = 128;

/** Path segments of the value being normalized; pushed and popped as we descend, joined only on error. */
type Path = Array<string | number>;

type JsonObject = { readonly [key: string]: unknown };

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
const INT_STRING = /^-?\d+$/;
/** At most 18 digits, no leading zero, not "-0": always canonical and inside int64 and uint64 range. */
const SMALL_CANONICAL_INT = /^(?:0|-?[1-9]\d{0,17})$/;
const HEX = /^[0-9a-fA-F]*$/;
const ZERO_HEX = /^0*$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** base64url and unpadded base64, accepted from lenient writers and rewritten to standard padded base64. */
const BASE64_LENIENT = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** Proto enum names accepted for severityNumber (proto3 JSON allows the name instead of the number). */
const SEVERITY_NAMES: ReadonlyMap<string, number> = (() => {
  const m = new Map<string, number>([['SEVERITY_NUMBER_UNSPECIFIED', 0]]);
  const levels = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];
  levels.forEach((level, i) => {
    for (let k = 0; k < 4; k++) m.set(`SEVERITY_NUMBER_${level}${k === 0 ? '' : String(k + 1)}`, i * 4 + k + 1);
  });
  return m;
})();

/** Validates and rewrites one parsed OTLP/JSON `ExportLogsServiceRequest`; throws `OtlpFormatError`. */
export function normalizeExportRequest(input: unknown): ExportLogsServiceRequest {
  const path: Path = [];
  const req = expectObject(input, path, 'an ExportLogsServiceRequest object');
  const out: ExportLogsServiceRequest = {};
  const resourceLogs = member(req, 'resourceLogs');
  if (resourceLogs !== undefined) {
    out.resourceLogs = mapArray(resourceLogs, path, 'resourceLogs', normResourceLogs);
  }
  return out;
}

/** Number of log records in a request. */
export function countLogRecords(req: ExportLogsServiceRequest): number {
  let n = 0;
  for (const rl of req.resourceLogs ?? []) {
    for (const sl of rl.scopeLogs ?? []) n += sl.logRecords?.length ?? 0;
  }
  return n;
}

// ---------------------------------------------------------------------------------------------------------
// Messages

function normResourceLogs(v: unknown, path: Path): OtlpResourceLogs {
  const o = expectObject(v, path, 'a ResourceLogs object');
  const out: OtlpResourceLogs = {};
  const resource = member(o, 'resource');
  if (resource !== undefined) {
    path.push('resource');
    out.resource = normResource(resource, path);
    path.pop();
  }
  const scopeLogs = member(o, 'scopeLogs');
  if (scopeLogs !== undefined) out.scopeLogs = mapArray(scopeLogs, path, 'scopeLogs', normScopeLogs);
  const schemaUrl = optString(o, 'schemaUrl', path);
  if (schemaUrl !== undefined) out.schemaUrl = schemaUrl;
  return out;
}

function normResource(v: unknown, path: Path): OtlpResource {
  const o = expectObject(v, path, 'a Resource object');
  const out: OtlpResource = {};
  const attributes = member(o, 'attributes');
  if (attributes !== undefined) out.attributes = mapArray(attributes, path, 'attributes', normKeyValue);
  const dropped = optSmallInt(o, 'droppedAttributesCount', path, 0, 0xffff_ffff, 'uint32');
  if (dropped !== undefined) out.droppedAttributesCount = dropped;
  return out;
}

function normScopeLogs(v: unknown, path: Path): OtlpScopeLogs {
  const o = expectObject(v, path, 'a ScopeLogs object');
  const out: OtlpScopeLogs = {};
  const scope = member(o, 'scope');
  if (scope !== undefined) {
    path.push('scope');
    out.scope = normScope(scope, path);
    path.pop();
  }
  const logRecords = member(o, 'logRecords');
  if (logRecords !== undefined) out.logRecords = mapArray(logRecords, path, 'logRecords', normLogRecord);
  const schemaUrl = optString(o, 'schemaUrl', path);
  if (schemaUrl !== undefined) out.schemaUrl = schemaUrl;
  return out;
}

function normScope(v: unknown, path: Path): OtlpInstrumentationScope {
  const o = expectObject(v, path, 'an InstrumentationScope object');
  const out: OtlpInstrumentationScope = {};
  const name = optString(o, 'name', path);
  if (name !== undefined) out.name = name;
  const version = optString(o, 'version', path);
  if (version !== undefined) out.version = version;
  const attributes = member(o, 'attributes');
  if (attributes !== undefined) out.attributes = mapArray(attributes, path, 'attributes', normKeyValue);
  const dropped = optSmallInt(o, 'droppedAttributesCount', path, 0, 0xffff_ffff, 'uint32');
  if (dropped !== undefined) out.droppedAttributesCount = dropped;
  return out;
}

function normLogRecord(v: unknown, path: Path): OtlpLogRecord {
  const o = expectObject(v, path, 'a LogRecord object');
  const out: OtlpLogRecord = {};
  const time = optInt64(o, 'timeUnixNano', path, false);
  if (time !== undefined) out.timeUnixNano = time;
  const observed = optInt64(o, 'observedTimeUnixNano', path, false);
  if (observed !== undefined) out.observedTimeUnixNano = observed;
  const severityNumber = optSeverity(o, path);
  if (severityNumber !== undefined) out.severityNumber = severityNumber;
  const severityText = optString(o, 'severityText', path);
  if (severityText !== undefined) out.severityText = severityText;
  const body = member(o, 'body');
  if (body !== undefined) {
    path.push('body');
    out.body = normAnyValue(body, path, 0);
    path.pop();
  }
  const attributes = member(o, 'attributes');
  if (attributes !== undefined) out.attributes = mapArray(attributes, path, 'attributes', normKeyValue);
  const dropped = optSmallInt(o, 'droppedAttributesCount', path, 0, 0xffff_ffff, 'uint32');
  if (dropped !== undefined) out.droppedAttributesCount = dropped;
  const flags = optSmallInt(o, 'flags', path, 0, 0xffff_ffff, 'fixed32');
  if (flags !== undefined) out.flags = flags;
  const traceId = optHexId(o, 'traceId', 32, path);
  if (traceId !== undefined) out.traceId = traceId;
  const spanId = optHexId(o, 'spanId', 16, path);
  if (spanId !== undefined) out.spanId = spanId;
  const eventName = optString(o, 'eventName', path);
  if (eventName !== undefined) out.eventName = eventName;
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Values

/** `depth` counts enclosing arrayValue/kvlistValue levels. */
function normKeyValueAt(v: unknown, path: Path, depth: number): OtlpKeyValue {
  const o = expectObject(v, path, 'a KeyValue object');
  const key = member(o, 'key');
  if (key !== undefined && typeof key !== 'string') fail(path, `key must be a string, got ${describe(key)}`);
  // Literal shape: the user's key is stored as data, never as a property name.
  const out: OtlpKeyValue = { key: key ?? '' };
  const value = member(o, 'value');
  if (value !== undefined) {
    path.push('value');
    out.value = normAnyValue(value, path, depth);
    path.pop();
  }
  return out;
}

function normKeyValue(v: unknown, path: Path): OtlpKeyValue {
  return normKeyValueAt(v, path, 0);
}

function normAnyValue(v: unknown, path: Path, depth: number): OtlpAnyValue {
  const o = expectObject(v, path, 'an AnyValue object');
  let out: OtlpAnyValue | undefined;
  let chosen = '';

  const s = member(o, 'stringValue');
  if (s !== undefined) {
    if (typeof s !== 'string') fail(path, `stringValue must be a string, got ${describe(s)}`);
    chosen = oneOf(path, chosen, 'stringValue');
    out = { stringValue: s };
  }
  const b = member(o, 'boolValue');
  if (b !== undefined) {
    if (typeof b !== 'boolean') fail(path, `boolValue must be a boolean, got ${describe(b)}`);
    chosen = oneOf(path, chosen, 'boolValue');
    out = { boolValue: b };
  }
  const i = member(o, 'intValue');
  if (i !== undefined) {
    chosen = oneOf(path, chosen, 'intValue');
    out = { intValue: int64String(i, 'intValue', path, true) };
  }
  const d = member(o, 'doubleValue');
  if (d !== undefined) {
    chosen = oneOf(path, chosen, 'doubleValue');
    out = { doubleValue: double(d, path) };
  }
  const bytes = member(o, 'bytesValue');
  if (bytes !== undefined) {
    chosen = oneOf(path, chosen, 'bytesValue');
    out = { bytesValue: base64(bytes, path) };
  }
  const arr = member(o, 'arrayValue');
  if (arr !== undefined) {
    chosen = oneOf(path, chosen, 'arrayValue');
    path.push('arrayValue');
    checkDepth(path, depth);
    const a = expectObject(arr, path, 'an ArrayValue object');
    const values = member(a, 'values');
    const arrayValue: { values?: OtlpAnyValue[] } = {};
    if (values !== undefined) {
      arrayValue.values = mapArray(values, path, 'values', (x, p) => normAnyValue(x, p, depth + 1));
    }
    path.pop();
    out = { arrayValue };
  }
  const kv = member(o, 'kvlistValue');
  if (kv !== undefined) {
    chosen = oneOf(path, chosen, 'kvlistValue');
    path.push('kvlistValue');
    checkDepth(path, depth);
    const k = expectObject(kv, path, 'a KeyValueList object');
    const values = member(k, 'values');
    const kvlistValue: { values?: OtlpKeyValue[] } = {};
    if (values !== undefined) {
      kvlistValue.values = mapArray(values, path, 'values', (x, p) => normKeyValueAt(x, p, depth + 1));
    }
    path.pop();
    out = { kvlistValue };
  }
  // No member set: the empty (absent) value, as proto3 JSON writes it.
  return out ?? {};
}

/** AnyValue is a oneof: a second member is an error, as in protobuf JSON parsers. */
function oneOf(path: Path, chosen: string, name: string): string {
  if (chosen !== '') fail(path, `AnyValue has more than one value (${chosen} and ${name})`);
  return name;
}

function checkDepth(path: Path, depth: number): void {
  if (depth >= MAX_VALUE_DEPTH) fail(path, `values nested deeper than ${MAX_VALUE_DEPTH} levels`);
}

function double(v: unknown, path: Path): number | string {
  if (typeof v === 'number') return v; // JSON.parse never yields NaN/Infinity, so this is finite
  if (typeof v === 'string') {
    if (v === 'NaN' || v === 'Infinity' || v === '-Infinity') return v;
    // proto3 JSON parsers also take a double as a numeric string; write it back as a number.
    const n = v.trim() === '' ? Number.NaN : Number(v);
    if (Number.isFinite(n)) return n;
  }
  return fail(path, `doubleValue ${describe(v)} is not a number`);
}

function base64(v: unknown, path: Path): string {
  if (typeof v !== 'string') return fail(path, `bytesValue must be a base64 string, got ${describe(v)}`);
  if (BASE64.test(v)) return v;
  if (BASE64_LENIENT.test(v) && v.replace(/=+$/, '').length % 4 !== 1) {
    return Buffer.from(v, 'base64').toString('base64');
  }
  return fail(path, `bytesValue ${describe(v)} is not valid base64`);
}

// ---------------------------------------------------------------------------------------------------------
// Scalars

function optString(o: JsonObject, name: string, path: Path): string | undefined {
  const v = member(o, name);
  if (v === undefined || typeof v === 'string') return v;
  return fail(path, `${name} must be a string, got ${describe(v)}`);
}

/** timeUnixNano & co are fixed64 (unsigned); intValue is int64. Output is the canonical decimal string. */
function optInt64(o: JsonObject, name: string, path: Path, signed: boolean): string | undefined {
  const v = member(o, name);
  return v === undefined ? undefined : int64String(v, name, path, signed);
}

function int64String(v: unknown, name: string, path: Path, signed: boolean): string {
  const range = signed ? 'int64' : 'uint64';
  let big: bigint;
  if (typeof v === 'string') {
    if (SMALL_CANONICAL_INT.test(v) && (signed || v[0] !== '-')) return v; // fast path: already canonical
    if (!INT_STRING.test(v)) return fail(path, `${name} ${describe(v)} is not an integer`);
    // Strip leading zeros first so a huge digit string is rejected without a costly BigInt parse.
    const digits = v.replace(/^(-?)0+(?=\d)/, '$1');
    if (digits.length > 21) return fail(path, `${name} ${describe(v)} is out of ${range} range`);
    big = BigInt(digits);
  } else if (typeof v === 'number') {
    if (!Number.isInteger(v)) return fail(path, `${name} ${describe(v)} is not an integer`);
    big = BigInt(v); // exact for any integral double; avoids "1e+21" from String(v)
  } else {
    return fail(path, `${name} must be an integer (number or decimal string), got ${describe(v)}`);
  }
  const inRange = signed ? big >= INT64_MIN && big <= INT64_MAX : big >= 0n && big <= UINT64_MAX;
  if (!inRange) return fail(path, `${name} ${describe(v)} is out of ${range} range`);
  return big.toString();
}

/** 32-bit integers are JSON numbers in proto3 JSON; a decimal string is accepted and written as a number. */
function optSmallInt(
  o: JsonObject,
  name: string,
  path: Path,
  min: number,
  max: number,
  type: string,
): number | undefined {
  const v = member(o, name);
  if (v === undefined) return undefined;
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && INT_STRING.test(v)) n = Number(v);
  else return fail(path, `${name} must be an integer, got ${describe(v)}`);
  if (!Number.isInteger(n)) return fail(path, `${name} ${describe(v)} is not an integer`);
  if (n < min || n > max) return fail(path, `${name} ${describe(v)} is out of ${type} range`);
  return n;
}

function optSeverity(o: JsonObject, path: Path): number | undefined {
  const v = member(o, 'severityNumber');
  if (typeof v === 'string' && !INT_STRING.test(v)) {
    const n = SEVERITY_NAMES.get(v);
    if (n === undefined) return fail(path, `severityNumber ${describe(v)} is not a SeverityNumber name`);
    return n;
  }
  return optSmallInt(o, 'severityNumber', path, -0x8000_0000, 0x7fff_ffff, 'int32');
}

/** Lowercase hex of the exact length; an empty or all-zero id means "no id" and is removed. */
function optHexId(o: JsonObject, name: string, hexLength: number, path: Path): string | undefined {
  const v = member(o, name);
  if (v === undefined) return undefined;
  if (typeof v !== 'string') return fail(path, `${name} must be a hex string, got ${describe(v)}`);
  if (ZERO_HEX.test(v)) return undefined;
  if (v.length !== hexLength || !HEX.test(v)) {
    return fail(path, `${name} ${describe(v)} is not ${hexLength} hex digits`);
  }
  return v.toLowerCase();
}

// ---------------------------------------------------------------------------------------------------------
// Helpers

/** Own member only; JSON null is treated as absent (proto3 JSON: null means default). */
function member(o: JsonObject, name: string): unknown {
  if (!Object.hasOwn(o, name)) return undefined;
  const v = o[name];
  return v === null ? undefined : v;
}

function expectObject(v: unknown, path: Path, what: string): JsonObject {
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as JsonObject;
  return fail(path, `expected ${what}, got ${describe(v)}`);
}

function mapArray<T>(v: unknown, path: Path, name: string, fn: (item: unknown, path: Path) => T): T[] {
  path.push(name);
  if (!Array.isArray(v)) fail(path, `expected an array, got ${describe(v)}`);
  const items: readonly unknown[] = v;
  const out: T[] = new Array<T>(items.length);
  for (let i = 0; i < items.length; i++) {
    path.push(i);
    out[i] = fn(items[i], path);
    path.pop();
  }
  path.pop();
  return out;
}

function fail(path: Path, detail: string): never {
  throw new OtlpFormatError(formatPath(path), detail);
}

function formatPath(path: Path): string {
  if (path.length === 0) return 'request';
  let s = '';
  for (const seg of path) s += typeof seg === 'number' ? `[${seg}]` : s === '' ? seg : `.${seg}`;
  return s;
}

