/**
 * Signed checkpoints in `verify --pubkey`: coverage, tail truncation, chains rewritten by an attacker who can
 * recompute hashes but holds no signing key, forged checkpoints, removed checkpoints — and restart links.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalFromOtlp } from '../../src/chain/canonical.js';
import { hashCanonical } from '../../src/chain/hash.js';
import { ATTR_CHECKPOINT_HEAD_HASH, ATTR_CHECKPOINT_SEQUENCE, EVENT_CHECKPOINT } from '../../src/integrity/checkpoint.js';
import { ATTR_INTEGRITY_KEY_ID, integrityAttributes } from '../../src/integrity/sign.js';
import {
  ATTR_ACTION,
  ATTR_RECORD_ID,
  ATTR_SEQ_NUMBER,
  ATTR_SEQ_PREVIOUS_HASH,
  ATTR_SEQ_PREVIOUS_RECORD_ID,
} from '../../src/core/attributes.js';
import type { OtlpAnyValue, OtlpLogRecord } from '../../src/otlp/types.js';
import { ATTR_SEQ_PREVIOUS_STREAM_HASH, ATTR_SEQ_PREVIOUS_STREAM_LAST } from '../../src/integrity/stream-link.js';
import { runVerifyCommand } from '../../src/cli/verify-command.js';
import { verifyFiles, type Problem, type VerifyReport } from '../../src/verify/index.js';
import { getAttr, recordIdOf, setAttr, toLines } from '../helpers/make-chain.js';
import { ed25519Keys, hmacSecret, hmacSigner, kvs, makeSignedChain, StreamSealer } from '../helpers/make-signed-chain.js';
import { tempDir } from '../helpers/tmp.js';

let root: string;
let cleanup: () => Promise<void>;
let caseNo = 0;
let keys: ReturnType<typeof ed25519Keys>;
let attacker: ReturnType<typeof ed25519Keys>;
beforeAll(async () => {
  ({ dir: root, cleanup } = await tempDir('otel-audit-cp-'));
  keys = ed25519Keys(root, 'producer');
  attacker = ed25519Keys(root, 'attacker');
});
afterAll(async () => cleanup());

async function writeFiles(files: Record<string, readonly OtlpLogRecord[]>, perLine = 1): Promise<Record<string, string>> {
  const dir = join(root, `case-${++caseNo}`);
  await mkdir(dir, { recursive: true });
  const out: Record<string, string> = {};
  for (const [name, records] of Object.entries(files)) {
    const file = join(dir, name);
    await mkdir(join(file, '..'), { recursive: true });
    await writeFile(file, records.length === 0 ? '' : toLines(records, perLine).join('\n') + '\n');
    out[name] = file;
  }
  return out;
}

const errors = (r: VerifyReport): Problem[] => r.problems.filter((p) => p.severity === 'error');
const hashOf = (r: OtlpLogRecord): string => hashCanonical(canonicalFromOtlp(r));
const isCheckpoint = (r: OtlpLogRecord): boolean => r.eventName === EVENT_CHECKPOINT;

/**
 * What an attacker who can hash but not sign produces: `records` renumbered 1..n and re-linked (previous_hash,
 * previous_record_id recomputed); integrity attributes left as they were.
 */
function relink(records: OtlpLogRecord[]): OtlpLogRecord[] {
  const out = structuredClone(records);
  out.forEach((r, k) => {
    setAttr(r, ATTR_SEQ_NUMBER, { intValue: String(k + 1) });
    if (k === 0) return;
    setAttr(r, ATTR_SEQ_PREVIOUS_HASH, { stringValue: hashOf(out[k - 1]!) });
    setAttr(r, ATTR_SEQ_PREVIOUS_RECORD_ID, { stringValue: recordIdOf(out[k - 1]!) });
  });
  return out;
}

