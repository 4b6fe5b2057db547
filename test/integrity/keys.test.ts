/** Key loading (env, files, PEM), key ids, and that no error ever shows key material. */
import { createHash, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { execFile, execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inspect, promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditConfigError } from '../../src/core/errors.js';
import {
  decodeHmacSecret,
  generateEd25519KeyPair,
  hmacKeyId,
  loadSigningKeys,
  loadVerifyingKeys,
} from '../../src/integrity/keys.js';
import { createRecordSigner, verifyRecordSignature } from '../../src/integrity/sign.js';
import { tempDir } from '../helpers/tmp.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('otel-audit-keys-'));
});
afterAll(async () => cleanup());

let fileNo = 0;
const DIST = join(import.meta.dirname, '../../dist/index.js');
const run = promisify(execFile);

const file = (content: string | Buffer, mode = 0o600): string => {
  const p = join(dir, `f${++fileNo}`);
  writeFileSync(p, content, { mode });
  return p;
};

/** Runs `fn`, expects an AuditConfigError, and checks that none of `secrets` appears in it. */
function configError(fn: () => unknown, secrets: string[], message: RegExp): AuditConfigError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(AuditConfigError);
  const e = caught as AuditConfigError;
  expect(e.message).toMatch(message);
  const shown = `${e.message}\n${e.stack ?? ''}\n${inspect(e)}`;
  for (const s of secrets) {
    // Neither the value nor any long piece of it.
    for (let i = 0; i + 12 <= s.length; i += 6) expect(shown).not.toContain(s.slice(i, i + 12));
  }
  return e;
}

const SECRET = 'correct horse battery staple, but longer: 0123456789';

