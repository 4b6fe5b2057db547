/**
 * How verify holds the lines of state/retention.log (src/verify/retention-log.ts): every line of a stream it weighs
 * is kept, and a long-lived directory has one per deleted segment, so each is held lean — and must still give back
 * exactly what the producer signed (docs/integrity.md §4.4), whatever was shortened for keeping.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { loadSigningKeys, loadVerifyingKeys } from '../../src/integrity/keys.js';
import { signRetentionWith, verifyRetention, type RetentionClaim } from '../../src/integrity/retention-signature.js';
import { createRecordSigner } from '../../src/integrity/sign.js';
import { MAX_KEPT_STRING_CHARS } from '../../src/verify/record-store.js';
import { parseRetentionLine, readJournalStates } from '../../src/verify/retention-log.js';

const SECRET = `hex:${'5a'.repeat(32)}`;
const OTHER = `hex:${'a5'.repeat(32)}`;
const hmac = createRecordSigner(loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: SECRET }).record!);
const other = createRecordSigner(loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: OTHER, OTEL_AUDIT_KEY_ID: 'k2' }).record!);
const keys = loadVerifyingKeys([], [SECRET]);
const STREAM = '0b0e4a3c-8a53-4d6e-9d1f-2f1c7c1e8b11';
const base: RetentionClaim = { streamId: STREAM, file: `audit-${STREAM}-000001.jsonl`, last: 42, lastHash: 'ab'.repeat(32), deletedAt: '2026-11-30T12:00:00.000Z' };
const long = 'z'.repeat(MAX_KEPT_STRING_CHARS + 40);

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

describe('parseRetentionLine: what the producer signed, given back exactly', () => {
  // Each row: the line's fields; signed with one key or two (a list). `signed` must be the fields as written and
  // `integrity` the member as written, so the MAC verifies; the kept fields are bounded.
  it.each<[string, RetentionClaim, 1 | 2]>([
    ['ordinary line', base, 1],
    ['signed with two keys (a list)', base, 2],
    ['a file name past the kept length', { ...base, file: long }, 1],
    ['a deletedAt past the kept length', { ...base, deletedAt: long }, 1],
    ['a stream id past the kept length', { ...base, streamId: long }, 1],
    ['every field long', { ...base, streamId: `s${long}`, file: `f${long}`, deletedAt: `d${long}` }, 2],
    ['non-ASCII fields', { ...base, file: 'audit-é€😀.jsonl', deletedAt: 'mañana' }, 1],
  ])('%s', (_what, claim, signers) => {
    const integrity = signRetentionWith(signers === 1 ? [hmac] : [other, hmac], claim);
    const line = parseRetentionLine(Buffer.from(JSON.stringify({ ...claim, integrity })));
    expect(line).toBeDefined();
    expect(line!.signed).toEqual(claim);
    expect(line!.integrity).toEqual(integrity);
    expect(verifyRetention(line!.signed, line!.integrity, keys)).toBe('ok');
    expect(line!.last).toBe(claim.last);
    expect(line!.lastHash).toBe(claim.lastHash);
    for (const kept of [line!.streamId, line!.file, line!.deletedAt]) expect(kept.length).toBeLessThan(MAX_KEPT_STRING_CHARS + 120);
    expect(line!.file.length > MAX_KEPT_STRING_CHARS).toBe(claim.file.length > MAX_KEPT_STRING_CHARS);
  });

  it('a line without integrity has none; a file given as a number is signed as its text', () => {
    const line = parseRetentionLine(Buffer.from(JSON.stringify({ ...base, file: 7 })))!;
    expect(line.integrity).toBeUndefined();
    expect(line.signed).toEqual({ ...base, file: '7' });
  });

  it.each([
    ['not JSON', '{"streamId":'],
    ['no stream id', JSON.stringify({ ...base, streamId: 5 })],
    ['seq 0', JSON.stringify({ ...base, last: 0 })],
    ['hash not SHA-256 hex', JSON.stringify({ ...base, lastHash: 'AB'.repeat(32) })],
  ])('is no line: %s', (_what, text) => {
    expect(parseRetentionLine(Buffer.from(text))).toBeUndefined();
  });
});

describe('readJournalStates: a long retention.log', () => {
  /** `global.gc`, without starting the worker with --expose-gc. */
  function gcFunction(): () => void {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  }

  // Found by measuring: a 35 MB log of one stream (150,000 lines) took 215 MB of heap and 379 MB of peak RSS in
  // `otel-audit verify`, ~1.4 KB a line for the parsed objects each cut kept. Now ~0.45 KB (66 MB; RSS 170 MB).
  // Heap sizes, not times: they do not depend on the machine's speed.
  it('holds each line of a weighed stream in well under 1 KB of heap, every line still there', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'otel-audit-retention-line-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const state = join(dir, 'state');
    mkdirSync(state);
    const N = 40_000;
    writeFileSync(join(state, `${STREAM}.state`), JSON.stringify({ version: 1, streamId: STREAM, acked: N + 5 }) + '\n');
    const lines: string[] = [];
    for (let i = 1; i <= N; i++) {
      const claim = { ...base, file: `audit-${STREAM}-${String(i).padStart(6, '0')}.jsonl`, last: i, lastHash: i.toString(16).padStart(64, '0'), deletedAt: new Date(Date.UTC(2026, 10, 30) + i).toISOString() };
      lines.push(JSON.stringify({ ...claim, integrity: signRetentionWith([hmac], claim) }));
    }
    writeFileSync(join(state, 'retention.log'), lines.join('\n') + '\n');
    lines.length = 0;

    const gc = gcFunction();
    gc();
    gc();
    const before = process.memoryUsage().heapUsed;
    const { retained } = await readJournalStates([dir], new Map([[STREAM, 0]]), () => undefined);
    gc();
    gc();
    const perLine = (process.memoryUsage().heapUsed - before) / N;
    const cuts = retained.get(STREAM)!;
    expect(cuts).toHaveLength(N);
    expect(cuts[N - 1]).toMatchObject({ last: N, stateFile: join(state, `${STREAM}.state`), log: join(state, 'retention.log') });
    expect(cuts[N - 1]!.state?.acked).toBe(N + 5);
    expect(verifyRetention(cuts[N - 1]!.signed, cuts[N - 1]!.integrity, keys)).toBe('ok');
    expect(perLine).toBeLessThan(800);
  });
});
