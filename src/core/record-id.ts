/**
 * A record's own record id: an own, non-empty string `audit.record.id`; otherwise the processor gives it one.
 * Here, below every stage, because the map stage (the typed API's record) and the chain stage (stamps, sealing)
 * both read it.
 */
import { ATTR_RECORD_ID } from './attributes.js';

export function ownRecordId(attributes: Readonly<Record<string, unknown>>): string | undefined {
  const id = Object.hasOwn(attributes, ATTR_RECORD_ID) ? attributes[ATTR_RECORD_ID] : undefined;
  return typeof id === 'string' && id !== '' ? id : undefined;
}