describe('HMAC keys', () => {
  it('raw UTF-8, base64: and hex: notations give the same key', () => {
    const bytes = Buffer.from(SECRET, 'utf8');
    const raw = loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: SECRET }).record!;
    const b64 = loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: `base64:${bytes.toString('base64')}` }).record!;
    const hex = loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: `hex:${bytes.toString('hex')}` }).record!;
    expect(raw.algorithm).toBe('HMAC-SHA256');
    expect(raw.keyId).toBe(createHash('sha256').update('otel-audit hmac key id').update(bytes).digest('hex').slice(0, 16));
    expect(b64.keyId).toBe(raw.keyId);
    expect(hex.keyId).toBe(raw.keyId);
    const s = createRecordSigner(raw);
    expect(createRecordSigner(b64).sign('x')).toBe(s.sign('x'));
  });

  it('from a file (trailing newline ignored), and OTEL_AUDIT_KEY_ID names it', () => {
    const k = loadSigningKeys({ OTEL_AUDIT_HMAC_KEY_FILE: file(`${SECRET}\n`), OTEL_AUDIT_KEY_ID: 'ops-2025-01' });
    expect(k.record).toMatchObject({ keyId: 'ops-2025-01', algorithm: 'HMAC-SHA256' });
    expect(k.checkpoint).toBeUndefined();
    expect(createRecordSigner(k.record!).sign('x')).toBe(createRecordSigner(loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: SECRET }).record!).sign('x'));
  });

  it('errors name the variable and the problem, never the value', () => {
    configError(() => loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: 'short-secret-value' }), ['short-secret-value'], /OTEL_AUDIT_HMAC_KEY: .*at least 32 bytes, this one has 18/);
    configError(() => loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: 'base64:not*base64*at*all*0123456789abcdef' }), ['not*base64*at*all*0123456789abcdef'], /OTEL_AUDIT_HMAC_KEY: .*not standard base64/);
    configError(() => loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: 'hex:abcdefg0123456789abcdef0123456789abc' }), ['abcdefg0123456789abcdef'], /not an even number of hex digits/);
    configError(() => loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: SECRET, OTEL_AUDIT_HMAC_KEY_FILE: '/x' }), [SECRET], /both set/);
    configError(() => loadSigningKeys({ OTEL_AUDIT_HMAC_KEY_FILE: join(dir, 'missing') }), [], /OTEL_AUDIT_HMAC_KEY_FILE: cannot read .*missing.*ENOENT/);
    const shortFile = file('tiny-secret-in-a-file');
    configError(() => loadSigningKeys({ OTEL_AUDIT_HMAC_KEY_FILE: shortFile }), ['tiny-secret-in-a-file'], /OTEL_AUDIT_HMAC_KEY_FILE .*at least 32 bytes/);
    // Not echoed (found in review: an id holding the secret beside other text was shown whole).
    configError(() => loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: SECRET, OTEL_AUDIT_KEY_ID: 'bad id with spaces' }), [SECRET, 'bad id'], /^OTEL_AUDIT_KEY_ID is invalid \(value hidden\): allowed are 1–64 characters of A–Z a–z 0–9 \. _ : - \(it has 18 characters, some of them not allowed\)$/);
    configError(() => loadSigningKeys({ OTEL_AUDIT_KEY_ID: 'k1' }), [], /OTEL_AUDIT_KEY_ID is set but no HMAC key/);
    // Refused as looking like a key, with what made it look so and nothing of its content.
    configError(() => loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: SECRET, OTEL_AUDIT_KEY_ID: 'ab\tcd' }), ['ab\tcd'], /it looks like a key, not a key id \(5 characters, control characters among them\); put the key in/);
    configError(() => loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: SECRET, OTEL_AUDIT_KEY_ID: 'a'.repeat(5000) }), ['aaaaaaaaaaaaaaaa'], /it looks like a key, not a key id \(5000 characters\); put the key in/);
  });

  // Fixed bugs, kept as regression tests: each of these silently became a different key than the one meant.
  it.each([
    ['a leading space', ` base64:${Buffer.alloc(32, 7).toString('base64')}`],
    ['an upper-case prefix', `BASE64:${Buffer.alloc(32, 7).toString('base64')}`],
    ['an upper-case hex prefix', `HEX:${'07'.repeat(32)}`],
  ])('a prefix with %s is refused, not taken as a text secret', (_what, value) => {
    configError(() => loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: value }), [value.trim().slice(7)], value.startsWith(' ') ? /^OTEL_AUDIT_HMAC_KEY begins or ends with whitespace/ : /OTEL_AUDIT_HMAC_KEY: the value starts with a "base64:" or "hex:" prefix that is not in lower case at its very start/);
    configError(() => loadSigningKeys({ OTEL_AUDIT_HMAC_KEY_FILE: file(value) }), [value.trim().slice(7)], /not in lower case at its very start/);
  });

  // Fixed bug, kept as a regression test: a PEM file's text is longer than 32 bytes, so it became an HMAC secret.
  it('a PEM key (Ed25519 private or public) as the HMAC key is refused, its body never shown', () => {
    const pair = generateEd25519KeyPair();
    for (const pem of [pair.privateKeyPem, pair.publicKeyPem]) {
      const body = pem.split('\n')[1]!;
      configError(() => loadSigningKeys({ OTEL_AUDIT_HMAC_KEY_FILE: file(pem) }), [body], /^OTEL_AUDIT_HMAC_KEY_FILE \(".*"\): this is a PEM key \("BEGIN (PRIVATE|PUBLIC) KEY"\), not an HMAC secret \(value hidden\); an Ed25519 private key goes in OTEL_AUDIT_SIGNING_KEY_FILE$/);
      configError(() => loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: pem }), [body], /^OTEL_AUDIT_HMAC_KEY: this is a PEM key/);
      configError(() => loadVerifyingKeys([], [pem]), [body], /^HMAC key #1: this is a PEM key .*not an HMAC secret \(value hidden\); give an Ed25519 public key with --pubkey$/);
    }
  });

  it('a key file that is not UTF-8 text (a raw binary key) is refused: decoding would change its bytes', () => {
    const binary = Buffer.concat([Buffer.from([0x80, 0x81, 0xfe, 0xff]).fill(0x80, 0, 1), Buffer.alloc(32, 0xc1)]);
    configError(() => loadSigningKeys({ OTEL_AUDIT_HMAC_KEY_FILE: file(binary) }), [], /^OTEL_AUDIT_HMAC_KEY_FILE \(".*"\): the file is not UTF-8 text \(value hidden\); write a binary key as base64:/);
    // A DER key where a PEM file belongs is told how to convert it, not to write it as base64: (found in review).
    configError(() => loadSigningKeys({ OTEL_AUDIT_SIGNING_KEY_FILE: file(binary) }), [], /^OTEL_AUDIT_SIGNING_KEY_FILE \(".*"\): the file is not PEM text \(value hidden\); a DER key converts with: openssl pkey -inform DER/);
    expect(() => loadVerifyingKeys([file(binary)])).toThrow(/^public key file ".*": the file is not PEM text/);
    // Two different binary keys used to decode to the same text, hence the same key id.
    expect(() => loadVerifyingKeys([file(binary)])).toThrow(/not PEM text/);
  });

  it('empty variables count as unset; blank ones are refused, whoever passes them (they would leave records unsigned)', () => {
    expect(loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: '', OTEL_AUDIT_SIGNING_KEY_FILE: '' })).toEqual({});
    expect(loadSigningKeys({})).toEqual({});
    for (const name of ['OTEL_AUDIT_HMAC_KEY', 'OTEL_AUDIT_HMAC_KEY_FILE', 'OTEL_AUDIT_SIGNING_KEY_FILE', 'OTEL_AUDIT_KEY_ID']) {
      configError(() => loadSigningKeys({ [name]: ' \t ' }), [], new RegExp(`^${name} is blank \\(only whitespace\\): set a value or unset the variable$`));
    }
  });

  // Found in review: the variable was taken byte for byte while a key file loses its trailing line break, so the
  // secret of `kubectl create secret --from-file` (newline kept) could never be given to verify --hmac-key-file,
  // and a forged chain then passed as signed "under a key not given".
  it('OTEL_AUDIT_HMAC_KEY loses trailing line breaks as a key file does: the same text is the same key for verify', () => {
    const fromFile = loadSigningKeys({ OTEL_AUDIT_HMAC_KEY_FILE: file(`${SECRET}\n`) }).record!.keyId;
    for (const v of [`${SECRET}\n`, `${SECRET}\r\n`, `${SECRET}\n\n`, SECRET]) expect(loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: v }).record!.keyId).toBe(fromFile);
    expect(loadVerifyingKeys([], [SECRET])[0]!.keyId).toBe(fromFile);
  });

  // Found in review: the payload of base64: and hex: was always read trimmed, the same key with or without the space.
  it('OTEL_AUDIT_HMAC_KEY in base64: or hex: with a trailing space is the same key as without', () => {
    const b64 = `base64:${Buffer.alloc(32, 9).toString('base64')}`;
    const hex = `hex:${'09'.repeat(32)}`;
    expect(loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: `${b64} ` }).record!.keyId).toBe(loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: b64 }).record!.keyId);
    expect(loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: `${hex}\t` }).record!.keyId).toBe(loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: b64 }).record!.keyId);
  });

  it('OTEL_AUDIT_HMAC_KEY with other surrounding whitespace is refused, not taken as another key', () => {
    for (const v of [` ${SECRET}`, `${SECRET} `, `\t${SECRET}`, `${SECRET} \n`]) {
      configError(() => loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: v }), [SECRET], /^OTEL_AUDIT_HMAC_KEY begins or ends with whitespace \(value hidden\): remove it; if it is part of the key, write the key as base64:/);
    }
  });

  it('decodeHmacSecret accepts exactly 32 bytes', () => {
    expect(decodeHmacSecret(`hex:${'ab'.repeat(32)}`, 'x')).toHaveLength(32);
    expect(() => decodeHmacSecret(`hex:${'ab'.repeat(31)}`, 'x')).toThrow(AuditConfigError);
  });
});

