/**
 * What the typed API hands the processor for the one record it emits (emit → onEmit is synchronous): its receipt,
 * and what it gave the SDK, to find that record in onEmit and to see what the SDK changed on the way.
 *
 * The SDK applies its log record limits (logRecordLimits; OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT,
 * OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT and the count limits) before any processor sees a record: a string cut to a
 * prefix, strings in an array cut alike, attributes past the count dropped. otel-audit seals the record as it
 * receives it (what processors before it did is theirs to decide), but a typed event so changed is marked, and
 * its record id — otel-audit's own, which the receipt names — is the one given.
 */
import * as A from '../core/attributes.js';

/** `R`: the receipt's settler (the delivery stage's, which this stage does not import). */
export interface TypedSlot<R> {
  receipt: R;
  recordId: string;
  eventName: string;
  /** The attributes given to the SDK's emit(). */
  attributes: Readonly<Record<string, unknown>>;
}

/**
 * Is `record` the slot's? By its record id, or — the id cut or dropped by a limit — by its event name with an id
 * that is a prefix of the slot's or none: an audit record emitted from inside emit() (a diag logger routed to the
 * audit logger) carries an id of its own.
 */
export function isSlotRecord(slot: TypedSlot<unknown>, eventName: unknown, attributes: Readonly<Record<string, unknown>>): boolean {
  const id = Object.hasOwn(attributes, A.ATTR_RECORD_ID) ? attributes[A.ATTR_RECORD_ID] : undefined;
  if (id === slot.recordId) return true;
  return eventName === slot.eventName && (id === undefined || (typeof id === 'string' && id !== '' && slot.recordId.startsWith(id)));
}

/** What a log record limit changed of the given attributes, or undefined when nothing was. */
export function limitChanges(given: Readonly<Record<string, unknown>>, live: Readonly<Record<string, unknown>>): string | undefined {
  let changes: string[] | undefined;
  for (const key of Object.keys(given)) {
    const g = given[key];
    const l = Object.hasOwn(live, key) ? live[key] : undefined;
    let what: string | undefined;
    if (l === undefined) what = `${key} dropped`;
    else if (typeof g === 'string' && typeof l === 'string' && l !== g && g.startsWith(l)) what = `${key} cut to ${l.length} of ${g.length} characters`;
    else if (Array.isArray(g) && Array.isArray(l) && l.length === g.length && l.some((v, i) => v !== g[i] && typeof v === 'string' && typeof g[i] === 'string' && (g[i] as string).startsWith(v))) {
      what = `strings of ${key} cut`;
    }
    if (what !== undefined) (changes ??= []).push(what);
  }
  if (changes === undefined) return undefined;
  return `the SDK's log record limits (logRecordLimits, OTEL_LOGRECORD_ATTRIBUTE_* / OTEL_ATTRIBUTE_* variables) changed this typed event before otel-audit received it: ${changes.join(', ')}`;
}
