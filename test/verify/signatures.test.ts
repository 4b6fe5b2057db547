/**
 * Per-record MACs/signatures in `verify`: HMAC-SHA256 and Ed25519, key rotation, unknown keys, stripped
 * signatures, --require-signatures — on real files in a temp dir.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalFromOtlp } from '../../src/chain/canonical.js';
import { hashCanonical } from '../../src/chain/hash.js';
import { loadVerifyingKeys } from '../../src/integrity/keys.js';
import { ATTR_INTEGRITY_KEY_ID } from '../../src/integrity/sign.js';
import { ATTR_ACTION, ATTR_INTEGRITY_SIGNER, ATTR_INTEGRITY_VALUE, ATTR_SEQ_PREVIOUS_HASH } from '../../src/core/attributes.js';
import type { OtlpLogRecord } from '../../src/otlp/types.js';
import { verifyFiles, type Problem, type VerifyReport } from '../../src/verify/index.js';
import { getAttr, makeChain, setAttr, toLines } from '../helpers/make-chain.js';
import { ed25519Keys, hmacSecret, hmacSigner, makeSignedChain, StreamSealer } from '../helpers/make-signed-chain.js';
import { tempDir } from '../helpers/tmp.js';

let root: string;
let cleanup: () => Promise<void>;
let caseNo = 0;
beforeAll(async () => {
  ({ dir: root, cleanup } = await tempDir('otel-audit-sig-'));
});
afterAll(async () => cleanup());

async function writeStream(records: readonly OtlpLogRecord[], perLine = 2): Promise<string> {
  const dir = join(root, `case-${++caseNo}`);
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'audit.jsonl');
  await writeFile(file, toLines(records, perLine).join('\n') + '\n');
  return file;
}

const errors = (r: VerifyReport): Problem[] => r.problems.filter((p) => p.severity === 'error');

/** Recomputes previous_hash along the chain from index `from` on (an attacker who can hash but not sign). */
function rechain(records: OtlpLogRecord[], from: number): void {
  for (let k = Math.max(from, 1); k < records.length; k++) {
    setAttr(records[k]!, ATTR_SEQ_PREVIOUS_HASH, { stringValue: hashCanonical(canonicalFromOtlp(records[k - 1]!)) });
  }
}