describe('coverage', () => {
  it('end record as the final checkpoint: every record covered', async () => {
    const c = makeSignedChain({ n: 23, checkpointSigner: keys.signer, checkpointEvery: 5, shutdown: 'end-checkpoint' });
    const { a } = await writeFiles({ a: c.records }, 3);
    const r = await verifyFiles([a!], { pubkeys: keys.verifying });
    expect(r.problems).toEqual([]);
    const last = c.records.length;
    expect(r.streams[0]).toMatchObject({ ok: true, ended: true, last, coveredThrough: last, checkpoints: { valid: 5, invalid: 0, unknownKey: 0, unchecked: 0 } });
    expect(c.checkpointSeqs).toEqual([6, 12, 18, 24, 28]);
  });

  it('a final checkpoint then the end record: all but the end record covered', async () => {
    const c = makeSignedChain({ n: 7, checkpointSigner: keys.signer, checkpointEvery: 3, shutdown: 'checkpoint+end' });
    const { a } = await writeFiles({ a: c.records });
    const r = await verifyFiles([a!], { pubkeys: keys.verifying });
    expect(r.problems).toEqual([]);
    expect(r.streams[0]).toMatchObject({ last: 11, coveredThrough: 10 });
  });

  it('an open stream is covered through its last checkpoint; the text output says what is not yet covered', async () => {
    const c = makeSignedChain({ n: 12, checkpointSigner: keys.signer, checkpointEvery: 5 });
    const { a } = await writeFiles({ a: c.records });
    const r = await verifyFiles([a!], { pubkeys: keys.verifying });
    expect(r.ok).toBe(true);
    expect(r.streams[0]).toMatchObject({ last: 14, coveredThrough: 12 });
    const out: string[] = [];
    const code = await runVerifyCommand(['--pubkey', keys.pubFile, a!], (s) => void out.push(s), () => undefined);
    expect(code).toBe(0);
    expect(out.join('')).toMatch(/2 valid checkpoints, covered through seq 12; seq 13–14 not yet covered/);
  });

  it('without --pubkey, checkpoints are ordinary records: nothing covered, nothing reported', async () => {
    const c = makeSignedChain({ n: 6, checkpointSigner: keys.signer, checkpointEvery: 2 });
    const { a } = await writeFiles({ a: c.records });
    const r = await verifyFiles([a!]);
    expect(r.problems).toEqual([]);
    expect(r.streams[0]).toMatchObject({ coveredThrough: 0, checkpoints: { unchecked: 3 } });
  });

  it('records MAC-ed with HMAC, checkpoints signed with Ed25519', async () => {
    const secret = hmacSecret(5);
    const c = makeSignedChain({ n: 9, recordSigner: hmacSigner(secret), checkpointSigner: keys.signer, checkpointEvery: 4, shutdown: 'end-checkpoint' });
    const { a } = await writeFiles({ a: c.records }, 2);
    const r = await verifyFiles([a!], { pubkeys: keys.verifying, hmacSecrets: [secret], requireSignatures: true });
    expect(r.problems).toEqual([]);
    expect(r.streams[0]).toMatchObject({ coveredThrough: 12, signatures: { valid: 9 }, checkpoints: { valid: 3 } });
  });
});

describe('checkpoint claims the keys given cannot check (HMAC keys, no --pubkey)', () => {
  const secret = hmacSecret(6);
  /** HMAC-ed records, Ed25519 checkpoints every 3, the end record a checkpoint. */
  const signed = (): ReturnType<typeof makeSignedChain> =>
    makeSignedChain({ n: 9, recordSigner: hmacSigner(secret), checkpointSigner: keys.signer, checkpointEvery: 3, shutdown: 'end-checkpoint' });
  const verifyHmac = async (records: OtlpLogRecord[], requireSignatures = false): Promise<VerifyReport> => {
    const { a } = await writeFiles({ a: records });
    return verifyFiles([a!], { hmacSecrets: [secret], requireSignatures });
  };

  it("the producer's checkpoints pass as unchecked; with --require-signatures they are named as not verifiable without --pubkey", async () => {
    const c = signed();
    const r = await verifyHmac(c.records);
    expect(r.problems).toEqual([]);
    expect(r.streams[0]).toMatchObject({ ended: true, signatures: { valid: 9 }, checkpoints: { unchecked: 4 } });
    const strict = await verifyHmac(c.records, true);
    expect(errors(strict)).toEqual([
      expect.objectContaining({ kind: 'bad_signature', reason: 'checkpoint_unknown_key', seq: c.checkpointSeqs[0], through: c.checkpointSeqs.at(-1) }),
    ]);
    expect(errors(strict)[0]!.message).toContain('cannot be verified without the producer\'s public key (--pubkey)');
  });

  // Fixed bug, kept as a regression test: any record with an audit.checkpoint.* attribute or the checkpoint event
  // name was left out of the MAC checks when no Ed25519 key was given; a forger who cut the stream's tail and
  // appended an unsigned record with such a marker (and an end marker) got exit 0, even with --require-signatures.
  const forgeries: Array<[string, (s: StreamSealer) => void]> = [
    ['an unsigned record with an audit.checkpoint.* attribute', (s) => void s.seal({ eventName: 'user.grant', attrs: { [ATTR_ACTION]: 'GRANT_ADMIN', 'audit.actor.id': 'mallory', 'audit.checkpoint.note': 'x', 'audit.sequence.end': true } })],
    ['an unsigned record named audit.checkpoint', (s) => void s.seal({ eventName: EVENT_CHECKPOINT, attrs: { [ATTR_ACTION]: 'GRANT_ADMIN', 'audit.actor.id': 'mallory', 'audit.sequence.end': true } })],
    ['a real-looking checkpoint signed by another Ed25519 key, carrying content', (s) => void s.checkpoint(attacker.signer, 3, { 'audit.target.id': 'mallory GRANT_ADMIN' })],
    ['a real-looking end checkpoint signed by another Ed25519 key, carrying content', (s) => void s.checkpoint(attacker.signer, 3, { 'audit.actor.id': 'otel-audit', 'audit.actor.type': 'system', [ATTR_ACTION]: 'STREAM_END', 'audit.outcome': 'success', 'audit.sequence.end': true, 'audit.target.id': 'mallory' }, 'audit.stream.end')],
  ];
  it.each(forgeries)('the tail cut and replaced by %s: bad_signature at it, with or without --require-signatures', async (_what, forge) => {
    const c = signed();
    // Keep records 1..7 (seq 7 is an ordinary HMAC-ed record), re-seal them to continue the chain, then forge.
    const s = new StreamSealer(c.streamId);
    for (const r of c.records.slice(0, 7)) {
      s.records.push(r);
      s.hashes.push(hashOf(r));
    }
    Object.assign(s, { prevHash: hashOf(c.records[6]!), prevId: recordIdOf(c.records[6]!) });
    forge(s);
    for (const strict of [false, true]) {
      const r = await verifyHmac(s.records, strict);
      expect(r.ok).toBe(false);
      expect(errors(r)).toContainEqual(expect.objectContaining({ kind: 'bad_signature', seq: 8 }));
    }
  });
});

