/**
 * The items of one line of OTLP/JSON: the fast path first (fast-otlp.ts: canonical form straight from the
 * text), and only what it declines through JSON.parse and canonicalFromOtlp, which stay the reference for every
 * error. Shared by the in-process reader (read-records.ts) and the worker threads (verify-worker.ts), so both
 * give the same items for the same bytes.
 */
import { isAscii } from 'node:buffer';
import { canonicalFromOtlp } from '../chain/canonical.js';
import { hashCanonical } from '../chain/hash.js';
import { ATTR_SEQ_NUMBER, ATTR_SEQ_STREAM_ID, EVENT_STREAM_END } from '../core/attributes.js';
import type { OtlpLogRecord } from '../otlp/types.js';
import { fastParseLine, type FastRecord } from './fast-otlp.js';
import { errorText } from '../core/errors.js';
import { memberNames, protoNameMessage } from '../otlp/json-members.js';
import type { ReadItem, RecordItem } from './read-items.js';
import { isCheckpointClaim, type Attrs } from './attrs.js';
import { attrsOfRecord, checkCheckpoint, checkSignature, isProducerCheckpointShape, linkValueOf, seqOf, stringOf, type ResolvedOptions } from './record-checks.js';
import { MAX_LINE_BYTES } from './safe-read.js';

const CR = 0x0d;
// fatal: invalid UTF-8 is reported, not silently replaced by U+FFFD (which would look like a modification).
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

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

/**
 * The item for one record. `canonical` is a thunk so that non-audit records are never canonicalized (the
 * reference path would otherwise call a non-audit record with a lone surrogate malformed). `knownHash`: the
 * fast path's hash of it, whose text is then asked for only by a signature or checkpoint check.
 */