describe('HMAC-SHA256 records', () => {
  const secret = hmacSecret(7);

  it('verify with the secret: every record valid, no problem', async () => {
    const c = makeSignedChain({ n: 12, recordSigner: hmacSigner(secret), shutdown: 'end' });
    const file = await writeStream(c.records);
    const r = await verifyFiles([file], { hmacSecrets: [secret] });
    expect(r.problems).toEqual([]);
    expect(r.streams[0]).toMatchObject({ ok: true, ended: true, signatures: { valid: 13, invalid: 0, unknownKey: 0, unchecked: 0, unsigned: 0 } });
  });

  it('without keys, signatures are only counted as unchecked and nothing is reported', async () => {
    const c = makeSignedChain({ n: 5, recordSigner: hmacSigner(secret) });
    const r = await verifyFiles([await writeStream(c.records)]);
    expect(r.problems).toEqual([]);
    expect(r.streams[0]!.signatures).toEqual({ valid: 0, invalid: 0, unknownKey: 0, unchecked: 5, unsigned: 0 });
  });

  it('a record changed and the chain recomputed (attacker without the key): bad_signature from that record on', async () => {
    const c = makeSignedChain({ n: 10, recordSigner: hmacSigner(secret) });
    const records = structuredClone(c.records);
    setAttr(records[3]!, ATTR_ACTION, { stringValue: 'GRANT' });
    rechain(records, 4);
    const file = await writeStream(records, 1);
    expect((await verifyFiles([file])).ok).toBe(true); // the chain alone cannot tell
    const r = await verifyFiles([file], { hmacSecrets: [secret] });
    expect(r.ok).toBe(false);
    const bad = errors(r);
    expect(bad.every((p) => p.kind === 'bad_signature' && p.reason === 'invalid')).toBe(true);
    // seq 4 changed; 5..10 carry a recomputed previous_hash, so their MACs fail too. Located: the first is seq 4.
    expect(bad.map((p) => p.seq)).toEqual([4, 5, 6, 7, 8, 9, 10]);
    expect(bad[0]).toMatchObject({ stream: c.streamId, file, line: 4, recordId: expect.stringMatching(/000004$/) });
  });

  it('the last record changed (not covered by the chain) is caught by its MAC', async () => {
    const c = makeSignedChain({ n: 6, recordSigner: hmacSigner(secret) });
    const records = structuredClone(c.records);
    records[5]!.body = { stringValue: 'forged' };
    const r = await verifyFiles([await writeStream(records)], { hmacSecrets: [secret] });
    expect(errors(r)).toEqual([expect.objectContaining({ kind: 'bad_signature', seq: 6, reason: 'invalid' })]);
  });

  it('a tampered MAC value on one copy of a duplicated record is reported at that copy', async () => {
    const c = makeSignedChain({ n: 4, recordSigner: hmacSigner(secret) });
    const copy = structuredClone(c.records[1]!);
    setAttr(copy, ATTR_INTEGRITY_VALUE, { stringValue: Buffer.alloc(32, 1).toString('base64') });
    const file = await writeStream([...c.records, copy], 1);
    const r = await verifyFiles([file], { hmacSecrets: [secret] });
    expect(errors(r)).toEqual([expect.objectContaining({ kind: 'bad_signature', seq: 2, line: 5 })]);
    expect(r.problems).toContainEqual(expect.objectContaining({ kind: 'duplicate', severity: 'info', seq: 2, line: 5 }));
  });

  it('a custom key id (OTEL_AUDIT_KEY_ID) verifies: every HMAC key is tried', async () => {
    const c = makeSignedChain({ n: 4, recordSigner: hmacSigner(secret, 'ops-2024') });
    expect(getAttr(c.records[0]!, ATTR_INTEGRITY_KEY_ID)).toEqual({ stringValue: 'ops-2024' });
    const r = await verifyFiles([await writeStream(c.records)], { hmacSecrets: [hmacSecret(9), secret] });
    expect(r.problems).toEqual([]);
    expect(r.streams[0]!.signatures.valid).toBe(4);
  });

  it('malformed integrity attributes are bad signatures', async () => {
    const c = makeSignedChain({ n: 4, recordSigner: hmacSigner(secret) });
    const records = structuredClone(c.records);
    setAttr(records[1]!, ATTR_INTEGRITY_SIGNER, { stringValue: 'collector' });
    setAttr(records[2]!, ATTR_INTEGRITY_VALUE, undefined);
    const r = await verifyFiles([await writeStream(records)], { hmacSecrets: [secret] });
    expect(errors(r).map((p) => [p.kind, p.seq, p.reason])).toEqual([
      ['bad_signature', 2, 'invalid'],
      ['bad_signature', 3, 'invalid'],
    ]);
    expect(errors(r)[0]!.message).toMatch(/signer/);
    expect(errors(r)[1]!.message).toMatch(/audit\.integrity\.value is missing/);
  });
});

describe('Ed25519 records', () => {
  it('valid, and invalid after the body is changed', async () => {
    const keys = ed25519Keys(root, 'rec');
    const c = makeSignedChain({ n: 8, recordSigner: keys.signer, shutdown: 'end' });
    const ok = await verifyFiles([await writeStream(c.records)], { pubkeys: keys.verifying });
    expect(ok.problems).toEqual([]);
    expect(ok.streams[0]!.signatures.valid).toBe(9);
    const records = structuredClone(c.records);
    records[2]!.body = { stringValue: 'forged' };
    const bad = await verifyFiles([await writeStream(records)], { pubkeys: keys.verifying });
    expect(errors(bad).map((p) => [p.kind, p.seq])).toEqual([
      ['modified', 3],
      ['bad_signature', 3],
    ]);
  });

  it('the private key file works as a verifying key (public key derived)', async () => {
    const keys = ed25519Keys(root, 'derive');
    const c = makeSignedChain({ n: 3, recordSigner: keys.signer });
    const r = await verifyFiles([await writeStream(c.records)], { pubkeys: loadVerifyingKeys([keys.privFile]) });
    expect(r.problems).toEqual([]);
    expect(r.streams[0]!.signatures.valid).toBe(3);
  });
});

