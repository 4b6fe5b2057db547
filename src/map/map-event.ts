/**
 * Stage 2, map: a validated typed audit event → the fields of an OTel log record with semantic attributes
 * (ARCHITECTURE.md §3). Pure and synchronous; validation happens before, in `validateEvent`.
 */
import { uuidV4 } from '../core/uuid.js';
import { isIP } from 'node:net';
import type { AnyValueMap } from '../otel/types.js';
import { AuditValidationError, type ValidationIssue } from '../core/errors.js';
import { ActorSchema, AuditEventSchema, SourceSchema, type AuditEvent } from './schema.js';
import type { z } from 'zod';
import { isReservedEventName } from './reserved.js';
import * as A from '../core/attributes.js';

export interface MappedRecord {
  eventName: string;
  body: string | undefined;
  /** An HrTime ([seconds, nanoseconds] since the epoch) or a Date: never a bare number (see epochMillisToHrTime). */
  timestamp: [number, number] | Date | undefined;
  recordId: string;
  attributes: AnyValueMap;
}

export type ValidatedEvent = ReturnType<typeof AuditEventSchema.parse>;

/**
 * Validates with zod; throws `AuditValidationError` listing every problem. An event that cannot even be read — a
 * getter or a Proxy trap of the caller's throws — is one too, saying so, rather than the caller's own error out of
 * zod (found in review). Nothing is emitted either way.
 */
export function validateEvent(event: unknown): ValidatedEvent {
  try {
    return checkEvent(event);
  } catch (e) {
    if (e instanceof AuditValidationError) throw e;
    throw new AuditValidationError([{ path: '', message: `the event could not be read: reading it threw ${describeThrown(e)}` }], { cause: e });
  }
}

function describeThrown(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return typeof e === 'string' ? JSON.stringify(e) : typeof e;
}

function checkEvent(event: unknown): ValidatedEvent {
  const r = AuditEventSchema.safeParse(event);
  // zod's record parser skips an own `__proto__` key before any key check runs: catch it here, or the
  // detail would vanish silently.
  const details = (event as { details?: unknown } | null | undefined)?.details;
  const protoKey = typeof details === 'object' && details !== null && Object.hasOwn(details, '__proto__');
  const issues: ValidationIssue[] = r.success
    ? []
    : r.error.issues.map((i) => {
        const path = i.path.map(String).join('.');
        // The one field an app most often leaves out, told how to give it (found in review: "expected object").
        if (path === 'actor' && i.code === 'invalid_type' && (event as { actor?: unknown } | null | undefined)?.actor === undefined) return { path, message: MISSING_ACTOR };
        return { path, message: issueMessage(i as ZodIssueLike) };
      });
  if (protoKey) issues.push({ path: 'details.__proto__', message: 'is a reserved JavaScript property name' });
  if (r.success) {
    // The event name the record will carry: one the processor would have to rename and mark is refused here.
    const given = r.data.name !== undefined;
    const name = eventNameOf(r.data);
    if (isReservedEventName(name)) {
      issues.push({ path: given ? 'name' : 'action', message: `gives the event name ${name}, which only the processor writes: set ${given ? 'another name' : 'name'}` });
    }
  }
  if (r.success && issues.length === 0) return r.data;
  // A detail that collides with a mapped attribute is said with the other problems, not only once they are fixed:
  // mapEvent's own rule, run on the event as given (an event it cannot even read leaves that to the issues above).
  if (!r.success) {
    // Only for details the schema let pass: a reserved key (`audit.action`) is said once, by the schema.
    const said = new Set(issues.map((i) => i.path));
    for (const c of collisionsOf(event)) if (!said.has(c.path)) issues.push(c);
  }
  throw new AuditValidationError(issues);
}

/** The details of a not yet valid event that collide with an attribute the mapping writes, as mapEvent finds them. */
function collisionsOf(event: unknown): readonly ValidationIssue[] {
  try {
    mapEvent(event as ValidatedEvent);
  } catch (e) {
    if (e instanceof AuditValidationError) return e.issues;
  }
  return [];
}

/** What validateEvent reads of a zod issue: the nested issues of a record key and of a union's branches. */
interface ZodIssueLike {
  code: string;
  message: string;
  path: readonly PropertyKey[];
  expected?: string;
  /** Set by zod on a type error whose value has the type but is no valid one: Invalid Date, NaN, Infinity. */
  received?: string;
  issues?: readonly ZodIssueLike[];
  errors?: readonly (readonly ZodIssueLike[])[];
}