function buildItem(
  file: string,
  line: number,
  a: Attrs,
  eventName: unknown,
  canonical: () => string,
  where: () => string,
  opts: ResolvedOptions,
  knownHash?: string,
): ReadItem | undefined {
  // Non-audit records are not ours to judge, whatever their values.
  if (a.streamId === undefined) return { kind: 'nonAudit', file, line };
  const claim = isCheckpointClaim(a, eventName);
  if (opts.checkpointsOnly && !claim) return undefined;
  let text: string | undefined;
  let hash: string;
  try {
    // Before reading the chain attributes: duplicate keys (a second stream_id, say) make it malformed here.
    if (knownHash !== undefined) hash = knownHash;
    else hash = hashCanonical((text = canonical()));
  } catch (e) {
    return { kind: 'malformed', file, line, record: where(), message: `cannot canonicalize: ${clip(errorText(e))}` };
  }
  const textOf = (): string => (text ??= canonical());
  const streamId = stringOf(a.streamId);
  if (streamId === undefined || streamId === '') {
    return { kind: 'malformed', file, line, record: where(), message: `${where()}: ${ATTR_SEQ_STREAM_ID} is not a non-empty string` };
  }
  const seq = seqOf(a.seq);
  if (seq === undefined) {
    return { kind: 'malformed', file, line, record: where(), message: `${where()}: ${ATTR_SEQ_NUMBER} is not a positive integer (stream ${clip(streamId)})` };
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
  if (item.end && eventName === EVENT_STREAM_END) item.endEvent = true;
  const previousHash = linkValueOf(a.previousHash);
  if (previousHash !== undefined) item.previousHash = previousHash;
  const previousRecordId = linkValueOf(a.previousRecordId);
  if (previousRecordId !== undefined) item.previousRecordId = previousRecordId;
  if (a.previousStreamId !== undefined) {
    item.previousStreamId = linkValueOf(a.previousStreamId)!;
    const last = seqOf(a.previousStreamLast);
    if (last !== undefined) item.previousStreamLast = last;
    const h = stringOf(a.previousStreamHash);
    if (h !== undefined) item.previousStreamHash = h;
  }
  const sig = a.signed ? checkSignature(a, textOf(), opts, opts.keys) : undefined;
  if (sig !== undefined) item.signature = sig;
  if (a.unhashed !== undefined) item.unhashed = a.unhashed;
  // A claim the keys given cannot check is taken for a checkpoint only in the producer's exact shape (§5.2).
  if (claim && (opts.checkCheckpoints || !opts.checkSignatures || isProducerCheckpointShape(a, textOf(), streamId, seq, previousHash))) {
    item.checkpoint = checkCheckpoint(a, streamId, seq, previousHash, sig, opts);
  }
  return item;
}

/**
 * JSON.parse's error without the input it quotes (V8: `Unexpected token 'T', "ThisIsMyVe"... is not valid JSON`, and
 * past the line's start `Unexpected token 'S', ..."x":SECRETVALU"... is not valid JSON`):
 * the line may be a key file given as an input, and its first characters are then the key's (found in review).
 */
const jsonErrorText = (e: unknown): string => clip(errorText(e).replace(/, (?:\.\.\.)?".*"(?:\.\.\.)? is not valid JSON$/s, ', not valid JSON'));

/** The items of one line, handed to `emit` in line order. */
function lineItems(file: string, text: string, line: number, terminated: boolean, opts: ResolvedOptions, emit: (item: ReadItem) => void): void {
  if (text.trim() === '') return; // blank lines carry nothing; writers may leave one at the end
  // A checkpoint source: only lines that can hold a checkpoint claim matter.
  if (opts.checkpointsOnly && !text.includes('audit.checkpoint')) return;
  const fast = FAST_OUT;
  fast.length = 0;
  if (opts.fastPath && fastParseLine(text, fast)) {
    for (let i = 0; i < fast.length; i++) {
      const r = fast[i]!;
      const where = (): string => `resourceLogs[${r.rl}].scopeLogs[${r.sl}].logRecords[${r.lr}]`;
      const item = buildItem(file, line, r.attrs, r.eventName, () => r.canonical ?? textNotKept(), where, opts, r.hash);
      if (item !== undefined) emit(item);
    }
    fast.length = 0;
    return;
  }
  // JSON.parse of millions of nested brackets builds millions of arrays (a 16 MB line took a 1 GiB heap down):
  // no OTLP request comes near this depth, so the line is a finding before it is parsed.
  if (nestedDeeperThan(text, MAX_NESTING)) {
    emit({ kind: 'malformed', file, line, message: `nested deeper than ${MAX_NESTING} levels: not parsed` });
    return;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    emit(
      terminated
        ? { kind: 'malformed', file, line, message: `not JSON: ${jsonErrorText(e)}` }
        : { kind: 'torn', file, line, message: `last line is incomplete (no newline, not JSON): ${jsonErrorText(e)}` },
    );
    return;
  }
  // JSON.parse kept the last of any repeated member name: the line means two things, so it proves nothing.
  const names = memberNames(text);
  const dup = names.duplicate;
  if (dup !== undefined) {
    emit({ kind: 'malformed', file, line, message: `duplicate JSON member name ${clip(JSON.stringify(dup))} in one object (a parser keeps only one of them)` });
    return;
  }
  const escaped = names.escaped;
  if (escaped !== undefined) {
    emit({ kind: 'malformed', file, line, message: `JSON member name ${clip(JSON.stringify(escaped))} is written with an escape (no OTLP writer does that, and JSON.parse on Node 24/26 can misread such a name)` });
    return;
  }
  const proto = names.protoName;
  if (proto !== undefined) {
    emit({ kind: 'malformed', file, line, message: `${protoNameMessage(proto)} (a reader that takes both spellings, as the OTel Collector does, keeps the last: it would read this line otherwise than it hashes)` });
    return;
  }
  const parsed = recordsOf(doc);
  if ('error' in parsed) {
    emit({ kind: 'malformed', file, line, message: parsed.error });
    return;
  }
  for (const { record, where } of parsed.records) {
    const item = buildItem(file, line, attrsOfRecord(record), record.eventName, () => canonicalFromOtlp(record, where), () => where, opts);
    if (item !== undefined) emit(item);
  }
}

const FAST_OUT: FastRecord[] = [];

/** The fast path keeps the text of every record a check reads (FastRecord.canonical): reaching this is a bug. */
function textNotKept(): never {
  throw new Error('internal error: canonical text of a record not kept by the fast path');
}

/**
 * Far deeper than any OTLP request canonical form v1 takes (values nest at most 128 levels, docs/canonical-form.md):
 * below it, JSON.parse and the canonical form's own limit name the problem precisely; above it, the parse itself
 * is what must not run (millions of levels).
 */
const MAX_NESTING = 100_000;

/** Do arrays and objects nest deeper than `limit` in this JSON text? Brackets inside strings do not count. */
function nestedDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/** A message quoting input stays one short line, whatever the input. */
const clip = (text: string): string => (text.length <= 200 ? text : `${text.slice(0, 200)}…`);

/**
 * The items of one line given as bytes (without its '\n'; undefined for a line longer than MAX_LINE_BYTES,
 * see safe-read.ts `splitLines`), handed to `emit` in line order. Never throws.
 */
export function lineItemsOfBytes(
  file: string,
  bytes: Uint8Array | undefined,
  line: number,
  terminated: boolean,
  opts: ResolvedOptions,
  emit: (item: ReadItem) => void,
): void {
  if (bytes === undefined) {
    emit({ kind: 'malformed', file, line, message: `line is longer than ${MAX_LINE_BYTES} bytes (MAX_LINE_BYTES), not read` });
    return;
  }
  let end = bytes.length;
  if (terminated && end > 0 && bytes[end - 1] === CR) end--; // CRLF files
  let text: string;
  try {
    const b = bytes.subarray(0, end);
    // An ASCII line (most are) is valid UTF-8 and the same text read as Latin-1, which decodes a 1.5 MB line of
    // 1024 records ~2.5× faster. Otherwise ignoreBOM:false drops a leading BOM (editors add one to the first
    // line); it is not record content.
    text = isAscii(b) ? Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1') : utf8.decode(b);
  } catch {
    emit({ kind: terminated ? 'malformed' : 'torn', file, line, message: 'line is not valid UTF-8' });
    return;
  }
  try {
    lineItems(file, text, line, terminated, opts, emit);
  } catch (e) {
    // Whatever a line holds (absurd nesting, say) is a finding about that line, never a crash of verify.
    emit({ kind: 'malformed', file, line, message: `cannot read: ${clip(errorText(e))}` });
  }
}
