/**
 * Streaming reader for OTLP/JSON lines (the local journal and the Collector's file exporter output): yields
 * one small item per audit record, per non-audit record and per bad line, never the parsed request itself, so
 * memory stays bounded by the longest line whatever the file size.
 *
 * Bad content never throws: a final line without '\n' that does not parse is `torn` (a crash mid-write), any
 * other unparsable line, one that is not a logs request, one longer than MAX_LINE_BYTES (safe-read.ts) or one
 * that repeats a JSON member name in an object is `malformed`. Only I/O errors (missing file, permissions, not
 * a regular file) reject the iteration.
 *
 * Speed: lines are split and handled synchronously per 1 MiB chunk; each line first goes through the fast
 * path (fast-otlp.ts: canonical form straight from the text), and only what it declines through JSON.parse and
 * canonicalFromOtlp, which stay the reference for every error.
 *
 * Integrity attributes are read here, while the canonical text is at hand: each record's MAC/signature and each
 * checkpoint claim is checked at once (docs/integrity.md §7.1), and only the outcome is kept.
 */
import { canonicalFromOtlp } from '../chain/canonical.js';
import { hashCanonical } from '../chain/hash.js';
import {
  ATTR_CHECKPOINT_HEAD_HASH,
  ATTR_CHECKPOINT_INTERVAL,
  ATTR_CHECKPOINT_SEQUENCE,
  ATTR_CHECKPOINT_STREAM_ID,
  CHECKPOINT_PREFIX,
  EVENT_CHECKPOINT,
} from '../integrity/checkpoint.js';
import type { VerifyingKey } from '../integrity/keys.js';
import { ATTR_INTEGRITY_KEY_ID, INTEGRITY_SIGNER_PRODUCER, verifyRecordSignature } from '../integrity/sign.js';
import {
  ATTR_SEQ_PREVIOUS_STREAM_HASH,
  ATTR_SEQ_PREVIOUS_STREAM_ID,
  ATTR_SEQ_PREVIOUS_STREAM_LAST,
} from '../integrity/stream-link.js';
import {
  ATTR_INTEGRITY_ALGORITHM,
  ATTR_INTEGRITY_CANONICALIZATION,
  ATTR_INTEGRITY_SIGNER,
  ATTR_INTEGRITY_VALUE,
  ATTR_RECORD_ID,
  ATTR_SEQ_END,
  ATTR_SEQ_NUMBER,
  ATTR_SEQ_PREVIOUS_HASH,
  ATTR_SEQ_PREVIOUS_RECORD_ID,
  ATTR_SEQ_STREAM_ID,
  INTEGRITY_PREFIX,
} from '../core/attributes.js';
import type { OtlpAnyValue, OtlpLogRecord } from '../otlp/types.js';
import { fastParseLine, interestingKey, type FastRecord } from './fast-otlp.js';
import { duplicateMemberName } from './json-members.js';
import { MAX_LINE_BYTES, openRegularFile, splitLines } from './safe-read.js';

/**
 * Outcome of a record's `audit.integrity.*` attributes (docs/integrity.md §4.3):
 * `ok` verifies under a trusted key; `bad` is malformed or does not verify; `unknown_key` names no trusted key;
 * `unchecked` when the verifier runs without keys.
 */
export interface SignatureCheck {
  status: 'ok' | 'bad' | 'unknown_key' | 'unchecked';
  /** `audit.integrity.algorithm` / `.key_id` as written ('' when missing or not a string). */
  algorithm: string;
  keyId: string;
  /** Why it is bad; '' otherwise. */
  detail: string;
}

/**
 * A record that claims to be a checkpoint (event name `audit.checkpoint` or any `audit.checkpoint.*`
 * attribute), checked on its own (docs/integrity.md §5.2): `valid` — well-formed and signed with EdDSA by a
 * trusted key; `invalid` — malformed, unsigned, not EdDSA, or a signature that does not verify;
 * `unknown_key` — signed by a key not given; `unchecked` — no public key given.
 */
