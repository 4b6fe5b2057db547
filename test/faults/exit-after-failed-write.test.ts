/**
 * The exit path after a failed group commit: a journal write fails (disk full for a moment), a later one succeeds,
 * then the process exits before the collector acknowledged anything. The failed batch cannot be appended behind the
 * newer lines (the journal keeps sequence order), so it is reported lost; it used to be reported journaled while it
 * was in no file. Real files; fs.writev fails once (test/helpers/failing-writev.ts).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { LossEvent } from '../../src/deliver/loss.js';
import type { BatchSender } from '../../src/deliver/otlp-sender.js';
import { journalRecords, seqOf } from '../helpers/records.js';
import { sealedInStream } from '../helpers/sealed.js';
import { startDelivery } from '../helpers/delivery.js';
import { failures } from '../helpers/failing-writev.js';
import { tempDir } from '../helpers/tmp.js';

vi.mock('node:fs', async (importOriginal) => (await import('../helpers/failing-writev.js')).withFailingWritev(await importOriginal<typeof import('node:fs')>()));

const STREAM = '00000000-0000-4000-8000-0000000000e1';
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  failures.writev = 0;
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('exit path after a failed group commit', () => {
  it('every record exitSync reports journaled is in the journal (or it is reported lost)', async () => {
    const t = await tempDir('rev-exit-');
    cleanups.push(t.cleanup);
    // A collector that never answers: nothing is ever acknowledged.
    const sender = { send: () => new Promise(() => undefined), shutdown: () => Promise.resolve() } as unknown as BatchSender;
    const losses: LossEvent[] = [];
    const d = startDelivery(t.dir, STREAM, sender, losses);

    failures.writev = 1;
    failures.code = 'ENOSPC'; // the first group commit fails (disk full for a moment)
    for (let s = 1; s <= 5; s++) d.accept(sealedInStream(s, STREAM));
    await tick();
    await d['journal']!.writes; // G1 (1..5) failed: in memory only
    for (let s = 6; s <= 10; s++) d.accept(sealedInStream(s, STREAM));
    await tick();
    await d['journal']!.writes; // G2 (6..10) written: the writer's high-water mark is 10

    const r = d.exitSync(); // process.exit() now
    const inJournal = journalRecords(t.dir).map((x) => seqOf(x));
    const lost = r.lost.map((x) => x.seq);
    // Each of the 10 records is either in the journal or reported lost: 1..5 could not be appended behind 6..10.
    const accounted = new Set([...inJournal, ...lost]);
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].filter((s) => !accounted.has(s))).toEqual([]);
    expect(lost).toEqual([1, 2, 3, 4, 5]);
    expect(r.journaled).toBe(0);
    expect(r.reason).toMatch(/journal write had failed/);
  });
});
