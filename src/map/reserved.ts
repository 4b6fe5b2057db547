/**
 * Names only the processor writes: the chain (`audit.sequence.*`), per-record MACs and signatures
 * (`audit.integrity.*`), checkpoints (`audit.checkpoint.*`), the validation mark (`audit.validation.error`: a
 * caller's would read as the processor's verdict on the record) and the event names of the records it emits itself
 * (`audit.stream.end`, `audit.checkpoint`, `audit.record.unsealable`). A caller's record that carries one would be
 * read by a verifier or an auditor as if the processor had written it (a forged end marker makes every later record
 * look inserted; a forged unsealable mark reads as a record the processor lost), so onEmit
 * moves the caller's value under `audit.caller.*` (`audit.sequence.end` → `audit.caller.sequence.end`, event
 * `audit.stream.end` → `audit.caller.stream.end`) and marks the record (`audit.validation.error`). Nothing is
 * dropped: the value an auditor may want to see is kept, under a name no verifier trusts. (README.md, "Names the
 * processor owns")
 */
import type { ReadWriteLogRecord } from '@opentelemetry/sdk-logs';
import { ATTR_RECORD_ID, ATTR_SEQ_NUMBER, ATTR_SEQ_STREAM_ID, ATTR_VALIDATION_ERROR, EVENT_CHECKPOINT, EVENT_STREAM_END, EVENT_UNSEALABLE } from '../core/attributes.js';
import { asText, describe } from '../otlp/describe.js';

const RESERVED_PREFIXES = ['audit.sequence.', 'audit.integrity.', 'audit.checkpoint.'] as const;
const RESERVED_EVENT_NAMES: ReadonlySet<string> = new Set([EVENT_STREAM_END, EVENT_CHECKPOINT, EVENT_UNSEALABLE]);
export const isReservedEventName = (name: string): boolean => RESERVED_EVENT_NAMES.has(name);
export const CALLER_PREFIX = 'audit.caller.';

/** `audit.x.y` → `audit.caller.x.y`. */
export const callerName = (name: string): string => CALLER_PREFIX + name.slice('audit.'.length);

/** `audit.s…`, `audit.i…`, `audit.c…`, `audit.v…`: the only names worth the full check (onEmit runs this on every key). */
const RESERVED_SEVENTH = new Set([0x73, 0x69, 0x63, 0x76]);

/** The reserved names another processor puts on the live record (chain/live-stamps.ts). */
const LIVE_STAMPS: ReadonlySet<string> = new Set([ATTR_SEQ_STREAM_ID, ATTR_SEQ_NUMBER]);

export const isReservedName = (key: string): boolean =>
  RESERVED_SEVENTH.has(key.charCodeAt(6)) && key.startsWith('audit.') && (key === ATTR_VALIDATION_ERROR || RESERVED_PREFIXES.some((p) => key.startsWith(p)));

/**
 * Moves a caller's reserved attributes and event name aside on the live record (onEmit may change it) and
 * returns what to say in the record's validation mark, or undefined (the common case: one pass over the keys,
 * no allocation). Also reports an attributes object whose prototype was replaced, which is what the SDK does
 * with an attribute named `__proto__` (its value cannot be kept as data there; inherited values are never read).
 */
export function disownReservedNames(record: ReadWriteLogRecord, stampedHere?: (attrs: Readonly<Record<string, unknown>>) => boolean): string | undefined {
  const attrs = record.attributes as Record<string, unknown>;
  // The live stamps of another audit processor of this process on the same provider (stream id and sequence
  // number, chain/live-stamps.ts): its own, not the caller's; this processor's stamps replace them when it seals.
  // Asked only when such a name is there, not for every record.
  let other: boolean | undefined;
  let moved: string[] | undefined;
  for (const key in attrs) {
    // for-in also walks inherited keys: only own ones are the record's.
    if (key.charCodeAt(0) !== 0x61 /* a */ || !isReservedName(key) || !Object.hasOwn(attrs, key)) continue;
    if (LIVE_STAMPS.has(key) && (other ??= stampedHere?.(attrs) === true)) continue;
    (moved ??= []).push(key);
  }
  let problems: string[] | undefined;
  if (moved !== undefined) {
    for (const key of moved) {
      const value = attrs[key];
      delete attrs[key];
      if (Object.isExtensible(attrs)) attrs[callerName(key)] = value;
      else record.setAttribute(callerName(key), value as never);
    }
    (problems ??= []).push(`attribute(s) ${moved.join(', ')} are written only by the processor; the caller's values are kept as ${moved.map(callerName).join(', ')}`);
  }
  // A record id that is not a non-empty string is replaced by one the processor makes (chain/live-stamps.ts):
  // the caller's value, an idempotency key it may be looking for, is kept aside like a reserved name's.
  const id = attrs[ATTR_RECORD_ID];
  if (id !== undefined && (typeof id !== 'string' || id === '') && Object.hasOwn(attrs, ATTR_RECORD_ID)) {
    delete attrs[ATTR_RECORD_ID];
    const kept = callerName(ATTR_RECORD_ID);
    if (Object.isExtensible(attrs)) attrs[kept] = id;
    else record.setAttribute(kept, id as never);
    (problems ??= []).push(`${ATTR_RECORD_ID} must be a non-empty string; the caller's value is kept as ${kept} and the record has a generated one`);
  }
  let eventName: unknown = record.eventName;
  if (eventName !== undefined && typeof eventName !== 'string') {
    // The SDK passes a non-string through; it is written as its text (`['audit.checkpoint']` as "audit.checkpoint"),
    // so that text is what must not be a reserved name. Converted here, once: a toString read again could differ.
    const text = asText(eventName);
    (problems ??= []).push(`eventName: ${typeof eventName} written as the string ${describe(text)}`);
    record.eventName = eventName = text;
  }
  if (typeof eventName === 'string' && RESERVED_EVENT_NAMES.has(eventName)) {
    record.eventName = callerName(eventName);
    (problems ??= []).push(`event name ${eventName} is written only by the processor; sent as ${callerName(eventName)}`);
  }
  const proto: unknown = Object.getPrototypeOf(attrs);
  if (proto !== Object.prototype && proto !== null) {
    (problems ??= []).push('an attribute named __proto__ replaced the prototype of the attributes object in the SDK; its value is not kept and inherited values are ignored');
  }
  return problems?.join('; ');
}
