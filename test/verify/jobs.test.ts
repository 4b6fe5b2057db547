/**
 * `verify --jobs N` (src/verify/parallel-read.ts): the report of worker threads is byte-identical to the
 * one-thread report over tampered rotated sets, and a worker that fails or a file that cannot be read is an
 * error, never a pass. The CLI runs from dist/ (npm test builds first), as users run it.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTR_ACTOR_ID } from '../../src/core/attributes.js';
import type { OtlpLogRecord } from '../../src/otlp/types.js';
import { listInputs, VerifyInputError } from '../../src/verify/inputs.js';
import { scanInWorkers, VerifyWorkerError } from '../../src/verify/parallel-read.js';
import { AUTO_MAX_JOBS, autoJobs } from '../../src/verify/verifier.js';
import { makeChain, requestLine, setAttr } from '../helpers/make-chain.js';
import { ed25519Keys, hmacSecret, hmacSigner, makeSignedChain } from '../helpers/make-signed-chain.js';
import { prng } from '../helpers/prng.js';
import { tempDir } from '../helpers/tmp.js';

const cli = join(import.meta.dirname, '../../dist/cli.js');
let root: string;
let cleanup: () => Promise<void>;
let keys: ReturnType<typeof ed25519Keys>;
const secret = hmacSecret(7);
let hmacFile: string;
beforeAll(async () => {
  ({ dir: root, cleanup } = await tempDir('otel-audit-jobs-'));
  keys = ed25519Keys(root, 'jobs');
  hmacFile = join(root, 'hmac.key');
  writeFileSync(hmacFile, `${secret}\n`, { mode: 0o600 });
});
afterAll(async () => cleanup());

interface Run {
  code: number | null;
  out: string;
  err: string;
}

function verify(args: string[]): Run {
  const r = spawnSync(process.execPath, [cli, 'verify', ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function verifyAsync(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, 'verify', ...args], { encoding: 'utf8', maxBuffer: 64 << 20 }, (e, out, err) => {
      resolve({ code: e === null ? 0 : typeof e.code === 'number' ? e.code : null, out, err });
    });
  });
}

/** A rotated set: the records cut into `files` files of lines of 1–4 records, in order. */
type Set = string[][];
function rotate(records: readonly OtlpLogRecord[], files: number, rand: (n: number) => number): Set {
  const lines: string[] = [];
  for (let i = 0; i < records.length; ) {
    const k = 1 + rand(4);
    lines.push(requestLine(records.slice(i, i + k)));
    i += k;
  }
  const out: Set = [];
  const per = Math.ceil(lines.length / files);
  for (let f = 0; f < files; f++) out.push(lines.slice(f * per, (f + 1) * per));
  return out;
}

const body = (r: OtlpLogRecord): string => r.body?.stringValue ?? '';
type Op = (records: OtlpLogRecord[], rand: (n: number) => number) => OtlpLogRecord[];
/** Tamperings, each applied where it is likely to fall on a file boundary too (the rotation is random). */
const OPS: Record<string, Op> = {
  intact: (rs) => rs,
  modify: (rs, rand) => {
    setAttr(rs[rand(rs.length)]!, ATTR_ACTOR_ID, { stringValue: 'mallory' });
    return rs;
  },
  delete: (rs, rand) => rs.filter((_, i) => i !== 1 + rand(rs.length - 2)),
  insert: (rs, rand) => {
    const i = rand(rs.length);
    const forged = structuredClone(rs[i]!);
    forged.body = { stringValue: `${body(forged)} forged` };
    return [...rs.slice(0, i + 1), forged, ...rs.slice(i + 1)];
  },
  truncate: (rs, rand) => rs.slice(0, rs.length - 1 - rand(5)),
  reorder: (rs, rand) => {
    const i = rand(rs.length - 1);
    return [...rs.slice(0, i), rs[i + 1]!, rs[i]!, ...rs.slice(i + 2)];
  },
  duplicate: (rs, rand) => [...rs, rs[rand(rs.length)]!],
};

async function writeSet(dir: string, set: Set, extra: (f: number) => string = () => ''): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  for (let f = 0; f < set.length; f++) {
    await writeFile(join(dir, `audit-s-${String(f + 1).padStart(6, '0')}.jsonl`), set[f]!.join('\n') + '\n' + extra(f));
  }
}

async function expectSameReports(dir: string, args: string[]): Promise<Run> {
  const [one, three] = await Promise.all([verifyAsync(['--jobs', '1', ...args, dir]), verifyAsync(['--jobs', '3', ...args, dir])]);
  expect(three.err).toBe(one.err);
  expect(three.code).toBe(one.code);
  expect(three.out).toBe(one.out);
  return one;
}

