/**
 * Stage 3, chain: seal an audit record in `onEmit` — take the snapshot that is shipped (the record's own
 * attributes and the chain stamps, as OTLP/JSON), hash the canonical form of exactly that snapshot, and stamp
 * the same chain attributes on the SDK record so later processors see them. What is hashed is what is shipped,
 * whatever happens to the SDK record afterwards.
 *
 * Both are written as bytes into one reused buffer (otlp/byte-writer.ts, otlp/encode-bytes.ts): no string is
 * built per record to be flattened, hashed and copied.
 */
import { uuidV4 } from '../core/uuid.js';
import type { HrTime } from '@opentelemetry/api';
import type { ReadWriteLogRecord } from '@opentelemetry/sdk-logs';
import * as A from '../core/attributes.js';
import type { AnyValue } from '../otel/types.js';
import { ByteWriter } from '../otlp/byte-writer.js';
import { DEFAULT_ENCODE_LIMITS, EncodeProblems, sanitizeString, type EncodeLimits } from '../otlp/encode.js';
import {
  beginAttributes,
  canonEnd,
  canonicalMemberCount,
  canonStart,
  canonText,
  writeAttributes,
  writeStamp,
  writeCanonicalMembers,
  writeJsonString,
  writeValue,
} from '../otlp/encode-bytes.js';
import { isIntegrityKey, isZeroId, isZeroTime } from './canonical.js';
import type { ChainLink, HashChain } from './chain.js';
import { groupOf, type RecordGroup } from './group.js';
import { hashCanonicalBytes } from './hash.js';

/** The immutable snapshot of one audit record, ready for every sink. */
export interface SealedRecord {
  readonly seq: number;
  readonly recordId: string;
  /** Lowercase hex SHA-256 of the canonical form. */
  readonly hash: string;
  /**
   * UTF-8 OTLP/JSON of the LogRecord (one element of `logRecords`). A view of a buffer that the next
   * `sealRecord` overwrites: whoever keeps it copies it at once (the delivery stage copies it into its request
   * arena, see otlp/request-builder.ts).
   */
  readonly bytes: Buffer;
  readonly group: RecordGroup;
  /** True when the record was marked `audit.validation.error` by this processor. */
  readonly invalid: boolean;
}

/** Nanoseconds since the epoch as a decimal string, without going through a lossy double. */
export function hrTimeToNanos(t: HrTime): string {
  const s = t[0];
  const ns = t[1];
  if (s === 0) return String(ns);
  return `${s}${String(ns).padStart(9, '0')}`;
}

/** Largest uint64 (OTLP `fixed64` time): 18446744073 s + 709551615 ns. */
const MAX_SECONDS = 18446744073;
const MAX_NANOS_AT_MAX_SECONDS = 709551615;

/**
 * The HrTime as OTLP nanoseconds, or undefined when it has no OTLP form: not a pair of whole numbers
 * [seconds >= 0, 0 <= nanos < 1e9], or past uint64 (the SDK turns a NaN, a negative or a huge TimeInput into
 * such pairs without complaint).
 */
export function otlpNanos(t: unknown): string | undefined {
  if (!Array.isArray(t) || t.length !== 2) return undefined;
  const [s, ns] = t as [unknown, unknown];
  if (!Number.isSafeInteger(s) || !Number.isSafeInteger(ns)) return undefined;
  const sec = s as number;
  const nano = ns as number;
  if (sec < 0 || nano < 0 || nano >= 1e9 || sec > MAX_SECONDS || (sec === MAX_SECONDS && nano > MAX_NANOS_AT_MAX_SECONDS)) return undefined;
  return hrTimeToNanos([sec, nano]);
}

/** A time with no OTLP form becomes `fallback`; the original is kept in the record's validation mark. */
function checkedNanos(t: unknown, what: string, fallback: () => string, problems: EncodeProblems): string {
  const n = otlpNanos(t);
  if (n !== undefined) return n;
  const f = fallback();
  problems.add(what, `${describeValue(t)} is not a valid OTLP time (uint64 nanoseconds); sent as ${f === '0' ? '0 (unknown)' : `${f} (when it was sealed)`}`);
  return f;
}

