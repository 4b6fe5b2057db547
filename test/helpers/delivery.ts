/** A delivery stage (src/deliver/delivery.ts) for tests: real journal files in `dir`, losses collected, fast retries. */
import { Delivery, type DeliveryOptions } from '../../src/deliver/delivery.js';
import { LossReporter, type LossEvent } from '../../src/deliver/loss.js';
import { AuditMetrics } from '../../src/deliver/metrics.js';
import type { BatchSender } from '../../src/deliver/otlp-sender.js';
import { afterEach, beforeEach } from 'vitest';
import { tempDir } from './tmp.js';

export function startDelivery(
  dir: string,
  streamId: string,
  sender: BatchSender,
  losses: LossEvent[],
  options: Partial<Omit<DeliveryOptions, 'dir' | 'streamId' | 'sender' | 'loss' | 'metrics'>> = {},
): Delivery {
  const d = new Delivery({
    dir,
    streamId,
    file: 'journal',
    fsync: 'batch',
    maxFileBytes: 64 << 20,
    maxQueueSize: 1000,
    maxPendingRecords: 100_000,
    maxJournalBytes: 1 << 30,
    maxExportBatchSize: 100,
    sender,
    stdout: undefined,
    loss: new LossReporter('warn', (e) => losses.push(e), () => undefined),
    metrics: new AuditMetrics(undefined, { 'audit.sequence.stream_id': streamId }),
    retryMinMillis: 1,
    retryMaxMillis: 4,
    ...options,
  });
  d.start();
  return d;
}

/**
 * Per test: a fresh temp dir (`dir`), and the delivery the test keeps in `delivery` closed after it. Registers
 * beforeEach/afterEach in the calling file.
 */
export function deliveryFixture(): { dir: string; delivery: Delivery | undefined } {
  const fx: { dir: string; delivery: Delivery | undefined } = { dir: '', delivery: undefined };
  let cleanup: () => Promise<void> = () => Promise.resolve();
  beforeEach(async () => ({ dir: fx.dir, cleanup } = await tempDir()));
  afterEach(async () => {
    await fx.delivery?.close(1000);
    fx.delivery = undefined;
    await cleanup();
  });
  return fx;
}
