/**
 * The typed audit event (ARCHITECTURE.md §3), as zod schemas so users can reuse them (e.g. to validate events that
 * arrive over a queue before recording them). Unknown fields are errors: a typo in an audit event must not
 * silently drop data.
 */
import { isIP } from 'node:net';
import { z } from 'zod';

/**
 * C0, DEL and C1 (U+0080–U+009F, NEL among them): Unicode's control characters (general category Cc); and the
 * bidirectional embedding, override and isolate controls (U+202A–U+202E, U+2066–U+2069), with which an identifier
 * displays as another one (found in re-review). Inclusive ranges of code units, the one definition of both checks.
 */
const CONTROL_RANGES: readonly (readonly [number, number])[] = [
  [0x00, 0x1f],
  [0x7f, 0x9f],
  [0x202a, 0x202e],
  [0x2066, 0x2069],
];
const u4 = (c: number): string => `\\u${c.toString(16).padStart(4, '0')}`;
const NO_CONTROL = new RegExp(`^[^${CONTROL_RANGES.map(([a, b]) => `${u4(a)}-${u4(b)}`).join('')}]*$`);
/** Is this code unit one NO_CONTROL refuses? For validate-record.ts's one-pass check. */
export function isControlCode(c: number): boolean {
  for (const [a, b] of CONTROL_RANGES) if (c >= a && c <= b) return true;
  return false;
}
/**
 * White space (what the regular expression `\s` matches: ECMA-262 WhiteSpace and LineTerminator) and the
 * invisible characters beside it (zero-width spaces and joiners, word joiner): an identifier made only of these
 * reads as blank. As code units, for validate-record.ts's one-pass check.
 */
export const BLANK_CODES: ReadonlySet<number> = new Set([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009,
  0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff, 0x200b, 0x200c, 0x200d, 0x2060,
  // Characters that display as nothing or as a blank (Unicode's Default_Ignorable_Code_Point and the fillers):
  // soft hyphen, combining grapheme joiner, Arabic letter mark, Hangul fillers, Khmer inherent vowels, Mongolian
  // vowel separator, the marks LRM and RLM, invisible operators, deprecated format characters, Braille blank,
  // variation selectors.
  0xad, 0x34f, 0x61c, 0x115f, 0x1160, 0x17b4, 0x17b5, 0x180e, 0x200e, 0x200f, 0x2061, 0x2062, 0x2063, 0x2064, 0x206a, 0x206b,
  0x206c, 0x206d, 0x206e, 0x206f, 0x2800, 0x3164, 0xffa0, 0xfe00, 0xfe01, 0xfe02, 0xfe03, 0xfe04, 0xfe05, 0xfe06, 0xfe07, 0xfe08,
  0xfe09, 0xfe0a, 0xfe0b, 0xfe0c, 0xfe0d, 0xfe0e, 0xfe0f,
]);
const isBlank = (v: string): boolean => {
  for (let i = 0; i < v.length; i++) if (!BLANK_CODES.has(v.charCodeAt(i))) return false;
  return true;
};
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

const wellFormed = (s: string): boolean => s.isWellFormed();

/** Non-empty text without lone surrogates; `plain` also forbids control characters (identifiers, verbs). */
export const text = (max: number, plain = true) => {
  let s = z.string().min(1, 'must not be empty').max(max, `must be at most ${max} characters`);
  if (plain) s = s.regex(NO_CONTROL, 'must not contain control characters').refine((v) => v === '' || !isBlank(v), 'must not be blank (only white space)');
  return s.refine(wellFormed, 'must not contain a lone surrogate');
};

export const ACTOR_TYPES = ['user', 'service', 'system'] as const;
export const OUTCOMES = ['success', 'failure', 'unknown'] as const;

export const ActorSchema = z.strictObject({
  id: text(256),
  type: z.enum(ACTOR_TYPES),
  name: text(256).optional(),
  roles: z.array(text(128)).max(64, 'at most 64 roles').optional(),
});

export const TargetSchema = z.strictObject({
  id: text(1024).optional(),
  type: text(128).optional(),
  name: text(1024).optional(),
});

