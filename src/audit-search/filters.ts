/**
 * The search filters, all ANDed. A record attribute compares by its scalar text (audit-record.ts
 * `scalarText`), exactly; an absent attribute matches no filter on it.
 */
import { attributeValue, scalarText, type AuditRecord } from './audit-record.js';

export const OUTCOMES = ['success', 'failure', 'unknown'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export interface SearchFilter {
  /** `audit.actor.id` equals. */
  actor?: string;
  /** `audit.action` equals. */
  action?: string;
  /** eventName equals, or starts with it followed by '.' (`user` matches `user.login`, not `username`). */
  event?: string;
  /** `audit.target.id` equals. */
  target?: string;
  outcome?: Outcome;
  /** The stream id, or a prefix of it of at least STREAM_PREFIX_MIN characters (the table's short form). */
  stream?: string;
  /** Record time (ns since the epoch) at or after / at or before; a record without a time matches neither. */
  since?: bigint;
  until?: bigint;
  /** Each: the record attribute `key` (else the resource attribute `key`) has the scalar text `value`. */
  where: ReadonlyArray<{ key: string; value: string }>;
}

/** The table shows 8 characters of a stream id: as many are enough to name it. */
export const STREAM_PREFIX_MIN = 8;

export function streamMatches(wanted: string, streamId: string): boolean {
  return streamId === wanted || (wanted.length >= STREAM_PREFIX_MIN && streamId.startsWith(wanted));
}

export function eventMatches(prefix: string, eventName: string): boolean {
  return eventName === prefix || eventName.startsWith(`${prefix}.`);
}

/** The scalar text of `key` on the record, or when the record has no such attribute, on its resource. */
export function whereValue(r: AuditRecord, key: string): string | undefined {
  const own = attributeValue(r.record.attributes, key);
  return scalarText(own ?? attributeValue(r.resource?.attributes, key));
}

/**
 * The `--where` keys `r` matches on its resource (the record has no such attribute of its own): the resource is
 * not hashed, so what these matched is no evidence; undefined when none.
 */
export function resourceMatches(f: SearchFilter, r: AuditRecord): string[] | undefined {
  const keys = f.where.filter((w) => attributeValue(r.record.attributes, w.key) === undefined).map((w) => w.key);
  return keys.length === 0 ? undefined : keys;
}

export function matchesFilter(f: SearchFilter, r: AuditRecord): boolean {
  if (f.stream !== undefined && !streamMatches(f.stream, r.streamId)) return false;
  if (f.actor !== undefined && r.actor !== f.actor) return false;
  if (f.action !== undefined && r.action !== f.action) return false;
  if (f.target !== undefined && r.target !== f.target) return false;
  if (f.outcome !== undefined && r.outcome !== f.outcome) return false;
  if (f.event !== undefined && !eventMatches(f.event, r.eventName)) return false;
  if (f.since !== undefined && (r.timeUnixNano === undefined || r.timeUnixNano < f.since)) return false;
  if (f.until !== undefined && (r.timeUnixNano === undefined || r.timeUnixNano > f.until)) return false;
  for (const w of f.where) if (whereValue(r, w.key) !== w.value) return false;
  return true;
}
