/**
 * Validation of audit records that arrive through the plain OTel Logs API (not the typed API).
 * ARCHITECTURE.md §8: such a record is never thrown back at the emitter — it is delivered, marked with
 * `audit.validation.error`, and counted.
 */
import { z } from 'zod';
import { ACTOR_TYPES, BLANK_CODES, isControlCode, OUTCOMES, text } from './schema.js';
import * as A from '../core/attributes.js';

/**
 * The attributes the typed API maps its fields to, with the same rules as those fields (schema.ts): a raw
 * record carrying `audit.actor.id` = "alice\nFAKE …" is marked, as the typed event would have been refused.
 */
const RawAuditAttributesSchema = z.looseObject({
  [A.ATTR_ACTOR_ID]: text(256),
  [A.ATTR_ACTOR_TYPE]: z.enum(ACTOR_TYPES),
  [A.ATTR_ACTION]: text(128),
  [A.ATTR_OUTCOME]: z.enum(OUTCOMES),
  [A.ATTR_RECORD_ID]: text(128).optional(),
  [A.ATTR_TARGET_ID]: text(1024).optional(),
  [A.ATTR_TARGET_TYPE]: text(128).optional(),
  [A.ATTR_TARGET_NAME]: text(1024).optional(),
  [A.ATTR_SOURCE_ID]: text(255).optional(),
  [A.ATTR_REASON]: text(4096, false).optional(),
});

const ACTOR_TYPE_SET: ReadonlySet<unknown> = new Set(ACTOR_TYPES);
const OUTCOME_SET: ReadonlySet<unknown> = new Set(OUTCOMES);
/**
 * What text(max, noControl) accepts, checked without zod in one pass over the characters (onEmit runs this on
 * every raw record: measured, a regex plus isWellFormed() per value cost several times the whole check).
 */
function isText(v: unknown, max: number, noControl: boolean): boolean {
  if (typeof v !== 'string') return false;
  const n = v.length;
  if (n === 0 || n > max) return false;
  // Printable ASCII other than the space, the usual identifier, is valid text at once.
  let i = 0;
  while (i < n) {
    const c = v.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) break;
    i++;
  }
  if (i === n) return true;
  // noControl: some character that is not blank (schema.ts BLANK_CODES); one printable one was seen when i > 0.
  let visible = !noControl || i > 0;
  for (; i < n; i++) {
    const c = v.charCodeAt(i);
    if (!visible && !BLANK_CODES.has(c)) visible = true;
    if (c < 0x20 || (c >= 0x7f && isControlCode(c))) {
      if (noControl) return false;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      // A lone surrogate: a low one, or a high one not followed by a low one.
      if (c >= 0xdc00) return false;
      const d = i + 1 < n ? v.charCodeAt(i + 1) : 0;
      if (d < 0xdc00 || d > 0xdfff) return false;
      i++;
    }
  }
  return visible;
}
const plain = (v: unknown, max: number): boolean => isText(v, max, true);
/** Absent, or what text(max, noControl) accepts. */
const optional = (v: unknown, max: number, noControl = true): boolean => v === undefined || isText(v, max, noControl);
/**
 * `v`, read as `o['name']`, if it is the object's own: an inherited value (a replaced prototype) is not the
 * record's. The callers read by literal names, which V8 compiles as named loads: with computed keys (`o[KEY]`)
 * the ten reads took ~230 ns a record, with literals ~100 (measured).
 */
const own = (o: Readonly<Record<string, unknown>>, key: string, v: unknown): unknown => (v === undefined || Object.hasOwn(o, key) ? v : undefined);

/** Returns undefined when valid, else one line naming each problem. */
/** `attributes`: the SDK record's own (typed `unknown` values on the 3.x line, so checked, not assumed). */
export function validateRawAttributes(attributes: Readonly<Record<string, unknown>>): string | undefined {
  // Hot path: the plain checks the schema makes; zod runs only to word the problems of an invalid record.
  // Own properties only: an inherited value (a replaced prototype) is not the record's.
  // The `satisfies` clauses tie each literal to its constant.
  const a = attributes;
  if (
    plain(own(a, A.ATTR_ACTOR_ID, a['audit.actor.id' satisfies typeof A.ATTR_ACTOR_ID]), 256) &&
    ACTOR_TYPE_SET.has(own(a, A.ATTR_ACTOR_TYPE, a['audit.actor.type' satisfies typeof A.ATTR_ACTOR_TYPE])) &&
    plain(own(a, A.ATTR_ACTION, a['audit.action' satisfies typeof A.ATTR_ACTION]), 128) &&
    OUTCOME_SET.has(own(a, A.ATTR_OUTCOME, a['audit.outcome' satisfies typeof A.ATTR_OUTCOME])) &&
    optional(own(a, A.ATTR_RECORD_ID, a['audit.record.id' satisfies typeof A.ATTR_RECORD_ID]), 128) &&
    optional(own(a, A.ATTR_TARGET_ID, a['audit.target.id' satisfies typeof A.ATTR_TARGET_ID]), 1024) &&
    optional(own(a, A.ATTR_TARGET_TYPE, a['audit.target.type' satisfies typeof A.ATTR_TARGET_TYPE]), 128) &&
    optional(own(a, A.ATTR_TARGET_NAME, a['audit.target.name' satisfies typeof A.ATTR_TARGET_NAME]), 1024) &&
    optional(own(a, A.ATTR_SOURCE_ID, a['audit.source.id' satisfies typeof A.ATTR_SOURCE_ID]), 255) &&
    optional(own(a, A.ATTR_REASON, a['audit.reason' satisfies typeof A.ATTR_REASON]), 4096, false)
  ) {
    return undefined;
  }
  const r = RawAuditAttributesSchema.safeParse(Object.assign(Object.create(null) as object, attributes));
  if (r.success) return undefined;
  return r.error.issues.map((i) => `${i.path.map(String).join('.')}: ${i.message}`).join('; ');
}