export interface CheckpointClaim {
  status: 'valid' | 'invalid' | 'unknown_key' | 'unchecked';
  /** audit.checkpoint.sequence and .head_hash when well-formed. */
  coveredSeq?: number;
  headHash?: string;
  /** audit.checkpoint.interval_records when present and well-formed. */
  interval?: number;
  keyId: string;
  detail: string;
}

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
  /** Absent when the record carries no `audit.integrity.*` attribute. */
  signature?: SignatureCheck;
  /** Present when the record claims to be a checkpoint. */
  checkpoint?: CheckpointClaim;
  /** `audit.sequence.previous_stream_id` (docs/integrity.md §6), with the optional last seq and hash. */
  previousStreamId?: string;
  previousStreamLast?: number;
  previousStreamHash?: string;
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

/** What the reader checks besides the chain. */
export interface ReadOptions {
  /** Trusted keys: Ed25519 public keys and HMAC secrets. */
  keys?: readonly VerifyingKey[];
  /** Check record MACs/signatures (otherwise their status is `unchecked`). Default: when `keys` is non-empty. */
  checkSignatures?: boolean;
  /** Only checkpoint claims are wanted (a `--checkpoints` source): other records are skipped unparsed. */
  checkpointsOnly?: boolean;
  /** Use the fast path (default true); false reads every line through JSON.parse (tests compare the two). */
  fastPath?: boolean;
  /**
   * Follow `file` if it is a symbolic link (default true: a file named by the caller). The verifier passes
   * false for files it found inside an input directory, where links are never followed.
   */
  followSymlinks?: boolean;
}

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

const HEX64 = /^[0-9a-f]{64}$/;

/** The attributes the verifier reads, from either path. Last one wins, like the chain attributes always did. */
class Attrs {
  // Every field initialized, in one order: one hidden class for all instances.
  streamId: OtlpAnyValue | undefined = undefined;
  seq: OtlpAnyValue | undefined = undefined;
  previousHash: OtlpAnyValue | undefined = undefined;
  previousRecordId: OtlpAnyValue | undefined = undefined;
  recordId: OtlpAnyValue | undefined = undefined;
  end: OtlpAnyValue | undefined = undefined;
  previousStreamId: OtlpAnyValue | undefined = undefined;
  previousStreamLast: OtlpAnyValue | undefined = undefined;
  previousStreamHash: OtlpAnyValue | undefined = undefined;
  /** Some audit.integrity.* attribute is present. */
  signed = false;
  integrityValue: OtlpAnyValue | undefined = undefined;
  integritySigner: OtlpAnyValue | undefined = undefined;
  integrityCanonicalization: OtlpAnyValue | undefined = undefined;
  integrityAlgorithm: OtlpAnyValue | undefined = undefined;
  integrityKeyId: OtlpAnyValue | undefined = undefined;
  /** audit.checkpoint.* members; undefined when none. */
  checkpoint: Map<string, OtlpAnyValue> | undefined = undefined;
  /** A key of the audit.integrity or audit.checkpoint family given twice: ambiguous, so never valid. */
  duplicate: string | undefined = undefined;

  note(key: string, v: OtlpAnyValue): void {
    switch (key) {
      case ATTR_SEQ_STREAM_ID: this.streamId = v; return;
      case ATTR_SEQ_NUMBER: this.seq = v; return;
      case ATTR_SEQ_PREVIOUS_HASH: this.previousHash = v; return;
      case ATTR_SEQ_PREVIOUS_RECORD_ID: this.previousRecordId = v; return;
      case ATTR_RECORD_ID: this.recordId = v; return;
      case ATTR_SEQ_END: this.end = v; return;
      case ATTR_SEQ_PREVIOUS_STREAM_ID: this.previousStreamId = v; return;
      case ATTR_SEQ_PREVIOUS_STREAM_LAST: this.previousStreamLast = v; return;
      case ATTR_SEQ_PREVIOUS_STREAM_HASH: this.previousStreamHash = v; return;
      case ATTR_INTEGRITY_VALUE: this.signed = true; if (this.integrityValue !== undefined) this.duplicate ??= key; this.integrityValue = v; return;
      case ATTR_INTEGRITY_SIGNER: this.signed = true; if (this.integritySigner !== undefined) this.duplicate ??= key; this.integritySigner = v; return;
      case ATTR_INTEGRITY_CANONICALIZATION: this.signed = true; if (this.integrityCanonicalization !== undefined) this.duplicate ??= key; this.integrityCanonicalization = v; return;
      case ATTR_INTEGRITY_ALGORITHM: this.signed = true; if (this.integrityAlgorithm !== undefined) this.duplicate ??= key; this.integrityAlgorithm = v; return;
      case ATTR_INTEGRITY_KEY_ID: this.signed = true; if (this.integrityKeyId !== undefined) this.duplicate ??= key; this.integrityKeyId = v; return;
    }
    if (key.startsWith(INTEGRITY_PREFIX)) {
      this.signed = true; // an audit.integrity.* attribute this version does not define: signed, and ignored
      return;
    }
    if (!key.startsWith(CHECKPOINT_PREFIX)) return;
    const family = (this.checkpoint ??= new Map());
    if (family.has(key)) this.duplicate ??= key;
    family.set(key, v);
  }
}