/** What a missing actor is told: how to give one. */
const MISSING_ACTOR =
  "is required: give actor: { id, type }, or let the processor's defaultActor 'os-user' (OTEL_AUDIT_DEFAULT_ACTOR=os-user) or withOsIdentity(event) make it the OS user running the process";

/**
 * zod's message, with the reason it keeps nested: a refused record key says why ("the audit.* namespace is
 * reserved", not "Invalid key in record"); a union says the rule of the branch of the right type ("must be at
 * most 8192 characters"), or which types it takes.
 */
function issueMessage(i: ZodIssueLike): string {
  if (i.code === 'invalid_key' && i.issues !== undefined && i.issues.length > 0) return i.issues.map(issueMessage).join(', ');
  if (i.code === 'invalid_union' && i.errors !== undefined) {
    // Branches whose type matched (no type error on the value itself): their rule is what was broken. An Invalid
    // Date or NaN is of the branch's type, though zod reports it as a type error.
    const wrongType = (x: ZodIssueLike): boolean => x.code === 'invalid_type' && x.path.length === 0 && x.received === undefined;
    const ofType = i.errors.filter((branch) => branch.length > 0 && !branch.some(wrongType));
    const messages = (branch: readonly ZodIssueLike[]): string => branch.map((x) => (x.path.length > 0 ? `${x.path.map(String).join('.')}: ` : '') + issueMessage(x)).join(', ');
    if (ofType.length === 1) return messages(ofType[0]!);
    if (ofType.length > 1) {
      // Found in review: 129 numbers, or [NaN], read "items must all be of one type". Every array branch breaking
      // the same rule of its own (too many items) is that rule; one branch whose items have its type but break its
      // rule (NaN among numbers: zod sets `received`) is that branch.
      const own = new Set(ofType.map((branch) => (branch.every((x) => x.path.length === 0) ? messages(branch) : '')));
      if (own.size === 1 && !own.has('')) return [...own][0]!;
      const typed = ofType.filter((branch) => branch.some((x) => x.code === 'invalid_type' && x.received !== undefined));
      if (typed.length === 1) return messages(typed[0]!);
    }
    const expectedOf = (xs: readonly ZodIssueLike[]): string[] => [...new Set(xs.flatMap((x) => (x.code === 'invalid_type' && x.expected !== undefined ? [x.expected] : [])))];
    // Several arrays of one item type each, none matching: items of mixed types.
    if (ofType.length > 1) return `items must all be of one type: ${expectedOf(ofType.flat()).join(', ')}`;
    const expected = expectedOf(i.errors.flat());
    if (expected.length > 0) return `must be one of: ${expected.join(', ')}`;
  }
  return i.message;
}

/** The event's OTel EventName: `name`, or `audit.<action in lower case>`. */
const eventNameOf = (e: { name?: string | undefined; action: string }): string => e.name ?? `audit.${e.action.toLowerCase()}`;

export function sourceType(address: string): 'ipv4' | 'ipv6' | 'hostname' {
  const v = isIP(address);
  return v === 4 ? 'ipv4' : v === 6 ? 'ipv6' : 'hostname';
}

/** The semantic attributes the typed fields write, each with the field and its rule (schema.ts). */
const FIELD_OF_DETAIL: ReadonlyMap<string, { name: string; rule: z.ZodType }> = new Map([
  [A.ATTR_USER_ID, { name: 'actor.id', rule: ActorSchema.shape.id }],
  [A.ATTR_USER_NAME, { name: 'actor.name', rule: ActorSchema.shape.name.unwrap() }],
  [A.ATTR_USER_ROLES, { name: 'actor.roles', rule: ActorSchema.shape.roles.unwrap() }],
  [A.ATTR_CLIENT_ADDRESS, { name: 'source.address', rule: SourceSchema.shape.address }],
  [A.ATTR_CLIENT_PORT, { name: 'source.port', rule: SourceSchema.shape.port.unwrap() }],
  [A.ATTR_SESSION_ID, { name: 'session.id', rule: AuditEventSchema.shape.session.unwrap().shape.id }],
  [A.ATTR_HTTP_REQUEST_METHOD, { name: 'request.method', rule: AuditEventSchema.shape.request.unwrap().shape.method.unwrap() }],
  [A.ATTR_URL_PATH, { name: 'request.path', rule: AuditEventSchema.shape.request.unwrap().shape.path.unwrap() }],
  [A.ATTR_ERROR_TYPE, { name: 'error.type', rule: AuditEventSchema.shape.error.unwrap().shape.type }],
]);

