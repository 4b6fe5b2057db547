/** Record signers, integrity attributes, signature verification; checkpoint and restart attributes. */
import { createHmac, generateKeyPairSync, sign, verify } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalFromOtlp } from '../../src/chain/canonical.js';
import { hashCanonical } from '../../src/chain/hash.js';
import {
  ATTR_CHECKPOINT_HEAD_HASH,
  ATTR_CHECKPOINT_INTERVAL,
  ATTR_CHECKPOINT_SEQUENCE,
  ATTR_CHECKPOINT_STREAM_ID,
  checkpointAttributes,
  CheckpointSchedule,
  EVENT_CHECKPOINT,
} from '../../src/integrity/checkpoint.js';
import * as integrity from '../../src/integrity/index.js';
import { generateEd25519KeyPair, loadSigningKeys, loadVerifyingKeys } from '../../src/integrity/keys.js';
import { ATTR_INTEGRITY_KEY_ID, createRecordSigner, integrityAttributes, verifyRecordSignature } from '../../src/integrity/sign.js';
import { restartAttributes } from '../../src/integrity/stream-link.js';
import { tempDir } from '../helpers/tmp.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('otel-audit-sign-'));
});
afterAll(async () => cleanup());

const SECRET = Buffer.alloc(32, 9);
const hmacEnv = { OTEL_AUDIT_HMAC_KEY: `base64:${SECRET.toString('base64')}` };

function edPair(name: string): { pem: string; pubFile: string; keyId: string } {
  const p = generateEd25519KeyPair();
  const keyFile = join(dir, `${name}.key.pem`);
  const pubFile = join(dir, `${name}.pub.pem`);
  writeFileSync(keyFile, p.privateKeyPem);
  writeFileSync(pubFile, p.publicKeyPem);
  return { pem: keyFile, pubFile, keyId: p.keyId };
}

const canonical = canonicalFromOtlp({
  timeUnixNano: '1700000000000000000',
  eventName: 'user.login',
  body: { stringValue: 'ünïcödé 😀' },
  attributes: [{ key: 'audit.action', value: { stringValue: 'LOGIN' } }],
});

describe('HMAC-SHA256 signer', () => {
  it('is HMAC-SHA256 over the UTF-8 canonical text, standard base64', () => {
    const s = createRecordSigner(loadSigningKeys(hmacEnv).record!);
    expect(s.algorithm).toBe('HMAC-SHA256');
    const value = s.sign(canonical);
    expect(value).toBe(createHmac('sha256', SECRET).update(Buffer.from(canonical, 'utf8')).digest('base64'));
    expect(value).toMatch(/^[A-Za-z0-9+/]{43}=$/);
  });
});

describe('Ed25519 signer', () => {
  it('is pure Ed25519 (RFC 8032) over the UTF-8 canonical text, deterministic, standard base64', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const keyFile = join(dir, 'raw.key.pem');
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const s = createRecordSigner(loadSigningKeys({ OTEL_AUDIT_SIGNING_KEY_FILE: keyFile }).record!);
    expect(s.algorithm).toBe('EdDSA');
    const value = s.sign(canonical);
    expect(value).toBe(sign(null, Buffer.from(canonical, 'utf8'), privateKey).toString('base64'));
    expect(s.sign(canonical)).toBe(value);
    expect(verify(null, Buffer.from(canonical, 'utf8'), publicKey, Buffer.from(value, 'base64'))).toBe(true);
    expect(Buffer.from(value, 'base64')).toHaveLength(64);
  });
});

describe('integrityAttributes', () => {
  it('value, signer, canonicalization, algorithm, key_id — in this order', () => {
    const s = createRecordSigner(loadSigningKeys(hmacEnv).record!);
    const a = integrityAttributes(s, 'v');
    expect(Object.entries(a)).toEqual([
      ['audit.integrity.value', 'v'],
      ['audit.integrity.signer', 'producer'],
      ['audit.integrity.canonicalization', 'jcs'],
      ['audit.integrity.algorithm', 'HMAC-SHA256'],
      [ATTR_INTEGRITY_KEY_ID, s.keyId],
    ]);
  });

  it('are excluded from the canonical form: adding them changes neither hash nor signature input', () => {
    const s = createRecordSigner(loadSigningKeys(hmacEnv).record!);
    const record = { eventName: 'e', attributes: [{ key: 'a', value: { intValue: '1' } }] };
    const before = canonicalFromOtlp(record);
    const signed = { ...record, attributes: [...record.attributes, ...Object.entries(integrityAttributes(s, s.sign(before))).map(([key, v]) => ({ key, value: { stringValue: v } }))] };
    expect(canonicalFromOtlp(signed)).toBe(before);
    expect(hashCanonical(canonicalFromOtlp(signed))).toBe(hashCanonical(before));
  });
});

