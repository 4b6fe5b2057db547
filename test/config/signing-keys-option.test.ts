/**
 * The `signingKeys` code option, as a user of the package has it: keys made by the exported loadSigningKeys sign
 * what the processor ships; anything else (an object of the right shape, a verifying key, an HMAC key as the
 * checkpoint key) is refused at construction with an AuditConfigError that quotes no key; and the key
 * variables are checked even when code passes keys, as every other variable is.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveOptions } from '../../src/config/options.js';
import { AuditConfigError, AuditLogRecordProcessor, loadSigningKeys, type AuditProcessorOptions, type SigningKey } from '../../src/index.js';
import { generateEd25519KeyPair, loadVerifyingKeys } from '../../src/integrity/keys.js';
import { verifyFiles } from '../../src/verify/index.js';
import { configError } from './config-error.js';
import { loginEvent, makePipeline, type TestPipeline } from '../helpers/pipeline.js';
import { tempDir } from '../helpers/tmp.js';

const cleanups: (() => Promise<unknown>)[] = [];
let p: TestPipeline | undefined;
afterEach(async () => {
  await p?.dispose();
  p = undefined;
  while (cleanups.length > 0) await cleanups.pop()!();
});

const SECRET = 'hex:' + '3c'.repeat(32);
let pubFile = '';

async function keyFiles(): Promise<{ keyFile: string; pubFile: string }> {
  const { dir, cleanup } = await tempDir('otel-audit-skeys-');
  cleanups.push(cleanup);
  const pair = generateEd25519KeyPair();
  const keyFile = join(dir, 'audit-signing.key.pem');
  const pubFile = join(dir, 'audit-signing.pub.pem');
  writeFileSync(keyFile, pair.privateKeyPem, { mode: 0o600 });
  writeFileSync(pubFile, pair.publicKeyPem);
  return { keyFile, pubFile };
}

let edKeys: Record<'a' | 'b', { record?: SigningKey; checkpoint?: SigningKey }>;

describe('signingKeys from the public API', () => {
  it('keys from the exported loadSigningKeys sign every record and the checkpoints', async () => {
    const { keyFile, pubFile } = await keyFiles();
    const signingKeys: { record?: SigningKey; checkpoint?: SigningKey } = loadSigningKeys({ OTEL_AUDIT_SIGNING_KEY_FILE: keyFile });
    p = await makePipeline({ signingKeys, checkpointEveryRecords: 5 });
    for (let i = 0; i < 12; i++) await p.audit.record(loginEvent(i));
    await p.provider.shutdown();
    const r = await verifyFiles([p.collectorFile], { pubkeys: loadVerifyingKeys([pubFile]), requireSignatures: true });
    expect(r.problems).toEqual([]);
    expect(r.streams[0]!.coveredThrough).toBe(r.streams[0]!.last);
  });

  it('an object of the right shape is refused at construction with AuditConfigError, not a TypeError', async () => {
    const { dir, cleanup } = await tempDir('otel-audit-skeys-');
    cleanups.push(cleanup);
    const fake = { record: { keyId: 'k1', algorithm: 'HMAC-SHA256', secret: 'S3cr3t-in-a-fake-key' } } as unknown as AuditProcessorOptions['signingKeys'];
    const err = configError(() => new AuditLogRecordProcessor({ dir, signingKeys: fake, replay: false }));
    expect(err.message).toMatch(/^otel-audit option signingKeys is invalid \(value hidden\): signingKeys\.record is not a signing key made by this copy's loadSigningKeys\(\): a look-alike object, or a key made by another copy of otel-audit \(its ESM and its CommonJS build are two/);
    expect(err.message).not.toContain('S3cr3t');
  });

  it.each<[string, () => unknown, RegExp]>([
    ['not an object', () => 'hex:abcd', /must be an object/],
    ['an unknown field', () => ({ records: loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: SECRET }).record }), /unknown field "records"/],
    ['an Ed25519 public key (from loadVerifyingKeys) as record', () => ({ record: loadVerifyingKeys([pubFile])[0] }), /signingKeys\.record is not a signing key/],
    ['the HMAC key as checkpoint', () => ({ checkpoint: loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: SECRET }).record }), /signingKeys\.checkpoint is not an Ed25519 signing key/],
    // Found in review: accepted, and verify then failed the stream (its checkpoints under another key: key_changed).
    ['two different Ed25519 keys for records and checkpoints', () => ({ record: edKeys.a.record, checkpoint: edKeys.b.checkpoint }), /two different Ed25519 keys: a stream signs its records and its checkpoints with one Ed25519 key/],
  ])('refused: %s', async (_n, value, message) => {
    ({ pubFile } = await keyFiles());
    const [a, b] = [(await keyFiles()).keyFile, (await keyFiles()).keyFile].map((f) => loadSigningKeys({ OTEL_AUDIT_SIGNING_KEY_FILE: f }));
    edKeys = { a: a!, b: b! };
    const err = configError(() => resolveOptions({ signingKeys: value() as AuditProcessorOptions['signingKeys'] }, {}));
    expect(err).toBeInstanceOf(AuditConfigError);
    expect(err.message).toMatch(message);
  });

  it('one Ed25519 key for records and checkpoints, given as both: accepted', async () => {
    const one = loadSigningKeys({ OTEL_AUDIT_SIGNING_KEY_FILE: (await keyFiles()).keyFile });
    expect(one.record?.algorithm).toBe('EdDSA');
    expect(resolveOptions({ signingKeys: { record: one.record!, checkpoint: one.checkpoint! } }, {}).signingKeys?.checkpoint).toBe(one.checkpoint);
  });

  it('the key variables are checked even when code passes keys', async () => {
    const signingKeys = loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: SECRET });
    expect(resolveOptions({ signingKeys }, {}).signingKeys).toBe(signingKeys);
    const { keyFile } = await keyFiles();
    // A good variable is overridden by code; a bad one stops start-up.
    expect(resolveOptions({ signingKeys }, { OTEL_AUDIT_SIGNING_KEY_FILE: keyFile }).signingKeys).toBe(signingKeys);
    for (const env of [{ OTEL_AUDIT_HMAC_KEY: 'hex:abcd' }, { OTEL_AUDIT_SIGNING_KEY_FILE: join(keyFile, '..', 'missing.pem') }, { OTEL_AUDIT_KEY_ID: 'id-without-key' }]) {
      const err = configError(() => resolveOptions({ signingKeys }, env));
      expect(err.message).toContain(Object.keys(env)[0]!);
    }
  });
});

// Found in review: keys from the ESM build given to the CommonJS build's processor were refused as "not made by
// loadSigningKeys()", which they were. The built package, both builds in one process.
it('keys from the other build of the package are refused with a message that says so', async () => {
  const dist = join(import.meta.dirname, '../../dist');
  const script = `
import { createRequire } from 'node:module';
const esm = await import(${JSON.stringify(pathToFileURL(join(dist, 'index.js')).href)});
const cjs = createRequire(import.meta.url)(${JSON.stringify(join(dist, 'index.cjs'))});
const keys = esm.loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: ${JSON.stringify(SECRET)} });
try { new cjs.AuditLogRecordProcessor({ dir: ${JSON.stringify(join(dist, '..', 'node_modules', '.cache-never-written'))}, signingKeys: keys, replay: false, file: 'off' }); console.log('accepted'); }
catch (e) { console.log(e.message); }`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script]);
  expect(stdout.trim()).toMatch(/signingKeys\.record is not a signing key made by this copy's loadSigningKeys\(\): a look-alike object, or a key made by another copy of otel-audit \(its ESM and its CommonJS build are two/);
});
