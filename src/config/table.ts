/**
 * The one table of options (ARCHITECTURE.md §6): for each option its environment variable(s), how a value is
 * checked, its default and what it is for. readAuditEnv (env.ts) and resolveOptions (options.ts) are loops
 * over it, so a row added here is parsed, checked and defaulted with no other change, and
 * test/config/table.test.ts covers it.
 */
import { z } from 'zod';
import { MAX_TIMER_MILLIS } from '../core/deadline.js';
import { sayOnce } from '../core/say.js';
import { OTLP_PROTOCOLS } from '../deliver/otlp-sender.js';
import { ENV_HMAC_KEY, ENV_HMAC_KEY_FILE, ENV_KEY_ID, ENV_SIGNING_KEY_FILE, isSigningKey, keyFingerprint, readSigningKeys } from '../integrity/index.js';
import { DEFAULT_AUDIT_LOGGER_NAME } from '../select/selector.js';
import type { ResolvedOptions } from './types.js';

/**
 * How a value is written: as given in code (`value`, refused with `allowed`), and as the text of an
 * environment variable (`text`, refused with `envAllowed`; trimmed first unless `verbatim`).
 */
export interface Kind<T, E = T> {
  readonly name: 'wholeNumber' | 'oneOf' | 'flag' | 'label' | 'path' | 'keys';
  readonly value: z.ZodType<T>;
  readonly allowed: string;
  readonly text: z.ZodType<E, string>;
  readonly envAllowed: string;
  readonly verbatim?: boolean;
  /**
   * Whitespace only is an error, not "unset": for a key it would silently mean no MAC at all. A refused code
   * value is never echoed (it may hold a secret): its first issue says what is wrong instead.
   */
  readonly keyMaterial?: boolean;
  /** The bounds or values, for whoever needs to name one outside them (the tests). */
  readonly min?: number;
  readonly max?: number;
  readonly values?: readonly string[];
}

/** A whole number >= min (and <= max). From text only plain digits: no sign, exponent, hex or fraction. */
function wholeNumber(min: number, envAllowed = `a whole number >= ${min}`, max = Number.MAX_SAFE_INTEGER): Kind<number> {
  const value = z.number().int().min(min).max(max);
  const text = z.string().regex(/^\d+$/).transform(Number).pipe(value);
  const allowed = max === Number.MAX_SAFE_INTEGER ? `a whole number >= ${min}` : `a whole number from ${min} to ${max}`;
  return { name: 'wholeNumber', value, allowed, text, envAllowed, min, max };
}

export { MAX_TIMER_MILLIS };

/** A whole number of milliseconds >= min that a timer can wait. */
const millis = (min: number, what = 'a whole number of milliseconds'): Kind<number> =>
  wholeNumber(min, `${what}, at most ${MAX_TIMER_MILLIS}`, MAX_TIMER_MILLIS);

/**
 * One of `values` (all lower case). From the environment in any case (`HTTP/PROTOBUF`), as the OTel SDK
 * environment spec says enum values SHOULD be read; in code exactly (the type says which).
 */
function oneOf<const T extends string>(values: readonly [T, ...T[]]): Kind<T> {
  const value = z.enum(values);
  const text = z.string().transform((v) => v.toLowerCase()).pipe(value);
  return { name: 'oneOf', value, allowed: values.join(', '), text, envAllowed: values.join(', '), values };
}

/** From the environment `true`/`false` in any case (as the OTel SDK reads its booleans), or 1/0. */
const flag: Kind<boolean> = {
  name: 'flag',
  value: z.boolean(),
  allowed: 'true, false',
  text: z
    .string()
    .transform((v) => v.toLowerCase())
    .pipe(z.enum(['true', 'false', '1', '0']))
    .transform((v) => v === 'true' || v === '1'),
  envAllowed: 'true, false, 1, 0',
};

/** Non-empty text; from the environment at most `max` characters (code options have never had that bound). */
function label(what: string, max: number): Kind<string> {
  const allowed = `${what} of at most ${max} characters`;
  return { name: 'label', value: z.string().min(1).max(max), allowed, text: z.string().min(1).max(max), envAllowed: allowed, max };
}

/** Any string from code ('' is the working directory); from the environment kept as written. */
const path: Kind<string> = {
  name: 'path',
  value: z.string(),
  allowed: 'a directory path',
  // Verbatim, not trimmed; but a stray space from YAML or a .env file would silently move the journal to another
  // directory (" /var/audit" is relative), away from where verify and replay look: refused instead.
  text: z.string().min(1).refine((v) => v.trim() === v),
  envAllowed: 'a directory path (with no white space before or after it)',
  verbatim: true,
};

type SigningKeys = ResolvedOptions['signingKeys'];