function attrsOfRecord(r: OtlpLogRecord): Attrs {
  const a = new Attrs();
  for (const kv of r.attributes ?? []) if (interestingKey(kv.key)) a.note(kv.key, kv.value ?? {});
  return a;
}

function attrsOfFast(list: ReadonlyArray<[string, OtlpAnyValue]>): Attrs {
  const a = new Attrs();
  for (const [k, v] of list) a.note(k, v);
  return a;
}

/** docs/integrity.md §4.3. `undefined`: the record carries no audit.integrity.* attribute (unsigned). */
function checkSignature(a: Attrs, canonical: string, opts: ResolvedOptions, keys: readonly VerifyingKey[]): SignatureCheck | undefined {
  if (!a.signed) return undefined;
  const algorithm = stringOf(a.integrityAlgorithm) ?? '';
  const keyId = stringOf(a.integrityKeyId) ?? '';
  // Without keys nothing is judged: the record is only known to be signed.
  if (!opts.checkSignatures) return { status: 'unchecked', algorithm, keyId, detail: '' };
  const bad = (detail: string): SignatureCheck => ({ status: 'bad', algorithm, keyId, detail });
  if (a.duplicate !== undefined && a.duplicate.startsWith(INTEGRITY_PREFIX)) return bad(`${a.duplicate} appears twice`);
  const required: Array<[string, OtlpAnyValue | undefined]> = [
    [ATTR_INTEGRITY_VALUE, a.integrityValue],
    [ATTR_INTEGRITY_SIGNER, a.integritySigner],
    [ATTR_INTEGRITY_CANONICALIZATION, a.integrityCanonicalization],
    [ATTR_INTEGRITY_ALGORITHM, a.integrityAlgorithm],
    [ATTR_INTEGRITY_KEY_ID, a.integrityKeyId],
  ];
  for (const [k, v] of required) {
    if (v === undefined) return bad(`${k} is missing`);
    if (stringOf(v) === undefined) return bad(`${k} is not a string`);
  }
  const signer = stringOf(a.integritySigner)!;
  if (signer !== INTEGRITY_SIGNER_PRODUCER) return bad(`${ATTR_INTEGRITY_SIGNER} is ${JSON.stringify(signer)}, not "producer"`);
  const canon = stringOf(a.integrityCanonicalization)!;
  if (canon !== 'jcs') return bad(`${ATTR_INTEGRITY_CANONICALIZATION} is ${JSON.stringify(canon)}, not "jcs"`);
  if (algorithm !== 'HMAC-SHA256' && algorithm !== 'EdDSA') return bad(`unknown algorithm ${JSON.stringify(algorithm)}`);
  const r = verifyRecordSignature(canonical, { value: stringOf(a.integrityValue)!, algorithm, keyId }, keys);
  if (r === 'ok') return { status: 'ok', algorithm, keyId, detail: '' };
  if (r === 'unknown_key') return { status: 'unknown_key', algorithm, keyId, detail: '' };
  return bad(`the ${algorithm === 'EdDSA' ? 'Ed25519 signature' : 'HMAC-SHA256 MAC'} does not verify under key ${JSON.stringify(keyId)}`);
}

/** Is this record a checkpoint claim (docs/integrity.md §5.1)? */
const isCheckpointClaim = (a: Attrs, eventName: unknown): boolean => a.checkpoint !== undefined || eventName === EVENT_CHECKPOINT;

