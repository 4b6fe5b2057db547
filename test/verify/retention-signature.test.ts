/**
 * Signed retention.log lines (docs/integrity.md §4.4). Before, retention.log was not authenticated: whoever could
 * delete a signed stream's oldest journal segment (records the collector had acknowledged) and append one line to
 * retention.log made `verify --hmac-key-file` read the deletion as retention (info, exit 0). The producer now signs
 * each line with the stream's record key, and in a stream whose records verify under the keys given (or with
 * `--require-signatures`) a line counts only if its own MAC/signature does. Real processor, real loopback collector,
 * real files; the signing input pinned by a vector.
 */
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { getAuditLogger } from '../../src/api/audit-logger.js';
import { loadSigningKeys, loadVerifyingKeys, type SigningKey } from '../../src/integrity/keys.js';
import { retentionSigningText, signRetention, verifyRetention, type RetentionClaim } from '../../src/integrity/retention-signature.js';
import { createRecordSigner } from '../../src/integrity/sign.js';
import type { ExportLogsServiceRequest } from '../../src/otlp/types.js';
import { AuditLogRecordProcessor } from '../../src/processor.js';
import { verifyFiles, type Problem, type VerifyOptions, type VerifyReport } from '../../src/verify/index.js';
import { recordHash } from '../helpers/make-chain.js';
import { ed25519Keys } from '../helpers/make-signed-chain.js';
import { collectorDir, FAST } from '../helpers/pipeline.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

const SECRET = `hex:${'5a'.repeat(32)}`;
const OTHER = `hex:${'a5'.repeat(32)}`;
const errors = (r: VerifyReport): Problem[] => r.problems.filter((p) => p.severity === 'error');
const event = (i: number) => ({ id: `r${i}`, action: 'WRITE', outcome: 'success' as const, actor: { id: 'u1', type: 'user' as const }, details: { pad: 'x'.repeat(300) } });

let collectorUrl = '';
/** One process writing 60 records in 4 KiB segments, at most 3 files: retention deletes the stream's first segments. */
async function produce(signingKeys: { record?: SigningKey; checkpoint?: SigningKey } | undefined): Promise<{ auditDir: string; streamId: string }> {
  const { auditDir, collector } = await collectorDir(cleanups);
  collectorUrl = collector.endpoint;
  return { auditDir, streamId: await produceInto(auditDir, signingKeys) };
}

/** The same, into `auditDir` (the collector of the last `produce`). Returns the stream id. */
async function produceInto(auditDir: string, signingKeys: { record?: SigningKey; checkpoint?: SigningKey } | undefined, records = 60): Promise<string> {
  const collector = { endpoint: collectorUrl };
  const processor = new AuditLogRecordProcessor({ dir: auditDir, ...FAST, maxFileBytes: 4096, maxFiles: 3, exporter: { url: collector.endpoint, timeoutMillis: 2000 }, ...(signingKeys === undefined ? {} : { signingKeys }) });
  const provider = new LoggerProvider({ processors: [processor] });
  const audit = getAuditLogger({ processor, loggerProvider: provider });
  for (let i = 1; i <= records; i++) await audit.record(event(i));
  await processor.forceFlush();
  await provider.shutdown();
  return processor.streamId;
}