describe('verifyRecordSignature', () => {
  it('ok / bad / unknown_key, for both algorithms and rotated keys', () => {
    const a = edPair('a');
    const b = edPair('b');
    const signA = createRecordSigner(loadSigningKeys({ OTEL_AUDIT_SIGNING_KEY_FILE: a.pem }).record!);
    const signB = createRecordSigner(loadSigningKeys({ OTEL_AUDIT_SIGNING_KEY_FILE: b.pem }).record!);
    const hmac = createRecordSigner(loadSigningKeys(hmacEnv).record!);
    const keys = loadVerifyingKeys([a.pubFile, b.pubFile], [hmacEnv.OTEL_AUDIT_HMAC_KEY]);
    const check = (s: typeof signA, text = canonical, value = s.sign(canonical), keyId = s.keyId, ks = keys): string =>
      verifyRecordSignature(text, { value, algorithm: s.algorithm, keyId }, ks);
    expect(check(signA)).toBe('ok');
    expect(check(signB)).toBe('ok');
    expect(check(hmac)).toBe('ok');
    expect(check(signA, canonical + 'x')).toBe('bad');
    expect(check(hmac, canonical + 'x')).toBe('bad');
    expect(check(signA, canonical, signB.sign(canonical))).toBe('bad'); // B's signature under A's key id
    expect(check(signA, canonical, undefined, undefined, loadVerifyingKeys([b.pubFile]))).toBe('unknown_key');
    expect(check(hmac, canonical, undefined, undefined, loadVerifyingKeys([a.pubFile]))).toBe('unknown_key');
    // Malformed values are bad whatever the keys.
    expect(check(signA, canonical, 'not base64!')).toBe('bad');
    expect(check(signA, canonical, Buffer.alloc(32).toString('base64'))).toBe('bad'); // wrong length for Ed25519
    expect(check(hmac, canonical, Buffer.alloc(64).toString('base64'))).toBe('bad');
    expect(check(hmac, canonical, hmac.sign(canonical).replace('=', ''))).toBe('bad'); // padding is required
    expect(verifyRecordSignature(canonical, { value: signA.sign(canonical), algorithm: 'RS256', keyId: signA.keyId }, keys)).toBe('bad');
  });

  it('HMAC with a custom key id: every HMAC key is tried', () => {
    const custom = createRecordSigner(loadSigningKeys({ ...hmacEnv, OTEL_AUDIT_KEY_ID: 'rotation-7' }).record!);
    expect(custom.keyId).toBe('rotation-7');
    const other = `hex:${'11'.repeat(32)}`;
    expect(verifyRecordSignature(canonical, { value: custom.sign(canonical), algorithm: 'HMAC-SHA256', keyId: 'rotation-7' }, loadVerifyingKeys([], [other, hmacEnv.OTEL_AUDIT_HMAC_KEY]))).toBe('ok');
    expect(verifyRecordSignature(canonical, { value: custom.sign(canonical), algorithm: 'HMAC-SHA256', keyId: 'rotation-7' }, loadVerifyingKeys([], [other]))).toBe('unknown_key');
  });
});

describe('checkpoint and restart attributes', () => {
  it('checkpointAttributes', () => {
    const h = 'ab'.repeat(32);
    expect(checkpointAttributes('s-1', 41, h, 100)).toEqual({
      'audit.actor.id': 'otel-audit',
      'audit.actor.type': 'system',
      'audit.action': 'CHECKPOINT',
      'audit.outcome': 'success',
      'audit.schema.version': '1',
      [ATTR_CHECKPOINT_STREAM_ID]: 's-1',
      [ATTR_CHECKPOINT_SEQUENCE]: 41,
      [ATTR_CHECKPOINT_HEAD_HASH]: h,
      [ATTR_CHECKPOINT_INTERVAL]: 100,
    });
    expect(checkpointAttributes('s-1', 1, h)).not.toHaveProperty(ATTR_CHECKPOINT_INTERVAL);
    expect(EVENT_CHECKPOINT).toBe('audit.checkpoint');
    expect(() => checkpointAttributes('s', 0, h)).toThrow(TypeError);
    expect(() => checkpointAttributes('s', 1, 'AB'.repeat(32))).toThrow(TypeError);
    expect(() => checkpointAttributes('', 1, h)).toThrow(TypeError);
  });

  it('CheckpointSchedule: due after everyRecords ordinary records; pending for the timer', () => {
    const s = new CheckpointSchedule({ everyRecords: 3, everyMillis: 1000 });
    expect([s.recordSealed(), s.recordSealed(), s.due, s.recordSealed(), s.due]).toEqual([false, false, false, true, true]);
    s.checkpointSealed();
    expect(s.due).toBe(false);
    expect(s.pending).toBe(0);
    s.recordSealed();
    expect(s.pending).toBe(1);
    expect(new CheckpointSchedule().policy).toEqual({ everyRecords: 1000, everyMillis: 60000 });
    expect(() => new CheckpointSchedule({ everyRecords: 0 })).toThrow(TypeError);
  });

  it('restartAttributes', () => {
    const h = 'cd'.repeat(32);
    expect(restartAttributes({ streamId: 'old', lastSeq: 7, lastHash: h })).toEqual({
      'audit.sequence.previous_stream_id': 'old',
      'audit.sequence.previous_stream_last': 7,
      'audit.sequence.previous_stream_hash': h,
    });
    expect(restartAttributes({ streamId: 'old' })).toEqual({ 'audit.sequence.previous_stream_id': 'old' });
    expect(() => restartAttributes({ streamId: 'x', lastSeq: 0 })).toThrow(TypeError);
  });

  it('the module index exports the contract names', () => {
    for (const name of ['loadSigningKeys', 'loadVerifyingKeys', 'generateEd25519KeyPair', 'createRecordSigner', 'integrityAttributes', 'verifyRecordSignature', 'checkpointAttributes', 'EVENT_CHECKPOINT', 'ATTR_CHECKPOINT_SEQUENCE', 'ATTR_CHECKPOINT_HEAD_HASH']) {
      expect(integrity).toHaveProperty(name);
    }
  });
});
