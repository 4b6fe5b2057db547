/**
 * One audit record as search and tail see it: the fields they filter and show, read from an OTLP/JSON log
 * record, plus the record and its resource for `--where` and the JSON output. Built per record and dropped
 * once judged, so nothing here outlives the line it came from unless it is a match being printed.
 */
import {
  ATTR_ACTION,
  ATTR_ACTOR_ID,
  ATTR_OUTCOME,
  ATTR_RECORD_ID,
  ATTR_SEQ_NUMBER,
  ATTR_SEQ_STREAM_ID,
  ATTR_TARGET_ID,
} from '../core/attributes.js';
import type { OtlpAnyValue, OtlpKeyValue, OtlpLogRecord, OtlpResource } from '../otlp/types.js';

export interface AuditRecord {
  /** `audit.sequence.stream_id`: a non-empty string (records without one are not audit records). */
  streamId: string;
  /** `audit.sequence.number`: a positive safe integer. */
  sequence: number;
  /** `audit.record.id`; '' when missing or not a string. */
  recordId: string;
  /** `timeUnixNano`, or `observedTimeUnixNano` when the time is absent or 0 (as OTLP says); undefined if neither. */
  timeUnixNano: bigint | undefined;
  /** '' when absent. */
  eventName: string;
  /** Scalar text (scalarText) of `audit.actor.id`, `audit.action`, `audit.target.id`, `audit.outcome`. */
  actor: string | undefined;
  action: string | undefined;
  target: string | undefined;
  outcome: string | undefined;
  /** Where this copy was read: path as listed, 1-based line. */
  file: string;
  line: number;
  record: OtlpLogRecord;
  resource: OtlpResource | undefined;
}

/**
 * The value of `key` in an OTLP attribute list; of repeated keys the last one counts (as the verifier reads
 * them). Lists from the input are checked, not trusted: a malformed entry is passed over.
 */
export function attributeValue(list: readonly OtlpKeyValue[] | undefined, key: string): OtlpAnyValue | undefined {
  if (!Array.isArray(list)) return undefined;
  for (let i = list.length - 1; i >= 0; i--) {
    const kv: unknown = list[i];
    if (typeof kv === 'object' && kv !== null && (kv as OtlpKeyValue).key === key) {
      const v = (kv as OtlpKeyValue).value;
      return typeof v === 'object' && v !== null ? v : {};
    }
  }
  return undefined;
}

/**
 * The text a scalar attribute value compares as: a string as is, an int in decimal (`"42"`, also when written
 * as a JSON number), a bool `true`/`false`, a double as JavaScript prints it (`10.5`; `NaN`, `Infinity` as
 * written), bytes as their base64. Arrays, key-value lists and empty values have none (undefined).
 */
export function scalarText(v: OtlpAnyValue | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v.stringValue === 'string') return v.stringValue;
  if (typeof v.boolValue === 'boolean') return String(v.boolValue);
  if (v.intValue !== undefined) {
    const raw = v.intValue;
    if (typeof raw === 'number') return Number.isInteger(raw) ? BigInt(raw).toString() : undefined;
    return typeof raw === 'string' && /^-?\d+$/.test(raw) ? BigInt(raw).toString() : undefined;
  }
  if (v.doubleValue !== undefined) {
    const raw = v.doubleValue;
    if (typeof raw === 'number') return String(raw);
    return typeof raw === 'string' ? raw : undefined;
  }
  if (typeof v.bytesValue === 'string') return v.bytesValue;
  return undefined;
}

/** A uint64 nanosecond time as written (decimal string or JSON number); undefined when absent, 0 or not one. */
function nanosOf(raw: unknown): bigint | undefined {
  let n: bigint | undefined;
  if (typeof raw === 'string' && /^\d{1,20}$/.test(raw)) n = BigInt(raw);
  else if (typeof raw === 'number' && Number.isFinite(raw) && raw >= 0) n = BigInt(Math.trunc(raw));
  return n === undefined || n === 0n ? undefined : n;
}

/** Same grammar as the verifier (docs/integrity.md §7.1): a positive integer a JS number holds exactly. */
function sequenceOf(v: OtlpAnyValue | undefined): number | undefined {
  const raw = v?.intValue;
  const n = typeof raw === 'string' && /^[1-9][0-9]*$/.test(raw) ? Number(raw) : raw;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 1 ? n : undefined;
}

export type RecordOrSkip = AuditRecord | 'nonAudit' | 'unreadable';

/**
 * Reads the search fields of one log record: `nonAudit` without `audit.sequence.stream_id`, `unreadable`
 * when the stream id or sequence number is not valid (the verifier calls such a record malformed).
 */
export function auditRecordOf(record: OtlpLogRecord, resource: OtlpResource | undefined, file: string, line: number): RecordOrSkip {
  const attrs = record.attributes;
  const streamValue = attributeValue(attrs, ATTR_SEQ_STREAM_ID);
  if (streamValue === undefined) return 'nonAudit';
  const streamId = streamValue.stringValue;
  const sequence = sequenceOf(attributeValue(attrs, ATTR_SEQ_NUMBER));
  if (typeof streamId !== 'string' || streamId === '' || sequence === undefined) return 'unreadable';
  const recordId = attributeValue(attrs, ATTR_RECORD_ID)?.stringValue;
  return {
    streamId,
    sequence,
    recordId: typeof recordId === 'string' ? recordId : '',
    timeUnixNano: nanosOf(record.timeUnixNano) ?? nanosOf(record.observedTimeUnixNano),
    eventName: typeof record.eventName === 'string' ? record.eventName : '',
    actor: scalarText(attributeValue(attrs, ATTR_ACTOR_ID)),
    action: scalarText(attributeValue(attrs, ATTR_ACTION)),
    target: scalarText(attributeValue(attrs, ATTR_TARGET_ID)),
    outcome: scalarText(attributeValue(attrs, ATTR_OUTCOME)),
    file,
    line,
    record,
    resource,
  };
}
