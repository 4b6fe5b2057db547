/**
 * A stream's `ok` in the report means no error names it (docs/integrity.md §8.2). Errors found outside the stream's
 * own check (a forged checkpoint in a --checkpoints source) named it but left it ok: the report said FAILED while
 * the stream's line ended "— ok".
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runVerifyCommand } from '../../src/cli/verify-command.js';
import { verifyFiles } from '../../src/verify/index.js';
import { toLines } from '../helpers/make-chain.js';
import { ed25519Keys, makeSignedChain } from '../helpers/make-signed-chain.js';
import { tempDir } from '../helpers/tmp.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await tempDir('rev-sumok-')));
afterAll(async () => cleanup());

it('a stream named by an error from a checkpoint source is not reported ok', async () => {
  const producer = ed25519Keys(dir, 'producer');
  const attacker = ed25519Keys(dir, 'attacker');
  const streamId = '00000000-0000-4000-8000-00000000beef';
  const genuine = makeSignedChain({ streamId, n: 9, recordSigner: producer.signer, checkpointSigner: producer.signer, checkpointEvery: 3 });
  // The "collector copy" used as checkpoint evidence: the same stream re-signed by someone else.
  const forged = makeSignedChain({ streamId, n: 9, recordSigner: attacker.signer, checkpointSigner: attacker.signer, checkpointEvery: 3 });
  await mkdir(join(dir, 'in'));
  await mkdir(join(dir, 'src'));
  const input = join(dir, 'in', 'journal.jsonl');
  const source = join(dir, 'src', 'collector.jsonl');
  await writeFile(input, toLines(genuine.records).join('\n') + '\n');
  await writeFile(source, toLines(forged.records).join('\n') + '\n');
  const r = await verifyFiles([input], { pubkeys: producer.verifying, checkpointSources: [source] });
  expect(r.ok).toBe(false);
  const named = r.problems.filter((p) => p.severity === 'error' && p.stream === streamId);
  expect(named.length).toBeGreaterThan(0);
  expect(r.streams.find((s) => s.streamId === streamId)!.ok).toBe(false);

  let out = '';
  const code = await runVerifyCommand(['--pubkey', producer.pubFile, '--checkpoints', source, input], (s) => void (out += s), () => undefined);
  expect(code).toBe(1);
  expect(out).not.toMatch(new RegExp(`stream ${streamId}: .* — ok`));
});