/** docs/integrity.md §5.2: a checkpoint claim checked on its own. */
function checkCheckpoint(
  a: Attrs,
  streamId: string,
  seq: number,
  previousHash: string | undefined,
  sig: SignatureCheck | undefined,
  opts: ResolvedOptions,
): CheckpointClaim {
  const m = a.checkpoint ?? new Map<string, OtlpAnyValue>();
  const keyId = sig?.keyId ?? '';
  // Without an Ed25519 key a checkpoint proves nothing, and nothing about it is judged.
  if (!opts.checkCheckpoints) return { status: 'unchecked', keyId, detail: '' };
  const invalid = (detail: string): CheckpointClaim => ({ status: 'invalid', keyId, detail });
  if (a.duplicate !== undefined && a.duplicate.startsWith(CHECKPOINT_PREFIX)) return invalid(`${a.duplicate} appears twice`);
  const cpStream = stringOf(m.get(ATTR_CHECKPOINT_STREAM_ID));
  if (cpStream === undefined) return invalid(`${ATTR_CHECKPOINT_STREAM_ID} is missing or not a string`);
  if (cpStream !== streamId) return invalid(`${ATTR_CHECKPOINT_STREAM_ID} ${JSON.stringify(cpStream)} is not the record's own stream`);
  const coveredSeq = seqOf(m.get(ATTR_CHECKPOINT_SEQUENCE));
  if (coveredSeq === undefined) return invalid(`${ATTR_CHECKPOINT_SEQUENCE} is missing or not a positive integer`);
  if (coveredSeq !== seq - 1) return invalid(`${ATTR_CHECKPOINT_SEQUENCE} is ${coveredSeq}, not the checkpoint's own seq − 1 (${seq - 1})`);
  const headHash = stringOf(m.get(ATTR_CHECKPOINT_HEAD_HASH));
  if (headHash === undefined || !HEX64.test(headHash)) return invalid(`${ATTR_CHECKPOINT_HEAD_HASH} is missing or not 64 lowercase hex digits`);
  if (headHash !== previousHash) return invalid(`${ATTR_CHECKPOINT_HEAD_HASH} differs from the checkpoint's own ${ATTR_SEQ_PREVIOUS_HASH}`);
  let interval: number | undefined;
  const iv = m.get(ATTR_CHECKPOINT_INTERVAL);
  if (iv !== undefined) {
    interval = seqOf(iv);
    if (interval === undefined) return invalid(`${ATTR_CHECKPOINT_INTERVAL} is not a positive integer`);
  }
  const claim = (status: CheckpointClaim['status'], detail: string): CheckpointClaim => {
    const c: CheckpointClaim = { status, coveredSeq, headHash: headHash, keyId, detail };
    if (interval !== undefined) c.interval = interval;
    return c;
  };
  if (sig === undefined) return claim('invalid', 'the checkpoint carries no signature');
  if (sig.algorithm !== 'EdDSA' && sig.status !== 'bad') return claim('invalid', `the checkpoint is signed with ${sig.algorithm}, not EdDSA (Ed25519)`);
  if (sig.status === 'ok') return claim('valid', '');
  if (sig.status === 'unknown_key') return claim('unknown_key', `signed by key ${JSON.stringify(keyId)}, which is not among the trusted public keys`);
  return claim('invalid', sig.detail || 'the signature was not checked');
}

interface ResolvedOptions {
  keys: readonly VerifyingKey[];
  checkSignatures: boolean;
  /** Ed25519 keys were given: checkpoint claims are checked. */
  checkCheckpoints: boolean;
  checkpointsOnly: boolean;
  fastPath: boolean;
  followSymlinks: boolean;
}

function resolve(o: ReadOptions): ResolvedOptions {
  const keys = o.keys ?? [];
  return {
    keys,
    checkSignatures: o.checkSignatures ?? keys.length > 0,
    checkCheckpoints: keys.some((k) => k.algorithm === 'EdDSA'),
    checkpointsOnly: o.checkpointsOnly === true,
    fastPath: o.fastPath !== false,
    followSymlinks: o.followSymlinks !== false,
  };
}

/**
 * The item for one record. `canonical` is a thunk so that non-audit records are never canonicalized (the
 * reference path would otherwise call a non-audit record with a lone surrogate malformed).
 */