/** A trace or span id that is not `len` hex digits has no OTLP form: left out, the original in the mark. */
function checkedId(id: unknown, len: number, what: string, problems: EncodeProblems): string | undefined {
  if (id === undefined) return undefined;
  if (typeof id === 'string' && id.length === len && HEX.test(id)) return id;
  problems.add(what, `${describeValue(id)} is not ${len} hex digits; left out`);
  return undefined;
}
const HEX = /^[0-9a-fA-F]*$/;

const zeroTime = (): string => '0';
const nowNanos = (): string => {
  const ms = Date.now();
  return hrTimeToNanos([Math.floor(ms / 1000), (ms % 1000) * 1e6]);
};

/** The original value, as an auditor should see it in the mark (NaN and Infinity spelled out). */
function describeValue(t: unknown): string {
  try {
    return JSON.stringify(t, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v)) ?? String(t);
  } catch {
    return String(t);
  }
}

/**
 * Per-record MAC/signature: given the canonical text, the `audit.integrity.*` attributes to add. They are
 * excluded from the canonical form, so adding them after hashing changes neither the hash nor the signature.
 */
export interface SealSigner {
  /** `canonical`: the UTF-8 canonical form, valid during the call only. */
  sign(canonical: Uint8Array): Readonly<Record<string, string>>;
}

export interface SealOptions {
  limits?: EncodeLimits;
  /** A validation problem found before sealing (raw Logs API records), to be stamped on the record. */
  validationError?: string | undefined;
  signer?: SealSigner | undefined;
}

/**
 * Puts one of the processor's own stamps (a string or number built here, valid by construction) on the live
 * SDK record, where later processors see it. The SDK's setAttribute validates every value — a WeakSet and a
 * truncation pass, ~0.5 µs a call — so the stamp is assigned directly to the record's `attributes`, a plain
 * object that onEmit may change (sdk-logs). A record that already dropped attributes for the SDK's count limit
 * gets its stamps through setAttribute, which applies the limit; one below it may exceed it by the stamps.
 * The snapshot carries every stamp either way (see sealRecord).
 */
function stamp(record: ReadWriteLogRecord, key: string, value: string | number): void {
  if (record.droppedAttributesCount === 0 && Object.isExtensible(record.attributes)) (record.attributes as Record<string, AnyValue>)[key] = value;
  else record.setAttribute(key, value);
}

/**
 * The common stamps, assigned as `stamp` would, but with literal property names: V8 compiles `o['literal'] = v`
 * as a named store, which keeps an object with many properties in fast mode, where a computed key
 * (`o[KEY] = v`) beyond ~16 properties turns the SDK's attributes object into a hash table (measured: ~1 KB
 * allocated per record, and slower reads for every processor after this one). The `satisfies` clauses tie each
 * literal to its constant. False when `stamp`'s rule says setAttribute (nothing assigned then).
 */
function stampChain(record: ReadWriteLogRecord, recordId: string | undefined, link: ChainLink): boolean {
  if (record.droppedAttributesCount !== 0 || !Object.isExtensible(record.attributes)) return false;
  const a = record.attributes as Record<string, AnyValue>;
  if (recordId !== undefined) a['audit.record.id' satisfies typeof A.ATTR_RECORD_ID] = recordId;
  a['audit.sequence.stream_id' satisfies typeof A.ATTR_SEQ_STREAM_ID] = link.streamId;
  a['audit.sequence.number' satisfies typeof A.ATTR_SEQ_NUMBER] = link.seq;
  if (link.previousHash !== undefined) a['audit.sequence.previous_hash' satisfies typeof A.ATTR_SEQ_PREVIOUS_HASH] = link.previousHash;
  if (link.previousRecordId !== undefined) a['audit.sequence.previous_record_id' satisfies typeof A.ATTR_SEQ_PREVIOUS_RECORD_ID] = link.previousRecordId;
  return true;
}

/** One writer for every record: the OTLP text, then the canonical form after it (see sealRecord). */
let w = new ByteWriter();
const ATTRIBUTES_OPEN = Buffer.from(',"attributes":[');
const CANONICAL_ATTRIBUTES = Buffer.from('"attributes":');
const CANONICAL_BODY = Buffer.from('"body":');
const EMPTY_VALUE = Buffer.from('{}');
const EMPTY_STRING_VALUE = Buffer.from('{"stringValue":""}');