describe('tail truncation', () => {
  it('local copy truncated, verified against the collector copy\'s checkpoints: truncated, located', async () => {
    const c = makeSignedChain({ n: 30, checkpointSigner: keys.signer, checkpointEvery: 5 });
    // Cut after seq 20: the checkpoint at 24 and records 21–35 are gone from the local copy.
    const f = await writeFiles({ 'local/audit.jsonl': c.records.slice(0, 20), 'collector/out.json': c.records }, 2);
    const r = await verifyFiles([f['local/audit.jsonl']!], { pubkeys: keys.verifying, checkpointSources: [f['collector/out.json']!] });
    expect(errors(r)).toEqual([
      expect.objectContaining({
        kind: 'truncated',
        reason: 'records_missing',
        stream: c.streamId,
        seq: 21,
        through: 36,
        // Located at the cut: the last record held (seq 20, 2 per line); the message names the evidence.
        file: f['local/audit.jsonl'],
        line: 10,
        message: expect.stringContaining(`${f['collector/out.json']}:18`),
      }),
    ]);
    expect(r.streams[0]).toMatchObject({ last: 20, coveredThrough: 18 });
    // Both copies together: nothing is missing.
    expect((await verifyFiles([f['local/audit.jsonl']!, f['collector/out.json']!], { pubkeys: keys.verifying })).ok).toBe(true);
  });

  it('the same through the CLI (--checkpoints), exit 1', async () => {
    const c = makeSignedChain({ n: 10, checkpointSigner: keys.signer, checkpointEvery: 3 });
    const f = await writeFiles({ 'l.jsonl': c.records.slice(0, 6), 'c.jsonl': c.records });
    const out: string[] = [];
    const code = await runVerifyCommand(['--pubkey', keys.pubFile, '--checkpoints', f['c.jsonl']!, f['l.jsonl']!], (s) => void out.push(s), () => undefined);
    expect(code).toBe(1);
    expect(out.join('')).toMatch(/TRUNCATED stream=\S+ seq=7–12 at \S+l\.jsonl:6/);
  });

  it('--checkpoints without --pubkey is a usage error', async () => {
    const err: string[] = [];
    expect(await runVerifyCommand(['--checkpoints', root, root], () => undefined, (s) => void err.push(s))).toBe(2);
    expect(err.join('')).toMatch(/--checkpoints needs --pubkey/);
  });

  it('a whole stream missing from the inputs but present in the checkpoint source', async () => {
    const c = makeSignedChain({ n: 4, checkpointSigner: keys.signer, checkpointEvery: 2 });
    const other = makeSignedChain({ n: 2 });
    const f = await writeFiles({ 'l.jsonl': other.records, 'c.jsonl': c.records });
    const r = await verifyFiles([f['l.jsonl']!], { pubkeys: keys.verifying, checkpointSources: [f['c.jsonl']!] });
    expect(errors(r)).toEqual([expect.objectContaining({ kind: 'truncated', stream: c.streamId, seq: 1, through: 6, reason: 'records_missing' })]);
  });

  // A collector shared by several producers, given as the checkpoint source of one producer's journal. Fixed
  // bug, kept as a regression test: the other producers' streams were errors (truncated: no record among the
  // inputs; with only this producer's key, their checkpoints "not trusted"), so an untampered journal failed.
  it('another producer\'s stream in the source (signed by a key no input stream uses) is info, with or without its key', async () => {
    const other = ed25519Keys(root, 'other-producer');
    const mine = makeSignedChain({ n: 6, recordSigner: keys.signer, checkpointSigner: keys.signer, checkpointEvery: 3 });
    const theirs = makeSignedChain({ n: 6, recordSigner: other.signer, checkpointSigner: other.signer, checkpointEvery: 3 });
    const f = await writeFiles({ 'journal.jsonl': mine.records, 'collector.jsonl': [...mine.records, ...theirs.records] });
    for (const pubkeys of [keys.verifying, [...keys.verifying, ...other.verifying]]) {
      const r = await verifyFiles([f['journal.jsonl']!], { pubkeys, checkpointSources: [f['collector.jsonl']!] });
      expect(errors(r)).toEqual([]);
      expect(r.problems.length).toBeGreaterThan(0);
      expect(r.problems.every((p) => p.severity === 'info' && p.stream === theirs.streamId)).toBe(true);
    }
  });

  // Fixed bug, kept as a regression test: the other producer's records were info (a key not given), but its
  // checkpoints, under the same key, errors: verifying one producer's key over a shared collector copy failed.
  it('a collector copy holding another producer\'s signed stream, verified with one producer\'s key: the other\'s checkpoints are info like its records', async () => {
    const other = ed25519Keys(root, 'other-producer-2');
    const mine = makeSignedChain({ n: 6, recordSigner: keys.signer, checkpointSigner: keys.signer, checkpointEvery: 3 });
    const theirs = makeSignedChain({ n: 6, recordSigner: other.signer, checkpointSigner: other.signer, checkpointEvery: 3 });
    const f = await writeFiles({ 'collector.jsonl': [...mine.records, ...theirs.records] });
    const r = await verifyFiles([f['collector.jsonl']!], { pubkeys: keys.verifying });
    expect(errors(r)).toEqual([]);
    const untrusted = r.problems.filter((p) => p.reason === 'checkpoint_unknown_key');
    expect(untrusted).toHaveLength(2);
    expect(untrusted.every((p) => p.severity === 'info' && p.stream === theirs.streamId)).toBe(true);
    // With a record of that stream relabelled to the given key, its checkpoints are errors again.
    const mixed = structuredClone(theirs.records);
    setAttr(mixed[0]!, ATTR_INTEGRITY_KEY_ID, getAttr(mine.records[0]!, ATTR_INTEGRITY_KEY_ID)!);
    const g = await writeFiles({ 'collector.jsonl': [...mine.records, ...mixed] });
    const bad = await verifyFiles([g['collector.jsonl']!], { pubkeys: keys.verifying });
    expect(errors(bad).some((p) => p.reason === 'checkpoint_unknown_key' && p.stream === theirs.streamId)).toBe(true);
  });

  // Found in review, kept as a regression test: the key ids the inputs merely named counted, so deleting every
  // stream and planting one record naming any key id made the deleted streams "another producer's" (info, exit 0).
  it('every stream deleted and one record planted naming another key id: the deleted streams are still errors', async () => {
    const deleted = makeSignedChain({ n: 4, recordSigner: keys.signer, checkpointSigner: keys.signer, checkpointEvery: 2 });
    const planted = makeSignedChain({ n: 1, recordSigner: attacker.signer });
    const f = await writeFiles({ 'journal.jsonl': planted.records, 'collector.jsonl': deleted.records });
    const r = await verifyFiles([f['journal.jsonl']!], { pubkeys: keys.verifying, checkpointSources: [f['collector.jsonl']!] });
    expect(r.ok).toBe(false);
    expect(errors(r)).toContainEqual(expect.objectContaining({ kind: 'truncated', stream: deleted.streamId, reason: 'records_missing' }));
  });

  it('a whole stream signed by the key the inputs\' streams use, missing from the inputs: still an error', async () => {
    const kept = makeSignedChain({ n: 4, recordSigner: keys.signer, checkpointSigner: keys.signer, checkpointEvery: 2 });
    const deleted = makeSignedChain({ n: 4, recordSigner: keys.signer, checkpointSigner: keys.signer, checkpointEvery: 2 });
    const f = await writeFiles({ 'journal.jsonl': kept.records, 'collector.jsonl': [...kept.records, ...deleted.records] });
    const r = await verifyFiles([f['journal.jsonl']!], { pubkeys: keys.verifying, checkpointSources: [f['collector.jsonl']!] });
    expect(errors(r)).toEqual([expect.objectContaining({ kind: 'truncated', stream: deleted.streamId, seq: 1, reason: 'records_missing' })]);
  });

  it('in one copy alone, a cut at a checkpoint boundary is not detectable: the report says what is covered', async () => {
    const c = makeSignedChain({ n: 20, checkpointSigner: keys.signer, checkpointEvery: 5 });
    const { a } = await writeFiles({ a: c.records.slice(0, 13) }); // ends with records after the checkpoint at 12
    const r = await verifyFiles([a!], { pubkeys: keys.verifying });
    expect(r.ok).toBe(true);
    expect(r.streams[0]).toMatchObject({ last: 13, coveredThrough: 12 });
  });
});

