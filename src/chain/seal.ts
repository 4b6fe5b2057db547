/**
 * Stage 3, chain: seal an audit record — encode the snapshot that is shipped (the record's own attributes and
 * the chain stamps, as OTLP/JSON), write the canonical form of exactly that snapshot, hash it, and commit the
 * hash to the chain. What is hashed is what is shipped. The SDK record is only read here: its live stamps
 * (record id, stream id, sequence number) were put on in onEmit (chain/live-stamps.ts), before sealing, which
 * runs later, in order, off the caller's path (chain/seal-queue.ts; ARCHITECTURE.md §2.3).
 *
 * Both texts are written as bytes into one buffer owned by the sealer (otlp/byte-writer.ts,
 * otlp/encode-bytes.ts): no string is built per record to be flattened, hashed and copied.
 */
import { uuidV4 } from '../core/uuid.js';
import type { HrTime } from '@opentelemetry/api';
import * as A from '../core/attributes.js';
import { ownRecordId } from '../core/record-id.js';
import { ByteWriter } from '../otlp/byte-writer.js';
import { asText, describe } from '../otlp/describe.js';
import { DEFAULT_ENCODE_LIMITS, EncodeProblems, sanitizeString, type EncodeLimits } from '../otlp/encode.js';
import { JsonValueWriter, writeJsonString } from '../otlp/encode-bytes.js';
import { CANONICAL_MEMBER_NAMES, EMPTY_BODY_TEXTS, isIntegrityKey, isZeroId, writeCanonicalForm, type CanonicalFields, type CanonicalMemberName, type CanonicalSink } from './canonical.js';
import type { ChainLink, HashChain } from './chain.js';
import { groupOf, type RecordGroup } from './group.js';
import { hashCanonicalBytes } from './hash.js';
import type { SealInput } from './snapshot.js';

/** The immutable snapshot of one audit record, ready for every sink. */
export interface SealedRecord {
  readonly seq: number;
  readonly recordId: string;
  /** Lowercase hex SHA-256 of the canonical form. */
  readonly hash: string;
  /**
   * UTF-8 OTLP/JSON of the LogRecord (one element of `logRecords`). A view of the sealer's buffer that its next
   * `seal` overwrites: whoever keeps it copies it at once (the delivery stage copies it into its request
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
  /** A validation problem found before sealing (raw Logs API records), to be stamped on the record. */
  validationError?: string | undefined;
  signer?: SealSigner | undefined;
  /**
   * The SDK's count of dropped attributes before the live stamps were put on (they may go through
   * setAttribute, which counts against the SDK's limit); by default the record's count now.
   */
  droppedAttributesCount?: number | undefined;
}

const ATTRIBUTES_OPEN = Buffer.from(',"attributes":[');
const TIME_OPEN = Buffer.from('{"timeUnixNano":"');
const OBSERVED_OPEN = Buffer.from('","observedTimeUnixNano":"');
const SEVERITY_OPEN = Buffer.from(',"severityNumber":');
const EMPTY_BODIES = EMPTY_BODY_TEXTS.map((t) => Buffer.from(t));
/** One huge record must not pin its buffer for the life of the sealer. */
const MAX_KEPT_BYTES = 1 << 20;

/** The stamps of the record being sealed. */
interface Stamps {
  /** The record id to stamp, when the record has none of its own. */
  recordId: string | undefined;
  link: ChainLink;
  validation: string | undefined;
  signed: boolean;
}

/**
 * Seals records one after the other: encode → canonical → hash → commit. The writer and the encoder state are
 * the instance's (one sealer per processor, sealing runs on one thread, in sequence order); a record sealed
 * from inside another one's sealing (a getter or a diag logger that emits audit records) is refused loudly,
 * since it would overwrite the buffer of the record being sealed.
 */
