/**
 * Read-ahead in live delivery (src/deliver/delivery.ts): records evicted from memory while the collector lags
 * are read back from the journal, and the request after the one being sent is read while it is sent, into a
 * second buffer. Real journal files; a scripted sender stands for the transport so that each request can be
 * held, failed or acknowledged at will, and its body checked at the start and at the end of its send (a
 * transport reads the body throughout).
 */
import { unlinkSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Delivery } from '../../src/deliver/delivery.js';
import type { LossEvent } from '../../src/deliver/loss.js';
import type { BatchSender, SendResult } from '../../src/deliver/otlp-sender.js';
import { deliveryFixture, startDelivery } from '../helpers/delivery.js';
import { prng } from '../helpers/prng.js';
import { sealed, seqsOf } from '../helpers/sealed.js';

const STREAM = '5d0b3c8e-6f0e-4a43-9a53-0f6d0e2f1c11';
const OK: SendResult = { ok: true, retryable: true, rejected: 0, message: 'ok' };
const UNAVAILABLE: SendResult = { ok: false, retryable: true, rejected: 0, message: 'HTTP 503', status: 503 };

/** Each send waits until the test answers it; its body's text is taken when it starts and when it ends. */
class HeldSender implements BatchSender {
  readonly sends: { seqs: number[]; text: string; body: Uint8Array | string; answer: (r: SendResult) => void }[] = [];
  /** Bodies whose bytes changed while they were being sent. */
  readonly changed: number[] = [];
  send(body: Uint8Array | string, _count: number): Promise<SendResult> {
    const text = Buffer.from(body).toString('utf8');
    return new Promise((resolve) => {
      const i = this.sends.length;
      this.sends.push({
        seqs: seqsOf(text),
        text,
        body,
        answer: (r) => {
          if (Buffer.from(body).toString('utf8') !== text) this.changed.push(i);
          resolve(r);
        },
      });
    });
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** Waits until `cond` holds (journal I/O and retry timers run meanwhile); a bound, not a measure: 10 s. */
async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise<void>((r) => setTimeout(r, 1));
  }
}

/** What these tests look at inside the delivery stage: the journal's pending writes and the read-ahead. */
interface Internals {
  journal: { writes: Promise<unknown> };
  ahead: { from: number; read: Promise<unknown> } | undefined;
}
const internals = (d: Delivery): Internals => d as unknown as Internals;

/** Journal writes landed (so evicted records are on disk) and any read-ahead ended: each step starts from a settled state. */
async function settled(d: Delivery): Promise<void> {
  await internals(d).journal.writes;
  await internals(d).ahead?.read.catch(() => undefined);
}

const fx = deliveryFixture();

function makeDelivery(sender: BatchSender, losses: LossEvent[], maxFileBytes = 64 << 20): Delivery {
  return startDelivery(fx.dir, STREAM, sender, losses, { maxFileBytes, maxQueueSize: 4, maxExportBatchSize: 5 });
}

const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, k) => a + k);

describe('read-ahead of evicted records', () => {
  it('the request after the one being sent is read from the journal while it is sent', async () => {
    const sender = new HeldSender();
    const losses: LossEvent[] = [];
    const d = (fx.delivery = makeDelivery(sender, losses));
    for (let seq = 1; seq <= 15; seq++) d.accept(sealed(seq));
    await until(() => sender.sends.length === 1, 'first request');
    // Records 6..15 go to the journal and leave memory (maxQueueSize 4) while the first request is held.
    await until(() => d.queueDepth <= 5, 'eviction');
    sender.sends[0]!.answer(OK);
    await until(() => sender.sends.length === 2, 'second request');
    expect(sender.sends[1]!.seqs).toEqual(range(6, 10));
    // While the second request is out, the third is read ahead: the journal can go now and it still arrives whole.
    await until(() => internals(d).ahead !== undefined, 'read-ahead started');
    await internals(d).ahead!.read;
    for (const f of d.journalFiles()) unlinkSync(f);
    sender.sends[1]!.answer(OK);
    await until(() => sender.sends.length === 3, 'third request');
    expect(sender.sends[2]!.seqs).toEqual(range(11, 15));
    expect(losses).toEqual([]);
    sender.sends[2]!.answer(OK);
    await until(() => d.ackedSeq === 15, 'all acknowledged');
    expect(sender.changed).toEqual([]);
  });

  it('a gap the read-ahead finds is reported when it is used, after the request before it was acknowledged', async () => {
    const sender = new HeldSender();
    const losses: LossEvent[] = [];
    // One batch (one line, 5 records) per segment.
    const d = (fx.delivery = makeDelivery(sender, losses, 300));
    for (let seq = 1; seq <= 15; seq++) d.accept(sealed(seq));
    await until(() => sender.sends.length === 1, 'first request');
    await settled(d);
    await until(() => d.queueDepth <= 5, 'eviction');
    const files = d.journalFiles();
    expect(files).toHaveLength(3);
    unlinkSync(files[2]!); // records 11..15 are gone before the read-ahead reads them
    sender.sends[0]!.answer(OK);
    await until(() => sender.sends.length === 2, 'second request');
    expect(sender.sends[1]!.seqs).toEqual(range(6, 10));
    await settled(d);
    expect(losses).toEqual([]); // 6..10 is still out: reported now, the gap would skip past it
    sender.sends[1]!.answer(UNAVAILABLE);
    await until(() => sender.sends.length === 3, 'retry');
    expect(sender.sends[2]!.seqs).toEqual(range(6, 10));
    expect(losses).toEqual([]);
    sender.sends[2]!.answer(OK);
    await until(() => d.ackedSeq === 15, 'moved past the gap');
    expect(losses.map((l) => l.records.map((r) => r.seq))).toEqual([range(11, 15)]);
  });

  it.each([1, 2, 3, 4, 5, 6])('seed %i: failures and acknowledgements in any order deliver every record, in order, from unchanging bodies', async (seed) => {
    const rand = prng(seed);
    const sender = new HeldSender();
    const losses: LossEvent[] = [];
    const d = (fx.delivery = makeDelivery(sender, losses));
    const N = 120;
    let accepted = 0;
    const delivered: number[] = [];
    let answered = 0;
    // Answers given while the next request was read ahead (so read back from the journal).
    let readAhead = 0;
    while (d.ackedSeq < N) {
      // Some records arrive, and the request out (if any) is failed or acknowledged.
      const n = accepted < N ? Math.min(N - accepted, rand(12)) : 0;
      for (let k = 0; k < n; k++) d.accept(sealed(++accepted));
      await settled(d);
      const out = sender.sends[answered];
      if (out === undefined) {
        await until(() => sender.sends.length > answered || accepted < N, 'a request');
        continue;
      }
      if (internals(d).ahead !== undefined) readAhead++;
      answered++;
      if (rand(3) === 0) out.answer(UNAVAILABLE);
      else {
        out.answer(OK);
        delivered.push(...out.seqs);
      }
      await until(() => sender.sends.length > answered || d.ackedSeq >= N, 'the next request');
    }
    expect(delivered).toEqual(range(1, N));
    for (const s of sender.sends) expect(s.text).toMatch(/^\{"resourceLogs":\[.*\]\}$/);
    expect(sender.changed).toEqual([]);
    expect(losses).toEqual([]);
    expect(readAhead, 'answers while a read-ahead was ready').toBeGreaterThan(0);
  });
});
