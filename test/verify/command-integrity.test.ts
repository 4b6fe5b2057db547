/** `otel-audit verify` with --pubkey, --hmac-key-file, --require-signatures, --checkpoints, --json. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeChain, setAttr, toLines } from '../helpers/make-chain.js';
import { ed25519Keys, hmacSecret, hmacSigner, makeSignedChain } from '../helpers/make-signed-chain.js';
import { tempDir } from '../helpers/tmp.js';
import { runVerifyCommand } from '../../src/cli/verify-command.js';
import type { VerifyReport } from '../../src/verify/index.js';

let dir: string;
let cleanup: () => Promise<void>;
let keys: ReturnType<typeof ed25519Keys>;
const secret = hmacSecret(21);
let hmacFile: string;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('otel-audit-vcmd-'));
  keys = ed25519Keys(dir, 'cmd');
  hmacFile = join(dir, 'hmac.key');
  writeFileSync(hmacFile, `${secret}\n`, { mode: 0o600 });
});
afterAll(async () => cleanup());

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runVerifyCommand(argv, (s) => void (out += s), (s) => void (err += s));
  return { code, out, err };
}

let n = 0;
function journal(records: Parameters<typeof toLines>[0]): string {
  const f = join(dir, `j${++n}.jsonl`);
  writeFileSync(f, toLines(records, 2).join('\n') + '\n');
  return f;
}

describe('verify with keys', () => {
  it('exit 0 on a signed, checkpointed stream; the text says what is covered', async () => {
    const c = makeSignedChain({ n: 9, recordSigner: hmacSigner(secret), checkpointSigner: keys.signer, checkpointEvery: 4, shutdown: 'end-checkpoint' });
    const f = journal(c.records);
    const r = await run(['--pubkey', keys.pubFile, '--hmac-key-file', hmacFile, '--require-signatures', f]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/signatures: 9 valid; 3 valid checkpoints, covered through seq 12 \(every record\) — ok/);
    expect(r.out).toMatch(/^OK: /m);
  });

  // Found in review: a span of one record read "seq 307–307".
  it('a span of one record is "seq N": a one-record stream, one record not yet covered', async () => {
    const one = await run([journal(makeChain(1))]);
    expect(one.out).toMatch(/: seq 1, 1 record, open \(no end record\)/);
    const c = makeSignedChain({ n: 5, recordSigner: hmacSigner(secret), checkpointSigner: keys.signer, checkpointEvery: 4 });
    const r = await run(['--pubkey', keys.pubFile, '--hmac-key-file', hmacFile, journal(c.records)]);
    expect(r.out).toMatch(/covered through seq (\d+); seq (\d+) not yet covered/);
    expect(r.out).not.toMatch(/seq (\d+)–\1\b/);
  });

  // Found in review: a signed journal verified without keys said only "OK … every chain intact".
  it('signatures and checkpoints left unchecked for want of a key are counted in the verdict line', async () => {
    const c = makeSignedChain({ n: 9, recordSigner: hmacSigner(secret), checkpointSigner: keys.signer, checkpointEvery: 4, shutdown: 'end-checkpoint' });
    const f = journal(c.records);
    const none = await run([f]);
    expect(none.code).toBe(0);
    expect(none.out.trimEnd().split('\n').at(-1)).toMatch(/^OK: .*every chain intact; not checked, no key given for them: 9 record MAC\/signatures \(--hmac-key-file, --pubkey\), 3 checkpoints \(--pubkey\)$/);
    // The HMAC key checks the records; the checkpoints still need the public key.
    expect((await run(['--hmac-key-file', hmacFile, f])).out.trimEnd().split('\n').at(-1)).toMatch(/; not checked, no key given for them: 3 checkpoints \(--pubkey\)$/);
    expect((await run(['--hmac-key-file', hmacFile, '--pubkey', keys.pubFile, f])).out).not.toMatch(/not checked/);
  });

  it('exit 1 and a located bad_signature; --json carries reason and the new summary fields', async () => {
    const c = makeSignedChain({ n: 6, recordSigner: hmacSigner(secret), checkpointSigner: keys.signer, checkpointEvery: 3 });
    const records = structuredClone(c.records);
    setAttr(records[5]!, 'audit.integrity.value', { stringValue: Buffer.alloc(32).toString('base64') });
    const f = journal(records);
    const text = await run([`--pubkey=${keys.pubFile}`, `--hmac-key-file=${hmacFile}`, f]);
    expect(text.code).toBe(1);
    expect(text.out).toMatch(new RegExp(`BAD_SIGNATURE stream=${c.streamId} seq=6 record=\\S+ at ${f}:3 — record MAC/signature invalid`));
    const json = await run(['--json', '--pubkey', keys.pubFile, '--hmac-key-file', hmacFile, f]);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.out) as VerifyReport;
    expect(report.problems).toEqual([expect.objectContaining({ kind: 'bad_signature', severity: 'error', reason: 'invalid', seq: 6, line: 3 })]);
    expect(report.streams[0]).toEqual(
      expect.objectContaining({
        coveredThrough: 8,
        signatures: { valid: 5, invalid: 1, unknownKey: 0, unchecked: 0, unsigned: 0, verified: true },
        checkpoints: { valid: 2, invalid: 0, unknownKey: 0, unchecked: 0 },
      }),
    );
  });

  it('every signature stripped (hashes recomputed), verified with the key: exit 0, but a warning per stream, in the final line and in --json', async () => {
    const c = makeSignedChain({ n: 5, recordSigner: hmacSigner(secret), shutdown: 'end' });
    const records = structuredClone(c.records);
    // Removing audit.integrity.* changes no hash (they are outside the canonical form): nothing to recompute.
    for (const r of records) r.attributes = r.attributes!.filter((a) => !a.key.startsWith('audit.integrity.'));
    const f = journal(records);
    const signed = journal(c.records);
    const text = await run(['--hmac-key-file', hmacFile, f, signed]);
    expect(text.code).toBe(0); // a producer without a record key writes the same stream
    const lines = text.out.trimEnd().split('\n');
    expect(lines.filter((l) => l.startsWith('WARNING'))).toEqual([
      expect.stringMatching(new RegExp(`^WARNING stream=${c.streamId} — no record MAC/signature verified under the given keys \\(6 unsigned\\).*--require-signatures`)),
    ]);
    expect(lines.at(-1)).toMatch(/^OK: .*every chain intact.*; 1 stream has no record signature verified under the given keys \(use --require-signatures to require them\)$/);
    const json = JSON.parse((await run(['--json', '--hmac-key-file', hmacFile, f])).out) as VerifyReport;
    expect(json.streams[0]!.signatures).toEqual({ valid: 0, invalid: 0, unknownKey: 0, unchecked: 0, unsigned: 6, verified: false });
    // Without keys nothing was meant to be verified: no field, no warning.
    const plain = await run(['--json', f]);
    expect((JSON.parse(plain.out) as VerifyReport).streams[0]!.signatures).not.toHaveProperty('verified');
    expect((await run([f])).out).not.toMatch(/WARNING|no record signature verified/);
    expect((await run(['--hmac-key-file', hmacFile, '--require-signatures', f])).code).toBe(1);
  });

  // Fixed bug, kept as a regression test: with --require-signatures given, the warning and the final line still
  // told the user to give it.
  it('with --require-signatures given, the warning and the final line say it is an error, not to give the flag', async () => {
    const c = makeSignedChain({ n: 5, recordSigner: hmacSigner(secret), shutdown: 'end' });
    const records = structuredClone(c.records);
    for (const r of records) r.attributes = r.attributes!.filter((a) => !a.key.startsWith('audit.integrity.'));
    const text = await run(['--hmac-key-file', hmacFile, '--require-signatures', journal(records)]);
    expect(text.code).toBe(1);
    const lines = text.out.trimEnd().split('\n');
    expect(lines.filter((l) => l.startsWith('WARNING'))).toEqual([expect.stringMatching(/; --require-signatures is given: an error$/)]);
    expect(lines.at(-1)).toMatch(/^FAILED: .*; 1 stream has no record signature verified under the given keys \(an error under --require-signatures\)$/);
    expect(text.out).not.toMatch(/use --require-signatures|makes it an error/);
  });

  it('one unsigned record among signed ones: "seq 7 carries", a run of them "carry"', async () => {
    const c = makeSignedChain({ n: 9, recordSigner: hmacSigner(secret), shutdown: 'end' });
    const strip = (seqs: number[]): string => {
      const records = structuredClone(c.records);
      for (const q of seqs) records[q - 1]!.attributes = records[q - 1]!.attributes!.filter((a) => !a.key.startsWith('audit.integrity.'));
      return journal(records);
    };
    expect((await run(['--hmac-key-file', hmacFile, strip([7])])).out).toMatch(/ — seq 7 carries no MAC\/signature although other records/);
    expect((await run(['--hmac-key-file', hmacFile, strip([3, 4])])).out).toMatch(/ — seq 3–4 \(2 records\) carry no MAC\/signature although other records/);
    expect((await run(['--hmac-key-file', hmacFile, '--require-signatures', strip([7])])).out).toMatch(/ — seq 7 carries no MAC\/signature, and --require-signatures is set/);
  });

  it('--require-signatures on an unsigned journal: exit 1', async () => {
    const f = journal(makeSignedChain({ n: 3 }).records);
    const r = await run(['--require-signatures', f]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/BAD_SIGNATURE stream=\S+ seq=1–3 .*--require-signatures/);
  });

  it('unreadable or unusable keys are usage errors (exit 2) naming the file, never the secret', async () => {
    const f = journal(makeSignedChain({ n: 2 }).records);
    const missing = await run(['--pubkey', join(dir, 'nope.pem'), f]);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/nope\.pem.*ENOENT/);
    const shortFile = join(dir, 'short.key');
    writeFileSync(shortFile, 'a-short-hmac-secret-value');
    const short = await run(['--hmac-key-file', shortFile, f]);
    expect(short.code).toBe(2);
    expect(short.err).toMatch(/HMAC key file ".*short\.key": .*at least 32 bytes/);
    expect(short.err).not.toContain('a-short-hmac');
    expect((await run(['--hmac-key-file', join(dir, 'absent.key'), f])).err).toMatch(/cannot read HMAC key file/);
    expect((await run(['--pubkey'])).code).toBe(2);
  });

  // Fixed bug, kept as a regression test: the PEM text was taken as an HMAC secret, and verify passed (exit 0)
  // with every record "under a key not given".
  it('an Ed25519 PEM key given as --hmac-key-file is a usage error (exit 2) pointing at --pubkey, the key not shown', async () => {
    const c = makeSignedChain({ n: 3, recordSigner: keys.signer, shutdown: 'end' });
    const f = journal(c.records);
    for (const pem of [keys.pubFile, keys.privFile]) {
      const r = await run(['--hmac-key-file', pem, f]);
      expect(r.code).toBe(2);
      expect(r.out).toBe('');
      expect(r.err).toMatch(/^otel-audit verify: HMAC key file ".*\.pem": this is a PEM key \("BEGIN (PUBLIC|PRIVATE) KEY"\), not an HMAC secret \(value hidden\); give an Ed25519 public key with --pubkey\n$/);
      expect(r.err).not.toContain(readFileSync(pem, 'utf8').split('\n')[1]!.slice(0, 12));
    }
  });

  it('a raw binary HMAC key file is a usage error: as text it would be another key (two such files, one key id)', async () => {
    const f = journal(makeSignedChain({ n: 2 }).records);
    const binFile = join(dir, 'binary.key');
    writeFileSync(binFile, Buffer.concat([Buffer.alloc(32, 0xfe), Buffer.from('\n')]));
    const r = await run(['--hmac-key-file', binFile, f]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/HMAC key file ".*binary\.key": the file is not UTF-8 text \(value hidden\); write a binary key as base64:/);
  });
});
