/**
 * Keys for per-record MACs/signatures and signed checkpoints (docs/integrity.md §3).
 *
 * - HMAC-SHA256: a shared secret of at least 32 bytes. Key id: the first 16 hex digits of
 *   SHA-256("otel-audit hmac key id" || secret), unless OTEL_AUDIT_KEY_ID names it.
 * - Ed25519 (algorithm id `EdDSA`): a PKCS#8 PEM private key on the producer, the SPKI PEM public key (or the
 *   private key) on the verifier. Key id: the first 16 hex digits of SHA-256(SPKI DER of the public key).
 *
 * Key material lives only inside Node KeyObjects held in a module-private WeakMap: the key handles are frozen
 * `{ keyId, algorithm }` objects, so logging, inspecting or JSON-serializing one never shows the key. Error
 * messages name the variable or file and the problem, never the value.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { closeSync, constants, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { AuditConfigError } from '../core/errors.js';
import { kindOf } from '../core/value-kind.js';
import { fileKind } from '../core/file-kind.js';
import { stderrOnce } from '../core/stderr.js';
import { keyFileModeProblem, type KeyFileStat } from './key-file-mode.js';

export type IntegrityAlgorithm = 'HMAC-SHA256' | 'EdDSA';
export const INTEGRITY_ALGORITHMS: readonly IntegrityAlgorithm[] = ['HMAC-SHA256', 'EdDSA'];

/** Brands SigningKey (types only): an object of the same shape is not one, as at run time (`isSigningKey`). */
declare const signingKeyBrand: unique symbol;

/**
 * A key the producer signs with, as `loadSigningKeys` makes it. Opaque: only the id and algorithm are visible, and
 * an object of the same shape is not one (refused at run time, and by the compiler).
 */
export interface SigningKey {
  readonly keyId: string;
  readonly algorithm: IntegrityAlgorithm;
  readonly [signingKeyBrand]: true;
}

/** A key the verifier checks with: an Ed25519 public key or an HMAC secret. Opaque like SigningKey. */
export interface VerifyingKey {
  readonly keyId: string;
  readonly algorithm: IntegrityAlgorithm;
}

/** Minimum HMAC secret length in bytes (RFC 2104 §3: at least the hash output length). */
export const HMAC_MIN_KEY_BYTES = 32;
/** Label hashed before the secret to derive an HMAC key id (docs/integrity.md §3.2). */
export const HMAC_KEY_ID_LABEL = 'otel-audit hmac key id';
/** What OTEL_AUDIT_KEY_ID may be: it is written into every record. */
const KEY_ID_RE = /^[A-Za-z0-9._:-]{1,64}$/;

export const ENV_HMAC_KEY = 'OTEL_AUDIT_HMAC_KEY';
export const ENV_HMAC_KEY_FILE = 'OTEL_AUDIT_HMAC_KEY_FILE';
export const ENV_SIGNING_KEY_FILE = 'OTEL_AUDIT_SIGNING_KEY_FILE';
export const ENV_KEY_ID = 'OTEL_AUDIT_KEY_ID';

const material = new WeakMap<object, KeyObject>();

function handle(keyId: string, algorithm: IntegrityAlgorithm, key: KeyObject): SigningKey & VerifyingKey {
  const h = Object.freeze({ keyId, algorithm });
  material.set(h, key);
  return h as SigningKey & VerifyingKey; // the brand is a type only: material holds what makes it one
}

/**
 * Is `k` a key the producer can sign with, as loadSigningKeys makes them: a handle of this module (not an object of
 * the same shape) holding an HMAC secret or an Ed25519 private key (a public key from loadVerifyingKeys cannot sign).
 */
export function isSigningKey(k: unknown): k is SigningKey {
  if (typeof k !== 'object' || k === null) return false;
  const key = material.get(k);
  if (key === undefined) return false;
  return (k as SigningKey).algorithm === 'HMAC-SHA256' ? key.type === 'secret' : key.type === 'private';
}

/** The KeyObject behind a handle (HMAC: secret key; EdDSA: private key for SigningKey, public for VerifyingKey). */
export function keyMaterial(k: SigningKey | VerifyingKey): KeyObject {
  const m = material.get(k);
  if (m === undefined) throw new TypeError('not a key created by otel-audit (loadSigningKeys, loadVerifyingKeys)');
  return m;
}

