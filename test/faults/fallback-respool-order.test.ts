/**
 * OTEL_AUDIT_FILE=fallback after a failed spool write: batch X (1..10) fails to spool, Y (11..20) spools. X used to be
 * spooled again at the next failed export, after Y, so the segment recorded 10 as its last record and retention,
 * once 1..10 were acknowledged, deleted it with Y unacknowledged in it. A batch whose write failed now stays in memory
 * (the journal only appends in sequence order) and a segment's last is its highest. Real files; fs.writev fails once.
 */
import { existsSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { LossEvent } from '../../src/deliver/loss.js';
import type { BatchSender, SendResult } from '../../src/deliver/otlp-sender.js';
import { enforceRetention } from '../../src/sinks/retention.js';
import { startDelivery } from '../helpers/delivery.js';
import { sealedInStream, seqsOf } from '../helpers/sealed.js';
import { failures } from '../helpers/failing-writev.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';

vi.mock('node:fs', async (importOriginal) => (await import('../helpers/failing-writev.js')).withFailingWritev(await importOriginal<typeof import('node:fs')>()));

const STREAM = '00000000-0000-4000-8000-0000000000f1';
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  failures.writev = 0;
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('fallback spool after a failed write', () => {
  it('retention never deletes a segment holding unacknowledged records', async () => {
    const t = await tempDir('rev-fallback-');
    cleanups.push(t.cleanup);
    let phase: 'down' | 'upTo10' = 'down';
    const acked: number[] = [];
    const sender = {
      send: (body: Uint8Array | string): Promise<SendResult> => {
        const seqs = seqsOf(Buffer.from(body).toString('utf8'));
        if (phase === 'upTo10' && seqs.every((s) => s <= 10)) {
          acked.push(...seqs);
          return Promise.resolve({ ok: true, retryable: true, rejected: 0, message: 'ok' });
        }
        return Promise.resolve({ ok: false, retryable: true, rejected: 0, message: 'HTTP 503', status: 503 });
      },
      shutdown: () => Promise.resolve(),
    } as BatchSender;
    // About one line of 10 records: a segment holds two of them.
    const len = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].reduce((n, s) => n + sealedInStream(s, STREAM).bytes.length + 1, 100);
    const losses: LossEvent[] = [];
    const d = startDelivery(t.dir, STREAM, sender, losses, { file: 'fallback', maxExportBatchSize: 10, maxFileBytes: Math.floor(2.5 * len), retryMinMillis: 100, retryMaxMillis: 100 });
    const spool = d['journal']!;

    failures.writev = 1;
    for (let s = 1; s <= 10; s++) d.accept(sealedInStream(s, STREAM)); // X: export fails -> spooled -> write fails
    while (!spool.failed) await sleep(1); // the export failed once, X was spooled, its write failed
    await spool.writes;
    for (let s = 11; s <= 20; s++) d.accept(sealedInStream(s, STREAM)); // Y: spooled (outage)
    await sleep(250); // failed export attempts meanwhile: X spooled again, after Y
    await spool.writes;
    for (let s = 21; s <= 30; s++) d.accept(sealedInStream(s, STREAM)); // Z: rotates to a new segment
    // Z written (not a fixed 20 ms: a write landing after seg1 is read below would make its last and content differ).
    await until(() => spool.segments.some((g) => existsSync(g.path) && seqsOf(readFileSync(g.path, 'utf8')).includes(30)), 'Z (21..30) to be spooled');
    await spool.writes;

    const seg1 = spool.segments[0]!;
    const inSeg1 = seqsOf(readFileSync(seg1.path, 'utf8'));
    phase = 'upTo10';
    await until(() => d.ackedSeq >= 10, 'records 1..10 to be acknowledged');
    expect(d.ackedSeq).toBe(10);
    enforceRetention(t.dir, 1, { streamId: STREAM, acked: d.ackedSeq, segments: d.journalSegments(), forget: (p) => d.forgetSegment(p) });
    const unackedInSeg1 = inSeg1.filter((s) => s > 10);
    expect({ seg1Recorded: seg1.last, unackedInSeg1, seg1Exists: existsSync(seg1.path) }).toEqual({
      seg1Recorded: Math.max(...inSeg1),
      unackedInSeg1,
      seg1Exists: true,
    });
    phase = 'down';
    await d.close(200);
  });
});
