/**
 * Streaming reader for OTLP/JSON lines (the local journal and the Collector's file exporter output): yields
 * one small item per audit record, per non-audit record and per bad line, never the parsed request itself, so
 * memory stays bounded by the longest line whatever the file size.
 *
 * Bad content never throws: a final line without '\n' that does not parse is `torn` (a crash mid-write), any
 * other unparsable line, or one that is not a logs request, is `malformed`. Only I/O errors (missing file,
 * permissions) reject the iteration.
 */
import { createReadStream } from 'node:fs';
import { canonicalFromOtlp } from '../chain/canonical.js';
import { hashCanonical } from '../chain/hash.js';
import {
  ATTR_RECORD_ID,
  ATTR_SEQ_END,
  ATTR_SEQ_NUMBER,
  ATTR_SEQ_PREVIOUS_HASH,
  ATTR_SEQ_PREVIOUS_RECORD_ID,
  ATTR_SEQ_STREAM_ID,
} from '../map/attributes.js';
import type { OtlpAnyValue, OtlpLogRecord } from '../otlp/types.js';

/** An audit record reduced to what the chain check needs. `line` is 1-based. */
export interface RecordItem {
  kind: 'record';
  file: string;
  line: number;
  streamId: string;
  seq: number;
  /** `audit.record.id`; '' when the attribute is missing or not a string (the hash check will notice). */
  recordId: string;
  /**
   * `audit.sequence.previous_hash` as written; a present but non-string value is given as its JSON text so
   * that it is "present" yet never matches a hash.
   */
  previousHash?: string;
  previousRecordId?: string;
  /** `audit.sequence.end` is `{"boolValue":true}`. */
  end: boolean;
  /** Lowercase hex SHA-256 of the record's canonical form v1. */
  hash: string;
}

/** A record without `audit.sequence.stream_id`: not part of any chain, only counted. */
export interface NonAuditItem {
  kind: 'nonAudit';
  file: string;
  line: number;
}

/** A line (or one record of a line) that cannot be verified. */
export interface BadItem {
  kind: 'malformed' | 'torn';
  file: string;
  line: number;
  message: string;
}

export type ReadItem = RecordItem | NonAuditItem | BadItem;

interface Line {
  text: string;
  line: number;
  /** false for a final line with no '\n' after it. */
  terminated: boolean;
}

const NL = 0x0a;
const CR = 0x0d;
// fatal: invalid UTF-8 is reported, not silently replaced by U+FFFD (which would look like a modification).
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Splits a file into lines with only the current chunk and one partial line in memory. */
async function* readLines(file: string): AsyncGenerator<Line | BadItem> {
  const stream = createReadStream(file, { highWaterMark: 1 << 16 });
  let pending: Buffer[] = [];
  let line = 0;
  const take = (tail: Buffer): Buffer => {
    const whole = pending.length === 0 ? tail : Buffer.concat([...pending, tail]);
    pending = [];
    return whole;
  };
  const decode = (bytes: Buffer, terminated: boolean): Line | BadItem => {
    let end = bytes.length;
    if (terminated && end > 0 && bytes[end - 1] === CR) end--; // CRLF files
    try {
      // ignoreBOM:false drops a leading BOM (editors add one to the first line); it is not record content.
      return { text: utf8.decode(bytes.subarray(0, end)), line, terminated };
    } catch {
      return { kind: terminated ? 'malformed' : 'torn', file, line, message: 'line is not valid UTF-8' };
    }
  };
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let start = 0;
    for (let nl = chunk.indexOf(NL, start); nl >= 0; nl = chunk.indexOf(NL, start)) {
      line++;
      yield decode(take(chunk.subarray(start, nl)), true);
      start = nl + 1;
    }
    if (start < chunk.length) pending.push(chunk.subarray(start));
  }
  if (pending.length > 0) {
    line++;
    yield decode(take(Buffer.alloc(0)), false);
  }
}

type JsonObject = { readonly [key: string]: unknown };
const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks the request skeleton (objects and arrays down to each log record) and returns its records, or a
 * message naming the first offending path. Values inside records are left to canonicalFromOtlp.
 */
function recordsOf(doc: unknown): { records: Array<{ record: OtlpLogRecord; where: string }> } | { error: string } {
  if (!isObject(doc)) return { error: 'line is not a JSON object' };
  for (const key of Object.keys(doc)) {
    // A traces/metrics line or arbitrary JSON must not pass as an empty logs request.
    if (key !== 'resourceLogs') return { error: `not an ExportLogsServiceRequest: unexpected member ${JSON.stringify(key)}` };
  }
  const records: Array<{ record: OtlpLogRecord; where: string }> = [];
  const rls = doc['resourceLogs'] ?? [];
  if (!Array.isArray(rls)) return { error: 'resourceLogs is not an array' };
  for (let i = 0; i < rls.length; i++) {
    const rl: unknown = rls[i];
    if (!isObject(rl)) return { error: `resourceLogs[${i}] is not an object` };
    const sls = rl['scopeLogs'] ?? [];
    if (!Array.isArray(sls)) return { error: `resourceLogs[${i}].scopeLogs is not an array` };
    for (let j = 0; j < sls.length; j++) {
      const sl: unknown = sls[j];
      const at = `resourceLogs[${i}].scopeLogs[${j}]`;
      if (!isObject(sl)) return { error: `${at} is not an object` };
      const lrs = sl['logRecords'] ?? [];
      if (!Array.isArray(lrs)) return { error: `${at}.logRecords is not an array` };
      for (let k = 0; k < lrs.length; k++) {
        const lr: unknown = lrs[k];
        const where = `${at}.logRecords[${k}]`;
        if (!isObject(lr)) return { error: `${where} is not an object` };
        const attrs = lr['attributes'] ?? [];
        if (!Array.isArray(attrs) || !attrs.every((kv) => isObject(kv) && typeof kv['key'] === 'string')) {
          return { error: `${where}.attributes is not an array of {key, value}` };
        }
        records.push({ record: lr as OtlpLogRecord, where });
      }
    }
  }
  return { records };
}

