/**
 * Write-through (a processor in a worker thread, src/processor.ts): each batch is in the journal file when
 * `writeSync(batches, false)` returns, and under fsync `batch` its receipts settle only after the fsync that
 * follows off the thread — receipts settle when durable by the policy. Real journal writer, real files.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditReceipt } from '../../src/deliver/receipt.js';
import { Batcher } from '../../src/deliver/batch.js';
import { deferred } from '../../src/deliver/deferred.js';
import { sealed } from '../helpers/sealed.js';
import { testSpool } from '../helpers/spool.js';
import { JournalWriter } from '../../src/sinks/journal.js';
import { tempDir } from '../helpers/tmp.js';

const STREAM = '0e836d36-3527-453f-bea7-97e683dddc36';
let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await tempDir()));
afterEach(async () => cleanup());

const lines = (): string[] => {
  const [file] = readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith('.jsonl'));
  return file === undefined ? [] : readFileSync(join(dir, file), 'utf8').split('\n').filter(Boolean);
};

describe('write-through under fsync batch', () => {
  it('the line is in the file at once; its receipt settles after the fsync that follows', async () => {
    const spool = testSpool(dir, STREAM);
    const settled: AuditReceipt[] = [];
    const batcher = new Batcher(false);
    for (const seq of [1, 2]) {
      const r = deferred<AuditReceipt>();
      void r.promise.then((x) => settled.push(x));
      batcher.add(sealed(seq, `record ${seq}`), r);
      spool.writeSync([batcher.cut()], false);
      expect(lines()).toHaveLength(seq); // before any tick: a terminated worker leaves it in the file
    }
    await Promise.resolve();
    expect(settled).toEqual([]); // not durable by the policy yet
    await spool.writes;
    expect(settled.map((x) => [x.sequence, x.durability])).toEqual([
      [1, 'journal'],
      [2, 'journal'],
    ]);
    await spool.writer.close();
  });
});

// Found in review: the fsync that follows a write-through write raced the next write's rotation, which closes the
// segment (fsynced then): EBADF was taken for a failed write — a false "journal write failed", receipts left
// unsettled, and write-through falling back to group commits. Every write here rotates (segments of 1 byte).
describe('the fsync after a write-through write, with the segment rotated under it', () => {
  it('never fails for a segment that rotation closed', async () => {
    const writer = new JournalWriter({ dir, streamId: STREAM, maxFileBytes: 1, fsync: 'batch' });
    const pending: Promise<void>[] = [];
    for (let seq = 1; seq <= 300; seq++) {
      writer.writeSync([{ bytes: Buffer.from(`{"resourceLogs":[],"n":${seq}}`), first: seq, last: seq }], false);
      pending.push(writer.fsyncAsync()); // the next writeSync rotates, closing this fd
    }
    const failed = (await Promise.allSettled(pending)).filter((r) => r.status === 'rejected');
    expect(failed).toEqual([]);
    await writer.close();
  });
});

