/**
 * Under fsync `batch` (the default) a record goes to the journal in a group commit: one write, then one fsync for
 * the group. Its receipt settles as durable in the journal only once that fsync has returned — the line being in
 * the file is not enough (a power cut loses what was not fsynced). The journal's fsync is held here (node:fs
 * `fsync`, the call the group commit makes, wrapped: every other call real) while the collector is down, so
 * nothing else can settle the receipt: it must wait for the release. Real pipeline, real files.
 * (test/deliver/write-through.test.ts checks the same of write-through; typed-api.test.ts checks fsync always/off.)
 */
import { afterEach, expect, it, vi } from 'vitest';
import type { AuditReceipt } from '../../src/deliver/receipt.js';
import { loginEvent, makePipeline, type TestPipeline } from '../helpers/pipeline.js';
import { idOf, journalRecords } from '../helpers/records.js';

/** While `on`, each fs.fsync call waits in `calls` until released; `entered` is told of each. */
const held = vi.hoisted(() => ({ on: false, calls: [] as (() => void)[], entered: undefined as (() => void) | undefined }));

vi.mock('node:fs', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs')>();
  const fsync = (fd: number, cb: (err: NodeJS.ErrnoException | null) => void): void => {
    if (!held.on) return actual.fsync(fd, cb);
    held.calls.push(() => actual.fsync(fd, cb));
    held.entered?.();
  };
  return { ...actual, default: { ...actual, fsync }, fsync };
});

let p: TestPipeline | undefined;
afterEach(async () => {
  held.on = false;
  for (const release of held.calls.splice(0)) release();
  await p?.dispose();
  p = undefined;
});

it('fsync=batch: the receipt settles only after the group commit fsync returns, not when the line is written', async () => {
  p = await makePipeline({ fsync: 'batch' });
  await p.collector.stop(); // no acknowledgement: only the journal can make the record durable
  held.on = true;
  const fsyncEntered = new Promise<void>((r) => (held.entered = r));
  let settled: AuditReceipt | undefined;
  const receipt = p.audit.record({ ...loginEvent(1), id: 'held-fsync-1' });
  void receipt.then((r) => (settled = r), () => undefined);
  await fsyncEntered;
  // The group's write has landed (the fsync follows it); a turn later its fsync has still not returned.
  await new Promise((r) => setImmediate(r));
  expect(journalRecords(p.auditDir).map(idOf)).toContain('held-fsync-1');
  expect(settled, 'the receipt settled before the fsync of its line returned').toBeUndefined();
  held.on = false;
  for (const release of held.calls.splice(0)) release();
  const r = await receipt;
  expect([r.recordId, r.durability]).toEqual(['held-fsync-1', 'journal']);
});