describe('key rotation and unknown keys', () => {
  it('a stream whose records switch keys: with both keys given, the later ones are key_changed; one removed: unknown_key reported', async () => {
    const a = ed25519Keys(root, 'rot-a');
    const b = ed25519Keys(root, 'rot-b');
    const c = makeSignedChain({ n: 10, recordSigner: (seq) => (seq <= 4 ? a.signer : b.signer) });
    const file = await writeStream(c.records);
    // Rotating a key restarts the producer, which starts a new stream (docs/integrity.md §3.4): records of one
    // stream under two given keys were re-signed by the holder of the second (found in review: accepted).
    const both = await verifyFiles([file], { pubkeys: [...a.verifying, ...b.verifying] });
    expect(both.ok).toBe(false);
    expect(both.problems).toEqual([
      expect.objectContaining({ kind: 'bad_signature', severity: 'error', reason: 'key_changed', seq: 5, through: 10, message: expect.stringContaining(b.keyId) }),
    ]);
    expect(both.problems[0]!.message).toContain(`${a.keyId} (seq 1 first)`);
    expect(both.streams[0]!.signatures).toMatchObject({ valid: 10, unknownKey: 0 });

    // A producer never changes keys within a stream (docs/integrity.md §3.4): records of one stream under a key
    // not given, next to records that verify, are an error even without --require-signatures.
    const onlyB = await verifyFiles([file], { pubkeys: b.verifying });
    expect(onlyB.ok).toBe(false);
    expect(onlyB.problems).toEqual([
      expect.objectContaining({ kind: 'bad_signature', severity: 'error', reason: 'unknown_key', seq: 1, through: 4, message: expect.stringContaining(b.keyId) }),
    ]);
    expect(onlyB.problems[0]!.message).toContain(a.keyId);
    expect(onlyB.streams[0]!.signatures).toMatchObject({ valid: 6, unknownKey: 4 });

    // Only the key of another stream given: nothing of this one verifies, one unknown key: info.
    const other = ed25519Keys(root, 'rot-other');
    const single = makeSignedChain({ n: 5, recordSigner: a.signer });
    const none = await verifyFiles([await writeStream(single.records)], { pubkeys: other.verifying });
    expect(none.ok).toBe(true);
    expect(none.problems).toEqual([expect.objectContaining({ kind: 'bad_signature', severity: 'info', reason: 'unknown_key', seq: 1, through: 5 })]);

    const required = await verifyFiles([file], { pubkeys: b.verifying, requireSignatures: true });
    expect(required.ok).toBe(false);
    expect(errors(required)).toEqual([expect.objectContaining({ kind: 'bad_signature', reason: 'unknown_key', seq: 1, through: 4 })]);

    // Streams signed before and after a rotation (two streams, a key each) verify together.
    const before = makeSignedChain({ n: 4, recordSigner: a.signer, shutdown: 'end' });
    const after = makeSignedChain({ n: 4, recordSigner: b.signer });
    const rotated = await verifyFiles([await writeStream([...before.records, ...after.records])], { pubkeys: [...a.verifying, ...b.verifying], requireSignatures: true });
    expect(rotated.problems).toEqual([]);
  });

  it('HMAC and Ed25519 alternating in one stream: each record under the other key is key_changed', async () => {
    const ed = ed25519Keys(root, 'mix');
    const secret = hmacSecret(3);
    const hmac = hmacSigner(secret);
    const c = makeSignedChain({ n: 6, recordSigner: (seq) => (seq % 2 === 0 ? hmac : ed.signer) });
    const r = await verifyFiles([await writeStream(c.records)], { pubkeys: ed.verifying, hmacSecrets: [secret] });
    expect(r.streams[0]!.signatures.valid).toBe(6);
    expect(r.problems.map((p) => [p.reason, p.seq, p.through])).toEqual([
      ['key_changed', 2, undefined],
      ['key_changed', 4, undefined],
      ['key_changed', 6, undefined],
    ]);
  });

  it.each(['HMAC', 'the same HMAC key under two key ids'] as const)('%s: a tail re-MACed with another given secret is key_changed, whichever key id it names', async (kind) => {
    const x = hmacSecret(21);
    const y = hmacSecret(22);
    const sameKey = kind !== 'HMAC';
    const c = makeSignedChain({ n: 8, recordSigner: (seq) => (seq <= 3 ? hmacSigner(x) : sameKey ? hmacSigner(x, 'relabelled') : hmacSigner(y, 'other-producer')), shutdown: 'end' });
    const r = await verifyFiles([await writeStream(c.records)], { hmacSecrets: [x, y], requireSignatures: true });
    if (sameKey) {
      // One secret is one key, whatever id a record names (the verifier tries every HMAC key).
      expect(r.problems).toEqual([]);
      return;
    }
    expect(r.problems).toEqual([expect.objectContaining({ kind: 'bad_signature', severity: 'error', reason: 'key_changed', seq: 4, through: 9 })]);
  });

  it('Ed25519 checkpoints: a tail and its checkpoint re-signed with another given key are key_changed, and that checkpoint covers nothing', async () => {
    const a = ed25519Keys(root, 'cp-a');
    const b = ed25519Keys(root, 'cp-b');
    const s = new StreamSealer();
    const ordinary = (i: number, k: typeof a): void => {
      s.seal({ eventName: 'document.update', attrs: { [ATTR_ACTION]: 'UPDATE', 'transfer.approved_by': i > 3 ? 'forged' : 'cfo' } }, k.signer);
    };
    for (let i = 1; i <= 3; i++) ordinary(i, a);
    s.checkpoint(a.signer, 3);
    for (let i = 4; i <= 6; i++) ordinary(i, b);
    s.checkpoint(b.signer, 3);
    const file = await writeStream(s.records, 1);
    const keys = { pubkeys: [...a.verifying, ...b.verifying], requireSignatures: true };
    const r = await verifyFiles([file], keys);
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([
      expect.objectContaining({ kind: 'bad_signature', reason: 'key_changed', seq: 5, through: 7 }),
      expect.objectContaining({ kind: 'bad_signature', reason: 'key_changed', seq: 8, message: expect.stringContaining('checkpoint') }),
    ]);
    expect(r.streams[0]!.coveredThrough).toBe(4);

    // Records signed with one Ed25519 key, checkpoints with another: the producer signs both with its one key.
    // Every such checkpoint, not only the first (found in review: the later ones still gave coverage).
    const t = new StreamSealer();
    for (let round = 0; round < 3; round++) {
      for (let i = 1; i <= 3; i++) t.seal({ eventName: 'document.update', attrs: { [ATTR_ACTION]: 'UPDATE' } }, a.signer);
      t.checkpoint(b.signer, 3);
    }
    const mixed = await verifyFiles([await writeStream(t.records, 1)], keys);
    expect(mixed.problems.map((p) => [p.reason, p.seq])).toEqual([['key_changed', 4], ['key_changed', 8], ['key_changed', 12]]);
    expect(mixed.streams[0]!.coveredThrough).toBe(0);
  });
});