const retentionLog = (dir: string): string => join(dir, 'state', 'retention.log');
const retentionLines = (dir: string): Record<string, unknown>[] =>
  readFileSync(retentionLog(dir), 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/**
 * The tampering: deletes the oldest journal segment left (records the collector acknowledged) and appends the line
 * retention would have written for it, with `integrity` as given. Returns the first seq it removed.
 */
function deleteHeadSegment(dir: string, streamId: string, integrity: (claim: RetentionClaim) => unknown): number {
  const oldest = readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort()[0]!;
  const lines = readFileSync(join(dir, oldest), 'utf8').trimEnd().split('\n');
  const records = lines.flatMap((l) => (JSON.parse(l) as ExportLogsServiceRequest).resourceLogs!.flatMap((rl) => rl.scopeLogs!.flatMap((sl) => sl.logRecords!)));
  const seqs = records.map((r) => Number(r.attributes!.find((a) => a.key === 'audit.sequence.number')!.value?.intValue));
  const last = records[records.length - 1]!;
  const claim: RetentionClaim = { streamId, file: oldest, last: seqs[seqs.length - 1]!, lastHash: recordHash(last), deletedAt: new Date().toISOString() };
  const mac = integrity(claim);
  rmSync(join(dir, oldest));
  appendFileSync(retentionLog(dir), JSON.stringify(mac === undefined ? claim : { ...claim, integrity: mac }) + '\n');
  return seqs[0]!;
}

describe('the producer signs its retention.log lines with the stream key', () => {
  it.each([
    ['HMAC-SHA256', () => ({ keys: loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: SECRET }), verify: { hmacSecrets: [SECRET] } as VerifyOptions })],
    [
      'EdDSA',
      () => {
        const ed = ed25519Keys(cleanupsDir());
        return { keys: loadSigningKeys({ OTEL_AUDIT_SIGNING_KEY_FILE: ed.privFile }), verify: { pubkeys: ed.verifying } as VerifyOptions };
      },
    ],
  ])('%s: every line signed; verify with the key takes the cut (info); a head segment deleted and a line appended by hand is DELETED', async (algorithm, setup) => {
    const { keys, verify } = setup();
    const { auditDir, streamId } = await produce(keys);
    const written = retentionLines(auditDir);
    expect(written.length).toBeGreaterThan(0);
    for (const l of written) expect(l['integrity']).toEqual({ algorithm, keyId: (keys.record ?? keys.checkpoint)!.keyId, value: expect.any(String) });

    const genuine = await verifyFiles([auditDir], verify);
    expect(errors(genuine)).toEqual([]);
    expect(genuine.problems.filter((p) => p.kind === 'deleted')).toEqual([expect.objectContaining({ severity: 'info', stream: streamId, seq: 1 })]);

    // A line with no MAC/signature, then one carrying a genuine line's MAC/signature (another claim's).
    const first = deleteHeadSegment(auditDir, streamId, () => undefined);
    const unsigned = await verifyFiles([auditDir], verify);
    expect(first).toBeGreaterThan(1);
    expect(errors(unsigned).map((p) => [p.kind, p.stream, p.seq])).toEqual([['deleted', streamId, 1]]);
    expect(errors(unsigned)[0]!.message).toMatch(/claims seq 1–\d+ were removed by retention .* but the line carries no MAC\/signature, while the stream is signed: a line anyone can append proves nothing, so the claim is not taken/);

    deleteHeadSegment(auditDir, streamId, () => written[0]!['integrity']);
    const replayed = await verifyFiles([auditDir], verify);
    expect(errors(replayed).map((p) => [p.kind, p.stream, p.seq])).toEqual([['deleted', streamId, 1]]);
    expect(errors(replayed)[0]!.message).toMatch(/but the line's MAC\/signature does not verify under the key of the stream's records/);
  });

  it('HMAC: a line signed by another key is not taken; without a key given, nothing can be checked (documented: info)', async () => {
    const { auditDir, streamId } = await produce(loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: SECRET }));
    const stranger = createRecordSigner(loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: OTHER }).record!);
    deleteHeadSegment(auditDir, streamId, (claim) => signRetention(stranger, claim));
    const r = await verifyFiles([auditDir], { hmacSecrets: [SECRET] });
    expect(errors(r).map((p) => [p.kind, p.seq])).toEqual([['deleted', 1]]);
    expect(errors(r)[0]!.message).toMatch(/but the line is not signed by the key of the stream's records/);
    // With no key, the records' MACs are not checked either: the local copy cannot tell (the collector's copy can).
    const unkeyed = await verifyFiles([auditDir]);
    expect(errors(unkeyed)).toEqual([]);
  });

  it('a producer without a key writes unsigned lines: taken (info) even with a key given, refused with --require-signatures', async () => {
    const { auditDir, streamId } = await produce(undefined);
    for (const l of retentionLines(auditDir)) expect(l).not.toHaveProperty('integrity');
    const keyed = await verifyFiles([auditDir], { hmacSecrets: [SECRET] });
    expect(errors(keyed)).toEqual([]);
    expect(keyed.problems.filter((p) => p.kind === 'deleted')).toEqual([expect.objectContaining({ severity: 'info', stream: streamId, seq: 1 })]);
    const required = await verifyFiles([auditDir], { hmacSecrets: [SECRET], requireSignatures: true });
    expect(errors(required).filter((p) => p.kind === 'deleted')).toEqual([expect.objectContaining({ stream: streamId, seq: 1 })]);
    expect(errors(required).find((p) => p.kind === 'deleted')!.message).toMatch(/but the line carries no MAC\/signature, while --require-signatures requires one/);
  });
});