export class RecordSealer {
  private w = new ByteWriter();
  private values = new JsonValueWriter(this.w);
  private readonly sink = new ByteSink(this);
  /** Reused from record to record (sealing is never re-entered). */
  private readonly fields: CanonicalFields = {
    hasAttributes: false,
    hasBody: false,
    eventName: undefined,
    timeUnixNano: '',
    observedTimeUnixNano: '',
    traceId: undefined,
    spanId: undefined,
  };
  private sealing = false;
  private stamps: Stamps | undefined;
  /** Reused from record to record, like `fields`: the stamps, problems and head of the record being sealed. */
  private readonly ownStamps: Stamps = { recordId: undefined, link: undefined!, validation: undefined, signed: false };
  private readonly problems = new EncodeProblems();
  private readonly head: Head = { bodyStart: 0, bodyEnd: 0, bodyText: undefined };
  /** Keys the stamps of this record set: the record's own values under them are replaced, so not written. */
  private readonly isStamped = (key: string): boolean => {
    const st = this.stamps!;
    switch (key) {
      case A.ATTR_SEQ_STREAM_ID:
      case A.ATTR_SEQ_NUMBER:
      case A.ATTR_SEQ_PREVIOUS_HASH:
      case A.ATTR_SEQ_PREVIOUS_RECORD_ID:
        return true;
      case A.ATTR_RECORD_ID:
        return st.recordId !== undefined;
      case A.ATTR_VALIDATION_ERROR:
        return st.validation !== undefined;
      default:
        // With a signer, the record's own integrity attributes would be duplicates of (or forgeries beside) its own.
        if (st.signed && isIntegrityKey(key)) return true;
        return st.link.restart !== undefined && Object.hasOwn(st.link.restart, key);
    }
  };

  constructor(private readonly limits: EncodeLimits = DEFAULT_ENCODE_LIMITS) {}

  /** Size of the writer's buffer (for the test that it does not stay huge). */
  get bufferBytes(): number {
    return this.w.buf.length;
  }

  /**
   * Encodes one record with its stamps, hashes it and commits it to the chain. Never throws on record content.
   * The returned `bytes` stay valid until the next call.
   */
  seal(record: SealInput, chain: HashChain, options: SealOptions = {}): SealedRecord {
    if (this.sealing) throw new Error('a record was sealed while another was being sealed (an audit record emitted from inside sealing)');
    this.sealing = true;
    try {
      return this.sealOne(record, chain, options);
    } finally {
      this.sealing = false;
      this.stamps = undefined;
      if (this.w.buf.length > MAX_KEPT_BYTES) {
        this.w = new ByteWriter();
        this.values = new JsonValueWriter(this.w);
      }
    }
  }

