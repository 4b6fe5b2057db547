/**
 * The processor signs what it ships: per-record Ed25519 signatures or HMAC MACs, signed checkpoints every N
 * records, and an end record that is itself a checkpoint. Verified from the local journal and from the
 * collector's copy with the public key; an attacker who recomputes every hash but holds no key is caught.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { canonicalFromOtlp } from '../../src/chain/canonical.js';
import { hashCanonical } from '../../src/chain/hash.js';
import { generateEd25519KeyPair, loadSigningKeys, loadVerifyingKeys } from '../../src/integrity/index.js';
import type { ExportLogsServiceRequest, OtlpLogRecord } from '../../src/otlp/types.js';
import { verifyFiles } from '../../src/verify/index.js';
import { loginEvent, makePipeline, type TestPipeline } from '../helpers/pipeline.js';
import { recordsOfFile } from '../helpers/records.js';
import { tempDir } from '../helpers/tmp.js';

let p: TestPipeline | undefined;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await p?.dispose();
  p = undefined;
  while (cleanups.length) await cleanups.pop()!();
});

async function signedPipeline(env: NodeJS.ProcessEnv) {
  const signingKeys = loadSigningKeys(env);
  // Checkpoints need the Ed25519 key: with an HMAC key alone the setting is refused (options.ts).
  p = await makePipeline({ signingKeys, ...(signingKeys.checkpoint === undefined ? {} : { checkpointEveryRecords: 50 }) });
  for (let i = 0; i < 220; i++) await p.audit.record(loginEvent(i));
  await p.provider.shutdown();
  return p;
}

describe('signatures and checkpoints from the processor', () => {
  it('Ed25519: every record signed, checkpoints every 50, the whole stream covered; both copies verify', async () => {
    const keys = generateEd25519KeyPair();
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const keyFile = join(dir, 'audit-signing.key.pem');
    writeFileSync(keyFile, keys.privateKeyPem, { mode: 0o600 });
    const pubFile = join(dir, 'audit-signing.pub.pem');
    writeFileSync(pubFile, keys.publicKeyPem);
    const t = await signedPipeline({ OTEL_AUDIT_SIGNING_KEY_FILE: keyFile });
    const pubkeys = loadVerifyingKeys([pubFile]);
    const remote = recordsOfFile(t.collectorFile);
    const checkpoints = remote.filter((r) => r.eventName === 'audit.checkpoint');
    expect(checkpoints.length).toBe(4); // after 50, 100, 150 and 200 records
    expect(remote.at(-1)!.eventName).toBe('audit.stream.end');
    const last = remote.length;
    for (const files of [[t.collectorFile], [t.auditDir]]) {
      const r = await verifyFiles(files, { pubkeys, requireSignatures: true });
      expect(r.problems).toEqual([]);
      expect(r.streams[0]).toMatchObject({ last, ended: true, coveredThrough: last });
    }
  });

  it('HMAC-SHA256: records carry MACs that verify with the secret; a wrong secret is reported', async () => {
    const secret = 'hex:' + '5a'.repeat(32);
    const t = await signedPipeline({ OTEL_AUDIT_HMAC_KEY: secret });
    const ok = await verifyFiles([t.collectorFile], { hmacSecrets: [secret], requireSignatures: true });
    expect(ok.problems).toEqual([]);
    const wrong = await verifyFiles([t.collectorFile], { hmacSecrets: ['hex:' + '5b'.repeat(32)], requireSignatures: true });
    expect(wrong.ok).toBe(false);
  });

  it('an attacker who edits a record and recomputes every hash, but holds no key, is caught', async () => {
    const keys = generateEd25519KeyPair();
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const keyFile = join(dir, 'audit-signing.key.pem');
    writeFileSync(keyFile, keys.privateKeyPem, { mode: 0o600 });
    const t = await signedPipeline({ OTEL_AUDIT_SIGNING_KEY_FILE: keyFile });
    const pubkeys = loadVerifyingKeys([keyFile]);
    // Rewrite: change actor of seq 10, then recompute previous_hash of every later record.
    const lines = readFileSync(t.collectorFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as ExportLogsServiceRequest);
    const all: OtlpLogRecord[] = lines.flatMap((q) => q.resourceLogs!.flatMap((rl) => rl.scopeLogs!.flatMap((sl) => sl.logRecords!)));
    const attr = (r: OtlpLogRecord, k: string) => r.attributes!.find((a) => a.key === k);
    attr(all[9]!, 'audit.actor.id')!.value = { stringValue: 'mallory' };
    for (let i = 10; i < all.length; i++) attr(all[i]!, 'audit.sequence.previous_hash')!.value = { stringValue: hashCanonical(canonicalFromOtlp(all[i - 1]!)) };
    const forged = join(t.dir, 'forged.jsonl');
    writeFileSync(forged, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const chainOnly = await verifyFiles([forged]);
    expect(chainOnly.ok).toBe(true); // the chain alone cannot see a full recomputation…
    const signed = await verifyFiles([forged], { pubkeys });
    expect(signed.ok).toBe(false); // …the signatures can
    expect(signed.problems.filter((x) => x.severity === 'error').map((x) => x.kind)).toContain('bad_signature');
    expect(signed.problems.find((x) => x.kind === 'bad_signature')).toMatchObject({ seq: 10 });
  });
});