interface ChainAttrs {
  streamId?: OtlpAnyValue;
  seq?: OtlpAnyValue;
  previousHash?: OtlpAnyValue;
  previousRecordId?: OtlpAnyValue;
  recordId?: OtlpAnyValue;
  end?: OtlpAnyValue;
}

function chainAttrs(r: OtlpLogRecord): ChainAttrs {
  const out: ChainAttrs = {};
  for (const kv of r.attributes ?? []) {
    const v = kv.value ?? {};
    switch (kv.key) {
      case ATTR_SEQ_STREAM_ID: out.streamId = v; break;
      case ATTR_SEQ_NUMBER: out.seq = v; break;
      case ATTR_SEQ_PREVIOUS_HASH: out.previousHash = v; break;
      case ATTR_SEQ_PREVIOUS_RECORD_ID: out.previousRecordId = v; break;
      case ATTR_RECORD_ID: out.recordId = v; break;
      case ATTR_SEQ_END: out.end = v; break;
    }
  }
  return out;
}

/** A sequence number must be a positive integer that a JS number holds exactly. */
function seqOf(v: OtlpAnyValue | undefined): number | undefined {
  const raw = v?.intValue;
  const n = typeof raw === 'string' && /^[1-9][0-9]*$/.test(raw) ? Number(raw) : raw;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 1 ? n : undefined;
}

const stringOf = (v: OtlpAnyValue | undefined): string | undefined =>
  typeof v?.stringValue === 'string' ? v.stringValue : undefined;

/** Present-but-not-a-string values stay "present" (their JSON text) so that they never link. */
const linkValueOf = (v: OtlpAnyValue | undefined): string | undefined =>
  v === undefined ? undefined : (stringOf(v) ?? JSON.stringify(v));

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

function toItem(file: string, line: number, record: OtlpLogRecord, where: string): ReadItem {
  const a = chainAttrs(record);
  // Non-audit records are not ours to judge, whatever their values.
  if (a.streamId === undefined) return { kind: 'nonAudit', file, line };
  let hash: string;
  try {
    // Before reading the chain attributes: duplicate keys (a second stream_id, say) make it malformed here.
    hash = hashCanonical(canonicalFromOtlp(record, where));
  } catch (e) {
    return { kind: 'malformed', file, line, message: `cannot canonicalize: ${errorText(e)}` };
  }
  const streamId = stringOf(a.streamId);
  if (streamId === undefined || streamId === '') {
    return { kind: 'malformed', file, line, message: `${where}: ${ATTR_SEQ_STREAM_ID} is not a non-empty string` };
  }
  const seq = seqOf(a.seq);
  if (seq === undefined) {
    return { kind: 'malformed', file, line, message: `${where}: ${ATTR_SEQ_NUMBER} is not a positive integer (stream ${streamId})` };
  }
  const item: RecordItem = {
    kind: 'record',
    file,
    line,
    streamId,
    seq,
    recordId: stringOf(a.recordId) ?? '',
    end: a.end?.boolValue === true,
    hash,
  };
  const previousHash = linkValueOf(a.previousHash);
  if (previousHash !== undefined) item.previousHash = previousHash;
  const previousRecordId = linkValueOf(a.previousRecordId);
  if (previousRecordId !== undefined) item.previousRecordId = previousRecordId;
  return item;
}

/** Yields every record of `file` in file order (line, then position in the line). */
export async function* readRecords(file: string): AsyncGenerator<ReadItem> {
  for await (const l of readLines(file)) {
    if ('kind' in l) {
      yield l;
      continue;
    }
    if (l.text.trim() === '') continue; // blank lines carry nothing; writers may leave one at the end
    let doc: unknown;
    try {
      doc = JSON.parse(l.text);
    } catch (e) {
      yield l.terminated
        ? { kind: 'malformed', file, line: l.line, message: `not JSON: ${errorText(e)}` }
        : { kind: 'torn', file, line: l.line, message: `last line is incomplete (no newline, not JSON): ${errorText(e)}` };
      continue;
    }
    const parsed = recordsOf(doc);
    if ('error' in parsed) {
      yield { kind: 'malformed', file, line: l.line, message: parsed.error };
      continue;
    }
    for (const { record, where } of parsed.records) yield toItem(file, l.line, record, where);
  }
}
