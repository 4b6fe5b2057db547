/**
 * A bisection (src/deliver/bisect.ts) that acknowledged and set aside the start of a batch still in memory (or of a
 * request replayed from an earlier process's journal), and
 * was then stopped by a retryable failure: the export loop resumes after the last settled record. Sending the
 * whole batch again sent acknowledged records twice and set the refused one aside a second time; and a receipt of a
 * record set aside before the failure resolved as delivered when the rest was acknowledged. Real journal and
 * rejected/ files; a scripted sender.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deferred } from '../../src/deliver/deferred.js';
import { Delivery } from '../../src/deliver/delivery.js';
import type { LossEvent } from '../../src/deliver/loss.js';
import type { BatchSender, SendResult } from '../../src/deliver/otlp-sender.js';
import type { AuditReceipt } from '../../src/deliver/receipt.js';
import { Replayer } from '../../src/deliver/replay.js';
import { deliveryFixture, startDelivery } from '../helpers/delivery.js';
import { orphanStream } from '../helpers/orphan.js';
import { sealedInStream, seqsOf } from '../helpers/sealed.js';

const STREAM = '7a4f0e61-2b9d-4c57-8f43-5e1d2c3b4a59';
const POISON = ',{"key":"poison","value":{"boolValue":true}}';

/** Refuses for good any request with the poison record; fails once (503) the first request after a set-aside. */
class Collector implements BatchSender {
  readonly acked: number[] = [];
  readonly requests: number[][] = [];
  private failedOnce = false;
  private refused = false;
  /** `afterRefusal`: fail after any refusal for good (no rejected/ file to look for without a journal). */
  constructor(
    private readonly dir: string,
    private readonly afterRefusal = false,
  ) {}
  send(body: Uint8Array | string): Promise<SendResult> {
    const text = Buffer.from(body).toString('utf8');
    this.requests.push(seqsOf(text));
    if (text.includes('"poison"')) {
      // A single record refused: bisection sets it aside now.
      if (this.requests.at(-1)!.length === 1) this.refused = true;
      return Promise.resolve({ ok: false, retryable: false, rejected: 0, message: 'HTTP 400', status: 400 });
    }
    if (!this.failedOnce && (this.afterRefusal ? this.refused : existsSync(join(this.dir, 'rejected')))) {
      this.failedOnce = true;
      return Promise.resolve({ ok: false, retryable: true, rejected: 0, message: 'HTTP 503', status: 503 });
    }
    this.acked.push(...seqsOf(text));
    return Promise.resolve({ ok: true, retryable: true, rejected: 0, message: 'ok' });
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

const fx = deliveryFixture();

describe('bisection stopped by a retryable failure, batch in memory', () => {
  it('resumes after the last settled record: nothing acknowledged is sent again, the refused record is set aside once', async () => {
    const sender = new Collector(fx.dir);
    const losses: LossEvent[] = [];
    const d = start(sender, losses, 'journal');
    for (let seq = 1; seq <= 6; seq++) d.accept(sealedInStream(seq, STREAM, seq === 2 ? POISON : ''));
    await untilAcked(d, 6);
    // Bisection: [1..6] refused → [1,2,3] refused → [1] acked, [2,3] refused → [2] set aside, then [3] fails (503).
    expect(sender.requests.filter((q) => q.length === 6).length).toBeGreaterThan(0);
    expect(sender.acked).toEqual([1, 3, 4, 5, 6]);
    const rejected = readdirSync(join(fx.dir, 'rejected')).map((f) => seqsOf(readFileSync(join(fx.dir, 'rejected', f), 'utf8')));
    expect(rejected).toEqual([[2]]);
    expect(losses).toEqual([]);
  });

  it('without a journal, the receipt of the record refused before the failure is rejected, the others resolve', async () => {
    const sender = new Collector(fx.dir, true);
    const losses: LossEvent[] = [];
    const d = start(sender, losses, 'off');
    const receipts = [1, 2, 3, 4, 5, 6].map((seq) => {
      const r = deferred<AuditReceipt>();
      d.accept(sealedInStream(seq, STREAM, seq === 2 ? POISON : ''), r);
      return r.promise.then(
        (x) => x.durability,
        (e: Error) => e.name,
      );
    });
    expect(await Promise.all(receipts)).toEqual(['collector', 'AuditLossError', 'collector', 'collector', 'collector', 'collector']);
    expect(sender.acked).toEqual([1, 3, 4, 5, 6]);
    expect(losses.map((l) => l.records.map((r) => r.seq))).toEqual([[2]]);
  });
});

describe('bisection stopped by a retryable failure, replay of an earlier stream', () => {
  it('resumes after the last settled record: nothing acknowledged is sent again, the refused record is set aside once', async () => {
    await orphanStream(fx.dir, STREAM, [[1, 2, 3, 4, 5, 6]], (seq) => (seq === 2 ? POISON : ''));
    const sender = new Collector(fx.dir);
    const report = await new Replayer({ dir: fx.dir, ownStreamId: 'none', sender, maxExportBatchSize: 100, retryMinMillis: 1, retryMaxMillis: 2 }).run();
    expect(sender.acked).toEqual([1, 3, 4, 5, 6]);
    const rejected = readdirSync(join(fx.dir, 'rejected')).map((f) => seqsOf(readFileSync(join(fx.dir, 'rejected', f), 'utf8')));
    expect(rejected).toEqual([[2]]);
    expect(report.rejected).toBe(1);
  });
});

async function untilAcked(d: Delivery, seq: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (d.ackedSeq < seq && Date.now() < deadline) await new Promise<void>((r) => setTimeout(r, 1));
  expect(d.ackedSeq).toBe(seq);
}

function start(sender: BatchSender, losses: LossEvent[], file: 'journal' | 'off'): Delivery {
  return (fx.delivery = startDelivery(fx.dir, STREAM, sender, losses, { file }));
}