describe('after the end record', () => {
  it('a record after a validly signed end record that does not link to it: inserted (the end record is proven)', async () => {
    const secret = hmacSecret(8);
    const c = makeSignedChain({ n: 5, recordSigner: hmacSigner(secret), shutdown: 'end' });
    const extra = structuredClone(c.records[4]!);
    setAttr(extra, 'audit.sequence.number', { intValue: '7' });
    setAttr(extra, 'audit.record.id', { stringValue: 'appended' });
    setAttr(extra, ATTR_SEQ_PREVIOUS_HASH, { stringValue: 'a'.repeat(64) });
    const r = await verifyFiles([await writeStream([...c.records, extra], 1)], { hmacSecrets: [secret] });
    expect(errors(r).map((p) => [p.kind, p.seq])).toEqual([
      ['inserted', 7],
      ['bad_signature', 7],
    ]);
    expect(r.streams[0]).toMatchObject({ ended: true, last: 6 });
  });
});

describe('a broken link next to a validly signed record', () => {
  // Fixed bug, kept as a regression test: "otherwise p is modified" blamed the genuine last record, whose MAC
  // verifies, for the link a record appended after it (a forgery without the key) does not make.
  it.each([
    ['names another predecessor', 'somebody-else', 'inserted'],
    ['names the signed record as its predecessor', undefined, 'modified'],
  ] as const)('a record appended after the last one, which %s: blamed, not the signed record before it', async (_, prevId, kind) => {
    const secret = hmacSecret(9);
    const c = makeSignedChain({ n: 6, recordSigner: hmacSigner(secret) });
    const extra = structuredClone(c.records[5]!);
    setAttr(extra, 'audit.sequence.number', { intValue: '7' });
    setAttr(extra, 'audit.record.id', { stringValue: 'appended' });
    setAttr(extra, ATTR_SEQ_PREVIOUS_HASH, { stringValue: 'b'.repeat(64) });
    setAttr(extra, 'audit.sequence.previous_record_id', { stringValue: prevId ?? getAttr(c.records[5]!, 'audit.record.id')!.stringValue! });
    const r = await verifyFiles([await writeStream([...c.records, extra], 1)], { hmacSecrets: [secret] });
    expect(errors(r).map((p) => [p.kind, p.seq])).toEqual([
      [kind, 7],
      ['bad_signature', 7],
    ]);
    expect(errors(r)[0]!.message).toMatch(/does not match the hash of seq 6 .*, whose signature is valid/);
    // Without the key nothing proves seq 6: the rule of docs/integrity.md §7.2 step 6 stands.
    expect(errors(await verifyFiles([await writeStream([...c.records, extra], 1)])).map((p) => [p.kind, p.seq])).toEqual([['modified', 6]]);
  });
});