/** A DNS host name: dot-separated labels of letters, digits, '-' (and '_', common in internal names). */
const HOST_NAME = /^(?=.{1,253}\.?$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

export const SourceSchema = z.strictObject({
  /** IPv4, IPv6 or host name; `audit.source.type` is derived from it. A port goes in `port`, not here. */
  address: text(255).refine((a) => a === '' || isIP(a) !== 0 || HOST_NAME.test(a), 'must be one IPv4 or IPv6 address or host name (a port goes in source.port)'),
  port: z.number().int().min(0).max(65535).optional(),
});

/** Most details an event may carry. */
export const MAX_DETAILS = 64;

const detailText = z.string().max(8192, 'must be at most 8192 characters').refine(wellFormed, 'must not contain a lone surrogate');
/**
 * zod 4's z.date() and z.number() refuse an Invalid Date and NaN/±Infinity themselves, as a type error, before
 * any refine runs: these messages say why (issueMessage in map-event.ts takes such a branch as of the right type).
 */
const finiteNumber = (message: string) => z.number({ error: (iss) => (typeof iss.input === 'number' ? message : undefined) });
const validDate = z.date({ error: (iss) => (iss.input instanceof Date ? 'must be a valid date' : undefined) });

const detailNumber = finiteNumber('must be a finite number');

/** A detail value: an OTel attribute value (scalar or homogeneous array). */
export const DetailValueSchema = z.union([
  detailText,
  detailNumber,
  z.boolean(),
  z.array(detailText).max(128, 'at most 128 items'),
  z.array(detailNumber).max(128, 'at most 128 items'),
  z.array(z.boolean()).max(128, 'at most 128 items'),
]);

const detailKey = text(128)
  .refine((k) => !k.startsWith('audit.'), 'the audit.* namespace is reserved')
  .refine((k) => !FORBIDDEN_KEYS.has(k), 'is a reserved JavaScript property name');

/**
 * Most characters of text all details may hold together: 2^20. Each limit alone lets 64 × 128 × 8192 characters
 * through, and such an event passed validation only to be replaced by `audit.record.unsealable` when sealed, its
 * receipt rejected later (found in review). Within this bound a valid event always seals: at most 6 bytes of
 * OTLP/JSON a character (a `\u00XX` escape) is 6 MiB, under the 16 MiB a record may have (src/otlp/encode.ts).
 */
export const MAX_DETAIL_TEXT = 1 << 20;

const detailTextLength = (d: Record<string, unknown>): number => {
  let n = 0;
  for (const v of Object.values(d)) {
    if (typeof v === 'string') n += v.length;
    else if (Array.isArray(v)) for (const x of v) if (typeof x === 'string') n += x.length;
  }
  return n;
};

export const DetailsSchema = z
  .record(detailKey, DetailValueSchema)
  .refine((d) => Object.keys(d).length <= MAX_DETAILS, `at most ${MAX_DETAILS} details`)
  .refine((d) => detailTextLength(d) <= MAX_DETAIL_TEXT, `at most ${MAX_DETAIL_TEXT} characters of text in all details together`);

/** The latest `time` OTLP can carry: floor((2^64 - 1) / 10^6) milliseconds since the epoch. */
export const MAX_EVENT_TIME_MS = 18_446_744_073_709;

export const AuditEventSchema = z.strictObject({
  /** Idempotency key; a UUID v4 is generated when absent. */
  id: text(128).optional(),
  /** OTel EventName, e.g. `user.login`; defaults to `audit.<action in lower case>`. */
  name: z
    .string()
    .regex(/^[A-Za-z0-9_.:/-]{1,128}$/, 'must be 1-128 characters of A-Z a-z 0-9 _ . : / -')
    .optional(),
  action: text(128),
  outcome: z.enum(OUTCOMES),
  actor: ActorSchema,
  target: TargetSchema.optional(),
  source: SourceSchema.optional(),
  reason: text(4096, false).optional(),
  /** Human-readable message, shipped as the record body. */
  message: z.string().max(65536).refine(wellFormed, 'must not contain a lone surrogate').optional(),
  session: z.strictObject({ id: text(256) }).optional(),
  request: z.strictObject({ method: text(32).optional(), path: text(4096).optional() }).optional(),
  error: z.strictObject({ type: text(256) }).optional(),
  details: DetailsSchema.optional(),
  /**
   * When it happened (a Date, or milliseconds since the epoch); defaults to now. OTLP carries time as uint64
   * nanoseconds, so it must lie from the epoch up to MAX_EVENT_TIME_MS (2554-07-21T23:34:33.709Z).
   */
  time: z
    .union([
      validDate,
      finiteNumber('must be a finite number of milliseconds'),
    ])
    .refine((t) => {
      const ms = typeof t === 'number' ? t : t.getTime();
      return Number.isNaN(ms) || (ms >= 0 && ms <= MAX_EVENT_TIME_MS);
    }, 'must lie between the epoch and 2554-07-21T23:34:33.709Z (OTLP time is uint64 nanoseconds)')
    .optional(),
});

/**
 * `T` with every array readonly, for what is only read: a `readonly string[]` or an `as const` literal is then as
 * good as a mutable array (zod's input types say `string[]`, which refused them).
 */
export type ReadonlyInput<T> = T extends Date | Uint8Array | ((...args: never[]) => unknown)
  ? T
  : T extends readonly (infer U)[]
    ? readonly ReadonlyInput<U>[]
    : T extends object
      ? { [K in keyof T]: ReadonlyInput<T[K]> }
      : T;

export type AuditOutcome = (typeof OUTCOMES)[number];
export type AuditActorType = (typeof ACTOR_TYPES)[number];
/** A value of `details`: a string, a finite number or a boolean, or an array (at most 128 items) of one of them. */
export type DetailValue = z.input<typeof DetailValueSchema>;

/**
 * Who acted. Written as `audit.actor.id` and `audit.actor.type`, and as `user.id`, `user.name`, `user.roles` for a
 * user (`audit.actor.name`, `audit.actor.roles` for the others). Text fields: no control characters, not blank.
 */
export interface AuditActor {
  /** 1–256 characters. `ANONYMOUS_ACTOR` when the actor is not known. */
  id: string;
  type: AuditActorType;
  /** 1–256 characters. */
  name?: string | undefined;
  /** At most 64, each 1–128 characters. */
  roles?: string[] | undefined;
}

/**
 * An audit event: who (`actor`) did what (`action`) to which resource (`target`), from where (`source`), with what
 * `outcome`. README "Attributes" gives the attribute each field is written as. Text fields hold no control
 * characters and are not blank, unless said otherwise. `AuditLogger.record()` takes it (`AuditEventInput`: its
 * arrays may be readonly).
 */
export interface AuditEvent {
  /** `audit.record.id`, the idempotency key: 1–128 characters; a UUID v4 is generated when absent. */
  id?: string | undefined;
  /** OTel EventName, e.g. `user.login`: 1–128 of A–Z a–z 0–9 `_ . : / -`; defaults to `audit.<action in lower case>`. */
  name?: string | undefined;
  /** `audit.action`, a verb (`CREATE`, `LOGIN`, `EXECUTE`, …): 1–128 characters. */
  action: string;
  /** `audit.outcome`. */
  outcome: AuditOutcome;
  actor: AuditActor;
  /** The resource acted on: `audit.target.id` (1–1024), `.type` (1–128), `.name` (1–1024). */
  target?: { id?: string | undefined; type?: string | undefined; name?: string | undefined } | undefined;
  /**
   * Where from: `address` (one IPv4 or IPv6 address or host name) is `audit.source.id` and `client.address`,
   * `audit.source.type` is derived from it; `port` (0–65535) is `client.port`.
   */
  source?: { address: string; port?: number | undefined } | undefined;
  /** `audit.reason`, why it failed or was denied: 1–4096 characters, line breaks allowed. */
  reason?: string | undefined;
  /** Human-readable message, shipped as the record body: at most 65536 characters. */
  message?: string | undefined;
  /** `session.id`: 1–256 characters. */
  session?: { id: string } | undefined;
  /** `http.request.method` (1–32) and `url.path` (1–4096). */
  request?: { method?: string | undefined; path?: string | undefined } | undefined;
  /** `error.type`: 1–256 characters. */
  error?: { type: string } | undefined;
  /**
   * Kept as given, each key an attribute: at most 64, keys 1–128 characters outside the `audit.*` namespace, strings
   * of 8192 characters, arrays of 128 items, 2^20 characters of text in all. A key that a field above writes
   * (`user.id`, `client.address`, …) takes that field's rules.
   */
  details?: Record<string, DetailValue> | undefined;
  /**
   * When it happened (a Date, or milliseconds since the epoch); defaults to now. OTLP carries time as uint64
   * nanoseconds, so it must lie from the epoch up to 2554-07-21T23:34:33.709Z.
   */
  time?: Date | number | undefined;
}

// The documented types above are exactly what the schemas take: neither may drift from the other.
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const eventMatchesSchema: Same<AuditEvent, z.input<typeof AuditEventSchema>> = true;
const actorMatchesSchema: Same<AuditActor, z.input<typeof ActorSchema>> = true;
void eventMatchesSchema;
void actorMatchesSchema;

/** For events whose actor is not known (ARCHITECTURE.md §3: unknown actor = "anonymous"). */
export const ANONYMOUS_ACTOR: Readonly<AuditActor> = Object.freeze({ id: 'anonymous', type: 'user' });
