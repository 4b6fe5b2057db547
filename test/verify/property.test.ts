/**
 * Property tests (issue 4, item 5): for random valid streams with checkpoints every k records — unsigned,
 * HMAC-signed or Ed25519-signed records, open or closed — the stream verifies, and every single-record
 * modification, deletion, insertion, swap, tail truncation and hash-recomputing rewrite is detected and located
 * (stream, seq, file, line), or, where nothing can prove it (records no checkpoint or signature covers yet), the
 * report says those records are not covered.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalFromOtlp } from '../../src/chain/canonical.js';
import { hashCanonical } from '../../src/chain/hash.js';
import { ATTR_ACTION, ATTR_RECORD_ID, ATTR_SEQ_PREVIOUS_HASH, INTEGRITY_PREFIX } from '../../src/core/attributes.js';
import type { OtlpLogRecord } from '../../src/otlp/types.js';
import { verifyFiles, type Problem, type VerifyOptions, type VerifyReport } from '../../src/verify/index.js';
import { seqOf, setAttr, toLines } from '../helpers/make-chain.js';
import { ed25519Keys, hmacSecret, hmacSigner, makeSignedChain, type Shutdown } from '../helpers/make-signed-chain.js';
import { tempDir } from '../helpers/tmp.js';
import { prng } from '../helpers/prng.js';

let root: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir: root, cleanup } = await tempDir('otel-audit-prop-'));
});
afterAll(async () => cleanup());


const errors = (r: VerifyReport): Problem[] => r.problems.filter((p) => p.severity === 'error');
const hashOf = (r: OtlpLogRecord): string => hashCanonical(canonicalFromOtlp(r));
const OPS = ['modify', 'delete', 'insert', 'swap', 'truncate', 'rewrite'] as const;

describe('random streams with checkpoints', () => {
  it('valid streams verify; every single-record tampering is detected and located', async () => {
    const rand = prng(0x5eed_4a11);
    const keys = ed25519Keys(root, 'prop');
    const secret = hmacSecret(42);
    const hmac = hmacSigner(secret);
    const options: VerifyOptions = { pubkeys: keys.verifying, hmacSecrets: [secret] };
    const pick = <T>(xs: readonly T[]): T => xs[rand(xs.length)]!;
    const seen = new Map<string, number>();

    for (let round = 0; round < 200; round++) {
      const n = 3 + rand(30);
      const k = 2 + rand(5);
      const shutdown = pick<Shutdown>(['none', 'end-checkpoint', 'checkpoint+end']);
      const signing = pick(['none', 'hmac', 'ed25519'] as const);
      const perLine = 1 + rand(3);
      const c = makeSignedChain({
        n,
        checkpointSigner: keys.signer,
        checkpointEvery: k,
        shutdown,
        ...(signing === 'none' ? {} : { recordSigner: signing === 'hmac' ? hmac : keys.signer }),
      });
      const records = c.records;
      const L = records.length;
      const lastCp = c.checkpointSeqs.length === 0 ? 0 : Math.max(...c.checkpointSeqs);
      /** The record with this seq carries a signature the verifier trusts. */
      const trusted = (seq: number): boolean => signing !== 'none' || c.checkpointSeqs.includes(seq);
      const dir = join(root, `round-${round}`);
      await mkdir(dir);
      const write = async (name: string, layout: readonly OtlpLogRecord[]): Promise<string> => {
        const file = join(dir, name);
        await writeFile(file, toLines(layout, perLine).join('\n') + '\n');
        return file;
      };
      const lineOf = (layout: readonly OtlpLogRecord[], r: OtlpLogRecord): number => Math.floor(layout.indexOf(r) / perLine) + 1;
      const ctx = `round ${round}: n=${n} k=${k} ${shutdown} ${signing} ${perLine}/line`;

      // Valid streams always verify, covered through the last checkpoint.
      const intact = await write('intact.jsonl', records);
      const ok = await verifyFiles([intact], { ...options, requireSignatures: signing !== 'none' });
      expect(ok.problems, ctx).toEqual([]);
      expect(ok.streams[0], ctx).toMatchObject({ first: 1, last: L, coveredThrough: lastCp, ended: shutdown !== 'none' });

      const op = OPS[round % OPS.length]!;
      seen.set(op, (seen.get(op) ?? 0) + 1);
      const layout = structuredClone(records);
      const tampered = join(dir, 'tampered.jsonl');
      /** Verifies the tampered layout; every error must name this stream and one of `seqs`. */
      const check = async (file: string, seqs: number[], extra: VerifyOptions = {}): Promise<VerifyReport> => {
        const r = await verifyFiles([file], { ...options, ...extra });
        expect(r.ok, `${ctx}: ${op} not detected`).toBe(false);
        for (const p of errors(r)) {
          expect(p.stream, `${ctx}: ${op}: ${p.message}`).toBe(c.streamId);
          expect(seqs, `${ctx}: ${op} blamed seq ${p.seq}: ${p.kind} ${p.message}`).toContain(p.seq);
        }
        return r;
      };

      if (op === 'modify') {
        // The last record is covered only by its own signature (or if it is a checkpoint).
        const idx = trusted(L) ? rand(L) : rand(L - 1);
        const r = layout[idx]!;
        const how = rand(3);
        if (how === 0) r.body = { stringValue: `forged ${round}` };
        else if (how === 1) setAttr(r, ATTR_ACTION, { stringValue: 'GRANT' });
        else r.timeUnixNano = String(BigInt(r.timeUnixNano as string) + 1n);
        await write('tampered.jsonl', layout);
        const rep = await check(tampered, [idx + 1]);
        expect(errors(rep), ctx).toContainEqual(expect.objectContaining({ kind: expect.stringMatching(/^(modified|bad_signature)$/), file: tampered, line: lineOf(layout, r) }));
      } else if (op === 'delete') {
        const idx = rand(L - 1); // deleting the last one is a tail truncation
        layout.splice(idx, 1);
        await write('tampered.jsonl', layout);
        const rep = await check(tampered, [idx + 1]);
        expect(errors(rep), ctx).toEqual([expect.objectContaining({ kind: 'deleted', seq: idx + 1, file: tampered, line: lineOf(layout, layout[idx]!) })]);
      } else if (op === 'insert') {
        // A forged record claiming an existing seq, linked to its predecessor, placed anywhere.
        const q = trusted(L) ? 1 + rand(L) : 1 + rand(L - 1);
        const forged = structuredClone(records[q - 1]!);
        forged.attributes = forged.attributes!.filter((kv) => !kv.key.startsWith(INTEGRITY_PREFIX));
        setAttr(forged, ATTR_RECORD_ID, { stringValue: `forged-${round}` });
        forged.body = { stringValue: `inserted ${round}` };
        layout.splice(rand(layout.length + 1), 0, forged);
        await write('tampered.jsonl', layout);
        const rep = await check(tampered, [q]);
        expect(errors(rep), ctx).toContainEqual(expect.objectContaining({ kind: 'inserted', seq: q, file: tampered, line: lineOf(layout, forged) }));
        for (const p of errors(rep)) expect(p.line, ctx).toBe(lineOf(layout, forged));
      } else if (op === 'swap') {
        const i = rand(L - 1);
        const j = i + 1 + rand(L - i - 1);
        [layout[i], layout[j]] = [layout[j]!, layout[i]!];
        await write('tampered.jsonl', layout);
        // The records named are the fewest whose removal leaves the file in order: the two swapped ones (one of
        // them when they were adjacent; with one record between them, any two of the three).
        const rep = await check(tampered, Array.from({ length: j - i + 1 }, (_, m) => i + 1 + m));
        expect(new Set(errors(rep).map((p) => p.kind)), ctx).toEqual(new Set(['reordered']));
        expect(errors(rep), ctx).toHaveLength(Math.min(2, j - i));
        if (j - i >= 3) {
          expect(errors(rep).map((p) => [p.seq, p.line]), ctx).toEqual([
            [i + 1, lineOf(layout, layout[j]!)],
            [j + 1, lineOf(layout, layout[i]!)],
          ]);
        }
      } else if (op === 'truncate') {
        // The local copy loses its last t records; the collector's copy still has everything.
        const t = 1 + rand(L - 1);
        const kept = layout.slice(0, L - t);
        const keptLast = L - t;
        await write('tampered.jsonl', kept);
        const collector = await write('collector.json', records);
        if (lastCp > keptLast) {
          const rep = await check(tampered, [keptLast + 1], { checkpointSources: [collector] });
          expect(errors(rep), ctx).toEqual([
            expect.objectContaining({ kind: 'truncated', reason: 'records_missing', seq: keptLast + 1, ...(lastCp === keptLast + 1 ? {} : { through: lastCp }), file: tampered, line: lineOf(kept, kept[keptLast - 1]!) }),
          ]);
        } else {
          // Only records no checkpoint covered yet were cut: a valid shorter stream, and the report says so.
          const rep = await verifyFiles([tampered], { ...options, checkpointSources: [collector] });
          expect(errors(rep), ctx).toEqual([]);
          expect(rep.streams[0]!.coveredThrough, ctx).toBe(lastCp);
          expect(ok.streams[0]!.last - lastCp, ctx).toBeGreaterThanOrEqual(t);
        }
      } else {
        // An attacker who can hash but not sign: changes one record and recomputes every later link.
        const idx = rand(L);
        setAttr(layout[idx]!, ATTR_ACTION, { stringValue: 'GRANT' });
        for (let m = idx + 1; m < L; m++) setAttr(layout[m]!, ATTR_SEQ_PREVIOUS_HASH, { stringValue: hashOf(layout[m - 1]!) });
        await write('tampered.jsonl', layout);
        const nextCp = c.checkpointSeqs.find((q) => q >= idx + 1);
        if (trusted(idx + 1)) {
          // Its own signature fails: located exactly.
          const rep = await check(tampered, Array.from({ length: L - idx }, (_, m) => idx + 1 + m));
          expect(errors(rep)[0], ctx).toMatchObject({ kind: 'bad_signature', seq: idx + 1, line: lineOf(layout, layout[idx]!) });
        } else if (nextCp !== undefined) {
          // The next checkpoint's signature no longer matches the recomputed link: the change is at or before it.
          const rep = await check(tampered, Array.from({ length: L - idx }, (_, m) => idx + 1 + m));
          expect(errors(rep)[0], ctx).toMatchObject({ kind: 'bad_signature', reason: 'checkpoint_invalid', seq: nextCp });
          expect(rep.streams[0]!.coveredThrough, ctx).toBeLessThan(idx + 1);
        } else {
          // After the last checkpoint and unsigned: not covered, and the report says so.
          const rep = await verifyFiles([tampered], options);
          expect(errors(rep), ctx).toEqual([]);
          expect(rep.streams[0]!.coveredThrough, ctx).toBeLessThan(idx + 1);
        }
      }
      expect(seqOf(records[0]!)).toBe(1);
    }
    expect([...seen.values()].every((v) => v >= 30)).toBe(true);
  });
});