/**
 * Encodes one record with its stamps, hashes it, stamps the live record and commits it to the chain. Never
 * throws on record content. The returned `bytes` stay valid until the next call.
 *
 * Layout of the shared writer: [0, a) the OTLP LogRecord up to its last attribute; [a, b) the canonical form
 * (hashed, signed); then the rest of the LogRecord (integrity attributes, closing fields), moved down to `a`
 * (the canonical members written meanwhile by the integrity attributes' writeStamp are unused).
 * The canonical text of a scalar is the same bytes as its OTLP text, so it is copied, not encoded twice.
 */
export function sealRecord(record: ReadWriteLogRecord, chain: HashChain, options: SealOptions = {}): SealedRecord {
  // One shared writer and encoder state: a record sealed from inside this one (a getter, or a diag logger that
  // emits audit records, running while this one is encoded) would overwrite it. Refuse it loudly instead: the
  // caller's onEmit reports that record as lost; this one is unaffected.
  if (sealing) throw new Error('sealRecord re-entered: an audit record was emitted while another was being sealed');
  sealing = true;
  try {
    return seal(record, chain, options);
  } finally {
    sealing = false;
    // One huge record must not pin its buffer for the life of the process.
    if (w.buf.length > MAX_KEPT_BYTES) w = new ByteWriter();
  }
}

let sealing = false;
const MAX_KEPT_BYTES = 1 << 20;

/** @internal Size of the shared writer's buffer (for the test that it does not stay huge). */
export function sealBufferBytes(): number {
  return w.buf.length;
}

