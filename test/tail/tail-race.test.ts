/**
 * tail on a live journal: the verifier, which runs first, may read the last line half-written (torn), and the
 * writer finishes it before tail reads it. Found in review, kept as a regression test: tail then refused the
 * completed line by its number, and never showed its record. The real verifier runs; the wrapper only finishes
 * the line at the moment it returns, as a writer could.
 */
import { appendFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it, vi } from 'vitest';

const hook: { after?: () => void } = {};
vi.mock('../../src/verify/verifier.js', async (orig) => {
  const m = await orig<typeof import('../../src/verify/verifier.js')>();
  return {
    ...m,
    verifyFiles: async (...a: Parameters<typeof m.verifyFiles>) => {
      const r = await m.verifyFiles(...a);
      hook.after?.();
      hook.after = undefined;
      return r;
    },
  };
});
const { runTailCommand } = await import('../../src/cli/tail-command.js');
const { makePipeline, loginEvent } = await import('../helpers/pipeline.js');

let dispose: (() => Promise<void>) | undefined;
afterEach(async () => {
  await dispose?.();
  dispose = undefined;
});

async function shown(dir: string): Promise<{ n: number; err: string }> {
  let out = '';
  let err = '';
  const code = await runTailCommand(['--json', '-n', '100', dir], { out: (x) => void (out += x), err: (x) => void (err += x) });
  expect(code).toBe(0);
  return { n: out.split('\n').filter((l) => l.trim() !== '').length, err };
}

it('a last line the verifier read torn and the writer then finished is shown', async () => {
  const p = await makePipeline({ fsync: 'always' });
  dispose = () => p.dispose();
  for (let i = 0; i < 5; i++) await p.audit.record(loginEvent(i));
  await p.provider.shutdown();
  const [seg] = readdirSync(p.auditDir).filter((f) => f.endsWith('.jsonl'));
  const lines = readFileSync(join(p.auditDir, seg!), 'utf8').split('\n').filter((l) => l !== '');
  const live = join(p.dir, 'live');
  mkdirSync(live);
  const file = join(live, seg!);
  const last = lines.at(-1)!;
  const cut = Math.floor(last.length / 2);
  writeFileSync(file, lines.slice(0, -1).join('\n') + '\n' + last.slice(0, cut));
  hook.after = () => appendFileSync(file, last.slice(cut) + '\n');
  const raced = await shown(live);
  expect(raced.n).toBe(lines.length);
  expect(raced.err).not.toMatch(/their records are not shown/);
});