export function mapEvent(e: ValidatedEvent): MappedRecord {
  const recordId = e.id ?? uuidV4();
  const a: AnyValueMap = {
    [A.ATTR_RECORD_ID]: recordId,
    [A.ATTR_ACTOR_ID]: e.actor.id,
    [A.ATTR_ACTOR_TYPE]: e.actor.type,
    [A.ATTR_ACTION]: e.action,
    [A.ATTR_OUTCOME]: e.outcome,
  };
  if (e.target?.id !== undefined) a[A.ATTR_TARGET_ID] = e.target.id;
  if (e.target?.type !== undefined) a[A.ATTR_TARGET_TYPE] = e.target.type;
  if (e.target?.name !== undefined) a[A.ATTR_TARGET_NAME] = e.target.name;
  if (e.source !== undefined) {
    a[A.ATTR_SOURCE_ID] = e.source.address;
    a[A.ATTR_SOURCE_TYPE] = sourceType(e.source.address);
    a[A.ATTR_CLIENT_ADDRESS] = e.source.address;
    if (e.source.port !== undefined) a[A.ATTR_CLIENT_PORT] = e.source.port;
  }
  if (e.reason !== undefined) a[A.ATTR_REASON] = e.reason;
  a[A.ATTR_SCHEMA_VERSION] = A.AUDIT_SCHEMA_VERSION;
  // Semantic conventions' user.* describe a human user; other actors keep name/roles under audit.actor.*.
  const isUser = e.actor.type === 'user';
  if (isUser) a[A.ATTR_USER_ID] = e.actor.id;
  if (e.actor.name !== undefined) a[isUser ? A.ATTR_USER_NAME : A.ATTR_ACTOR_NAME] = e.actor.name;
  if (e.actor.roles !== undefined) a[isUser ? A.ATTR_USER_ROLES : A.ATTR_ACTOR_ROLES] = e.actor.roles;
  if (e.session !== undefined) a[A.ATTR_SESSION_ID] = e.session.id;
  if (e.request?.method !== undefined) a[A.ATTR_HTTP_REQUEST_METHOD] = e.request.method;
  if (e.request?.path !== undefined) a[A.ATTR_URL_PATH] = e.request.path;
  if (e.error !== undefined) a[A.ATTR_ERROR_TYPE] = e.error.type;
  if (e.details !== undefined) {
    const collisions: ValidationIssue[] = [];
    for (const key of Object.keys(e.details)) {
      if (Object.hasOwn(a, key)) {
        collisions.push({ path: `details.${key}`, message: `collides with the mapped attribute ${key}` });
        continue;
      }
      // A semantic attribute a typed field writes keeps that field's rules when given as a detail (found in review:
      // `user.id` = "root\nFAKE" or `client.address` = "10.0.0.1:22" went through as details).
      const field = FIELD_OF_DETAIL.get(key);
      if (field !== undefined) {
        const r = field.rule.safeParse(e.details[key]);
        if (!r.success) {
          collisions.push({ path: `details.${key}`, message: `is written by ${field.name} and takes its rules: ${r.error.issues.map((i) => issueMessage(i as ZodIssueLike)).join(', ')}` });
          continue;
        }
      }
      a[key] = e.details[key];
    }
    if (collisions.length > 0) throw new AuditValidationError(collisions);
  }
  return {
    eventName: eventNameOf(e),
    body: e.message,
    timestamp: typeof e.time === 'number' ? epochMillisToHrTime(e.time) : e.time,
    recordId,
    attributes: a,
  };
}

/**
 * Milliseconds since the epoch as an HrTime, sub-millisecond digits kept. Not handed to the SDK as a number: its
 * timeInputToHrTime takes a number below performance.timeOrigin / 2 for a performance.now() offset, so any time
 * before about 1998 (0 included) would be recorded decades off.
 */
export function epochMillisToHrTime(ms: number): [number, number] {
  let seconds = Math.trunc(ms / 1000);
  let nanos = Math.round((ms - seconds * 1000) * 1e6);
  if (nanos >= 1e9) {
    seconds += 1;
    nanos -= 1e9;
  }
  return [seconds, nanos];
}

/** Validates and maps in one call; the typed API's entry point. */
export function prepareEvent(event: AuditEvent): MappedRecord {
  return mapEvent(validateEvent(event));
}