function seal(record: ReadWriteLogRecord, chain: HashChain, options: SealOptions): SealedRecord {
  const limits = options.limits ?? DEFAULT_ENCODE_LIMITS;
  // Before anything that may run outside code (the resource's attribute getter may log a diag message).
  const group = groupOf(record);
  // The SDK's count, before this function adds anything to the live record.
  const dropped = record.droppedAttributesCount;
  const own = record.attributes;
  const given = Object.hasOwn(own, A.ATTR_RECORD_ID) ? own[A.ATTR_RECORD_ID] : undefined;
  const recordId = typeof given === 'string' && given !== '' ? given : uuidV4();
  const link = chain.peek();
  let problems = new EncodeProblems();
  // A time with no OTLP form would make the collector refuse the whole batch: normalised and marked.
  const time = checkedNanos(record.hrTime, 'timestamp', zeroTime, problems);
  const observed = checkedNanos(record.hrTimeObserved, 'observedTimestamp', nowNanos, problems);
  const sc = record.spanContext;
  const traceId = checkedId(sc?.traceId, 32, 'traceId', problems);
  const spanId = checkedId(sc?.spanId, 16, 'spanId', problems);

  // The snapshot: the record's own attributes as the SDK kept them, then the stamps — always all of them,
  // whatever limits the SDK applies to the live record.
  stamps.recordId = recordId === given ? undefined : recordId;
  stamps.link = link;
  stamps.validation = options.validationError;
  stamps.signed = options.signer !== undefined;
  let head = writeHead(record, own, time, observed, problems, limits);
  const eventName = record.eventName === undefined ? undefined : sanitizeString(record.eventName, 'eventName', problems, limits);
  if (problems.list !== undefined) {
    // Rare path: mark the record, then encode again so the mark is part of both snapshot and hash.
    const prior = options.validationError ?? own[A.ATTR_VALIDATION_ERROR];
    stamps.validation = (typeof prior === 'string' ? prior + '; ' : '') + problems.list.join('; ');
    problems = new EncodeProblems();
    head = writeHead(record, own, time, observed, problems, limits);
  }
  const validation = stamps.validation;
  const a = w.pos;

  // Canonical form v1 (docs/canonical-form.md): JCS member order, absent/empty/zero members omitted — the
  // rules of canonicalFromParts, here over bytes; the property test checks both against canonicalFromOtlp.
  w.byte(0x7b);
  let first = true;
  const sep = (): void => {
    if (first) first = false;
    else w.byte(0x2c);
  };
  if (canonicalMemberCount() > 0) {
    sep();
    w.bytes(CANONICAL_ATTRIBUTES);
    writeCanonicalMembers(w);
  }
  if (hasCanonicalBody(head)) {
    sep();
    w.bytes(CANONICAL_BODY);
    if (head.bodyText !== undefined) w.utf8(head.bodyText);
    else w.copyWithin(head.bodyStart, head.bodyEnd);
  }
  if (eventName !== undefined && eventName !== '') {
    sep();
    w.ascii('"event_name":');
    writeJsonString(w, eventName);
  }
  if (!isZeroTime(observed)) {
    sep();
    w.ascii(`"observed_timestamp":"${observed}"`);
  }
  if (!isZeroId(spanId)) {
    sep();
    w.ascii(`"span_id":"${spanId!.toLowerCase()}"`);
  }
  if (!isZeroTime(time)) {
    sep();
    w.ascii(`"timestamp":"${time}"`);
  }
  if (!isZeroId(traceId)) {
    sep();
    w.ascii(`"trace_id":"${traceId!.toLowerCase()}"`);
  }
  w.byte(0x7d);
  const b = w.pos;
  const canonical = w.view(a, b);
  const hash = hashCanonicalBytes(canonical);

  // The rest of the LogRecord. Field order and omission follow the proto3 JSON the Collector writes.
  const integrity = options.signer?.sign(canonical);
  if (integrity !== undefined) for (const [k, v] of Object.entries(integrity)) writeStamp(w, k, v, problems, limits, isIntegrityKey);
  w.byte(0x5d);
  // Of the record's own attributes only: the snapshot has every stamp and integrity attribute.
  if (dropped > 0) w.ascii(`,"droppedAttributesCount":${dropped}`);
  if (sc !== undefined && sc.traceFlags) w.ascii(`,"flags":${sc.traceFlags & 0xff}`);
  if (!isZeroId(traceId)) w.ascii(`,"traceId":"${traceId!.toLowerCase()}"`);
  if (!isZeroId(spanId)) w.ascii(`,"spanId":"${spanId!.toLowerCase()}"`);
  if (eventName !== undefined && eventName !== '') {
    w.ascii(',"eventName":');
    writeJsonString(w, eventName);
  }
  w.byte(0x7d);
  // Move the tail down over the canonical form, which is no longer needed.
  w.buf.copyWithin(a, b, w.pos);
  const end = a + (w.pos - b);

  // Stamp the live record too, for the processors after this one (the snapshot is complete).
  if (!stampChain(record, stamps.recordId, link)) {
    if (stamps.recordId !== undefined) stamp(record, A.ATTR_RECORD_ID, recordId);
    stamp(record, A.ATTR_SEQ_STREAM_ID, link.streamId);
    stamp(record, A.ATTR_SEQ_NUMBER, link.seq);
    if (link.previousHash !== undefined) stamp(record, A.ATTR_SEQ_PREVIOUS_HASH, link.previousHash);
    if (link.previousRecordId !== undefined) stamp(record, A.ATTR_SEQ_PREVIOUS_RECORD_ID, link.previousRecordId);
  }
  if (link.restart !== undefined) for (const k of Object.keys(link.restart)) stamp(record, k, link.restart[k]!);
  if (validation !== undefined) stamp(record, A.ATTR_VALIDATION_ERROR, validation);
  if (integrity !== undefined) for (const [k, v] of Object.entries(integrity)) stamp(record, k, v);

  chain.commit(link.seq, hash, recordId);
  return {
    seq: link.seq,
    recordId,
    hash,
    group,
    invalid: validation !== undefined || own[A.ATTR_VALIDATION_ERROR] !== undefined,
    bytes: w.view(0, end),
  };
}

/** What `writeHead` leaves for the canonical form: where the body's canonical text is. */
interface Head {
  bodyStart: number;
  bodyEnd: number;
  bodyText: string | undefined;
}