// Found in review of the first version, which took a line signed by any key given to verify, and decided whether a
// stream was signed from its records alone (strip their MACs, outside the hash, and an unsigned line passed).
describe('what a line must be signed with', () => {
  it('a line signed by another key given to verify (another producer, a retired key): not taken, with or without --require-signatures', async () => {
    const { auditDir, streamId } = await produce(loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: SECRET }));
    const stranger = createRecordSigner(loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: OTHER }).record!);
    deleteHeadSegment(auditDir, streamId, (claim) => signRetention(stranger, claim));
    for (const requireSignatures of [false, true]) {
      const r = await verifyFiles([auditDir], { hmacSecrets: [SECRET, OTHER], requireSignatures });
      expect(errors(r).map((p) => [p.kind, p.seq])).toEqual([['deleted', 1]]);
      expect(errors(r)[0]!.message).toMatch(/not signed by the key of the stream's records \(nor of its directory's\): a stream does not change keys/);
    }
  });

  it("every record's MAC stripped (outside the hash) and an unsigned line appended: the stream's own signed lines still make it signed", async () => {
    const { auditDir, streamId } = await produce(loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: SECRET }));
    deleteHeadSegment(auditDir, streamId, () => undefined);
    for (const f of readdirSync(auditDir).filter((n) => n.endsWith('.jsonl'))) {
      const text = readFileSync(join(auditDir, f), 'utf8');
      const stripped = text
        .trimEnd()
        .split('\n')
        .map((l) => {
          const req = JSON.parse(l) as ExportLogsServiceRequest;
          for (const rl of req.resourceLogs!) for (const sl of rl.scopeLogs!) for (const r of sl.logRecords!) r.attributes = r.attributes!.filter((a) => !a.key.startsWith('audit.integrity.'));
          return JSON.stringify(req);
        });
      writeFileSync(join(auditDir, f), stripped.join('\n') + '\n');
    }
    const r = await verifyFiles([auditDir], { hmacSecrets: [SECRET] });
    expect(errors(r).map((p) => [p.kind, p.seq])).toEqual([['deleted', 1]]);
    expect(errors(r)[0]!.message).toMatch(/the line carries no MAC\/signature, while the stream is signed/);
  });

  it('a stream none of whose records is left (state file only): --require-signatures takes no unsigned line for retention', async () => {
    const { auditDir, streamId } = await produce(undefined);
    // Its segments deleted, its state file left (retention forgets a stream it removed whole: src/sinks/retired-streams.ts).
    const statePath = join(auditDir, 'state', `${streamId}.state`);
    const state = readFileSync(statePath);
    for (const f of readdirSync(auditDir).filter((n) => n.endsWith('.jsonl'))) rmSync(join(auditDir, f));
    // Another stream in the directory, so that there is something to verify.
    const other = await produceInto(auditDir, undefined);
    writeFileSync(statePath, state, { mode: 0o600 });
    const plain = await verifyFiles([auditDir], { hmacSecrets: [SECRET] });
    expect(plain.problems).toContainEqual(expect.objectContaining({ stream: streamId, kind: 'deleted', severity: 'info', message: expect.stringMatching(/removed by retention/) }));
    const required = await verifyFiles([auditDir], { hmacSecrets: [SECRET], requireSignatures: true });
    expect(required.problems.filter((p) => p.stream === streamId && /removed by retention/.test(p.message))).toEqual([]);
    expect(other).not.toBe(streamId);
  });

  it('key rotation: a later process (new key) deletes an earlier stream (old key) of the same directory; its lines verify under the key of that directory', async () => {
    const oldKeys = loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: SECRET });
    const { auditDir, streamId } = await produce(oldKeys);
    const before = retentionLines(auditDir).length;
    // A few records: the earlier stream loses its oldest segments to it, and keeps its last ones.
    const later = await produceInto(auditDir, loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: OTHER }), 3);
    const newKeyId = loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: OTHER }).record!.keyId;
    const forOld = retentionLines(auditDir).slice(before).filter((l) => l['streamId'] === streamId);
    expect(forOld.length).toBeGreaterThan(0); // the later process deleted the earlier stream's segments
    for (const l of forOld) expect(l['integrity']).toMatchObject({ keyId: newKeyId });
    const r = await verifyFiles([auditDir], { hmacSecrets: [SECRET, OTHER] });
    expect(errors(r)).toEqual([]);
    expect(r.problems.filter((p) => p.kind === 'deleted').map((p) => [p.stream, p.severity])).toEqual([[streamId, 'info']]);
    expect(r.streams.map((x) => x.streamId).sort()).toEqual([streamId, later].sort());
  });
});

