/**
 * The integrity test vectors of docs/integrity.md §9 (test/vectors/integrity/), checked against this package:
 * per-record values (canonical text, hash, HMAC, Ed25519, key ids) and whole streams through `verifyFiles`
 * with the keys and options each vector names.
 */
import { createHmac, createPublicKey, verify } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalFromOtlp } from '../../src/chain/canonical.js';
import { hashCanonical } from '../../src/chain/hash.js';
import { ed25519KeyId, hmacKeyId, decodeHmacSecret, loadSigningKeys, loadVerifyingKeys } from '../../src/integrity/keys.js';
import { createRecordSigner, verifyRecordSignature } from '../../src/integrity/sign.js';
import type { OtlpLogRecord } from '../../src/otlp/types.js';
import { verifyFiles, type Problem } from '../../src/verify/index.js';
import { tempDir } from '../helpers/tmp.js';
import type { ExpectedProblem, IntegrityVector as Vector } from '../helpers/integrity-vector.js';

const DIR = join(import.meta.dirname, '..', 'vectors', 'integrity');

let root: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir: root, cleanup } = await tempDir('otel-audit-vectors-'));
});
afterAll(async () => cleanup());

/** The fields a vector states, in a comparable form. */
function shape(p: Problem | ExpectedProblem): string {
  return JSON.stringify([p.kind, p.stream ?? null, p.seq ?? null, p.through ?? null, p.file === undefined ? null : basename(p.file), p.line ?? null, p.reason ?? null]);
}

const streamFiles = (await readdir(join(DIR, 'streams'))).filter((f) => f.endsWith('.json')).sort();

describe('stream vectors', () => {
  it('cover the cases the spec lists', () => {
    for (const name of ['modified-field', 'int-to-double', 'reordered-keys', 'lone-surrogate', 'missing-genesis', 'duplicate-sequence', 'forged-checkpoint', 'truncated-tail', 'rewritten-chain']) {
      expect(streamFiles).toContain(`${name}.json`);
    }
  });

  it.each(streamFiles)('%s', async (file) => {
    const v = JSON.parse(await readFile(join(DIR, 'streams', file), 'utf8')) as Vector;
    const dir = join(root, basename(file, '.json'));
    await mkdir(join(dir, 'input'), { recursive: true });
    for (const [name, lines] of Object.entries(v.files)) await writeFile(join(dir, 'input', name), lines.join('\n') + '\n');
    const checkpointSources: string[] = [];
    for (const [name, lines] of Object.entries(v.checkpointFiles ?? {})) {
      await mkdir(join(dir, 'checkpoints'), { recursive: true });
      await writeFile(join(dir, 'checkpoints', name), lines.join('\n') + '\n');
      checkpointSources.push(join(dir, 'checkpoints', name));
    }
    const hmacSecrets = await Promise.all((v.keys.hmac ?? []).map((k) => readFile(join(DIR, k), 'utf8')));
    const report = await verifyFiles([join(dir, 'input')], {
      pubkeys: loadVerifyingKeys((v.keys.pubkeys ?? []).map((k) => join(DIR, k))),
      hmacSecrets,
      requireSignatures: v.requireSignatures === true,
      allowReorder: v.allowReorder === true,
      checkpointSources,
    });
    const ctx = `${file}: ${v.description}\n${JSON.stringify(report.problems, null, 2)}`;
    expect(report.ok, ctx).toBe(v.expect.ok);
    expect(report.problems.filter((p) => p.severity === 'error').map(shape).sort(), ctx).toEqual(v.expect.errors.map(shape).sort());
    expect(report.problems.filter((p) => p.severity === 'info').map(shape).sort(), ctx).toEqual(v.expect.info.map(shape).sort());
    expect(
      report.streams.map((s) => ({ streamId: s.streamId, first: s.first, last: s.last, ended: s.ended, coveredThrough: s.coveredThrough })),
      ctx,
    ).toEqual(v.expect.streams);
  });
});

describe('signature vectors (signatures.json)', () => {
  it('canonical text, hash, HMAC-SHA256, Ed25519 and key ids', async () => {
    const v = JSON.parse(await readFile(join(DIR, 'signatures.json'), 'utf8')) as {
      keys: { hmac: { file: string; keyId: string }; ed25519: { privateKeyFile: string; publicKeyFile: string; keyId: string } };
      records: Array<{ record: OtlpLogRecord; canonical: string; sha256: string; hmacSha256: string; ed25519: string }>;
    };
    const hmacText = await readFile(join(DIR, v.keys.hmac.file), 'utf8');
    const secret = decodeHmacSecret(hmacText.trim(), 'vector');
    expect(hmacKeyId(secret)).toBe(v.keys.hmac.keyId);
    const pubPem = await readFile(join(DIR, v.keys.ed25519.publicKeyFile), 'utf8');
    expect(ed25519KeyId(createPublicKey(pubPem))).toBe(v.keys.ed25519.keyId);

    const keys = [...loadVerifyingKeys([join(DIR, v.keys.ed25519.publicKeyFile)]), ...loadVerifyingKeys([], [hmacText])];
    const hmacSigner = createRecordSigner(loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: hmacText.trim() }).record!);
    const edSigner = createRecordSigner(loadSigningKeys({ OTEL_AUDIT_SIGNING_KEY_FILE: join(DIR, v.keys.ed25519.privateKeyFile) }).checkpoint!);
    expect(hmacSigner.keyId).toBe(v.keys.hmac.keyId);
    expect(edSigner.keyId).toBe(v.keys.ed25519.keyId);
    expect(v.records.length).toBeGreaterThanOrEqual(3);
    for (const r of v.records) {
      const canonical = canonicalFromOtlp(r.record);
      expect(canonical).toBe(r.canonical);
      expect(hashCanonical(canonical)).toBe(r.sha256);
      expect(createHmac('sha256', secret).update(canonical, 'utf8').digest('base64')).toBe(r.hmacSha256);
      expect(hmacSigner.sign(canonical)).toBe(r.hmacSha256);
      expect(edSigner.sign(canonical)).toBe(r.ed25519); // Ed25519 is deterministic
      expect(verify(null, Buffer.from(canonical, 'utf8'), createPublicKey(pubPem), Buffer.from(r.ed25519, 'base64'))).toBe(true);
      expect(verifyRecordSignature(canonical, { value: r.hmacSha256, algorithm: 'HMAC-SHA256', keyId: v.keys.hmac.keyId }, keys)).toBe('ok');
      expect(verifyRecordSignature(canonical, { value: r.ed25519, algorithm: 'EdDSA', keyId: v.keys.ed25519.keyId }, keys)).toBe('ok');
      expect(verifyRecordSignature(canonical + ' ', { value: r.ed25519, algorithm: 'EdDSA', keyId: v.keys.ed25519.keyId }, keys)).toBe('bad');
    }
  });
});
