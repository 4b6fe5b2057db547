/**
 * Who and where for command-line tools: the OS user running this process as the actor, this host as the
 * source — what Volt's audit fills in when a CLI caller leaves them out. Opt-in (OTEL_AUDIT_DEFAULT_ACTOR=os-user,
 * or `withOsIdentity(event)` by hand), and never over what the caller gave.
 *
 * Attributes (semantic conventions): the actor's id and `user.name` are the login name; `process.user.id` is
 * the effective uid; `audit.source.id` / `client.address` the host name (`audit.source.type` = hostname).
 */
import { hostname, userInfo } from 'node:os';
import { AuditEventSchema, MAX_DETAILS, SourceSchema, type AuditActor, type AuditEvent } from './schema.js';

export interface OsIdentity {
  /** `{ id: <login name>, type: 'user', name: <login name> }`. */
  actor: { id: string; type: 'user'; name: string };
  /** Effective uid, or undefined where the platform has none (Windows). */
  uid: number | undefined;
  host: string;
}

/** An audit event whose actor may still be left out (filled in by `withOsIdentity`). */
export type AuditEventDraft = Omit<AuditEvent, 'actor'> & { actor?: AuditActor };

let cached: OsIdentity | undefined;

/**
 * The OS identity of this process, read once. A uid with no passwd entry (some containers) is named `uid:<n>`:
 * never after $USER or $USERNAME, which whoever starts the process sets to any name it likes.
 */
export function osIdentity(): OsIdentity {
  if (cached !== undefined) return cached;
  const uid = typeof process.geteuid === 'function' ? process.geteuid() : undefined;
  let name: string;
  try {
    name = userInfo().username;
  } catch {
    name = uid !== undefined ? `uid:${uid}` : 'unknown';
  }
  cached = { actor: { id: name, type: 'user', name }, uid, host: hostname() };
  return cached;
}

/**
 * The event with the OS user as its actor when it names none, and this host as its source when it names none.
 * An actor or source the caller gave is kept as it is; so is every detail (the uid is added as
 * `process.user.id` only when the actor was filled in and the caller did not set that detail).
 */
export function withOsIdentity(event: AuditEventDraft): AuditEvent {
  // Not an event object at all: left to validation, which says so (spreading it would invent fields or throw).
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return event as AuditEvent;
  try {
    return filled(event);
  } catch {
    // A getter that throws: validation reads the event again and reports it as it would without the default
    // (found in review: the caller's own error surfaced instead of AuditValidationError).
    return event as AuditEvent;
  }
}

/** The event's fields as validation reads them: own ones, and the schema's fields from getters of its class too. */
const EVENT_FIELDS = Object.keys(AuditEventSchema.shape);

function filled(event: AuditEventDraft): AuditEvent {
  const hasActor = event.actor !== undefined;
  const hasSource = event.source !== undefined;
  if (hasActor && hasSource) return event as AuditEvent;
  const id = osIdentity();
  // A spread keeps only own enumerable properties: an event of a class whose fields are getters lost them (found
  // in review), where validation, which reads each field by name, takes them.
  const fields = { ...event } as Record<string, unknown>;
  for (const k of EVENT_FIELDS) {
    if (Object.hasOwn(fields, k)) continue;
    const v = (event as Record<string, unknown>)[k]; // a getter is called once
    if (v !== undefined) fields[k] = v;
  }
  const out = fields as unknown as AuditEvent;
  if (!hasActor) {
    out.actor = { ...id.actor } satisfies AuditActor;
    const d: unknown = event.details;
    // Details that are not a plain object stay as given, for validation to refuse.
    const plain = d === undefined || (typeof d === 'object' && d !== null && !Array.isArray(d));
    // Not when the details are full: the added detail would make an event the caller built valid fail the limit.
    const room = d === undefined || (plain && Object.keys(d as object).length < MAX_DETAILS);
    if (id.uid !== undefined && plain && room && (d === undefined || !Object.hasOwn(d, 'process.user.id'))) {
      out.details = { ...event.details, 'process.user.id': id.uid };
    }
  }
  // A host name the schema refuses (Linux allows a 64-character label, DNS 63) is left out rather than blamed on
  // a source the caller never gave.
  if (!hasSource && SourceSchema.shape.address.safeParse(id.host).success) out.source = { address: id.host };
  return out;
}