  /**
   * Layout of the writer: [0, a) the OTLP LogRecord up to its last attribute; [a, b) the canonical form (hashed,
   * signed); then the rest of the LogRecord (integrity attributes, closing fields), moved down to `a`. The
   * canonical text of a scalar is the same bytes as its OTLP text, so it is copied, not encoded twice.
   */
  private sealOne(record: SealInput, chain: HashChain, options: SealOptions): SealedRecord {
    const limits = this.limits;
    // Before anything that may run outside code (the resource's attribute getter may log a diag message).
    const group = groupOf(record);
    const dropped = options.droppedAttributesCount ?? record.droppedAttributesCount;
    const own = record.attributes;
    const given = ownRecordId(own);
    const recordId = given ?? uuidV4();
    const link = chain.peek();
    const problems = this.problems;
    problems.reset();
    // A time with no OTLP form would make the collector refuse the whole batch: normalised and marked.
    const time = checkedNanos(record.hrTime, 'timestamp', zeroTime, problems);
    const observed = checkedNanos(record.hrTimeObserved, 'observedTimestamp', nowNanos, problems);
    const sc = record.spanContext;
    const traceId = checkedId(sc?.traceId, 32, 'traceId', problems);
    const spanId = checkedId(sc?.spanId, 16, 'spanId', problems);

    // The snapshot: the record's own attributes as the SDK kept them, then the stamps — always all of them,
    // whatever limits the SDK applies to the live record.
    const stamps = this.ownStamps;
    stamps.recordId = given === undefined ? recordId : undefined;
    stamps.link = link;
    stamps.validation = options.validationError;
    stamps.signed = options.signer !== undefined;
    this.stamps = stamps;
    let head = this.writeHead(record, own, time, observed, problems);
    const eventName = record.eventName === undefined ? undefined : sanitizeString(textOf(record.eventName, 'eventName', problems), 'eventName', problems, limits);
    if (problems.list !== undefined) {
      // Rare path: mark the record, then encode again so the mark is part of both snapshot and hash.
      const prior = options.validationError ?? own[A.ATTR_VALIDATION_ERROR];
      stamps.validation = (typeof prior === 'string' ? prior + '; ' : '') + problems.list.join('; ');
      problems.reset();
      head = this.writeHead(record, own, time, observed, problems);
    }
    const w = this.w;
    const a = w.pos;
    // Canonical form v1, written by the one writer of its rules (chain/canonical.ts) into this sealer's bytes.
    const sink = this.sink;
    sink.head = head;
    const fields = this.fields;
    fields.hasAttributes = this.values.canonicalMemberCount > 0;
    fields.hasBody = this.hasCanonicalBody(head);
    fields.eventName = eventName;
    fields.timeUnixNano = time;
    fields.observedTimeUnixNano = observed;
    fields.traceId = traceId;
    fields.spanId = spanId;
    writeCanonicalForm(sink, fields);
    const b = w.pos;
    const canonical = w.view(a, b);
    const hash = hashCanonicalBytes(canonical);

    // The rest of the LogRecord. Field order and omission follow the proto3 JSON the Collector writes.
    const integrity = options.signer?.sign(canonical);
    if (integrity !== undefined) for (const [k, v] of Object.entries(integrity)) this.values.writeStamp(k, v, problems, limits, isIntegrityKey);
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

    chain.commit(link.seq, hash, recordId);
    return {
      seq: link.seq,
      recordId,
      hash,
      group,
      invalid: stamps.validation !== undefined || own[A.ATTR_VALIDATION_ERROR] !== undefined,
      bytes: w.view(0, end),
    };
  }

  /** An absent body and the EMPTY_BODY_TEXTS are all "no body" in the canonical form. */
  private hasCanonicalBody(h: Head): boolean {
    if (h.bodyText !== undefined) return !EMPTY_BODY_TEXTS.includes(h.bodyText);
    const w = this.w;
    return h.bodyEnd > h.bodyStart && !EMPTY_BODIES.some((e) => w.equals(h.bodyStart, h.bodyEnd, e));
  }

  /** @internal For the byte sink: the writer of the record being sealed. */
  get writer(): ByteWriter {
    return this.w;
  }

  /** @internal For the byte sink: the attribute members of the record being sealed. */
  get valueWriter(): JsonValueWriter {
    return this.values;
  }

  /** Writes the LogRecord from `{` through its last attribute, from position 0 of the writer. */
  private writeHead(record: SealInput, own: Readonly<Record<string, unknown>>, time: string, observed: string, problems: EncodeProblems): Head {
    const w = this.w;
    const limits = this.limits;
    w.pos = 0;
    // Constant parts as bytes, variable ones written alone: no string per record built only to be copied.
    w.bytes(TIME_OPEN);
    w.ascii(time);
    w.bytes(OBSERVED_OPEN);
    w.ascii(observed);
    w.byte(0x22);
    const severity: unknown = record.severityNumber;
    if (severity !== undefined && severity !== 0) {
      // The SDK passes it through unchecked: a BigInt or a Symbol would throw at `| 0`, and the record be lost.
      if (typeof severity === 'number') {
        w.bytes(SEVERITY_OPEN);
        w.ascii(String(severity | 0));
      } else problems.add('severityNumber', `${typeof severity} is not a number; left out`);
    }
    if (record.severityText !== undefined && record.severityText !== '') {
      w.ascii(',"severityText":');
      writeJsonString(w, textOf(record.severityText, 'severityText', problems).toWellFormed());
    }
    const head = this.head;
    head.bodyStart = 0;
    head.bodyEnd = 0;
    head.bodyText = undefined;
    if (record.body !== undefined) {
      w.ascii(',"body":');
      const at = w.pos;
      if (this.values.writeValue(record.body, 'body', problems, limits)) {
        head.bodyStart = this.values.canonStart;
        head.bodyEnd = this.values.canonEnd;
        head.bodyText = this.values.canonText;
      } else {
        w.pos = at - ',"body":'.length; // omitted (a function or symbol body): no body member at all
      }
    }
    // Never empty: every record has at least its stream id and sequence number. Left open for the integrity
    // attributes, which come after the hash.
    w.bytes(ATTRIBUTES_OPEN);
    this.values.beginAttributes();
    this.values.writeAttributes(own, problems, limits, isIntegrityKey, this.isStamped);
    this.writeStamps(problems);
    return head;
  }