describe('key ids relabelled (docs/integrity.md §7.3, step 2)', () => {
  const secret = hmacSecret(5);

  /** Records from index `from` on changed, their key id relabelled and the chain recomputed: no key needed. */
  function relabelled(n: number, from: number, label: (k: number) => string): OtlpLogRecord[] {
    const c = makeSignedChain({ n, recordSigner: hmacSigner(secret) });
    const records = structuredClone(c.records);
    for (let k = from; k < n; k++) {
      records[k]!.body = { stringValue: `forged ${k}` };
      setAttr(records[k]!, ATTR_INTEGRITY_KEY_ID, { stringValue: label(k) });
    }
    rechain(records, from);
    return records;
  }

  it('seq 1 verifies, seq 2.. forged under an unknown key id: an error naming the key the stream uses', async () => {
    const records = relabelled(8, 1, () => 'rotated-2');
    const r = await verifyFiles([await writeStream(records)], { hmacSecrets: [secret] });
    expect(r.ok).toBe(false);
    expect(errors(r)).toEqual([expect.objectContaining({ kind: 'bad_signature', reason: 'unknown_key', seq: 2, through: 8 })]);
    expect(errors(r)[0]!.message).toMatch(/other records verify under a given key \(seq 1 first, key id "[0-9a-f]{16}"\); a stream does not change keys/);
    expect(r.streams[0]!.signatures).toMatchObject({ valid: 1, unknownKey: 7 });
  });

  it('two unknown key ids in one stream: an error, even with no record verifying', async () => {
    const records = relabelled(6, 0, (k) => (k < 3 ? 'key-a' : 'key-b'));
    const r = await verifyFiles([await writeStream(records)], { hmacSecrets: [hmacSecret(6)] });
    expect(errors(r).map((p) => [p.kind, p.reason, p.seq, p.through])).toEqual([
      ['bad_signature', 'unknown_key', 1, 3],
      ['bad_signature', 'unknown_key', 4, 6],
    ]);
    expect(errors(r)[0]!.message).toMatch(/more than one unknown key/);
  });

  it('every record under one key the verifier was not given: info (the stream is only unverified)', async () => {
    const records = relabelled(6, 0, () => 'key-a');
    const r = await verifyFiles([await writeStream(records)], { hmacSecrets: [hmacSecret(6)] });
    expect(r.ok).toBe(true);
    expect(r.problems).toEqual([expect.objectContaining({ kind: 'bad_signature', severity: 'info', reason: 'unknown_key', seq: 1, through: 6 })]);
  });
});