describe('an attacker who can recompute hashes but cannot sign', () => {
  it('rewrites a record and the chain, and re-signs the checkpoints with another key: bad_signature', async () => {
    const c = makeSignedChain({ n: 15, checkpointSigner: keys.signer, checkpointEvery: 5 });
    const forged = structuredClone(c.records);
    setAttr(forged[2]!, ATTR_ACTION, { stringValue: 'GRANT' });
    // Recompute every link, and re-sign each checkpoint (own key) so its signature matches its new content.
    for (let k = 3; k < forged.length; k++) {
      const r = forged[k]!;
      setAttr(r, ATTR_SEQ_PREVIOUS_HASH, { stringValue: hashOf(forged[k - 1]!) });
      if (isCheckpoint(r)) {
        setAttr(r, ATTR_CHECKPOINT_HEAD_HASH, { stringValue: hashOf(forged[k - 1]!) });
        for (const key of Object.keys(integrityAttributes(attacker.signer, ''))) setAttr(r, key, undefined);
        r.attributes!.push(...kvs(integrityAttributes(attacker.signer, attacker.signer.sign(canonicalFromOtlp(r)))));
      }
    }
    const { a } = await writeFiles({ a: forged });
    expect((await verifyFiles([a!])).ok).toBe(true); // the hash chain alone cannot tell
    const r = await verifyFiles([a!], { pubkeys: keys.verifying });
    expect(errors(r).map((p) => [p.kind, p.reason, p.seq])).toEqual([
      ['bad_signature', 'checkpoint_unknown_key', 6],
      ['bad_signature', 'checkpoint_unknown_key', 12],
      ['bad_signature', 'checkpoint_unknown_key', 18],
    ]);
    expect(r.streams[0]!.coveredThrough).toBe(0);
  });

  it('the same, with the producer\'s key id written on the forged signature: checkpoint_invalid', async () => {
    const c = makeSignedChain({ n: 10, checkpointSigner: keys.signer, checkpointEvery: 5 });
    const forged = structuredClone(c.records);
    setAttr(forged[7]!, ATTR_ACTION, { stringValue: 'GRANT' });
    for (let k = 8; k < forged.length; k++) {
      const r = forged[k]!;
      setAttr(r, ATTR_SEQ_PREVIOUS_HASH, { stringValue: hashOf(forged[k - 1]!) });
      if (isCheckpoint(r)) {
        setAttr(r, ATTR_CHECKPOINT_HEAD_HASH, { stringValue: hashOf(forged[k - 1]!) });
        setAttr(r, 'audit.integrity.value', { stringValue: attacker.signer.sign(canonicalFromOtlp(r)) });
        expect(getAttr(r, ATTR_INTEGRITY_KEY_ID)).toEqual({ stringValue: keys.keyId });
      }
    }
    const { a } = await writeFiles({ a: forged });
    const r = await verifyFiles([a!], { pubkeys: keys.verifying });
    expect(errors(r)).toEqual([expect.objectContaining({ kind: 'bad_signature', reason: 'checkpoint_invalid', seq: 12, message: expect.stringMatching(/does not verify/) })]);
    expect(r.streams[0]!.coveredThrough).toBe(6);
  });

  it('rewrites a record and leaves the checkpoints as they were: the link into the checkpoint breaks', async () => {
    const c = makeSignedChain({ n: 10, checkpointSigner: keys.signer, checkpointEvery: 5 });
    const forged = structuredClone(c.records);
    setAttr(forged[1]!, ATTR_ACTION, { stringValue: 'GRANT' });
    for (let k = 2; k < 5; k++) setAttr(forged[k]!, ATTR_SEQ_PREVIOUS_HASH, { stringValue: hashOf(forged[k - 1]!) });
    const { a } = await writeFiles({ a: forged });
    const r = await verifyFiles([a!], { pubkeys: keys.verifying });
    expect(errors(r)).toEqual([expect.objectContaining({ kind: 'modified', seq: 5 })]);
    expect(r.streams[0]!.coveredThrough).toBe(0); // coverage ends at the first broken link (5 → 6)
  });

  it('deletes a record, drops the checkpoints that no longer fit and renumbers: checkpoint_missing', async () => {
    const c = makeSignedChain({ n: 20, checkpointSigner: keys.signer, checkpointEvery: 4 });
    // Delete seq 8 (after the checkpoint at 5); drop the checkpoints after it; relink everything.
    const kept = c.records.filter((r, k) => k !== 7 && !(isCheckpoint(r) && k > 7));
    const forged = relink(kept);
    const { a } = await writeFiles({ a: forged });
    expect((await verifyFiles([a!])).ok).toBe(true);
    const r = await verifyFiles([a!], { pubkeys: keys.verifying });
    // The checkpoint at seq 5 (interval 4) requires one at seq 10 at the latest.
    expect(errors(r)).toEqual([expect.objectContaining({ kind: 'truncated', reason: 'checkpoint_missing', seq: 10 })]);
    expect(r.streams[0]!.coveredThrough).toBe(5);
  });

  it('rewrites the collector copy wholesale; the local copy\'s checkpoints expose it (head_mismatch)', async () => {
    const c = makeSignedChain({ n: 12, checkpointSigner: keys.signer, checkpointEvery: 4, declareInterval: false });
    const forged = relink(c.records.filter((r, k) => k !== 1 && !isCheckpoint(r))); // seq 2 deleted, no checkpoints
    const f = await writeFiles({ 'collector.json': forged, 'local.jsonl': c.records });
    const alone = await verifyFiles([f['collector.json']!], { pubkeys: keys.verifying });
    expect(alone.ok).toBe(true);
    expect(alone.streams[0]!.coveredThrough).toBe(0);
    const r = await verifyFiles([f['collector.json']!], { pubkeys: keys.verifying, checkpointSources: [f['local.jsonl']!] });
    // Local checkpoints at 5, 10, 15 certify seq 4, 9, 14; the forged copy has other records there, and ends at 11.
    expect(errors(r).map((p) => [p.kind, p.reason, p.seq, p.through])).toEqual([
      ['truncated', 'head_mismatch', 4, undefined],
      ['truncated', 'head_mismatch', 9, undefined],
      ['truncated', 'records_missing', 12, 15],
    ]);
  });

  it('a forged checkpoint (head hash and link made consistent, signature kept) is bad_signature', async () => {
    const c = makeSignedChain({ n: 6, checkpointSigner: keys.signer, checkpointEvery: 3 });
    const forged = structuredClone(c.records);
    const cp = forged[3]!;
    expect(isCheckpoint(cp)).toBe(true);
    setAttr(cp, ATTR_CHECKPOINT_SEQUENCE, { intValue: '3' });
    setAttr(forged[2]!, ATTR_ACTION, { stringValue: 'GRANT' });
    setAttr(cp, ATTR_SEQ_PREVIOUS_HASH, { stringValue: hashOf(forged[2]!) });
    setAttr(cp, ATTR_CHECKPOINT_HEAD_HASH, { stringValue: hashOf(forged[2]!) });
    for (let k = 4; k < forged.length; k++) setAttr(forged[k]!, ATTR_SEQ_PREVIOUS_HASH, { stringValue: hashOf(forged[k - 1]!) });
    const { a } = await writeFiles({ a: forged });
    const r = await verifyFiles([a!], { pubkeys: keys.verifying });
    expect(errors(r)).toEqual([
      expect.objectContaining({ kind: 'bad_signature', reason: 'checkpoint_invalid', seq: 4 }),
      expect.objectContaining({ kind: 'bad_signature', reason: 'checkpoint_invalid', seq: 8 }),
    ]);
  });

  it('a checkpoint record made up from nothing (no signature, wrong covered seq): checkpoint_invalid', async () => {
    const s = new StreamSealer();
    for (let i = 0; i < 3; i++) s.seal({ eventName: 'x', attrs: { 'audit.action': 'READ' } });
    s.seal({ eventName: EVENT_CHECKPOINT, attrs: { 'audit.checkpoint.stream_id': s.streamId, [ATTR_CHECKPOINT_SEQUENCE]: 2, [ATTR_CHECKPOINT_HEAD_HASH]: s.lastHash! } });
    s.seal({ eventName: EVENT_CHECKPOINT, attrs: { 'audit.checkpoint.stream_id': s.streamId, [ATTR_CHECKPOINT_SEQUENCE]: 4, [ATTR_CHECKPOINT_HEAD_HASH]: s.lastHash! } });
    const { a } = await writeFiles({ a: s.records });
    const r = await verifyFiles([a!], { pubkeys: keys.verifying });
    expect(errors(r).map((p) => [p.seq, p.reason, p.message])).toEqual([
      [4, 'checkpoint_invalid', expect.stringMatching(/audit\.checkpoint\.sequence is 2, not the checkpoint's own seq − 1 \(3\)/)],
      [5, 'checkpoint_invalid', expect.stringMatching(/carries no signature/)],
    ]);
  });
});

describe('restart links', () => {
  it('a clean restart (previous stream ended) is not reported; the summary names the previous stream', async () => {
    const a = makeSignedChain({ n: 3, shutdown: 'end' });
    const b = makeSignedChain({ n: 2, previous: { streamId: a.streamId, lastSeq: 4, lastHash: a.hashes[3]! } });
    const f = await writeFiles({ 'a.jsonl': [...a.records, ...b.records] });
    const r = await verifyFiles([f['a.jsonl']!]);
    expect(r.problems).toEqual([]);
    expect(r.streams.find((s) => s.streamId === b.streamId)).toMatchObject({ previousStreamId: a.streamId });
  });

  it('previous stream ended without an end record (killed), or missing: restart at info level', async () => {
    const a = makeSignedChain({ n: 3 });
    const b = makeSignedChain({ n: 2, previous: { streamId: a.streamId } });
    const c = makeSignedChain({ n: 2, previous: { streamId: '00000000-0000-4000-8000-0000000000ff' } });
    const f = await writeFiles({ 'x.jsonl': [...a.records, ...b.records, ...c.records] });
    const r = await verifyFiles([f['x.jsonl']!]);
    expect(r.ok).toBe(true);
    expect(r.problems).toEqual([
      expect.objectContaining({ kind: 'restart', severity: 'info', reason: 'previous_unended', stream: b.streamId, seq: 1, line: 4 }),
      expect.objectContaining({ kind: 'restart', severity: 'info', reason: 'previous_missing', stream: c.streamId, seq: 1, line: 6 }),
    ]);
  });

  it('the next stream saw more of the previous one than is held: truncated; a different last record: modified', async () => {
    const a = makeSignedChain({ n: 6 });
    const b = makeSignedChain({ n: 2, previous: { streamId: a.streamId, lastSeq: 6, lastHash: a.hashes[5]! } });
    const f = await writeFiles({ 'cut.jsonl': [...a.records.slice(0, 4), ...b.records] });
    const r = await verifyFiles([f['cut.jsonl']!]);
    expect(errors(r)).toEqual([expect.objectContaining({ kind: 'truncated', reason: 'previous_stream', stream: a.streamId, seq: 5, through: 6, line: 5 })]);
    expect(r.problems).toContainEqual(expect.objectContaining({ kind: 'restart', reason: 'previous_unended' }));
    expect(r.streams.find((s) => s.streamId === a.streamId)!.ok).toBe(false);

    const changed = structuredClone(a.records);
    changed[5]!.body = { stringValue: 'forged' };
    const g = await writeFiles({ 'mod.jsonl': [...changed, ...b.records] });
    const r2 = await verifyFiles([g['mod.jsonl']!]);
    expect(errors(r2)).toEqual([expect.objectContaining({ kind: 'modified', reason: 'previous_stream', stream: a.streamId, seq: 6, line: 6, recordId: getAttr(a.records[5]!, ATTR_RECORD_ID)!.stringValue })]);
  });

  // Found by review: the link on a record that the rest of its own stream says was changed made the intact
  // previous stream read as truncated or modified.
  it('a restart link on a record that was itself changed is no evidence about the previous stream', async () => {
    const a = makeSignedChain({ n: 6 });
    const b = makeSignedChain({ n: 3, previous: { streamId: a.streamId, lastSeq: 6, lastHash: a.hashes[5]! } });
    const edits: Array<[string, OtlpAnyValue, RegExp]> = [
      [ATTR_SEQ_PREVIOUS_STREAM_LAST, { intValue: '9' }, /reached seq 9, while the records held end at seq 6/],
      [ATTR_SEQ_PREVIOUS_STREAM_HASH, { stringValue: '0'.repeat(64) }, /seq 6 of stream .* has another hash than the one held/],
    ];
    for (const [key, value, claim] of edits) {
      const edited = structuredClone(b.records);
      setAttr(edited[0]!, key, value);
      const f = await writeFiles({ 'x.jsonl': [...a.records, ...edited] });
      const r = await verifyFiles([f['x.jsonl']!]);
      expect(errors(r)).toEqual([expect.objectContaining({ kind: 'modified', stream: b.streamId, seq: 1 })]);
      expect(r.streams.find((s) => s.streamId === a.streamId)!.ok).toBe(true);
      expect(r.problems).toContainEqual(
        expect.objectContaining({ kind: 'restart', severity: 'info', reason: 'link_doubted', stream: b.streamId, seq: 1, message: expect.stringMatching(claim) }),
      );
    }
  });

  // Found by review of the rule above: it doubted the link whenever seq 2 did not link to seq 1, also when seq 2
  // is the record its stream names as changed (both its links broken): A's truncation was then never named.
  it('a restart link on an intact seq 1, whose seq 2 was changed, still names the previous stream\'s truncation', async () => {
    const a = makeSignedChain({ n: 6 });
    const b = makeSignedChain({ n: 3, previous: { streamId: a.streamId, lastSeq: 6, lastHash: a.hashes[5]! } });
    const edited = structuredClone(b.records);
    setAttr(edited[1]!, ATTR_SEQ_PREVIOUS_HASH, { stringValue: 'a'.repeat(64) });
    const f = await writeFiles({ 'x.jsonl': [...a.records.slice(0, 4), ...edited] });
    const r = await verifyFiles([f['x.jsonl']!]);
    expect(errors(r)).toEqual([
      expect.objectContaining({ kind: 'modified', reason: 'both_links', stream: b.streamId, seq: 2 }),
      expect.objectContaining({ kind: 'truncated', reason: 'previous_stream', stream: a.streamId, seq: 5, through: 6 }),
    ]);
    expect(r.problems.filter((p) => p.reason === 'link_doubted')).toEqual([]);
  });

  // Found by review: the last record's hedge ("or its previous_hash was changed") was said although its valid
  // signature rules that out.
  it('a broken link to the last record, whose signature is valid: its predecessor is named without a doubt', async () => {
    const secret = hmacSecret(7);
    const c = makeSignedChain({ n: 10, recordSigner: hmacSigner(secret) });
    const edited = structuredClone(c.records);
    edited[8]!.body = { stringValue: 'edited' };
    const f = await writeFiles({ 'x.jsonl': edited });
    const r = await verifyFiles([f['x.jsonl']!], { hmacSecrets: [secret] });
    const m = errors(r).find((p) => p.kind === 'modified')!;
    expect(m).toMatchObject({ seq: 9 });
    expect(m.message).not.toContain("or seq 10's previous_hash");
  });

  // Found in review, kept as a regression test: a restart link is no signature; one forged to certify an edited
  // record moved the blame onto the genuine record after it, which the rest of the stream still links to.
  it('a forged restart link certifying an edited middle record does not move the blame off it', async () => {
    const a = makeSignedChain({ n: 9, shutdown: 'end' });
    const edited = structuredClone(a.records);
    setAttr(edited[4]!, ATTR_ACTION, { stringValue: 'GRANT' });
    const fake = makeSignedChain({ n: 1, previous: { streamId: a.streamId, lastSeq: 5, lastHash: hashOf(edited[4]!) } });
    const f = await writeFiles({ 'x.jsonl': [...edited, ...fake.records] });
    const r = await verifyFiles([f['x.jsonl']!]);
    expect(errors(r)).toContainEqual(expect.objectContaining({ kind: 'modified', stream: a.streamId, seq: 5 }));
    expect(errors(r).filter((p) => p.stream === a.streamId && p.seq === 6)).toEqual([]);
  });

  // Fixed bug, kept as a regression test: the previous stream's last record, whose hash the next stream recorded,
  // was blamed (modified) for the link a record appended after it does not make.
  it('a record appended to a killed stream after the record the next stream certifies: the appended one is named', async () => {
    const a = makeSignedChain({ n: 6 });
    const b = makeSignedChain({ n: 2, previous: { streamId: a.streamId, lastSeq: 6, lastHash: a.hashes[5]! } });
    const extra = structuredClone(a.records[5]!);
    setAttr(extra, ATTR_SEQ_NUMBER, { intValue: '7' });
    setAttr(extra, ATTR_RECORD_ID, { stringValue: 'appended' });
    setAttr(extra, ATTR_SEQ_PREVIOUS_HASH, { stringValue: 'd'.repeat(64) });
    const f = await writeFiles({ 'x.jsonl': [...a.records, extra, ...b.records] });
    const r = await verifyFiles([f['x.jsonl']!]);
    expect(errors(r)).toEqual([expect.objectContaining({ kind: 'inserted', stream: a.streamId, seq: 7, recordId: 'appended' })]);
    expect(errors(r)[0]!.message).toMatch(/whose hash the next stream of the process recorded/);
  });
});