describe('--jobs 3 reports exactly what --jobs 1 reports', () => {
  it.skipIf(!existsSync(cli))('over tampered rotated sets, unsigned and signed, JSON and text', async () => {
    const rand = prng(0x10b5);
    const keyArgs = ['--pubkey', keys.pubFile, '--hmac-key-file', hmacFile];
    let n = 0;
    for (const [name, op] of Object.entries(OPS)) {
      for (const signed of [false, true]) {
        const records = signed
          ? makeSignedChain({ n: 40, recordSigner: hmacSigner(secret), checkpointSigner: keys.signer, checkpointEvery: 7 }).records
          : [...makeChain(30), ...makeChain(25)];
        const dir = join(root, `set-${++n}`);
        await writeSet(dir, rotate(op(structuredClone(records), rand), 3, rand));
        const args = signed ? keyArgs : [];
        const r = await expectSameReports(dir, ['--json', ...args]);
        // Reordering across files and truncating past the last checkpoint prove nothing: not asserted.
        if (name === 'intact' || name === 'duplicate') expect(r.code, name).toBe(0);
        if (name === 'modify' || name === 'delete' || name === 'insert') expect(r.code, `${name} signed=${signed}`).toBe(1);
        if (name === 'modify' || name === 'insert') await expectSameReports(dir, args);
      }
    }
  }, 300_000);

  it.skipIf(!existsSync(cli))('a stream re-signed part-way with another given key: key_changed found by the workers too', async () => {
    const other = ed25519Keys(root, 'jobs-other');
    const records = makeSignedChain({ n: 40, recordSigner: (seq) => (seq <= 20 ? keys.signer : other.signer), checkpointSigner: keys.signer, checkpointEvery: 7 }).records;
    const dir = join(root, 'key-changed');
    await writeSet(dir, rotate(records, 3, prng(0xcafe)));
    const r = await expectSameReports(dir, ['--json', '--pubkey', keys.pubFile, '--pubkey', other.pubFile]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out).problems).toEqual([expect.objectContaining({ kind: 'bad_signature', reason: 'key_changed' })]);
  });

  it.skipIf(!existsSync(cli))('bad lines: malformed, invalid UTF-8, CRLF, blank, torn last line', async () => {
    const rand = prng(0xbad);
    const set = rotate(makeChain(60), 3, rand);
    set[0]!.splice(2, 0, '{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":{}}]}]}]}', '', 'not json');
    set[1] = set[1]!.map((l) => `${l}\r`);
    const dir = join(root, 'bad-lines');
    await writeSet(dir, set, (f) => (f === 2 ? '{"resourceLogs":[{"sco' : ''));
    await writeFile(join(dir, 'audit-s-000002.jsonl'), Buffer.concat([Buffer.from([0xff, 0xfe, 0x0a]), Buffer.from(set[1]!.join('\n') + '\n')]));
    const r = await expectSameReports(dir, ['--json']);
    const report = JSON.parse(r.out) as { problems: Array<{ kind: string }> };
    expect(new Set(report.problems.map((p) => p.kind))).toEqual(new Set(['malformed', 'torn']));
  }, 60_000);

  it.skipIf(!existsSync(cli))('values nested 5000 deep: malformed with the same message in every thread (no stack overflow)', async () => {
    const records = makeChain(5);
    records[2]!.attributes!.push({ key: 'deep', value: { stringValue: 'DEEP' } });
    const deep = '{"arrayValue":{"values":['.repeat(5000) + '{}' + ']}}'.repeat(5000);
    const lines = records.map((r) => requestLine([r]).replace('{"stringValue":"DEEP"}', deep));
    const dir = join(root, 'deep');
    await writeSet(dir, [lines]);
    const r = await expectSameReports(dir, ['--json']);
    const report = JSON.parse(r.out) as { problems: Array<{ kind: string; line?: number; seq?: number; message: string }> };
    expect(report.problems.map((p) => [p.kind, p.line, p.seq])).toEqual([
      ['malformed', 3, undefined],
      ['deleted', 4, 3],
    ]);
    expect(report.problems[0]!.message).toMatch(/nested deeper than 128 arrays\/kvlists/);
  }, 60_000);

  it.skipIf(!existsSync(cli))('files of many batches (> 512 KiB each), tampered in the middle', async () => {
    const rand = prng(0xb16);
    const pad = 'x'.repeat(900);
    const records = makeChain(6000, { extraAttrs: (seq) => [{ key: 'pad', value: { stringValue: `${pad}${seq}` } }] });
    setAttr(records[3100]!, ATTR_ACTOR_ID, { stringValue: 'mallory' });
    const set = rotate(records.filter((_, i) => i !== 4500), 2, rand);
    const dir = join(root, 'big');
    await writeSet(dir, set);
    const r = await expectSameReports(dir, ['--json']);
    const report = JSON.parse(r.out) as { records: number; problems: Array<{ kind: string; seq?: number }> };
    expect(report.records).toBe(5999);
    expect(report.problems.map((p) => [p.kind, p.seq])).toEqual([
      ['modified', 3101],
      ['deleted', 4501],
    ]);
  }, 120_000);
  it.skipIf(!existsSync(cli))('lines larger than a batch (512 KiB) and than 1 MiB, between small ones, tampered', async () => {
    const pad = 'y'.repeat(2000);
    const records = makeChain(1400, { extraAttrs: (seq) => [{ key: 'pad', value: { stringValue: `${pad}${seq}` } }] });
    setAttr(records[700]!, ATTR_ACTOR_ID, { stringValue: 'mallory' });
    // Lines of 1, 300 (~0.7 MB), 3 and 600 (~1.4 MB) records, in turn: each large line is a batch of its own.
    const lines: string[] = [];
    const sizes = [1, 300, 3, 600];
    for (let i = 0, k = 0; i < records.length; k++) {
      const n = sizes[k % sizes.length]!;
      lines.push(requestLine(records.slice(i, i + n)));
      i += n;
    }
    expect(Math.max(...lines.map((l) => l.length))).toBeGreaterThan(1 << 20);
    const dir = join(root, 'large-lines');
    await writeSet(dir, [lines.slice(0, 3), lines.slice(3)]);
    const r = await expectSameReports(dir, ['--json']);
    const report = JSON.parse(r.out) as { records: number; problems: Array<{ kind: string; seq?: number }> };
    expect(report.records).toBe(1400);
    expect(report.problems.map((p) => [p.kind, p.seq])).toEqual([['modified', 701]]);
  }, 120_000);
});