describe('unsigned records', () => {
  const secret = hmacSecret(11);

  it('--require-signatures fails an unsigned stream, reporting the run', async () => {
    const c = makeSignedChain({ n: 5 });
    const r = await verifyFiles([await writeStream(c.records)], { requireSignatures: true });
    expect(errors(r)).toEqual([expect.objectContaining({ kind: 'bad_signature', reason: 'unsigned', seq: 1, through: 5 })]);
  });

  it('a signature stripped from one record of a signed stream is an error even without --require-signatures', async () => {
    const c = makeSignedChain({ n: 6, recordSigner: hmacSigner(secret) });
    const records = structuredClone(c.records);
    for (const k of ['value', 'signer', 'canonicalization', 'algorithm', 'key_id']) setAttr(records[2]!, `audit.integrity.${k}`, undefined);
    const r = await verifyFiles([await writeStream(records)], { hmacSecrets: [secret] });
    expect(errors(r)).toEqual([expect.objectContaining({ kind: 'bad_signature', reason: 'unsigned', seq: 3 })]);
    expect(errors(r)[0]!.through).toBeUndefined();
  });

  it('an unsigned stream verified with keys is fine (signatures are optional)', async () => {
    const c = makeSignedChain({ n: 5 });
    const r = await verifyFiles([await writeStream(c.records)], { hmacSecrets: [secret] });
    expect(r.problems).toEqual([]);
    expect(r.streams[0]!.signatures.unsigned).toBe(5);
  });
});

describe('an audit.integrity.* attribute the producer never writes (outside the hash)', () => {
  const secret = hmacSecret(9);
  const stray = { key: 'audit.integrity.approved_by', value: { stringValue: 'CFO (forged)' } };
  // Where the attribute is added (a middle record, the last one: no successor holds its hash), the keys verify
  // is given, and the reader path (the fast path, the reference path for spaced JSON; worker threads carry it:
  // test/verify/worker-protocol.test.ts).
  const cases = [
    { name: 'signed, with the key', signed: true, at: 3, opts: { hmacSecrets: [secret] } },
    { name: 'signed, with the key and --require-signatures', signed: true, at: 3, opts: { hmacSecrets: [secret], requireSignatures: true } },
    { name: 'signed, without keys', signed: true, at: 3, opts: {} },
    { name: 'signed, the last record, with the key', signed: true, at: 5, opts: { hmacSecrets: [secret] } },
    { name: 'unsigned, without keys', signed: false, at: 3, opts: {} },
    { name: 'unsigned, the last record', signed: false, at: 5, opts: {} },
    { name: 'unsigned, spaced JSON (reference reader)', signed: false, at: 3, opts: {}, spaced: true },
  ] as const;

  it.each(cases)('$name: modified (unhashed_attribute) at that record, verification fails', async (c) => {
    const chain = c.signed ? makeSignedChain({ n: 6, recordSigner: hmacSigner(secret) }).records : makeChain(6);
    const records = structuredClone(chain);
    records[c.at - 1]!.attributes!.push(stray);
    const file = await writeStream(records, 1);
    if ('spaced' in c) {
      const spaced = toLines(records, 1).map((l) => l.replaceAll('":', '": '));
      await writeFile(file, spaced.join('\n') + '\n');
    }
    const r = await verifyFiles([file], c.opts);
    expect(r.ok).toBe(false);
    const found = errors(r).filter((p) => p.kind === 'modified');
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ seq: c.at, line: c.at, reason: 'unhashed_attribute', file });
    expect(found[0]!.message).toContain('"audit.integrity.approved_by"');
    // Nothing else is wrong with the chain: the attribute is outside the hash.
    expect(errors(r).filter((p) => p.kind !== 'modified' && p.kind !== 'bad_signature')).toEqual([]);
  });

  it('the untouched chains verify (the producer writes only its five)', async () => {
    expect((await verifyFiles([await writeStream(makeSignedChain({ n: 6, recordSigner: hmacSigner(secret) }).records, 1)], { hmacSecrets: [secret] })).problems).toEqual([]);
    expect((await verifyFiles([await writeStream(makeChain(6), 1)])).problems).toEqual([]);
  });
});