/** First 16 hex digits of SHA-256("otel-audit hmac key id" || secret). */
export function hmacKeyId(secret: Uint8Array): string {
  return createHash('sha256').update(HMAC_KEY_ID_LABEL, 'utf8').update(secret).digest('hex').slice(0, 16);
}

/** First 16 hex digits of SHA-256 of the SPKI DER encoding of an Ed25519 public key. */
export function ed25519KeyId(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

/**
 * An argument as a usage message quotes it: one that looks like a key (a PEM text pasted where a path belongs
 * starts with `-` and reads as an option) is not shown (found in review: the whole private key went to stderr).
 */
export const quotedArgument = (a: string): string => {
  if (looksLikeKeyMaterial(a)) return '(value hidden: it looks like a key)';
  // `--name=<key>` or `-k=<key>`: the name is shown, the value hidden (found in review: `--hmac-secret=<64 hex
  // digits>`, an unknown option, was quoted whole on stderr and on the report page).
  const eq = a.startsWith('-') ? a.indexOf('=') : -1;
  if (eq > 0 && looksLikeKeyMaterial(a.slice(eq + 1))) return `${JSON.stringify(`${a.slice(0, eq + 1)}…`)} (value hidden: it looks like a key)`;
  return JSON.stringify(a);
};

const fingerprints = new WeakMap<VerifyingKey, string>();

/**
 * Which key material a handle holds, whatever key id it is given under: `EdDSA:` and the Ed25519 key id of its
 * public key, or `HMAC-SHA256:` and the derived HMAC key id of its secret (both public). The verifier tells with
 * it that one stream's records were checked under one key (docs/integrity.md §3.4, §7.3 step 1b).
 */
export function keyFingerprint(k: VerifyingKey): string {
  let f = fingerprints.get(k);
  if (f === undefined) {
    const m = keyMaterial(k);
    f = k.algorithm === 'EdDSA' ? `EdDSA:${ed25519KeyId(m.type === 'private' ? createPublicKey(m) : m)}` : `HMAC-SHA256:${hmacKeyId(m.export())}`;
    fingerprints.set(k, f);
  }
  return f;
}

/** A `base64:`/`hex:` notation prefix, in any case and after any white space: what a secret's text may start with. */
const LOOSE_PREFIX = /^\s*(?:base64|hex):/i;

const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A PEM armour line; its label (upper-case words, no key material) is named in the error. */
const PEM_ARMOUR = /-----BEGIN ([A-Z0-9 ]{1,64})-----/;

/**
 * Decodes an HMAC secret as written in OTEL_AUDIT_HMAC_KEY or a key file: `base64:<standard base64>`,
 * `hex:<hex digits>`, or else the UTF-8 bytes of the text itself. `what` names the source in errors; `pemHint`
 * says where a PEM key belongs instead.
 */
export function decodeHmacSecret(value: string, what: string, pemHint = `an Ed25519 private key goes in ${ENV_SIGNING_KEY_FILE}`): Buffer {
  // A PEM key is long enough to pass as a text secret: verify would then find every record "under a key not given".
  const pem = PEM_ARMOUR.exec(value);
  if (pem !== null) throw new AuditConfigError(`${what}: this is a PEM key ("BEGIN ${pem[1]}"), not an HMAC secret (value hidden); ${pemHint}`);
  let bytes: Buffer;
  // " base64:…" or "BASE64:…" would otherwise be a text secret, silently another key than the one meant.
  if (!value.startsWith('base64:') && !value.startsWith('hex:') && LOOSE_PREFIX.test(value)) {
    throw new AuditConfigError(`${what}: the value starts with a "base64:" or "hex:" prefix that is not in lower case at its very start; write it so (else the text itself would be the key) (value hidden)`);
  }
  if (value.startsWith('base64:')) {
    const b64 = value.slice('base64:'.length).trim();
    if (!STRICT_BASE64.test(b64)) throw new AuditConfigError(`${what}: the value after "base64:" is not standard base64 (value hidden)`);
    bytes = Buffer.from(b64, 'base64');
  } else if (value.startsWith('hex:')) {
    const hex = value.slice('hex:'.length).trim();
    if (!/^(?:[0-9a-fA-F]{2})+$/.test(hex)) throw new AuditConfigError(`${what}: the value after "hex:" is not an even number of hex digits (value hidden)`);
    bytes = Buffer.from(hex, 'hex');
  } else {
    bytes = Buffer.from(value, 'utf8');
  }
  if (bytes.length < HMAC_MIN_KEY_BYTES) {
    throw new AuditConfigError(
      `${what}: an HMAC-SHA256 key must be at least ${HMAC_MIN_KEY_BYTES} bytes, this one has ${bytes.length} (value hidden); ` +
        `generate one with: node -e "console.log('base64:'+require('crypto').randomBytes(32).toString('base64'))"`,
    );
  }
  return bytes;
}

/** An input path as messages show it: one that looks like a key (pasted where a path belongs) is not shown. */
export const shownInput = (path: string): string => (looksLikeKeyMaterial(path) ? 'an input that looks like a key, not a path (value hidden)' : path);

/**
 * Is this "path" more likely a key pasted where its file's path belongs (`OTEL_AUDIT_HMAC_KEY_FILE=base64:…`,
 * `--pubkey "$(cat key.pem)"`)? Such a value is never printed. True for: a line break or other control
 * character; a PEM armour line; a `base64:`/`hex:` prefix; more than 1024 characters; nothing but 32+ hex
 * digits; a run of 14+ characters mixing upper case, lower case and digits with no `/ . _ -` between them (random
 * base64, unlike the words of a path); 32+ characters with a space and no path separator (a passphrase). A real
 * path of such a shape only loses its name in the message.
 */
export function looksLikeKeyMaterial(value: string): boolean {
  if (/[\u0000-\u001f\u007f]/.test(value)) return true;
  if (/-----BEGIN|-----END|PRIVATE KEY-----|PUBLIC KEY-----/.test(value)) return true;
  if (LOOSE_PREFIX.test(value)) return true;
  if (value.length > 1024) return true;
  if (/^[0-9a-f]{32,}$/i.test(value)) return true;
  // Judged whole, not only run by run: base64 breaks its runs with `/`, base64url with `-` and `_`, UUIDs with `-`.
  if (looksLikeEncodedSecret(value)) return true;
  for (const run of value.split(/[/\\._\-\s]+/)) if (run.length >= 14 && /[A-Z]/.test(run) && /[a-z]/.test(run) && /\d/.test(run)) return true;
  return value.length >= 32 && /\s/.test(value) && !/[/\\]/.test(value);
}

/**
 * 32+ characters of the base64 or base64url alphabet only (no `.`, no space): with padding or a `+`, or else not
 * starting as a path does and mixing upper and lower case or letters and digits, or 32+ hex digits split by `-`
 * (UUIDs run together). A secret, not a file name.
 */
function looksLikeEncodedSecret(value: string): boolean {
  if (value.length < 32 || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) return false;
  // Padding or a `+`: base64, even when it starts with `/` as a path does.
  if (/[+=]/.test(value)) return true;
  if (/^[/.~]/.test(value)) return false;
  if (/^[0-9a-f-]+$/i.test(value)) return value.replace(/-/g, '').length >= 32;
  return ((/[A-Z]/.test(value) && /[a-z]/.test(value)) || (/[A-Za-z]/.test(value) && /\d/.test(value)));
}

/**
 * May a key file's path be shown? Not when it looks like key material; nor when it holds no path separator and
 * nothing is there (`hmac.ky`, a typo, is then hidden too): a raw HMAC key is any text of 32+ bytes (README
 * "Keys"), so a word-like one (`correct-horse-battery-staple-2026!`) pasted where its file's path belongs is told
 * from a file name only by the file system. A value with a `/` is a path (`/run/secrets/…` not mounted).
 */
export function keyFilePathShown(path: string): boolean {
  if (looksLikeKeyMaterial(path)) return false;
  // A bare name ending as key files do (`audit-signing.key.pem`, keygen's names) is a file name, not a pasted key:
  // hiding it left users guessing which of their own files was missing (found in review). Only one too short to be
  // an HMAC secret (HMAC_MIN_KEY_BYTES): `correct-horse-battery-staple-2026!.key` could be one (found in re-review).
  return /[/\\]/.test(path) || existsSync(path) || (Buffer.byteLength(path) < HMAC_MIN_KEY_BYTES && KEY_FILE_NAME.test(path));
}

/** A bare file name that ends as a key file's does (.pem, .key, .pub), with no white space. */
const KEY_FILE_NAME = /^[^\s/\\]+\.(?:pem|key|pub)$/i;

/** A key file's path for a message: quoted, or a placeholder (keyFilePathShown). */
export function keyFileName(path: string): string {
  return keyFilePathShown(path) ? JSON.stringify(path) : '(value hidden)';
}

/**
 * The one-line problem for a key file that cannot be read: the path and the error code, or — when it may be the
 * key itself (keyFilePathShown) — that it does not look like a file path, with `hint` (what the user probably meant).
 */
export function keyFileReadProblem(path: string, code: string | undefined, hint: string): string {
  if (looksLikeKeyMaterial(path)) return `the value does not look like a file path (value hidden); ${hint}`;
  if (!keyFilePathShown(path)) {
    return `no such file${code === undefined ? '' : ` (${code})`}, and the value is no path (no /), so it may be the key itself (value hidden); ${hint}`;
  }
  return `cannot read ${JSON.stringify(path)}${inWorkingDirectory(path, code)}${code === undefined ? '' : ` (${code})`}`;
}

/**
 * ` in the working directory "…"` for a relative path that does not exist: it is read from there, which is not always
 * the directory the user thinks of. Empty otherwise, and when the working directory itself is gone.
 */
export function inWorkingDirectory(path: string, code: string | undefined): string {
  if (code !== 'ENOENT' || isAbsolute(path)) return '';
  try {
    return ` in the working directory ${JSON.stringify(process.cwd())}`;
  } catch {
    return '';
  }
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The text of a key file, trailing line break(s) removed. It must be UTF-8: decoding a binary key would replace
 * its invalid bytes (two different keys could then become one), so such a file is refused instead.
 */
export function keyFileText(bytes: Uint8Array, what: string, kind: 'hmac' | 'pem' = 'hmac'): string {
  let text: string;
  try {
    text = STRICT_UTF8.decode(bytes);
  } catch {
    throw new AuditConfigError(
      kind === 'hmac'
        ? `${what}: the file is not UTF-8 text (value hidden); write a binary key as base64:<standard base64> or hex:<hex digits>`
        : `${what}: the file is not PEM text (value hidden); a DER key converts with: openssl pkey -inform DER -in KEY.der -out KEY.pem (a public key: openssl pkey -pubin -inform DER -in KEY.der -out KEY.pem)`,
    );
  }
  return withoutTrailingLineBreaks(text);
}

/** Trailing line breaks are not part of a key, in a file (an editor adds one) or a variable (`kubectl create secret --from-file` keeps the file's). */
const withoutTrailingLineBreaks = (text: string): string => text.replace(/[\r\n]+$/, '');

/**
 * The HMAC secret as OTEL_AUDIT_HMAC_KEY gives it: trailing line breaks removed, as from a key file, so that the
 * same text in a key file is the same key for `verify --hmac-key-file`. Other surrounding whitespace is refused:
 * a stray space from YAML or a .env file would otherwise be a different key, silently.
 */
function envSecretText(value: string): string {
  const text = withoutTrailingLineBreaks(value);
  // base64: and hex: payloads are trimmed when decoded (the same key with or without the space); a space before the
  // prefix is refused there.
  if (text.startsWith('base64:') || text.startsWith('hex:')) return text;
  if (/^\s|\s$/.test(text)) {
    throw new AuditConfigError(`${ENV_HMAC_KEY} begins or ends with whitespace (value hidden): remove it; if it is part of the key, write the key as base64:<standard base64> or hex:<hex digits>`);
  }
  return text;
}

/** Key files are a few hundred bytes; anything much larger is not a key, and is not read whole. */
const MAX_KEY_FILE_BYTES = 1024 * 1024;

/**
 * The warning for a key file others can read or change (key-file-mode.ts), or undefined. Only a secret is warned
 * of: an HMAC key file, or a PEM file holding a private key (`--pubkey` takes those too); `named` names the file.
 */
export function secretKeyFileWarning(named: string, st: KeyFileStat, text: string, kind: 'hmac' | 'pem'): string | undefined {
  if (kind === 'pem' && !/-----BEGIN (?:ENCRYPTED )?PRIVATE KEY-----/.test(text)) return undefined;
  const problem = keyFileModeProblem(st);
  return problem === undefined ? undefined : `${named}: ${problem}`;
}

/**
 * A key file's bytes, read synchronously (start-up) without ever blocking: O_NONBLOCK, so that a FIFO cannot hang
 * the open, then fstat on what was opened, so that only a regular file of at most MAX_KEY_FILE_BYTES is read (a
 * device such as /dev/zero would otherwise be read until memory runs out). Symbolic links are followed: secret
 * volumes mount keys as links. Throws a message naming the file, never its content. `warn` is given the warning
 * for a secret key file open to others (secretKeyFileWarning).
 */
function readKeyFile(path: string, what: string, hint: string, kind: 'hmac' | 'pem', warn?: (message: string) => void): string {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    throw new AuditConfigError(`${what}: ${keyFileReadProblem(path, (e as NodeJS.ErrnoException).code, hint)}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) {
      const hint = st.isFIFO() ? ' (process substitution, <(…), gives one: write the key to a file, or give an HMAC key itself in OTEL_AUDIT_HMAC_KEY)' : '';
      throw new AuditConfigError(`${what}: ${keyFileName(path)} is a ${fileKind(st)}, not a regular file holding a key${hint}`);
    }
    const tooLarge = (): AuditConfigError => new AuditConfigError(`${what}: ${keyFileName(path)} is larger than ${MAX_KEY_FILE_BYTES} bytes: not a key file`);
    if (st.size > MAX_KEY_FILE_BYTES) throw tooLarge();
    const buf = Buffer.alloc(MAX_KEY_FILE_BYTES + 1);
    let n = 0;
    for (;;) {
      let r: number;
      try {
        r = readSync(fd, buf, n, buf.length - n, null);
      } catch (e) {
        throw new AuditConfigError(`${what}: ${keyFileReadProblem(path, (e as NodeJS.ErrnoException).code, hint)}`);
      }
      if (r === 0) break;
      n += r;
      // It may have grown since fstat.
      if (n > MAX_KEY_FILE_BYTES) throw tooLarge();
    }
    const named = what.includes(keyFileName(path)) ? what : `${what} (${keyFileName(path)})`;
    const text = keyFileText(buf.subarray(0, n), named, kind);
    buf.fill(0);
    if (warn !== undefined) {
      const warning = secretKeyFileWarning(named, st, text, kind);
      if (warning !== undefined) warn(`otel-audit: ${warning}`);
    }
    return text;
  } finally {
    closeSync(fd);
  }
}

const HINT_HMAC_FILE = `it must name a file holding the key; did you mean ${ENV_HMAC_KEY} (the key itself)?`;
const HINT_SIGNING_FILE = `it must name a PEM file holding the private key (otel-audit keygen writes one), not the key itself`;
const HINT_PUBKEY_FILE = 'a public key file is the path of a PEM file (e.g. audit-signing.pub.pem), not the key itself';

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

/** The PEM blocks of a file, in order; none means the file is not PEM. */
function pemBlocks(text: string): Array<{ label: string; pem: string }> {
  return [...text.matchAll(PEM_BLOCK)].map((m) => ({ label: m[1]!, pem: m[0] }));
}

function ed25519Private(pem: string, what: string): KeyObject {
  let k: KeyObject;
  try {
    k = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    // The OpenSSL message is not echoed: it could quote the input.
    throw new AuditConfigError(`${what}: not a readable PKCS#8 PEM private key (an unencrypted "BEGIN PRIVATE KEY" block is expected; otel-audit keygen writes one)`);
  }
  if (k.asymmetricKeyType !== 'ed25519') {
    throw new AuditConfigError(`${what}: the key is ${k.asymmetricKeyType ?? 'not asymmetric'}, an Ed25519 key is required`);
  }
  return k;
}

function ed25519Public(pem: string, what: string): KeyObject {
  let k: KeyObject;
  try {
    k = createPublicKey({ key: pem, format: 'pem' });
  } catch {
    throw new AuditConfigError(`${what}: not a readable SPKI PEM public key ("BEGIN PUBLIC KEY")`);
  }
  if (k.asymmetricKeyType !== 'ed25519') {
    throw new AuditConfigError(`${what}: the key is ${k.asymmetricKeyType ?? 'not asymmetric'}, an Ed25519 key is required`);
  }
  return k;
}

const isSet = (v: string | undefined): v is string => v !== undefined && v !== '';

/**
 * Could this key id be key material? It is written into every record, so a secret put here would be published
 * with them. Yes for: the HMAC secret itself in any notation; hex digits (and dashes) beyond one UUID's 32, or 32
 * in one run; 32+ characters with no separator (`. _ : -`) mixing cases or letters and digits. Names such as
 * `prod-eu-west-1-audit-hmac-key-v2`, `PaymentsAuditKey1` and UUIDs pass (docs/integrity.md §3.2): a rule on shorter
 * mixed runs refused CamelCase names that had always been taken (found in review).
 */
/** Characters of the secret, in a row, that a key id may not hold. */
const SECRET_PIECE = 16;

function keyIdLooksSecret(id: string, secret: Buffer, secretText: string): boolean {
  // The secret inside a longer id (`audit:<hex>`, `hmac:<passphrase>`), or 16 characters of it, in any notation
  // (found in review). Compared without case: hex may be written in either.
  const lower = id.toLowerCase();
  const forms = [secretText.trim(), secret.toString('utf8'), secret.toString('hex'), secret.toString('base64'), secret.toString('base64url')];
  for (const f of forms) {
    const g = f.toLowerCase();
    for (let i = 0; i + SECRET_PIECE <= g.length; i++) if (lower.includes(g.slice(i, i + SECRET_PIECE))) return true;
  }
  if (/^[0-9a-fA-F-]+$/.test(id)) {
    const digits = id.replace(/-/g, '').length;
    return id.includes('-') ? digits > 32 : digits >= 32;
  }
  return id.length >= 32 && !/[._:-]/.test(id) && ((/[A-Z]/.test(id) && /[a-z]/.test(id)) || (/[A-Za-z]/.test(id) && /\d/.test(id)));
}

const KEY_VARIABLES: readonly string[] = [ENV_HMAC_KEY, ENV_HMAC_KEY_FILE, ENV_SIGNING_KEY_FILE, ENV_KEY_ID];

/**
 * What `loadSigningKeys` is given from code: an object shaped like process.env, its key variables strings. A path
 * string, or a misspelled name (`OTEL_AUDIT_SIGNING_KEYFILE`), gave `{}`, so records went unsigned without a word
 * (found in review); every otel-audit variable naming a key, HMAC, signing or secret is one of KEY_VARIABLES.
 * Values are not shown.
 */
function checkKeyVariables(env: unknown): asserts env is NodeJS.ProcessEnv {
  if (typeof env !== 'object' || env === null || Array.isArray(env)) {
    throw new AuditConfigError(`loadSigningKeys takes an object shaped like process.env, not ${kindOf(env)} (value hidden): e.g. loadSigningKeys({ ${ENV_SIGNING_KEY_FILE}: 'audit-signing.key.pem' })`);
  }
  const vars = env as Record<string, unknown>;
  for (const name of KEY_VARIABLES) {
    if (vars[name] !== undefined && typeof vars[name] !== 'string') throw new AuditConfigError(`${name} is invalid (value hidden): a string is expected, not a ${typeof vars[name]}`);
  }
  if (env === process.env) return; // unknown variables there are said at start-up (config/env.ts), as for every variable
  // Any case, a letter off the prefix, HMAC/SIGN/SECRET words (found in review: otel_audit_hmac_key, OTEL_AUDT_HMAC_KEY,
  // OTEL_AUDIT_HMAC_SECRET gave {} too).
  const unknown = Object.keys(env).filter((n) => /^OTEL_AUD/i.test(n) && /KEY|HMAC|SIGN|SECRET/i.test(n) && !KEY_VARIABLES.includes(n));
  if (unknown.length > 0) {
    throw new AuditConfigError(`${unknown.join(', ')} ${unknown.length === 1 ? 'is not a key variable' : 'are not key variables'} (misspelled?): loadSigningKeys reads ${KEY_VARIABLES.join(', ')}`);
  }
}

/**
 * The producer's keys from the environment:
 * - OTEL_AUDIT_HMAC_KEY (the secret) or OTEL_AUDIT_HMAC_KEY_FILE (a file holding it) — not both;
 * - OTEL_AUDIT_SIGNING_KEY_FILE — PKCS#8 PEM Ed25519 private key;
 * - OTEL_AUDIT_KEY_ID — optional id for the HMAC key.
 *
 * `record` signs every record: the HMAC key when set, else the Ed25519 key. `checkpoint` signs checkpoints:
 * always the Ed25519 key (absent when none is configured: no checkpoints). Empty variables count as unset.
 * A key file that its group or other users can read or change is used and said to `warn` (default: one line on
 * stderr, once per process; key-file-mode.ts).
 */
export function loadSigningKeys(env: Readonly<Record<string, string | undefined>> = process.env, warn: (message: string) => void = stderrOnce): { record?: SigningKey; checkpoint?: SigningKey } {
  checkKeyVariables(env);
  return readSigningKeys(env, warn);
}

/**
 * `loadSigningKeys` without the check of what code gave it: the processor's reading of its environment, where an
 * unknown variable is said, not refused (config/env.ts), like every other one.
 */
export function readSigningKeys(env: NodeJS.ProcessEnv, warn: (message: string) => void): { record?: SigningKey; checkpoint?: SigningKey } {
  const hmacValue = env[ENV_HMAC_KEY];
  const hmacFile = env[ENV_HMAC_KEY_FILE];
  const signingFile = env[ENV_SIGNING_KEY_FILE];
  const keyIdOverride = env[ENV_KEY_ID];
  // Empty is unset (OTel SDK environment spec); only whitespace is a mistake that would leave records unsigned.
  const blank = [ENV_HMAC_KEY, ENV_HMAC_KEY_FILE, ENV_SIGNING_KEY_FILE, ENV_KEY_ID].filter((n) => env[n] !== undefined && env[n] !== '' && env[n]!.trim() === '');
  if (blank.length > 0) throw new AuditConfigError(`${blank.join(', ')} ${blank.length === 1 ? 'is' : 'are'} blank (only whitespace): set a value or unset the variable`);
  if (isSet(hmacValue) && isSet(hmacFile)) {
    throw new AuditConfigError(`${ENV_HMAC_KEY} and ${ENV_HMAC_KEY_FILE} are both set: set only one of them`);
  }
  let hmac: SigningKey | undefined;
  if (isSet(hmacValue) || isSet(hmacFile)) {
    const secretText = isSet(hmacValue) ? envSecretText(hmacValue) : readKeyFile(hmacFile!, ENV_HMAC_KEY_FILE, HINT_HMAC_FILE, 'hmac', warn);
    const secret = decodeHmacSecret(secretText, isSet(hmacValue) ? ENV_HMAC_KEY : `${ENV_HMAC_KEY_FILE} (${keyFileName(hmacFile!)})`);
    let keyId = hmacKeyId(secret);
    if (isSet(keyIdOverride)) {
      const id = keyIdOverride.trim();
      // Written into every record: a key pasted here would be published with them. Its value is not echoed then.
      if (keyIdLooksSecret(id, secret, secretText) || LOOSE_PREFIX.test(id) || (!KEY_ID_RE.test(id) && looksLikeKeyMaterial(id))) {
        // What made it look so, without its content (found in review: an id with a tab read as "a key" with no why).
        const what = `${[...id].length} characters${/[\u0000-\u001f\u007f]/.test(id) ? ', control characters among them' : ''}`;
        throw new AuditConfigError(`${ENV_KEY_ID} is invalid (value hidden): it looks like a key, not a key id (${what}); put the key in ${ENV_HMAC_KEY} or ${ENV_HMAC_KEY_FILE}, and a name such as "audit-2026" or "prod-eu-audit-hmac-v2" here`);
      }
      if (!KEY_ID_RE.test(id)) {
        // Not echoed either: an id with a secret in it that the test above does not recognise is still an id to hide.
        throw new AuditConfigError(`${ENV_KEY_ID} is invalid (value hidden): allowed are 1–64 characters of A–Z a–z 0–9 . _ : - (it has ${[...id].length} characters${/[^A-Za-z0-9._:-]/.test(id) ? ', some of them not allowed' : ''})`);
      }
      keyId = id;
    }
    hmac = handle(keyId, 'HMAC-SHA256', createSecretKey(secret));
    secret.fill(0);
  } else if (isSet(keyIdOverride)) {
    throw new AuditConfigError(`${ENV_KEY_ID} is set but no HMAC key is (${ENV_HMAC_KEY} or ${ENV_HMAC_KEY_FILE}); Ed25519 key ids are derived from the public key`);
  }
  let ed: SigningKey | undefined;
  if (isSet(signingFile)) {
    const what = `${ENV_SIGNING_KEY_FILE} (${keyFileName(signingFile)})`;
    const text = readKeyFile(signingFile, ENV_SIGNING_KEY_FILE, HINT_SIGNING_FILE, 'pem', warn);
    const all = pemBlocks(text);
    const blocks = all.filter((b) => b.label === 'PRIVATE KEY' || b.label === 'ENCRYPTED PRIVATE KEY');
    if (blocks.length === 0 && all.some((b) => b.label === 'PUBLIC KEY')) {
      throw new AuditConfigError(`${what}: this is a public key ("BEGIN PUBLIC KEY"); the producer signs with the private key (otel-audit keygen writes it as audit-signing.key.pem), and verify takes the public one (--pubkey)`);
    }
    if (blocks.length !== 1) {
      throw new AuditConfigError(`${what}: expected exactly one PEM "PRIVATE KEY" block, found ${blocks.length}`);
    }
    if (blocks[0]!.label === 'ENCRYPTED PRIVATE KEY') throw new AuditConfigError(`${what}: the key is encrypted; an unencrypted PKCS#8 key is required`);
    const priv = ed25519Private(blocks[0]!.pem, what);
    ed = handle(ed25519KeyId(createPublicKey(priv)), 'EdDSA', priv);
  }
  const out: { record?: SigningKey; checkpoint?: SigningKey } = {};
  const record = hmac ?? ed;
  if (record !== undefined) out.record = record;
  if (ed !== undefined) out.checkpoint = ed;
  return out;
}

/**
 * Keys for `verify`: `paths` are PEM files holding Ed25519 public keys (SPKI, "BEGIN PUBLIC KEY") or private
 * keys (PKCS#8, the public key is derived), any number of blocks per file; `hmacSecrets` are HMAC secrets in
 * the OTEL_AUDIT_HMAC_KEY notation (`base64:`, `hex:` or raw text). Duplicates are dropped. Throws
 * AuditConfigError naming the file (or the secret's position) for anything unusable.
 */
export function loadVerifyingKeys(paths: readonly string[], hmacSecrets: readonly string[] = [], pemTexts: readonly { text: string; what: string }[] = []): VerifyingKey[] {
  const out: VerifyingKey[] = [];
  const seen = new Set<string>();
  const add = (keyId: string, algorithm: IntegrityAlgorithm, key: KeyObject, fingerprint: string): void => {
    if (seen.has(fingerprint)) return;
    seen.add(fingerprint);
    out.push(handle(keyId, algorithm, key));
  };
  // `pemTexts`: key files the caller has read already (verify/key-files.ts), so that what was checked is what is used.
  const pems = [
    ...paths.map((path) => {
      const what = `public key file ${keyFileName(path)}`;
      return { text: readKeyFile(path, what, HINT_PUBKEY_FILE, 'pem'), what };
    }),
    ...pemTexts,
  ];
  for (const { text, what } of pems) {
    const blocks = pemBlocks(text);
    if (blocks.length === 0) throw new AuditConfigError(`${what}: no PEM block found (expected "BEGIN PUBLIC KEY" or "BEGIN PRIVATE KEY")`);
    for (const b of blocks) {
      let pub: KeyObject;
      if (b.label === 'PUBLIC KEY') pub = ed25519Public(b.pem, what);
      else if (b.label === 'PRIVATE KEY') pub = createPublicKey(ed25519Private(b.pem, what));
      else throw new AuditConfigError(`${what}: unsupported PEM block "${b.label}" (expected PUBLIC KEY or PRIVATE KEY)`);
      const keyId = ed25519KeyId(pub);
      add(keyId, 'EdDSA', pub, `EdDSA:${keyId}`);
    }
  }
  hmacSecrets.forEach((value, i) => {
    const secret = decodeHmacSecret(value.replace(/[\r\n]+$/, ''), `HMAC key #${i + 1}`, 'give an Ed25519 public key with --pubkey');
    const keyId = hmacKeyId(secret);
    // The full digest (not the 16-digit id) tells two secrets apart.
    add(keyId, 'HMAC-SHA256', createSecretKey(secret), `HMAC:${createHash('sha256').update(secret).digest('hex')}`);
    secret.fill(0);
  });
  return out;
}

/** A new Ed25519 key pair: PKCS#8 PEM private key, SPKI PEM public key, and its key id. */
export function generateEd25519KeyPair(): { privateKeyPem: string; publicKeyPem: string; keyId: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
    keyId: ed25519KeyId(publicKey),
  };
}