/** An absent body, an empty value and an empty string are all "no body" in the canonical form. */
function hasCanonicalBody(h: Head): boolean {
  if (h.bodyText !== undefined) return h.bodyText !== '{}' && h.bodyText !== '{"stringValue":""}';
  return h.bodyEnd > h.bodyStart && !w.equals(h.bodyStart, h.bodyEnd, EMPTY_VALUE) && !w.equals(h.bodyStart, h.bodyEnd, EMPTY_STRING_VALUE);
}

/** Writes the LogRecord from `{` through its last attribute, from position 0 of the writer. */
function writeHead(
  record: ReadWriteLogRecord,
  own: Readonly<Record<string, unknown>>,
  time: string,
  observed: string,
  problems: EncodeProblems,
  limits: EncodeLimits,
): Head {
  w.pos = 0;
  w.ascii(`{"timeUnixNano":"${time}","observedTimeUnixNano":"${observed}"`);
  if (record.severityNumber !== undefined && record.severityNumber !== 0) w.ascii(`,"severityNumber":${record.severityNumber | 0}`);
  if (record.severityText !== undefined && record.severityText !== '') {
    w.ascii(',"severityText":');
    writeJsonString(w, record.severityText.toWellFormed());
  }
  const head: Head = { bodyStart: 0, bodyEnd: 0, bodyText: undefined };
  if (record.body !== undefined) {
    w.ascii(',"body":');
    const at = w.pos;
    if (writeValue(w, record.body, 'body', problems, limits)) {
      head.bodyStart = canonStart;
      head.bodyEnd = canonEnd;
      head.bodyText = canonText;
    } else {
      w.pos = at - ',"body":'.length; // omitted (a function or symbol body): no body member at all
    }
  }
  // Never empty: every record has at least its stream id and sequence number. Left open for the integrity
  // attributes, which come after the hash.
  w.bytes(ATTRIBUTES_OPEN);
  beginAttributes();
  writeAttributes(w, own, problems, limits, isIntegrityKey, isStamped);
  writeStamps(problems, limits);
  return head;
}

/** The stamps of the record being sealed (module-level: no object per record; sealRecord is not re-entered). */
const stamps: { recordId: string | undefined; link: ChainLink | undefined; validation: string | undefined; signed: boolean } = {
  recordId: undefined,
  link: undefined,
  validation: undefined,
  signed: false,
};

/** Keys the stamps of this record set: the record's own values under them are replaced, so not written. */
function isStamped(key: string): boolean {
  switch (key) {
    case A.ATTR_SEQ_STREAM_ID:
    case A.ATTR_SEQ_NUMBER:
    case A.ATTR_SEQ_PREVIOUS_HASH:
    case A.ATTR_SEQ_PREVIOUS_RECORD_ID:
      return true;
    case A.ATTR_RECORD_ID:
      return stamps.recordId !== undefined;
    case A.ATTR_VALIDATION_ERROR:
      return stamps.validation !== undefined;
    default:
      // With a signer, the record's own integrity attributes would be duplicates of (or forgeries beside) its own.
      if (stamps.signed && isIntegrityKey(key)) return true;
      return stamps.link!.restart !== undefined && Object.hasOwn(stamps.link!.restart, key);
  }
}

/** Writes the stamps after the record's own attributes. */
function writeStamps(problems: EncodeProblems, limits: EncodeLimits): void {
  const link = stamps.link!;
  if (stamps.recordId !== undefined) writeStamp(w, A.ATTR_RECORD_ID, stamps.recordId, problems, limits);
  writeStamp(w, A.ATTR_SEQ_STREAM_ID, link.streamId, problems, limits);
  writeStamp(w, A.ATTR_SEQ_NUMBER, link.seq, problems, limits);
  if (link.previousHash !== undefined) writeStamp(w, A.ATTR_SEQ_PREVIOUS_HASH, link.previousHash, problems, limits);
  if (link.previousRecordId !== undefined) writeStamp(w, A.ATTR_SEQ_PREVIOUS_RECORD_ID, link.previousRecordId, problems, limits);
  if (link.restart !== undefined) for (const k of Object.keys(link.restart)) writeStamp(w, k, link.restart[k]!, problems, limits);
  if (stamps.validation !== undefined) writeStamp(w, A.ATTR_VALIDATION_ERROR, stamps.validation, problems, limits);
}
