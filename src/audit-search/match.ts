/**
 * A search or tail result: one record (its first copy in reading order) and its chain verdict, in the two
 * output forms — a row of the table and one JSON object per line (`--json`).
 */
import type { ProblemKind, ProblemReason } from '../verify/verifier.js';
import { scalarText, type AuditRecord } from './audit-record.js';
import type { ChainStatus, ChainVerdict, CheckpointStatus } from './chain-status.js';
import { isoOfNanos } from './time.js';

export interface Match {
  record: AuditRecord;
  verdict: ChainVerdict;
  /** `--where` keys matched on the record's resource, which no hash covers (filters.ts resourceMatches). */
  unhashed?: string[];
}

/** The `--json` object, one per line. Optional members are absent, not null, when they do not apply. */
export interface MatchJson {
  recordId: string;
  streamId: string;
  sequence: number;
  /** ISO 8601 UTC with milliseconds; null when the record has no time. */
  time: string | null;
  /** The exact time, nanoseconds since the epoch, as a decimal string; null when none. */
  timeUnixNano: string | null;
  eventName: string;
  /** Scalar text of audit.actor.id, audit.action, audit.target.id, audit.outcome; null when absent. */
  actor: string | null;
  action: string | null;
  target: string | null;
  outcome: string | null;
  /** Where the record was read (its first copy in reading order), 1-based line. */
  file: string;
  line: number;
  /** Whether the stream's chain verifies up to this record (chain-status.ts). */
  chain: ChainStatus;
  /** When `chain` is "broken": the stream's first error problem at or before this record. */
  chainProblem?: { kind: ProblemKind; seq: number; reason?: ProblemReason; recordId?: string; file?: string; line?: number };
  /** With keys: whether a valid checkpoint covers this record. */
  checkpoint?: CheckpointStatus;
  /** With keys: `none_verified` when no record of the stream has a MAC/signature that verifies under them. */
  signatures?: 'none_verified';
  /** Every record attribute: scalar text, or the OTLP/JSON text of an array or key-value list. */
  attributes: Record<string, string>;
  /** The body's scalar text (or OTLP/JSON text); absent without a body. */
  body?: string;
  /**
   * `--where` keys this record matched on its resource attributes, which no hash covers: the chain verdict says
   * nothing of them (anyone can change a resource without breaking a chain).
   */
  unhashedMatch?: string[];
}

const valueText = (v: unknown): string => {
  const s = typeof v === 'object' && v !== null ? scalarText(v) : undefined;
  return s ?? JSON.stringify(v ?? null);
};

export function matchJson(m: Match): MatchJson {
  const r = m.record;
  const entries: Array<[string, string]> = [];
  for (const kv of Array.isArray(r.record.attributes) ? r.record.attributes : []) {
    if (typeof kv === 'object' && kv !== null && typeof kv.key === 'string') entries.push([kv.key, valueText(kv.value)]);
  }
  const out: MatchJson = {
    recordId: r.recordId,
    streamId: r.streamId,
    sequence: r.sequence,
    time: r.timeUnixNano === undefined ? null : (isoOfNanos(r.timeUnixNano) ?? null),
    timeUnixNano: r.timeUnixNano === undefined ? null : r.timeUnixNano.toString(),
    eventName: r.eventName,
    actor: r.actor ?? null,
    action: r.action ?? null,
    target: r.target ?? null,
    outcome: r.outcome ?? null,
    file: r.file,
    line: r.line,
    chain: m.verdict.chain,
    // fromEntries defines own properties: an attribute named "__proto__" is a key like any other.
    attributes: Object.fromEntries(entries),
  };
  if (m.verdict.problem !== undefined) out.chainProblem = { ...m.verdict.problem };
  if (m.verdict.checkpoint !== undefined) out.checkpoint = m.verdict.checkpoint;
  if (m.verdict.signatures !== undefined) out.signatures = m.verdict.signatures;
  if (r.record.body !== undefined) out.body = valueText(r.record.body);
  if (m.unhashed !== undefined) out.unhashedMatch = m.unhashed;
  return out;
}

/** The CHAIN column of the table (table.ts MATCH_COLUMNS). */
export function chainCell(v: ChainVerdict, unhashed?: readonly string[]): string {
  let s: string;
  if (v.chain === 'broken' && v.problem !== undefined) s = `BROKEN: ${v.problem.kind} at seq ${v.problem.seq}`;
  else s = v.chain;
  if (v.signatures === 'none_verified') s += ', NO SIGNATURE VERIFIED';
  if (v.checkpoint === 'covered') s += ', checkpointed';
  else if (v.checkpoint === 'not_covered' && v.chain === 'verified') s += ', not yet checkpointed';
  if (unhashed !== undefined) s += `; matched on the resource, not hashed: ${unhashed.join(', ')}`;
  return s;
}

/** Characters of the stream id the table shows (`--stream` takes them back). */
export const SHORT_STREAM = 8;

export function matchRow(m: Match): string[] {
  const r = m.record;
  return [
    r.timeUnixNano === undefined ? '-' : (isoOfNanos(r.timeUnixNano) ?? '-'),
    r.streamId.slice(0, SHORT_STREAM),
    String(r.sequence),
    r.eventName === '' ? '-' : r.eventName,
    r.actor ?? '-',
    r.action ?? '-',
    r.target ?? '-',
    r.outcome ?? '-',
    chainCell(m.verdict, m.unhashed),
  ];
}