describe('failures are errors, never a pass', () => {
  async function inputsOf(): Promise<Awaited<ReturnType<typeof listInputs>>> {
    const dir = join(root, 'crash');
    await writeSet(dir, rotate(makeChain(20), 2, prng(1)));
    return listInputs([dir], () => undefined);
  }

  const WORKERS: Record<string, string> = {
    exits: `p.on('message', () => process.exit(3));`,
    throws: `p.on('message', () => { throw new Error('boom'); });`,
    reports: `p.on('message', (t) => p.postMessage({ id: t.id, error: 'out of memory' }));`,
    'never starts': `throw new Error('cannot start');`,
  };

  for (const [name, code] of Object.entries(WORKERS)) {
    it(`a worker that ${name} rejects with VerifyWorkerError`, async () => {
      const script = join(root, `worker-${name.replace(' ', '-')}.mjs`);
      await writeFile(script, `import { parentPort as p } from 'node:worker_threads';\n${code}\np.postMessage({ ready: true });\n`);
      const seen: unknown[] = [];
      const run = scanInWorkers(await inputsOf(), [], false, 2, (_f, i) => void seen.push(i), undefined, pathToFileURL(script));
      await expect(run).rejects.toThrow(VerifyWorkerError);
      await expect(run).rejects.toThrow(/verify worker \d (failed|exited)/);
    });
  }

  const worker = join(import.meta.dirname, '../../dist/verify-worker.js');
  // A file found in an input directory is skipped (retention of a live directory, test/verify/vanished.test.ts);
  // one the caller named is an input error.
  it.skipIf(!existsSync(worker))('a file gone after listing: skipped and said when found in a directory, VerifyInputError naming it when named', async () => {
    const inputs = await inputsOf();
    await rm(inputs[1]!.path);
    const skipped: string[] = [];
    const items: number[] = [];
    await scanInWorkers(inputs.map((i) => ({ ...i, follow: false })), [], false, 2, (f) => void items.push(f), (path) => void skipped.push(path), pathToFileURL(worker));
    expect(skipped).toEqual([inputs[1]!.path]);
    expect(items.length).toBeGreaterThan(0);
    expect(items).not.toContain(1);
    const run = scanInWorkers(inputs.map((i) => ({ ...i, follow: true })), [], false, 2, () => undefined, undefined, pathToFileURL(worker));
    await expect(run).rejects.toThrow(VerifyInputError);
    await expect(run).rejects.toThrow(`${inputs[1]!.path}: ENOENT`);
  });

  it.skipIf(!existsSync(cli))('the CLI: a missing path or a bad --jobs is exit 2, one line', () => {
    const missing = verify(['--jobs', '3', join(root, 'nope.jsonl')]);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/^otel-audit verify: .*nope\.jsonl: ENOENT/);
    expect(verify(['--jobs', 'x', root]).code).toBe(2);
  });
});

describe('the default number of workers (autoJobs)', () => {
  it.each([
    [1 << 20, 4, 1], // small input: none
    [64 << 20, 1, 1],
    [64 << 20, 2, 2],
    [64 << 20, 8, 8],
    [64 << 20, 200, AUTO_MAX_JOBS], // a machine reporting 200 cores: capped (200 workers took 2 GB)
  ])('%i bytes on %i cores: %i', (bytes, cores, jobs) => {
    expect(autoJobs(bytes, cores)).toBe(jobs);
  });
});
