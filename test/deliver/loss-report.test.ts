/**
 * The loss line's rate limit (src/deliver/loss.ts): losses folded into a later line are never left unsaid. The
 * timer says them once the second is over, shutdown (`flush()`) says them at once, and the process 'exit' hook
 * says them when the process ends first. The counts printed add up to what was counted.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LossReporter, type LossEvent } from '../../src/deliver/loss.js';
import { killAll, runNode } from '../helpers/child.js';
import { tempDir } from '../helpers/tmp.js';

const root = join(import.meta.dirname, '../..');
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  await killAll();
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

const event = (i: number): LossEvent => ({ records: [{ recordId: `r-${i}`, seq: i }], reason: 'the processor is shut down', streamId: 's-1' });

/** Sum of the counts of the LOST lines, and the last "total lost". */
function lostLines(text: string): { sum: number; lastTotal: number | undefined; lines: string[] } {
  const lines = text.split('\n').filter((l) => /otel-audit: LOST \d+/.test(l));
  const sum = lines.reduce((s, l) => s + Number(/LOST (\d+)/.exec(l)![1]), 0);
  const totals = lines.map((l) => Number(/total lost: (\d+)/.exec(l)![1]));
  return { sum, lastTotal: totals.at(-1), lines };
}

function captureStderr(): { text: () => string; next: (re: RegExp) => Promise<string> } {
  const chunks: string[] = [];
  const waiters: { re: RegExp; resolve: (s: string) => void }[] = [];
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    const s = String(chunk);
    chunks.push(s);
    for (const w of [...waiters]) if (w.re.test(s)) (waiters.splice(waiters.indexOf(w), 1), w.resolve(s));
    return true;
  });
  return {
    text: () => chunks.join(''),
    next: (re) => new Promise((resolve) => waiters.push({ re, resolve })),
  };
}

describe('LossReporter rate limit', () => {
  it('a burst: the first loss is said at once, the rest by the timer when the second is over; the printed counts add up', async () => {
    const err = captureStderr();
    const r = new LossReporter('warn', undefined, () => undefined);
    const later = err.next(/LOST 2 more/);
    for (let i = 0; i < 3; i++) r.report(event(i));
    expect(lostLines(err.text()).sum).toBe(1);
    await later; // bounded by the test timeout, not asserted on time
    const out = lostLines(err.text());
    expect(out.sum).toBe(3);
    expect(out.lastTotal).toBe(3);
    expect(r.dropped).toBe(3);
  }, 20_000);

  it('flush() (what shutdown calls) says the folded count at once, and only once', () => {
    const err = captureStderr();
    const r = new LossReporter('warn', undefined, () => undefined);
    for (let i = 0; i < 5; i++) r.report(event(i));
    r.flush();
    r.flush();
    const out = lostLines(err.text());
    expect(out.lines).toHaveLength(2);
    expect(out.lines[1]).toMatch(/LOST 4 more audit record\(s\) of stream s-1: the processor is shut down \(total lost: 5\)/);
    expect(out.sum).toBe(5);
  });
});

describe('losses right before the process ends', () => {
  it.each(['natural', 'exit'])('%s: stderr says every record counted as dropped', async (mode) => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const child = runNode([join(root, 'test/fixtures/loss-after-shutdown.mjs')], { AUDIT_DIR: join(dir, 'audit'), EXIT_MODE: mode, EMIT_COUNT: '3' });
    const exit = await child.exited;
    expect(exit.code).toBe(0);
    expect(child.event('counted')).toEqual({ event: 'counted', dropped: 3 });
    const out = lostLines(child.stderr.join('\n'));
    expect(out.sum).toBe(3);
    expect(out.lastTotal).toBe(3);
  });
});
