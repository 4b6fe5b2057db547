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
import { ownRecordId } from '../core/record-id.js';

/** `R`: the receipt's settler (the delivery stage's, which this stage does not import). */
export interface TypedSlot<R> {
  receipt: R;
  recordId: string;
  eventName: string;
  /** The attributes given to the SDK's emit(). */
  attributes: Readonly<Record<string, unknown>>;
}

/** A given value as a limit leaves it: the same, a string cut to a prefix, or an array of such strings. */
function sameOrCut(given: unknown, live: unknown): boolean {
  if (given === live) return true;
  if (typeof given === 'string') return typeof live === 'string' && given.startsWith(live);
  if (!Array.isArray(given) || !Array.isArray(live) || given.length !== live.length) return false;
  return given.every((g, i) => sameOrCut(g, live[i]));
}

/**
 * Is `record` the slot's? By its record id; or — the id cut or dropped by a limit — by being exactly what the
 * limits make of what was given: the same event name, and its attributes the given ones in their order, the
 * trailing ones perhaps dropped (a count limit), each the same or cut (a length limit). An audit record emitted
 * from inside emit() (a processor before this one, a diag logger routed to the audit logger) is not taken for it,
 * even with the same event name: its own attributes differ.
 */
export function isSlotRecord(slot: TypedSlot<unknown>, eventName: unknown, attributes: Readonly<Record<string, unknown>>): boolean {
  if (ownRecordId(attributes) === slot.recordId) return true;
  if (eventName !== slot.eventName) return false;
  const given = Object.keys(slot.attributes);
  const live = Object.keys(attributes);
  if (live.length === 0 || live.length > given.length) return false;
  for (let i = 0; i < live.length; i++) {
    const k = live[i]!;
    if (k !== given[i] || !sameOrCut(slot.attributes[k], attributes[k])) return false;
  }
  return true;
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