/** What is wrong with a code value of `signingKeys`; undefined when nothing is. Never quotes the value. */
function signingKeysProblem(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'signingKeys must be an object { record?, checkpoint? }';
  for (const field of Object.keys(v)) if (field !== 'record' && field !== 'checkpoint') return `signingKeys has an unknown field ${JSON.stringify(field)}`;
  const { record, checkpoint } = v as Record<string, unknown>;
  // A key handle of the same shape that this copy did not make: the other build (ESM or CommonJS) of the package,
  // loaded beside this one, made it; its key material lives in that copy (found in review: the message said the
  // key was not made by loadSigningKeys()).
  const otherCopy = (k: unknown): string =>
    typeof k === 'object' && k !== null && typeof (k as { keyId?: unknown }).keyId === 'string' && typeof (k as { algorithm?: unknown }).algorithm === 'string'
      ? ': a look-alike object, or a key made by another copy of otel-audit (its ESM and its CommonJS build are two: take loadSigningKeys and the processor from the same import or require)'
      : '';
  if (record !== undefined && !isSigningKey(record)) return `signingKeys.record is not a signing key made by this copy's loadSigningKeys()${otherCopy(record)}`;
  if (checkpoint !== undefined && !(isSigningKey(checkpoint) && checkpoint.algorithm === 'EdDSA')) {
    return `signingKeys.checkpoint is not an Ed25519 signing key made by this copy's loadSigningKeys() (its checkpoint key)${isSigningKey(checkpoint) ? '' : otherCopy(checkpoint)}`;
  }
  // A stream's records and checkpoints carry one Ed25519 key (docs/integrity.md §3.4), which verify relies on: two
  // would read as checkpoints re-signed by another key's holder (found in review: verify failed such a stream).
  if (isSigningKey(record) && isSigningKey(checkpoint) && record.algorithm === 'EdDSA' && keyFingerprint(record) !== keyFingerprint(checkpoint)) {
    return 'signingKeys.record and signingKeys.checkpoint are two different Ed25519 keys: a stream signs its records and its checkpoints with one Ed25519 key (give the same key, or an HMAC key for the records)';
  }
  return undefined;
}

/**
 * Key material: any non-blank text passes here; integrity/keys.ts (loadSigningKeys) reads the variables and
 * refuses bad keys with messages of its own. Code options pass keys made by loadSigningKeys: anything else,
 * even of the same shape, is refused (signingKeysProblem).
 */
const keys: Kind<SigningKeys, string> = {
  name: 'keys',
  value: z.custom<SigningKeys>((v) => signingKeysProblem(v) === undefined, { error: (issue) => signingKeysProblem(issue.input) ?? 'invalid' }),
  allowed: '{ record?, checkpoint? } with keys from loadSigningKeys() (checkpoint: the Ed25519 one)',
  text: z.string().min(1),
  envAllowed: 'a key, a key file or a key id',
  keyMaterial: true,
};

/** What a variable's text parses to. */
export type EnvValue = string | number | boolean;

/** One option. A value comes from code, else from `read(env)` or the first of `env` that is set, else `default`. */
export interface Row<T> {
  /** Environment variables, most specific first. */
  readonly env: readonly string[];
  readonly kind: Kind<T, EnvValue>;
  readonly default: T;
  readonly doc: string;
  /** Reads the value from the whole environment, when the variables need more than parsing one by one. */
  readonly read?: (env: NodeJS.ProcessEnv) => T;
  /** Variables among `env` whose value is never echoed in a message nor trimmed. */
  readonly secret?: readonly string[];
}

/** A variable validated like the others, with no code option and no effect (see its doc). */
export interface EnvOnlyRow<T> extends Omit<Row<T>, 'read'> {
  readonly envOnly: true;
}

const option = <T>(row: Row<NoInfer<T>> & { kind: Kind<T, EnvValue> }): Row<T> => row;
const envOnly = <T>(row: Omit<EnvOnlyRow<T>, 'envOnly'>): EnvOnlyRow<T> => ({ ...row, envOnly: true });

export const DEFAULT_DIR = '.otel-audit';