describe('Ed25519 keys', () => {
  it('OTEL_AUDIT_SIGNING_KEY_FILE: signs records and checkpoints; HMAC, when also set, signs records', () => {
    const pair = generateEd25519KeyPair();
    const keyFile = file(pair.privateKeyPem);
    const ed = loadSigningKeys({ OTEL_AUDIT_SIGNING_KEY_FILE: keyFile });
    expect(ed.record).toEqual({ keyId: pair.keyId, algorithm: 'EdDSA' });
    expect(ed.checkpoint).toBe(ed.record);
    const both = loadSigningKeys({ OTEL_AUDIT_SIGNING_KEY_FILE: keyFile, OTEL_AUDIT_HMAC_KEY: SECRET });
    expect(both.record!.algorithm).toBe('HMAC-SHA256');
    expect(both.checkpoint).toEqual({ keyId: pair.keyId, algorithm: 'EdDSA' });
  });

  it('key id: first 16 hex digits of SHA-256 of the SPKI DER public key', () => {
    const pair = generateEd25519KeyPair();
    const der = Buffer.from(pair.publicKeyPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    expect(pair.keyId).toBe(createHash('sha256').update(der).digest('hex').slice(0, 16));
    expect(pair.keyId).toMatch(/^[0-9a-f]{16}$/);
    expect(pair.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(pair.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
  });

  it('errors name the file and the problem, never the key', () => {
    const pair = generateEd25519KeyPair();
    const body = pair.privateKeyPem.split('\n')[1]!;
    configError(() => loadSigningKeys({ OTEL_AUDIT_SIGNING_KEY_FILE: join(dir, 'nope.pem') }), [], /OTEL_AUDIT_SIGNING_KEY_FILE: cannot read .*nope\.pem.*ENOENT/);
    configError(() => loadSigningKeys({ OTEL_AUDIT_SIGNING_KEY_FILE: file('just text, no key') }), [], /expected exactly one PEM "PRIVATE KEY" block, found 0/);
    // Found in review: the public half given as the signing key said only "found 0".
    configError(() => loadSigningKeys({ OTEL_AUDIT_SIGNING_KEY_FILE: file(generateEd25519KeyPair().publicKeyPem) }), [], /: this is a public key \("BEGIN PUBLIC KEY"\); the producer signs with the private key \(otel-audit keygen writes it as audit-signing\.key\.pem\)/);
    configError(() => loadSigningKeys({ OTEL_AUDIT_SIGNING_KEY_FILE: file(pair.publicKeyPem) }), [], /this is a public key/);
    const corrupt = pair.privateKeyPem.replace(body, body.slice(0, 20) + 'AAAA' + body.slice(24));
    configError(() => loadSigningKeys({ OTEL_AUDIT_SIGNING_KEY_FILE: file(corrupt) }), [body], /not a readable PKCS#8 PEM private key|Ed25519/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    configError(() => loadSigningKeys({ OTEL_AUDIT_SIGNING_KEY_FILE: file(rsa) }), [rsa.split('\n')[2]!], /the key is rsa, an Ed25519 key is required/);
    const encrypted = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }) as string;
    configError(() => loadSigningKeys({ OTEL_AUDIT_SIGNING_KEY_FILE: file(encrypted) }), [encrypted.split('\n')[2]!], /encrypted/);
    configError(() => loadSigningKeys({ OTEL_AUDIT_SIGNING_KEY_FILE: file(pair.privateKeyPem + pair.privateKeyPem) }), [body], /found 2/);
  });

  it('key handles never show key material (inspect, JSON)', () => {
    const pair = generateEd25519KeyPair();
    const k = loadSigningKeys({ OTEL_AUDIT_SIGNING_KEY_FILE: file(pair.privateKeyPem), OTEL_AUDIT_HMAC_KEY: SECRET });
    const shown = `${inspect(k, { depth: 10, showHidden: true })} ${JSON.stringify(k)}`;
    expect(shown).not.toContain(SECRET.slice(0, 12));
    expect(shown).not.toContain(pair.privateKeyPem.split('\n')[1]!.slice(0, 12));
    expect(Object.isFrozen(k.record)).toBe(true);
  });
});

describe('loadVerifyingKeys', () => {
  it('public keys, private keys (public derived), several blocks per file, HMAC secrets; duplicates dropped', () => {
    const a = generateEd25519KeyPair();
    const b = generateEd25519KeyPair();
    const keys = loadVerifyingKeys([file(a.publicKeyPem), file(b.privateKeyPem), file(a.publicKeyPem + b.publicKeyPem)], [SECRET, `${SECRET}\n`, `base64:${randomBytes(32).toString('base64')}`]);
    expect(keys.map((k) => [k.algorithm, k.keyId])).toEqual([
      ['EdDSA', a.keyId],
      ['EdDSA', b.keyId],
      ['HMAC-SHA256', hmacKeyId(Buffer.from(SECRET))],
      ['HMAC-SHA256', expect.stringMatching(/^[0-9a-f]{16}$/)],
    ]);
    // The derived public key verifies what the private key signs.
    const signer = createRecordSigner(loadSigningKeys({ OTEL_AUDIT_SIGNING_KEY_FILE: file(b.privateKeyPem) }).checkpoint!);
    expect(verifyRecordSignature('hello', { value: signer.sign('hello'), algorithm: 'EdDSA', keyId: b.keyId }, keys)).toBe('ok');
  });

  it('errors name the file or the secret\'s position', () => {
    const rsaPub = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    configError(() => loadVerifyingKeys([file(rsaPub)]), [], /public key file ".*": the key is rsa/);
    configError(() => loadVerifyingKeys([file('nothing here')]), [], /no PEM block found/);
    configError(() => loadVerifyingKeys([join(dir, 'absent.pem')]), [], /cannot read .*absent\.pem/);
    configError(() => loadVerifyingKeys([file('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')]), [], /unsupported PEM block "CERTIFICATE"/);
    configError(() => loadVerifyingKeys([], [SECRET, 'too-short-secret-value']), ['too-short-secret-value'], /HMAC key #2: .*at least 32 bytes/);
  });
});

describe('a key put where its file path belongs is never printed', () => {
  const pair = generateEd25519KeyPair();
  const bytes = randomBytes(32);
  // Each "path" is key material; the secret is what must not appear.
  const pasted: [string, string, string][] = [
    ['a PEM private key', pair.privateKeyPem, pair.privateKeyPem.split('\n')[1]!],
    ['a PEM key without its line breaks', pair.privateKeyPem.replace(/\n/g, ' '), pair.privateKeyPem.split('\n')[1]!],
    ['base64:', `base64:${bytes.toString('base64')}`, bytes.toString('base64')],
    ['hex:', `hex:${bytes.toString('hex')}`, bytes.toString('hex')],
    ['bare hex', bytes.toString('hex'), bytes.toString('hex')],
    ['bare base64', 'Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MEFCQ0RFRkdISUpL', 'Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MEFCQ0RFRkdISUpL'],
    ['a passphrase', SECRET, SECRET],
  ];

  it.each(pasted)('OTEL_AUDIT_HMAC_KEY_FILE = %s', (_n, value, secret) => {
    const e = configError(() => loadSigningKeys({ OTEL_AUDIT_HMAC_KEY_FILE: value }), [secret], /^OTEL_AUDIT_HMAC_KEY_FILE: the value does not look like a file path \(value hidden\)/);
    expect(e.message).toContain('did you mean OTEL_AUDIT_HMAC_KEY');
  });

  it.each(pasted)('OTEL_AUDIT_SIGNING_KEY_FILE = %s', (_n, value, secret) => {
    configError(() => loadSigningKeys({ OTEL_AUDIT_SIGNING_KEY_FILE: value }), [secret], /^OTEL_AUDIT_SIGNING_KEY_FILE: the value does not look like a file path \(value hidden\)/);
  });

  it.each(pasted)('loadVerifyingKeys([%s])', (_n, value, secret) => {
    configError(() => loadVerifyingKeys([value]), [secret], /^public key file \(value hidden\): the value does not look like a file path/);
  });

  it('a plausible path is still named', () => {
    configError(() => loadSigningKeys({ OTEL_AUDIT_HMAC_KEY_FILE: '/run/secrets/otel-audit/hmac.key' }), [], /cannot read "\/run\/secrets\/otel-audit\/hmac\.key" \(ENOENT\)/);
    configError(() => loadSigningKeys({ OTEL_AUDIT_SIGNING_KEY_FILE: 'keys/audit-signing.key.pem' }), [], /cannot read "keys\/audit-signing\.key\.pem"/);
    for (const path of ['/var/run/secrets/kubernetes-audit-hmac-key-production', '/etc/otel-audit/keys/2026-11/hmac', 'secrets/hmac_key_for_the_audit_log']) {
      configError(() => loadSigningKeys({ OTEL_AUDIT_HMAC_KEY_FILE: path }), [], new RegExp(`cannot read ${JSON.stringify(path).replace(/[/.]/g, '\\$&')}`));
    }
  });

  // Random secrets in the encodings people paste: base64 breaks its runs with `/`, base64url with `-` and `_`, and
  // two UUIDs run together have no run of mixed case at all. Judged run by run, 3-12% of these were printed.
  const encodings: [string, () => string][] = [
    ['base64 of 32 bytes', () => randomBytes(32).toString('base64')],
    ['base64 of 48 bytes', () => randomBytes(48).toString('base64')],
    ['base64url of 32 bytes', () => randomBytes(32).toString('base64url')],
    ['two UUIDs', () => randomUUID() + randomUUID()],
  ];
  it.each(encodings)('OTEL_AUDIT_HMAC_KEY_FILE = %s, 500 random ones: none printed', (_n, make) => {
    for (let i = 0; i < 500; i++) {
      const secret = make();
      configError(() => loadSigningKeys({ OTEL_AUDIT_HMAC_KEY_FILE: secret }), [secret], /^OTEL_AUDIT_HMAC_KEY_FILE: the value does not look like a file path \(value hidden\)/);
    }
  });

  it('OTEL_AUDIT_KEY_ID holding a key is refused, and not printed: the key id is written into every record', () => {
    // Fixed inputs (derived, not random): the rule misses a few random base64url strings in a thousand.
    const bytes = (i: number, n: number): Buffer => createHash('sha512').update(`key id ${i}`).digest().subarray(0, n);
    const pasted = [
      ...Array.from({ length: 20 }, (_, i) => bytes(i, 32).toString('base64')),
      ...Array.from({ length: 20 }, (_, i) => bytes(i, 32).toString('base64url').replace(/[-_]/g, 'x')), // no separator
      Buffer.from(SECRET).toString('base64url'),
      ...Array.from({ length: 20 }, (_, i) => bytes(i, 32).toString('hex')),
      `${randomUUID()}${randomUUID()}`.slice(0, 64),
      SECRET,
      Buffer.from(SECRET).toString('hex').slice(0, 64),
    ];
    for (const p of pasted) configError(() => loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: SECRET, OTEL_AUDIT_KEY_ID: p }), [p], /^OTEL_AUDIT_KEY_ID is invalid \(value hidden\): it looks like a key/);
    // The secret inside a longer id, in any notation (found in review: `audit:<hex>` was echoed, `hmac:<passphrase>`
    // of 64 characters or fewer was taken and written into every record).
    const hex = Buffer.from(SECRET).toString('hex');
    for (const [key, id] of [
      [SECRET.slice(0, 40), `hmac:${SECRET.slice(0, 40)}`],
      [`hex:${hex.slice(0, 64)}`, `audit:${hex.slice(0, 64)}`],
      [`hex:${hex.slice(0, 64)}`, `k-${hex.slice(0, 64).toUpperCase()}`],
      [`base64:${Buffer.from(SECRET.slice(0, 36)).toString('base64')}`, `v2.${Buffer.from(SECRET.slice(0, 36)).toString('base64url')}`],
      // 16 characters of the secret are enough (found in review: 40 of its 64 hex digits passed).
      [`hex:${hex.slice(0, 64)}`, `audit:${hex.slice(10, 26)}`],
      ['audit-hmac-passphrase-for-prod-eu-2026-abcdefgh', 'passphrase-for-prod-eu'],
    ]) {
      configError(() => loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: key!, OTEL_AUDIT_KEY_ID: id! }), [id!, key!], /^OTEL_AUDIT_KEY_ID is invalid \(value hidden\)/);
    }
    const base64 = `base64:${randomBytes(32).toString('base64')}`;
    configError(() => loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: SECRET, OTEL_AUDIT_KEY_ID: base64 }), [base64.slice(7)], /value hidden/);
  });

  // Found in review: a path string, or a misspelled variable, gave {} and the records went unsigned without a word;
  // a Buffer value was a TypeError.
  it.each([
    ['a path string', '/run/secrets/audit.pem', /^loadSigningKeys takes an object shaped like process\.env, not a string \(value hidden\)/],
    ['null', null, /^loadSigningKeys takes an object shaped like process\.env, not null/],
    ['a misspelled variable', { OTEL_AUDIT_SIGNING_KEYFILE: '/run/secrets/audit.pem' }, /^OTEL_AUDIT_SIGNING_KEYFILE is not a key variable \(misspelled\?\): loadSigningKeys reads OTEL_AUDIT_HMAC_KEY, OTEL_AUDIT_HMAC_KEY_FILE, OTEL_AUDIT_SIGNING_KEY_FILE, OTEL_AUDIT_KEY_ID$/],
    ['a variable in lower case', { otel_audit_hmac_key: SECRET }, /^otel_audit_hmac_key is not a key variable/],
    ['a letter off the prefix', { OTEL_AUDT_HMAC_KEY: SECRET }, /^OTEL_AUDT_HMAC_KEY is not a key variable/],
    ['another word for the key', { OTEL_AUDIT_HMAC_SECRET: SECRET }, /^OTEL_AUDIT_HMAC_SECRET is not a key variable/],
    ['a Buffer value', { OTEL_AUDIT_HMAC_KEY: Buffer.from(SECRET) }, /^OTEL_AUDIT_HMAC_KEY is invalid \(value hidden\): a string is expected, not a object$/],
  ])('loadSigningKeys given %s is refused, showing no value', (_what, arg, message) => {
    configError(() => loadSigningKeys(arg as unknown as NodeJS.ProcessEnv), [SECRET, '/run/secrets/audit.pem'], message);
  });

  // Found in review: a FIFO blocked start-up until killed, and /dev/zero was read until memory ran out. Those two
  // run in a child process (the built package) with a deadline: a regression must fail, not hang the suite.
  it.each(['OTEL_AUDIT_HMAC_KEY_FILE', 'OTEL_AUDIT_SIGNING_KEY_FILE'])('%s naming a FIFO, a device or a directory is refused at once, never read', async (name) => {
    const fifo = join(dir, `fifo-${name}`);
    execFileSync('mkfifo', [fifo]);
    const child = async (path: string): Promise<string> => {
      const script = `import { loadSigningKeys } from ${JSON.stringify(pathToFileURL(DIST).href)};
try { loadSigningKeys({ ${JSON.stringify(name)}: ${JSON.stringify(path)} }); console.log('loaded'); } catch (e) { console.log(e.message); }`;
      const r = await run(process.execPath, ['--input-type=module', '-e', script], { timeout: 15_000 });
      return r.stdout.trim();
    };
    expect(await child(fifo)).toMatch(new RegExp(`^${name}: ".*fifo-${name}" is a FIFO, not a regular file holding a key \\(process substitution`));
    expect(await child('/dev/zero')).toBe(`${name}: "/dev/zero" is a character device, not a regular file holding a key`);
    configError(() => loadSigningKeys({ [name]: dir }), [], new RegExp(`^${name}: ".*" is a directory, not a regular file holding a key$`));
    configError(() => loadSigningKeys({ [name]: file(Buffer.alloc(1024 * 1024 + 1, 0x61)) }), [], new RegExp(`^${name}: ".*" is larger than 1048576 bytes: not a key file$`));
  });

  // Found in review: keygen's own file names were hidden as possible keys when missing from the working directory.
  it.each(['audit-signing.key.pem', 'audit-signing.pub.pem', 'hmac.key', 'PROD.PEM'])('a missing bare key file name %s is named, with the working directory', (name) => {
    configError(() => loadSigningKeys({ OTEL_AUDIT_HMAC_KEY_FILE: name }), [], new RegExp(`^OTEL_AUDIT_HMAC_KEY_FILE: cannot read ${JSON.stringify(name).replace(/\./g, '\\.')} in the working directory ".*" \\(ENOENT\\)$`));
  });
  // Found in re-review: a passphrase is a valid HMAC secret, and one ending in .key/.pem/.pub was shown.
  it.each(['correct-horse-battery-staple-2026!', 'hmac.ky', 'my secret.key', 'correct-horse-battery-staple-2026!.key', 'my-audit-hmac-passphrase-for-prod.pem'])('a missing bare value %s that is no key file name stays hidden', (value) => {
    configError(() => loadSigningKeys({ OTEL_AUDIT_HMAC_KEY_FILE: value }), [value], /value hidden/);
  });

  // Found in review: names with separators and UUIDs were taken for keys, against docs/integrity.md §3.2.
  it.each(['audit-2026.hmac', 'prod-eu-west-1-audit-hmac-key-v2', 'HmacKey2026-Prod', 'AuditHmacKey2026', 'PaymentsAuditKey1', 'myServiceKey01', '5c114793-0b6b-4ea1-8ef9-001bb8df0dbb', '1AECBDB0-567E-419B-8624-C14977CD346B', 'k1', 'kms:eu-west-1:audit-hmac'])('OTEL_AUDIT_KEY_ID %s is a name: taken', (id) => {
    expect(loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: SECRET, OTEL_AUDIT_KEY_ID: id }).record?.keyId).toBe(id);
  });
});
