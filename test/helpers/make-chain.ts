/**
 * Builds valid audit chains as OTLP/JSON records, hashed with the package's own canonical form, so verifier
 * tests can write real files and then tamper with them.
 */
import { canonicalFromOtlp } from '../../src/chain/canonical.js';
import { hashCanonical } from '../../src/chain/hash.js';
import {
  ATTR_ACTION,
  ATTR_ACTOR_ID,
  ATTR_ACTOR_TYPE,
  ATTR_OUTCOME,
  ATTR_RECORD_ID,
  ATTR_SEQ_END,
  ATTR_SEQ_NUMBER,
  ATTR_SEQ_PREVIOUS_HASH,
  ATTR_SEQ_PREVIOUS_RECORD_ID,
  ATTR_SEQ_STREAM_ID,
} from '../../src/core/attributes.js';
import type { ExportLogsServiceRequest, OtlpAnyValue, OtlpKeyValue, OtlpLogRecord, OtlpResource } from '../../src/otlp/types.js';

export interface ChainOptions {
  streamId?: string;
  /** Mark the last record with `audit.sequence.end`. */
  end?: boolean;
  /** Added to every record (a function gets the sequence number). */
  extraAttrs?: OtlpKeyValue[] | ((seq: number) => OtlpKeyValue[]);
}

let streamCounter = 0;

/** A UUID-shaped id, deterministic per call order so failures are reproducible. */
export function testStreamId(): string {
  streamCounter++;
  return `00000000-0000-4000-8000-${streamCounter.toString(16).padStart(12, '0')}`;
}

export const recordHash = (r: OtlpLogRecord): string => hashCanonical(canonicalFromOtlp(r));

export function getAttr(r: OtlpLogRecord, key: string): OtlpAnyValue | undefined {
  return r.attributes?.find((kv) => kv.key === key)?.value;
}

/** Sets (or adds) an attribute; `undefined` removes it. */
export function setAttr(r: OtlpLogRecord, key: string, value: OtlpAnyValue | undefined): void {
  const attrs = (r.attributes ??= []);
  const i = attrs.findIndex((kv) => kv.key === key);
  if (value === undefined) {
    if (i >= 0) attrs.splice(i, 1);
  } else if (i >= 0) attrs[i] = { key, value };
  else attrs.push({ key, value });
}

export const seqOf = (r: OtlpLogRecord): number => Number(getAttr(r, ATTR_SEQ_NUMBER)?.intValue);
export const recordIdOf = (r: OtlpLogRecord): string => getAttr(r, ATTR_RECORD_ID)?.stringValue ?? '';

/**
 * `n` chained records: seq 1..n, each previous_hash the hash of its predecessor as finally built (every
 * attribute set before hashing).
 */
export function makeChain(n: number, opts: ChainOptions = {}): OtlpLogRecord[] {
  const streamId = opts.streamId ?? testStreamId();
  const out: OtlpLogRecord[] = [];
  let prev: { hash: string; id: string } | undefined;
  const t0 = 1_700_000_000_000_000_000n;
  for (let seq = 1; seq <= n; seq++) {
    const id = `rec-${streamId.slice(-6)}-${seq}`;
    const extra = typeof opts.extraAttrs === 'function' ? opts.extraAttrs(seq) : (opts.extraAttrs ?? []);
    const attributes: OtlpKeyValue[] = [
      { key: ATTR_RECORD_ID, value: { stringValue: id } },
      { key: ATTR_ACTOR_ID, value: { stringValue: `user-${seq % 3}` } },
      { key: ATTR_ACTOR_TYPE, value: { stringValue: 'user' } },
      { key: ATTR_ACTION, value: { stringValue: seq % 2 === 0 ? 'UPDATE' : 'READ' } },
      { key: ATTR_OUTCOME, value: { stringValue: 'success' } },
      { key: ATTR_SEQ_STREAM_ID, value: { stringValue: streamId } },
      { key: ATTR_SEQ_NUMBER, value: { intValue: String(seq) } },
      ...structuredClone(extra),
    ];
    if (prev !== undefined) {
      attributes.push({ key: ATTR_SEQ_PREVIOUS_HASH, value: { stringValue: prev.hash } });
      attributes.push({ key: ATTR_SEQ_PREVIOUS_RECORD_ID, value: { stringValue: prev.id } });
    }
    if (opts.end === true && seq === n) attributes.push({ key: ATTR_SEQ_END, value: { boolValue: true } });
    const t = (t0 + BigInt(seq) * 1_000_000n).toString();
    const record: OtlpLogRecord = {
      timeUnixNano: t,
      observedTimeUnixNano: t,
      severityNumber: 9,
      eventName: 'document.update',
      body: { stringValue: `event ${seq}` },
      attributes,
    };
    out.push(record);
    prev = { hash: recordHash(record), id };
  }
  return out;
}

const DEFAULT_RESOURCE: OtlpResource = { attributes: [{ key: 'service.name', value: { stringValue: 'test-app' } }] };

/** One ExportLogsServiceRequest JSON line per `perLine` records. */
export function toLines(records: readonly OtlpLogRecord[], perLine = 1, resource: OtlpResource = DEFAULT_RESOURCE): string[] {
  const lines: string[] = [];
  for (let i = 0; i < records.length; i += perLine) lines.push(requestLine(records.slice(i, i + perLine), resource));
  return lines;
}

export function requestLine(records: readonly OtlpLogRecord[], resource: OtlpResource = DEFAULT_RESOURCE): string {
  const req: ExportLogsServiceRequest = {
    resourceLogs: [{ resource, scopeLogs: [{ scope: { name: 'audit' }, logRecords: [...records] }] }],
  };
  return JSON.stringify(req);
}

/**
 * A chain of `n` records of one stream in three-record segments, with what retention writes about it: a
 * `state/retention.log` line for the cut through `last` (its segment named by `fileOf`) and a state file line.
 */
export function retentionFixture(n: number, fileOf: (segment: number) => string) {
  const records = makeChain(n);
  const streamId = getAttr(records[0]!, 'audit.sequence.stream_id')!.stringValue!;
  return {
    records,
    streamId,
    lines: toLines(records),
    /** The hash of seq `seq`. */
    h: (seq: number): string => recordHash(records[seq - 1]!),
    cut: (last: number, lastHash: string): string => JSON.stringify({ streamId, file: fileOf(Math.ceil(last / 3)), last, lastHash, deletedAt: new Date().toISOString() }) + '\n',
    state: (acked: number): string => JSON.stringify({ version: 1, streamId, acked, last: n, ended: false }) + '\n',
  };
}