// Found in review: lines were signed with the record key only, so a producer with an HMAC record key and an Ed25519
// checkpoint key wrote lines that a verifier holding only the public key refused (DELETED, exit 1).
describe('a producer with two keys', () => {
  it('signs each line with both; a verifier holding either key alone takes the cut', async () => {
    const ed = ed25519Keys(cleanupsDir());
    const keys = loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: SECRET, OTEL_AUDIT_SIGNING_KEY_FILE: ed.privFile });
    const { auditDir, streamId } = await produce(keys);
    for (const l of retentionLines(auditDir)) {
      expect(l['integrity']).toEqual([
        { algorithm: 'HMAC-SHA256', keyId: keys.record!.keyId, value: expect.any(String) },
        { algorithm: 'EdDSA', keyId: keys.checkpoint!.keyId, value: expect.any(String) },
      ]);
    }
    for (const verify of [{ pubkeys: ed.verifying }, { hmacSecrets: [SECRET] }, { pubkeys: ed.verifying, hmacSecrets: [SECRET], requireSignatures: true }] as VerifyOptions[]) {
      const r = await verifyFiles([auditDir], verify);
      expect(errors(r)).toEqual([]);
      expect(r.problems.filter((p) => p.kind === 'deleted')).toEqual([expect.objectContaining({ severity: 'info', stream: streamId, seq: 1 })]);
    }
    // And a line appended by hand is still refused by each.
    deleteHeadSegment(auditDir, streamId, () => undefined);
    for (const verify of [{ pubkeys: ed.verifying }, { hmacSecrets: [SECRET] }] as VerifyOptions[]) {
      expect(errors(await verifyFiles([auditDir], verify)).map((p) => [p.kind, p.seq])).toEqual([['deleted', 1]]);
    }
  });
});

describe('verifyRetention', () => {
  const claim: RetentionClaim = { streamId: '0b0e4a3c-8a53-4d6e-9d1f-2f1c7c1e8b11', file: 'audit-0b0e4a3c-8a53-4d6e-9d1f-2f1c7c1e8b11-000001.jsonl', last: 42, lastHash: 'ab'.repeat(32), deletedAt: '2026-11-30T12:00:00.000Z' };
  const hmac = createRecordSigner(loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: SECRET }).record!);
  const keys = loadVerifyingKeys([], [SECRET]);

  // The signing input is a format contract (docs/integrity.md §4.4): pinned, so that a change to it is seen. The
  // value was checked with Python's hmac module over the same text and key (0x5a × 32).
  it('signs the documented text: a fixed vector', () => {
    expect(retentionSigningText(claim)).toBe(`otel-audit retention v1\n["${claim.streamId}","${claim.file}",42,"${'ab'.repeat(32)}","2026-11-30T12:00:00.000Z"]`);
    expect(signRetention(hmac, claim)).toEqual({ algorithm: 'HMAC-SHA256', keyId: hmac.keyId, value: 'ttWnQnJGZ0hM3jnm8OAWgCxGJKfKHOZtBNJro6RfIdc=' });
  });

  const good = signRetention(hmac, claim);
  it.each<[string, RetentionClaim, unknown, string]>([
    ['genuine', claim, good, 'ok'],
    ['no integrity', claim, undefined, 'absent'],
    ['last changed', { ...claim, last: 43 }, good, 'bad'],
    ['lastHash changed', { ...claim, lastHash: 'cd'.repeat(32) }, good, 'bad'],
    ['stream changed', { ...claim, streamId: 'another' }, good, 'bad'],
    ['file changed', { ...claim, file: 'x.jsonl' }, good, 'bad'],
    ['deletedAt changed', { ...claim, deletedAt: '2026-11-30T12:00:00.001Z' }, good, 'bad'],
    ['value not base64', claim, { ...good, value: '***' }, 'bad'],
    ['value truncated', claim, { ...good, value: good.value.slice(0, 20) }, 'bad'],
    ['unknown algorithm', claim, { ...good, algorithm: 'none' }, 'bad'],
    ['integrity a string', claim, 'mac', 'bad'],
    ['integrity null', claim, null, 'bad'],
    ['a field missing', claim, { algorithm: good.algorithm, value: good.value }, 'bad'],
    // A record MAC over the same bytes without the prefix must not pass for a retention MAC (domain separation).
    ['MAC of the JSON without the prefix', claim, { ...good, value: hmac.sign(retentionSigningText(claim).split('\n')[1]!) }, 'bad'],
  ])('%s', (_what, c, integrity, expected) => {
    expect(verifyRetention(c, integrity, keys)).toBe(expected);
  });

  it('signed but no key given: unchecked; signed by a key not given: unknown_key', () => {
    expect(verifyRetention(claim, good, [])).toBe('unchecked');
    const labelled = createRecordSigner(loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: OTHER, OTEL_AUDIT_KEY_ID: 'k2' }).record!);
    expect(verifyRetention(claim, signRetention(labelled, claim), keys)).toBe('unknown_key');
  });
});

/** A directory for key files, removed after the test. */
function cleanupsDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'otel-audit-retention-keys-'));
  cleanups.push(async () => rmSync(d, { recursive: true, force: true }));
  return d;
}