/** The table. Its order is the order in which bad environment variables are listed, and code options checked. */
export const OPTIONS = {
  dir: option({ env: ['OTEL_AUDIT_DIR'], kind: path, default: DEFAULT_DIR,
    doc: 'directory for journal, spool and state, relative to the working directory' }),
  file: option({ env: ['OTEL_AUDIT_FILE'], kind: oneOf(['journal', 'fallback', 'off']), default: 'journal',
    doc: 'journal every record, only what the collector could not take (fallback), or nothing' }),
  fsync: option({ env: ['OTEL_AUDIT_FSYNC'], kind: oneOf(['always', 'batch', 'off']), default: 'batch',
    doc: 'fsync before emit returns (always), once per group commit (batch), or never' }),
  maxFileBytes: option({ env: ['OTEL_AUDIT_MAX_FILE_BYTES'], kind: wholeNumber(4096, 'a whole number of bytes >= 4096'), default: 50 * 1024 * 1024,
    doc: 'journal segment size for rotation' }),
  maxFiles: option({ env: ['OTEL_AUDIT_MAX_FILES'], kind: wholeNumber(1), default: 10,
    doc: 'journal segments kept; acknowledged ones beyond it are deleted, oldest first' }),
  stdout: option({ env: ['OTEL_AUDIT_STDOUT'], kind: flag, default: false,
    doc: 'also write each record as one OTLP/JSON line to stdout' }),
  onLossPolicy: option({ env: ['OTEL_AUDIT_ON_LOSS'], kind: oneOf(['warn', 'throw']), default: 'warn',
    doc: 'a record durable nowhere is counted and reported (warn), or record() fails closed (throw)' }),
  defaultActor: option({ env: ['OTEL_AUDIT_DEFAULT_ACTOR'], kind: oneOf(['os-user', 'none']), default: 'none',
    doc: 'typed events with no actor get the OS user running the process (os-user), or are refused (none)' }),
  loggerName: option({ env: ['OTEL_AUDIT_LOGGER_NAME'], kind: label('a non-empty logger name', 256), default: DEFAULT_AUDIT_LOGGER_NAME,
    doc: 'logger name that marks audit records' }),
  signingKeys: option({ env: [ENV_HMAC_KEY, ENV_HMAC_KEY_FILE, ENV_SIGNING_KEY_FILE, ENV_KEY_ID], kind: keys, default: {},
    secret: [ENV_HMAC_KEY], read: (env) => readSigningKeys(env, sayOnce),
    doc: 'HMAC key (or its file) or Ed25519 key file that sign records and checkpoints; HMAC key id (docs/integrity.md)' }),
  checkpointEveryRecords: option({ env: ['OTEL_AUDIT_CHECKPOINT_RECORDS'], kind: wholeNumber(1), default: 1000,
    doc: 'a signed checkpoint after this many records' }),
  checkpointIntervalMillis: option({ env: ['OTEL_AUDIT_CHECKPOINT_INTERVAL_MS'], kind: millis(0, 'a whole number of milliseconds (0: only by count)'), default: 60000,
    doc: 'and this often when records were sealed since the last one (0: by count only)' }),
  // Read here, not only by the transport, because it chooses the transport; the LOGS one wins (OTLP exporter spec).
  'exporter.protocol': option({ env: ['OTEL_EXPORTER_OTLP_LOGS_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL'], kind: oneOf([...OTLP_PROTOCOLS]), default: 'http/json',
    doc: 'OTLP transport' }),
  maxQueueSize: option({ env: ['OTEL_BLRP_MAX_QUEUE_SIZE'], kind: wholeNumber(1), default: 8192,
    doc: 'records kept in memory for export; journaled ones beyond it are evicted and read back later' }),
  maxExportBatchSize: option({ env: ['OTEL_BLRP_MAX_EXPORT_BATCH_SIZE'], kind: wholeNumber(1), default: 2048,
    doc: 'most records per OTLP request, capped at maxQueueSize' }),
  exportTimeoutMillis: option({ env: ['OTEL_BLRP_EXPORT_TIMEOUT'], kind: millis(1, 'a positive whole number of milliseconds'), default: 30000,
    doc: 'default timeout of forceFlush and shutdown' }),
  scheduleDelayMillis: envOnly({ env: ['OTEL_BLRP_SCHEDULE_DELAY'], kind: millis(0), default: 1000,
    doc: 'validated, no effect: a batch is sent as soon as the previous one is acknowledged' }),
  maxPendingRecords: option({ env: [], kind: wholeNumber(1), default: 65536,
    doc: 'hard bound on records in memory (raised to maxQueueSize); past it, the loss policy' }),
  retryMinMillis: option({ env: [], kind: millis(1), default: 500,
    doc: 'first backoff after a failed export (doubling)' }),
  retryMaxMillis: option({ env: [], kind: millis(1), default: 30000,
    doc: 'longest backoff between failed exports' }),
  replay: option({ env: [], kind: flag, default: true,
    doc: 'replay streams left unacknowledged by earlier processes sharing dir' }),
  replayRescanMillis: option({ env: [], kind: millis(0, 'a whole number of milliseconds (0: only at start-up)'), default: 60000,
    doc: 'how often a running processor looks again for streams left to replay (0: only at start-up)' }),
} as const;

type Table = typeof OPTIONS;
/** Names of the code options in the table (`exporter.protocol` is the field of `exporter`). */
export type OptionName = { [K in keyof Table]: Table[K] extends EnvOnlyRow<unknown> ? never : K }[keyof Table];
/** The value of every option in the table, resolved. */
export type OptionValues = { -readonly [K in OptionName]: Table[K] extends Row<infer T> ? T : never };

/** The rows, each with its name (an array for the loops; the object above for the types and readers). */
export const ROWS = Object.entries(OPTIONS) as [keyof Table, Row<unknown> | EnvOnlyRow<unknown>][];

export const isEnvOnly = (row: Row<unknown> | EnvOnlyRow<unknown>): row is EnvOnlyRow<unknown> => 'envOnly' in row;