function buildItem(
  file: string,
  line: number,
  a: Attrs,
  eventName: unknown,
  canonical: () => string,
  where: () => string,
  opts: ResolvedOptions,
): ReadItem | undefined {
  // Non-audit records are not ours to judge, whatever their values.
  if (a.streamId === undefined) return { kind: 'nonAudit', file, line };
  const claim = isCheckpointClaim(a, eventName);
  if (opts.checkpointsOnly && !claim) return undefined;
  let text: string;
  let hash: string;
  try {
    // Before reading the chain attributes: duplicate keys (a second stream_id, say) make it malformed here.
    text = canonical();
    hash = hashCanonical(text);
  } catch (e) {
    return { kind: 'malformed', file, line, message: `cannot canonicalize: ${clip(errorText(e))}` };
  }
  const streamId = stringOf(a.streamId);
  if (streamId === undefined || streamId === '') {
    return { kind: 'malformed', file, line, message: `${where()}: ${ATTR_SEQ_STREAM_ID} is not a non-empty string` };
  }
  const seq = seqOf(a.seq);
  if (seq === undefined) {
    return { kind: 'malformed', file, line, message: `${where()}: ${ATTR_SEQ_NUMBER} is not a positive integer (stream ${clip(streamId)})` };
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
  if (a.previousStreamId !== undefined) {
    item.previousStreamId = linkValueOf(a.previousStreamId)!;
    const last = seqOf(a.previousStreamLast);
    if (last !== undefined) item.previousStreamLast = last;
    const h = stringOf(a.previousStreamHash);
    if (h !== undefined) item.previousStreamHash = h;
  }
  const sig = checkSignature(a, text, opts, opts.keys);
  if (sig !== undefined) item.signature = sig;
  if (claim) item.checkpoint = checkCheckpoint(a, streamId, seq, previousHash, sig, opts);
  return item;
}

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
      const item = buildItem(file, line, attrsOfFast(r.attrs), r.eventName, () => r.canonical, where, opts);
      if (item !== undefined) emit(item);
    }
    fast.length = 0;
    return;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    emit(
      terminated
        ? { kind: 'malformed', file, line, message: `not JSON: ${clip(errorText(e))}` }
        : { kind: 'torn', file, line, message: `last line is incomplete (no newline, not JSON): ${clip(errorText(e))}` },
    );
    return;
  }
  // JSON.parse kept the last of any repeated member name: the line means two things, so it proves nothing.
  const dup = duplicateMemberName(text);
  if (dup !== undefined) {
    emit({ kind: 'malformed', file, line, message: `duplicate JSON member name ${clip(JSON.stringify(dup))} in one object (a parser keeps only one of them)` });
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

/** A message quoting input stays one short line, whatever the input. */
const clip = (text: string): string => (text.length <= 200 ? text : `${text.slice(0, 200)}…`);

/** Items of `file`, one array per chunk read, in file order. */
async function* itemChunks(file: string, options: ReadOptions): AsyncGenerator<ReadItem[]> {
  const opts = resolve(options);
  let items: ReadItem[] = [];
  const emit = (i: ReadItem): void => void items.push(i);
  const onLine = (bytes: Buffer | undefined, line: number, terminated: boolean): void => {
    if (bytes === undefined) {
      emit({ kind: 'malformed', file, line, message: `line is longer than ${MAX_LINE_BYTES} bytes (MAX_LINE_BYTES), not read` });
      return;
    }
    let end = bytes.length;
    if (terminated && end > 0 && bytes[end - 1] === CR) end--; // CRLF files
    let text: string;
    try {
      // ignoreBOM:false drops a leading BOM (editors add one to the first line); it is not record content.
      text = utf8.decode(bytes.subarray(0, end));
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
  };
  const { fh } = await openRegularFile(file, opts.followSymlinks);
  try {
    for await (const _ of splitLines(fh, onLine)) {
      if (items.length === 0) continue;
      yield items;
      items = [];
    }
  } finally {
    await fh.close();
  }
}

/**
 * Calls `onItem` for every item of `file` in file order (line, then position in the line). Rejects only on
 * I/O errors.
 */
export async function scanRecords(file: string, options: ReadOptions, onItem: (item: ReadItem) => void): Promise<void> {
  for await (const items of itemChunks(file, options)) for (const i of items) onItem(i);
}

/** Yields every item of `file` in file order (line, then position in the line). */
export async function* readRecords(file: string, options: ReadOptions = {}): AsyncGenerator<ReadItem> {
  for await (const items of itemChunks(file, options)) yield* items;
}
