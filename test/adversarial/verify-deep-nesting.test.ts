/**
 * A line of millions of nested brackets (16 MB, under the 64 MiB line limit; past 100,000 levels) is one MALFORMED finding: verify used
 * to JSON.parse it into millions of arrays and die out of memory with no verdict. A record nested to the depth
 * canonical form takes (128 levels) still verifies.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { OtlpAnyValue } from '../../src/otlp/types.js';
import { makeChain, toLines } from '../helpers/make-chain.js';
import { tempDir } from '../helpers/tmp.js';

const cli = join(import.meta.dirname, '../../dist/cli.js');
let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await tempDir('rev-deep-')));
afterAll(async () => cleanup());

it('a 16 MB line of nested brackets is one MALFORMED finding, not an out-of-memory crash', () => {
  const file = join(dir, 'deep.jsonl');
  writeFileSync(file, '['.repeat(8e6) + ']'.repeat(8e6) + '\n');
  const r = spawnSync(process.execPath, ['--max-old-space-size=1024', cli, 'verify', '--jobs', '1', file], { encoding: 'utf8', maxBuffer: 1 << 26 });
  expect(r.signal).toBeNull();
  expect(r.stderr).not.toMatch(/heap out of memory/);
  expect(r.status).toBe(1);
  expect(r.stdout).toMatch(/^MALFORMED at .*deep\.jsonl:1/m);
}, 180_000);

it.each(['arrayValue', 'kvlistValue'] as const)('a record with a %s nested 128 levels (the deepest canonical form takes) still verifies', (kind) => {
  let v: OtlpAnyValue = { stringValue: 'leaf' };
  for (let i = 0; i < 128; i++) v = kind === 'arrayValue' ? { arrayValue: { values: [v] } } : { kvlistValue: { values: [{ key: 'k', value: v }] } };
  const file = join(dir, `nested-${kind}.jsonl`);
  writeFileSync(file, toLines(makeChain(3, { extraAttrs: (seq) => (seq === 2 ? [{ key: 'deep', value: v }] : []) })).join('\n') + '\n');
  const r = spawnSync(process.execPath, [cli, 'verify', '--jobs', '1', file], { encoding: 'utf8' });
  expect(r.stdout).toMatch(/^OK: 1 file, 3 audit records/m);
  expect(r.status).toBe(0);
});