  /** Writes the stamps after the record's own attributes. */
  private writeStamps(problems: EncodeProblems): void {
    const v = this.values;
    const limits = this.limits;
    const st = this.stamps!;
    const link = st.link;
    if (st.recordId !== undefined) v.writeStamp(A.ATTR_RECORD_ID, st.recordId, problems, limits);
    v.writeStamp(A.ATTR_SEQ_STREAM_ID, link.streamId, problems, limits);
    v.writeStamp(A.ATTR_SEQ_NUMBER, link.seq, problems, limits);
    if (link.previousHash !== undefined) v.writeStamp(A.ATTR_SEQ_PREVIOUS_HASH, link.previousHash, problems, limits);
    if (link.previousRecordId !== undefined) v.writeStamp(A.ATTR_SEQ_PREVIOUS_RECORD_ID, link.previousRecordId, problems, limits);
    if (link.restart !== undefined) for (const k of Object.keys(link.restart)) v.writeStamp(k, link.restart[k]!, problems, limits);
    if (st.validation !== undefined) v.writeStamp(A.ATTR_VALIDATION_ERROR, st.validation, problems, limits);
  }
}

/**
 * A field the SDK passes through unchecked that OTLP carries as a string (eventName, severityText): a non-string
 * is written as its text, and marked, rather than making the record unsealable (its content lost).
 */
function textOf(v: unknown, path: string, problems: EncodeProblems): string {
  if (typeof v === 'string') return v;
  const t = asText(v);
  problems.add(path, `${typeof v} written as the string ${describe(t)}`);
  return t;
}

/** What `writeHead` leaves for the canonical form: where the body's canonical text is. */
interface Head {
  bodyStart: number;
  bodyEnd: number;
  bodyText: string | undefined;
}

/** `"name":` and `,"name":` of each member name of the canonical form. */
const MEMBER_HEADS: ReadonlyMap<string, readonly [Buffer, Buffer]> = new Map(
  CANONICAL_MEMBER_NAMES.map((n) => [n, [Buffer.from(`"${n}":`), Buffer.from(`,"${n}":`)]] as const),
);

/** The canonical form as bytes, after the OTLP head in the sealer's writer; spans of the head are copied. */
class ByteSink implements CanonicalSink {
  head: Head | undefined;
  private first = true;

  constructor(private readonly sealer: RecordSealer) {}

  open(): void {
    this.first = true;
    this.sealer.writer.byte(0x7b);
  }
  member(name: CanonicalMemberName): void {
    this.sealer.writer.bytes(MEMBER_HEADS.get(name)![this.first ? 0 : 1]);
    this.first = false;
  }
  attributes(): void {
    this.sealer.valueWriter.writeCanonicalMembers();
  }
  body(): void {
    const h = this.head!;
    const w = this.sealer.writer;
    if (h.bodyText !== undefined) w.utf8(h.bodyText);
    else w.copyWithin(h.bodyStart, h.bodyEnd);
  }
  jsonString(s: string): void {
    writeJsonString(this.sealer.writer, s);
  }
  quoted(s: string): void {
    const w = this.sealer.writer;
    w.byte(0x22);
    w.ascii(s);
    w.byte(0x22);
  }
  close(): void {
    this.sealer.writer.byte(0x7d);
  }
}
