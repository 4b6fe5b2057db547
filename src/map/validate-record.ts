/**
 * Validation of audit records that arrive through the plain OTel Logs API (not the typed API).
 * ARCHITECTURE.md §8: such a record is never thrown back at the emitter — it is delivered, marked with
 * `audit.validation.error`, and counted.
 */
import { z } from 'zod';
import { ACTOR_TYPES, OUTCOMES } from './schema.js';
import * as A from '../core/attributes.js';

const RawAuditAttributesSchema = z.looseObject({
  [A.ATTR_ACTOR_ID]: z.string().min(1),
  [A.ATTR_ACTOR_TYPE]: z.enum(ACTOR_TYPES),
  [A.ATTR_ACTION]: z.string().min(1),
  [A.ATTR_OUTCOME]: z.enum(OUTCOMES),
  [A.ATTR_RECORD_ID]: z.string().min(1).optional(),
});

const ACTOR_TYPE_SET: ReadonlySet<unknown> = new Set(ACTOR_TYPES);
const OUTCOME_SET: ReadonlySet<unknown> = new Set(OUTCOMES);
const nonEmpty = (v: unknown): boolean => typeof v === 'string' && v !== '';
const own = (o: Readonly<Record<string, unknown>>, key: string): unknown => (Object.hasOwn(o, key) ? o[key] : undefined);

/** Returns undefined when valid, else one line naming each problem. */
/** `attributes`: the SDK record's own (typed `unknown` values on the 3.x line, so checked, not assumed). */
export function validateRawAttributes(attributes: Readonly<Record<string, unknown>>): string | undefined {
  // Hot path: the plain checks the schema makes; zod runs only to word the problems of an invalid record.
  // Own properties only: an inherited value (a replaced prototype) is not the record's.
  const id = own(attributes, A.ATTR_RECORD_ID);
  if (
    nonEmpty(own(attributes, A.ATTR_ACTOR_ID)) &&
    ACTOR_TYPE_SET.has(own(attributes, A.ATTR_ACTOR_TYPE)) &&
    nonEmpty(own(attributes, A.ATTR_ACTION)) &&
    OUTCOME_SET.has(own(attributes, A.ATTR_OUTCOME)) &&
    (id === undefined || nonEmpty(id))
  ) {
    return undefined;
  }
  const r = RawAuditAttributesSchema.safeParse(Object.assign(Object.create(null) as object, attributes));
  if (r.success) return undefined;
  return r.error.issues.map((i) => `${i.path.map(String).join('.')}: ${i.message}`).join('; ');
}
