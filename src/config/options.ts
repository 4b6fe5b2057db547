/**
 * Resolution of the audit processor's options: code options override environment variables, which override
 * defaults (ARCHITECTURE.md §6). Which variable, check and default belong to each option: the table (table.ts).
 */
import { constants, accessSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { inspect, type InspectOptions } from 'node:util';
import { AuditConfigError } from '../core/errors.js';
import { kindOf } from '../core/value-kind.js';
import { sayOnce } from '../core/say.js';
import { httpUrl } from '../core/http-url.js';
import { describe } from '../otlp/describe.js';
import { readAuditEnv, warnUnknownAuditVariables, type AuditEnv } from './env.js';
import { ENV_SIGNING_KEY_FILE } from '../integrity/index.js';
import { isEnvOnly, MAX_TIMER_MILLIS, OPTIONS, ROWS, type OptionValues, type Row } from './table.js';
import type { AuditProcessorOptions, ResolvedOptions } from './types.js';

export type { AuditProcessorOptions, ResolvedOptions } from './types.js';
export { DEFAULT_DIR } from './table.js';

/** The code option at a dotted name (`exporter.protocol`); undefined or null when not given. */
function given(code: AuditProcessorOptions, name: string): unknown {
  let v: unknown = code;
  // Own properties only: a polluted Object.prototype (`file: 'off'`) must not configure the audit trail.
  for (const key of name.split('.')) v = typeof v === 'object' && v !== null && Object.hasOwn(v, key) ? (v as Record<string, unknown>)[key] : undefined;
  return v;
}

function fromEnv(row: Row<unknown>, parsed: AuditEnv, env: NodeJS.ProcessEnv): unknown {
  if (row.read !== undefined) return row.read(env);
  return row.env.map((name) => parsed[name]).find((v) => v !== undefined);
}

const bad = (name: string, v: unknown, allowed: string): never => {
  throw new AuditConfigError(`otel-audit option ${name}=${describe(v)} is invalid: allowed values are ${allowed}`);
};

/**
 * A URL with its secrets hidden, parseable or not: for messages. Everything after the scheme up to the last `@` is
 * hidden, since a password may hold `/`, `?` or `#` (and then the URL does not parse): more than the userinfo
 * when a path holds an `@`, never less. So are the query and the fragment, where tokens go too (`?api_key=…`).
 */
export function withoutSecrets(url: string): string {
  const at = url.lastIndexOf('@');
  const from = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(url)?.[0].length ?? 0;
  const u = at < from ? url : `${url.slice(0, from)}***@${url.slice(at + 1)}`;
  const q = u.search(/[?#]/);
  return q < 0 ? u : `${u.slice(0, q + 1)}***`;
}

/** What is wrong with an endpoint that `httpUrl` refused. */
const notAnHttpUrl = (raw: string): string =>
  /^https?:\/\//i.test(raw) ? 'it does not parse as a URL (a port above 65535, say, or a character a host name cannot hold)' : 'allowed values are an http:// or https:// URL';

/** The variable of a pair (the `LOGS` one first) that the OTLP/HTTP transport reads: the first set and not blank. */
const readVariable = (env: NodeJS.ProcessEnv, names: readonly string[]): string | undefined => names.find((n) => (env[n]?.trim() ?? '') !== '');

/** Endpoint variables the OTLP/HTTP transport reads: it would warn and send to http://localhost:4318 on a bad one. */
const HTTP_ENDPOINT_VARIABLES = ['OTEL_EXPORTER_OTLP_LOGS_ENDPOINT', 'OTEL_EXPORTER_OTLP_ENDPOINT'] as const;

/**
 * Only the variable the transport reads: none when code gives the URL; the generic one only when the logs one is
 * unset (a scheme-less generic endpoint kept for other signals' gRPC exporters is then no concern of ours).
 */
function checkEndpointVariables(env: NodeJS.ProcessEnv, codeUrl: unknown): void {
  if (codeUrl !== undefined) return;
  const name = readVariable(env, HTTP_ENDPOINT_VARIABLES);
  if (name === undefined) return;
  const raw = env[name]!.trim();
  if (httpUrl(raw) !== undefined) return;
  throw new AuditConfigError(
    `otel-audit configuration: ${name}=${JSON.stringify(withoutSecrets(raw))} is invalid: ${notAnHttpUrl(raw)} (the OTLP transport would pass it over and send elsewhere, http://localhost:4318 by default)`,
  );
}

/** A Map, a Headers or the like: entries behind methods, none of them own properties. */
const isMapLike = (v: object): boolean => v instanceof Map || (typeof (v as { get?: unknown }).get === 'function' && typeof (v as { entries?: unknown }).entries === 'function');

/** The code options that are not rows of the table (table.ts). */
const OTHER_OPTIONS = ['exporter', 'onLoss', 'meterProvider'];
const OPTION_NAMES: ReadonlySet<string> = new Set([...ROWS.filter(([, row]) => !isEnvOnly(row)).map(([name]) => name.split('.')[0]!), ...OTHER_OPTIONS]);
const EXPORTER_FIELDS: ReadonlySet<string> = new Set(['url', 'headers', 'timeoutMillis', 'protocol', 'compression', 'meterProvider']);

/** A misspelled option (`fsnyc`, `exporter.endpoint`) would otherwise leave its default in force without a word. */
function checkNames(given: object, known: ReadonlySet<string>, prefix: string): void {
  const unknown = Object.keys(given).filter((k) => !known.has(k));
  if (unknown.length === 0) return;
  throw new AuditConfigError(
    `otel-audit option${unknown.length === 1 ? '' : 's'} ${unknown.map((k) => JSON.stringify(prefix + k)).join(', ')} ${unknown.length === 1 ? 'is' : 'are'} unknown: the options are ${[...known].map((k) => prefix + k).join(', ')}`,
  );
}

/**
 * An HTTP header the transport would send: a token name (RFC 9110 §5.1) and a value of visible characters, spaces
 * and tabs (§5.5). Node refuses anything else at every request, so the records would never leave the journal.
 */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * A header name that is no token is not quoted: it is most often a whole `Authorization: Basic …` written where
 * `name=value` belongs, credential included (found in review). Its position is said instead.
 */
const badHeaderName = (what: string, index: number): AuditConfigError =>
  new AuditConfigError(
    `${what} is invalid (values hidden): the name of header ${index + 1} holds a character a header name cannot (a space, ":" or another one outside RFC 9110 tokens); write name=value, e.g. authorization=Bearer%20…`,
  );

/** Headers HTTP can carry; `what` names their source. A valid name is said (it is not the secret); a value never is. */
function checkHeaders(headers: ReadonlyArray<readonly [string, string]>, what: string): void {
  for (let i = 0; i < headers.length; i++) {
    const [name, value] = headers[i]!;
    if (!HEADER_NAME.test(name)) throw badHeaderName(what, i);
    if (!HEADER_VALUE.test(value)) {
      throw new AuditConfigError(`${what} is invalid (values hidden): the value of ${JSON.stringify(name)} holds a character HTTP cannot carry in a header (a line break, another control character, or one beyond Latin-1)`);
    }
  }
}

/** Header variables the OTLP/HTTP transport reads (W3C Baggage format, values percent-decoded, as it parses them). */
const HTTP_HEADER_VARIABLES = ['OTEL_EXPORTER_OTLP_LOGS_HEADERS', 'OTEL_EXPORTER_OTLP_HEADERS'] as const;

/**
 * A header there that HTTP cannot carry failed every export, for the life of the process, unsaid until shutdown;
 * one the transport skips (no `=`) went out missing, as silently. `http`: the checks of the HTTP transport too (a
 * value's characters, `;`), else only those of the entries' form, which the gRPC transport parses alike.
 */
function checkHeaderVariables(env: NodeJS.ProcessEnv, http: boolean): void {
  for (const name of HTTP_HEADER_VARIABLES) {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') continue;
    const what = `otel-audit configuration: ${name}`;
    const pairs: [string, string][] = [];
    const entries = raw.split(',');
    for (let i = 0; i < entries.length; i++) {
      const [kv, ...properties] = entries[i]!.split(';');
      if (kv!.trim() === '' && properties.every((p) => p.trim() === '')) continue; // `a=1,` : nothing there
      const eq = kv!.indexOf('=');
      // The transport skips such an entry without a word, and the request goes out without it (found in review:
      // `Authorization: Bearer …`, curl's form, sent no credential at all).
      if (eq < 0) throw new AuditConfigError(`${what} is invalid (values hidden): header ${i + 1} has no "=": write name=value, e.g. authorization=Bearer%20…; the transport would leave it out`);
      const key = kv!.slice(0, eq).trim();
      // Found in review: the transport cut `x-api-key=abc;def` at the `;` (a Baggage property) and dropped a header
      // whose value is not percent-decodable, both without a word: a request then goes out without its credential.
      let header: string;
      try {
        header = decodeURIComponent(key);
      } catch {
        throw new AuditConfigError(`${what} is invalid (values hidden): the name of header ${i + 1} is not percent-decodable`);
      }
      if (!HEADER_NAME.test(header)) throw badHeaderName(what, i);
      if (!http) continue;
      // W3C Baggage properties (`;…`), which the OTel spec leaves unsupported: the transport sends what comes before.
      // Said, not refused: `key=value;` and `key=value;ttl=1` are valid settings (found in review of a first version).
      if (properties.some((p) => p.trim() !== '')) {
        sayOnce(`otel-audit: ${name}: the value of ${JSON.stringify(header)} has a ";": only what comes before it is sent (W3C Baggage properties are ignored); if the ";" is part of the value, write it as %3B`);
      }
      try {
        pairs.push([header, decodeURIComponent(kv!.slice(eq + 1).trim())]);
      } catch {
        throw new AuditConfigError(`${what} is invalid (values hidden): the value of ${JSON.stringify(header)} is not percent-decodable (a "%" not followed by two hex digits; write "%" as %25); the transport would drop the header`);
      }
    }
    checkHeaders(pairs, what);
  }
}

/**
 * OTEL_EXPORTER_OTLP_[LOGS_]TIMEOUT, when code gives no `exporter.timeoutMillis`: the transport takes a value that is
 * no positive number (`1s`, `abc`, `-5`) for none, and waits its default 10 s, with only a diag line (found in
 * review). Only the variable it reads is checked, as for the endpoint.
 */
function checkTimeoutVariables(env: NodeJS.ProcessEnv): void {
  const name = readVariable(env, ['OTEL_EXPORTER_OTLP_LOGS_TIMEOUT', 'OTEL_EXPORTER_OTLP_TIMEOUT']);
  if (name === undefined) return;
  const raw = env[name]!;
  const v = Number(raw.trim());
  if (Number.isFinite(v) && v > 0 && v <= MAX_TIMER_MILLIS) return;
  // 0 is "no limit" in the OTel environment spec (Timeout type), and other SDKs sharing the environment may set it:
  // said, not refused (found in review). The JS transport takes it for none.
  if (v === 0 && raw.trim() !== '') {
    sayOnce(`otel-audit: ${name}=0 (no limit, in the OTel spec): the OTLP transport of OpenTelemetry JS takes it for none and uses ${name.includes('_LOGS_') ? 'OTEL_EXPORTER_OTLP_TIMEOUT, else ' : ''}its default of 10000 ms; set exporter.timeoutMillis in code for another limit`);
    return;
  }
  throw new AuditConfigError(`otel-audit configuration: ${name}=${JSON.stringify(raw)} is invalid: allowed values are a positive number of milliseconds, at most ${MAX_TIMER_MILLIS} (the transport would ignore it)`);
}

/**
 * The certificate files of the OTLP/HTTP transport: one it cannot read it leaves out with only a diag line, and
 * TLS then fails at every export, or goes on without the client certificate (found in review). The path is not
 * quoted (a key pasted where its path belongs would be); the variable and the reason are.
 */
function checkCertificateVariables(env: NodeJS.ProcessEnv, codeUrl: string | undefined): void {
  // Over http:// the transport uses none of them (found in review: a shared ConfigMap naming a certificate this
  // container does not mount stopped start-up). The URL it uses: code's, else the variable it reads, else its default.
  const endpoint = codeUrl ?? env[readVariable(env, HTTP_ENDPOINT_VARIABLES) ?? ''] ?? '';
  if (!/^\s*https:/i.test(endpoint)) return;
  for (const kind of ['CERTIFICATE', 'CLIENT_CERTIFICATE', 'CLIENT_KEY']) {
    const name = readVariable(env, [`OTEL_EXPORTER_OTLP_LOGS_${kind}`, `OTEL_EXPORTER_OTLP_${kind}`]);
    if (name === undefined) continue;
    let why: string | undefined;
    try {
      const path = resolve(env[name]!);
      if (!statSync(path).isFile()) why = 'not a regular file';
      else accessSync(path, constants.R_OK);
    } catch (e) {
      why = (e as NodeJS.ErrnoException).code ?? 'unreadable';
    }
    if (why !== undefined) throw new AuditConfigError(`otel-audit configuration: ${name} names no file the transport can read (${why}; path hidden): it would go on without it`);
  }
}

/**
 * The `exporter` code option, checked before it reaches the OTLP transport, which would throw a plain Error
 * quoting the URL or a header value, credentials included, or take a bad value silently.
 */
function checkExporter(e: unknown): void {
  if (e === undefined) return;
  if (typeof e !== 'object' || e === null || Array.isArray(e)) {
    // The value is not quoted: a URL string here holds its credentials (found in review).
    throw new AuditConfigError(`otel-audit option exporter (${kindOf(e)}) is invalid: an object such as { url, headers, timeoutMillis, protocol, compression } is expected`);
  }
  checkNames(e, EXPORTER_FIELDS, 'exporter.');
  const { url, headers, timeoutMillis } = e as Record<string, unknown>;
  if (url !== undefined && (typeof url !== 'string' || httpUrl(url) === undefined)) {
    if (typeof url === 'string') throw new AuditConfigError(`otel-audit option exporter.url=${JSON.stringify(withoutSecrets(url))} is invalid: ${notAnHttpUrl(url)}`);
    bad('exporter.url', url, 'an http:// or https:// URL');
  }
  // Not a Map or a Headers: Object.entries sees nothing of them, and nothing would be sent (found in review).
  if (headers !== undefined && (typeof headers !== 'object' || headers === null || Array.isArray(headers) || isMapLike(headers) || Object.values(headers).some((v) => typeof v !== 'string'))) {
    throw new AuditConfigError('otel-audit option exporter.headers is invalid (values hidden): an object mapping header names to strings is expected (not a Headers or a Map)');
  }
  if (headers !== undefined) checkHeaders(Object.entries(headers as Record<string, string>), 'otel-audit option exporter.headers');
  if (timeoutMillis !== undefined && !(typeof timeoutMillis === 'number' && Number.isFinite(timeoutMillis) && timeoutMillis > 0 && timeoutMillis <= MAX_TIMER_MILLIS)) {
    bad('exporter.timeoutMillis', timeoutMillis, `a positive number of milliseconds, at most ${MAX_TIMER_MILLIS}`);
  }
}

/** Each option of the table from code, else the environment, else its default; a bad code value is refused. */
function resolveTable(code: AuditProcessorOptions, env: NodeJS.ProcessEnv): { values: OptionValues; explicit: Set<string> } {
  const parsed = readAuditEnv(env); // first: a bad variable stops start-up even when code overrides it
  warnUnknownAuditVariables(env);
  const values: Record<string, unknown> = {};
  /** Options given in code or by a variable, not left at their defaults. */
  const explicit = new Set<string>();
  for (const [name, row] of ROWS) {
    if (isEnvOnly(row)) continue;
    // Read even when code gives the value: a row's reader (the keys) refuses bad variables like readAuditEnv does.
    const envValue = fromEnv(row, parsed, env);
    const value = given(code, name) ?? envValue;
    if (value !== undefined) explicit.add(name);
    values[name] = value ?? row.default;
  }
  for (const [name, row] of ROWS) {
    if (isEnvOnly(row)) continue;
    const r = row.kind.value.safeParse(values[name]);
    if (r.success) continue;
    // Key material is never echoed: the first issue says what is wrong instead.
    if (row.kind.keyMaterial === true) throw new AuditConfigError(`otel-audit option ${name} is invalid (value hidden): ${r.error.issues[0]?.message ?? 'invalid'}; allowed values are ${row.kind.allowed}`);
    bad(name, values[name], row.kind.allowed);
  }
  return { values: values as OptionValues, explicit }; // each value passed its row's check just above
}

/**
 * Checkpoints are signed with the Ed25519 key: without one, a checkpoint setting does nothing, which is said once at
 * start-up rather than left silent. Not refused: a configuration shared by services with and without the key, or one
 * that turns checkpoints off (`…_INTERVAL_MS=0`), is valid (found in review of a first version that refused it).
 */
function checkCheckpointSettings(o: ResolvedOptions, explicit: Set<string>, env: NodeJS.ProcessEnv): void {
  if (o.signingKeys.checkpoint !== undefined) return;
  const set = (['checkpointEveryRecords', 'checkpointIntervalMillis'] as const)
    .filter((name) => explicit.has(name))
    .map((name) => OPTIONS[name].env.find((v) => env[v] !== undefined && env[v] !== '') ?? `option ${name}`);
  if (set.length === 0) return;
  sayOnce(
    `otel-audit: ${set.join(' and ')} ${set.length === 1 ? 'is' : 'are'} set but no Ed25519 key is (${ENV_SIGNING_KEY_FILE}, or signingKeys.checkpoint in code): no checkpoints are written, they are signed with that key`,
  );
}

/** Values of `exporter.compression`, as OTEL_EXPORTER_OTLP_[LOGS_]COMPRESSION takes them. */
const COMPRESSIONS = ['gzip', 'none'];
const COMPRESSION_VARIABLES = ['OTEL_EXPORTER_OTLP_LOGS_COMPRESSION', 'OTEL_EXPORTER_OTLP_COMPRESSION'];

/**
 * OTEL_EXPORTER_OTLP_[LOGS_]COMPRESSION, read here (the LOGS one wins) in any case, as the SDK environment spec
 * says enum values should be: the transport reads it case-sensitively and sends uncompressed, without a word, for
 * `GZIP` or anything else it does not know (found in review). Any other value stops start-up.
 */
function compressionFromEnv(env: NodeJS.ProcessEnv): 'gzip' | 'none' | undefined {
  let chosen: 'gzip' | 'none' | undefined;
  for (const name of COMPRESSION_VARIABLES) {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') continue;
    const v = raw.trim().toLowerCase();
    if (!COMPRESSIONS.includes(v)) throw new AuditConfigError(`otel-audit configuration: ${name}=${JSON.stringify(raw)} is invalid: allowed values are gzip, none`);
    chosen ??= v as 'gzip' | 'none';
  }
  return chosen;
}

/**
 * The resolved exporter options, printed (console.log of the processor or its `options`, util.inspect, JSON) with
 * header values and the URL's credentials, query and fragment hidden: `processor.options` is public, and a
 * logged processor showed `Authorization: Bearer …` (found in review). Signing keys are opaque handles already.
 * Reading the fields is unchanged; the two methods are not enumerable.
 */
function redacted<T extends { url?: string; headers?: Record<string, string> }>(exporter: T): T {
  const shown = (): Record<string, unknown> => ({
    ...exporter,
    ...(exporter.url === undefined ? {} : { url: withoutSecrets(exporter.url) }),
    ...(exporter.headers === undefined ? {} : { headers: Object.fromEntries(Object.keys(exporter.headers).map((k) => [k, '(hidden)'])) }),
  });
  Object.defineProperty(exporter, inspect.custom, { value: (_depth: number, opts: InspectOptions) => inspect(shown(), opts), enumerable: false });
  Object.defineProperty(exporter, 'toJSON', { value: shown, enumerable: false });
  return exporter;
}

export function resolveOptions(code: AuditProcessorOptions = {}, env: NodeJS.ProcessEnv = process.env): ResolvedOptions {
  if (typeof code !== 'object' || code === null || Array.isArray(code)) {
    throw new AuditConfigError(`otel-audit options (${kindOf(code)}) are invalid: an object is expected`);
  }
  checkNames(code, OPTION_NAMES, '');
  if (code.onLoss !== undefined && typeof code.onLoss !== 'function') bad('onLoss', code.onLoss, 'a function ({ records, reason, streamId }) => void');
  checkExporter(code.exporter);
  const { values, explicit } = resolveTable(code, env);
  const { dir, 'exporter.protocol': protocol, ...rest } = values;
  // The other exporter fields go to the transport as given; this one it would take unchecked.
  if (protocol !== 'grpc') {
    checkEndpointVariables(env, code.exporter?.url);
    if (code.exporter?.timeoutMillis === undefined) checkTimeoutVariables(env);
    checkCertificateVariables(env, code.exporter?.url);
  }
  checkHeaderVariables(env, protocol !== 'grpc');
  const fromCode = code.exporter?.compression;
  if (fromCode !== undefined && !COMPRESSIONS.includes(fromCode)) bad('exporter.compression', fromCode, COMPRESSIONS.join(', '));
  const envCompression = compressionFromEnv(env); // checked even when code sets it, as every variable is
  const compression = fromCode ?? envCompression;
  const exporter = redacted({ ...code.exporter, protocol, ...(compression === undefined ? {} : { compression }) });
  const o: ResolvedOptions = { ...rest, dir: resolve(dir), exporter, onLoss: code.onLoss, meterProvider: code.meterProvider };
  if (o.retryMinMillis > o.retryMaxMillis) bad('retryMinMillis', o.retryMinMillis, `at most retryMaxMillis (${o.retryMaxMillis})`);
  checkCheckpointSettings(o, explicit, env);
  if (o.maxPendingRecords < o.maxQueueSize) o.maxPendingRecords = o.maxQueueSize;
  if (o.maxExportBatchSize > o.maxQueueSize) o.maxExportBatchSize = o.maxQueueSize;
  return o;
}
