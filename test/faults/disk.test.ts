/**
 * Deliverable 3: disk faults under the journal — ENOSPC (a full tmpfs), EROFS (a read-only bind mount stacked
 * on the directory), EACCES (a directory without write permission, for a process that does not bypass
 * permission bits), the directory removed underneath — and the rotation boundary, where most of them bite
 * (files already open keep working; the next segment cannot be created).
 *
 * Defined outcome for each: delivery to the collector goes on; what could not be written is reported (stderr
 * and the OTel diag log) and visible in the counters (emitted − spooled); journal writes resume when the disk
 * recovers; nothing is lost silently. Rotation and retention never delete what the collector has not
 * acknowledged.
 */
import { chmodSync, closeSync, existsSync, openSync, readFileSync, rmSync, statfsSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AuditReceipt } from '../../src/deliver/receipt.js';
import type { LossEvent } from '../../src/deliver/loss.js';
import { AuditLogRecordProcessor } from '../../src/processor.js';
import { verifyFiles } from '../../src/verify/index.js';
import { FAST, loginEvent } from '../helpers/pipeline.js';
import { idOf, seqOf, streamOf } from '../helpers/records.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';
import {
  bindReadOnly,
  canDropDacOverride,
  canMount,
  delivered,
  captureStderr,
  emitter,
  faultPipeline,
  gaps,
  killSpawned,
  mountTmpfs,
  NO_DAC_OVERRIDE,
  readOtlpLines,
  segmentsOf,
  sleep,
  unmount,
  unmountAll,
  type FaultPipeline,
} from './_lib.js';

let p: FaultPipeline | undefined;
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await killSpawned();
  unmountAll(); // first: a read-only bind mount over the journal would keep dispose() from removing it
  await p?.dispose().catch(() => undefined);
  p = undefined;
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
  vi.restoreAllMocks();
});

/** Emits [from, to) paced (20 records per 5 ms), collecting receipts. */
async function emit(t: FaultPipeline, from: number, to: number, receipts: Promise<AuditReceipt>[]): Promise<void> {
  for (let i = from; i < to; i++) {
    receipts.push(t.audit.record(loginEvent(i)));
    if (i % 20 === 19) await sleep(5);
  }
}

/** Every journal line is a whole OTLP/JSON request: no fragment left behind by a failed write. */
function expectWholeLines(auditDir: string): void {
  for (const seg of segmentsOf(auditDir)) {
    const text = readFileSync(seg, 'utf8');
    if (text === '') continue;
    expect(text.endsWith('\n')).toBe(true);
    for (const line of text.slice(0, -1).split('\n')) expect(() => JSON.parse(line)).not.toThrow();
  }
}

/** The common outcome: the collector has everything, in order, once; the journal resumed after the fault. */
async function expectDeliveredAndRecovered(t: FaultPipeline, n: number, code: string, stderr: string[]): Promise<void> {
  const stats = t.processor.stats();
  expect(stats.acked).toBe(n);
  expect(stats.dropped).toBe(0);
  await t.provider.shutdown();
  const d = delivered(t.collectorFile);
  expect(gaps(d.streams.get(t.processor.streamId), n + 1)).toEqual([]);
  expect(d.inOrder).toBe(true);
  expect(d.duplicates).toBe(0);
  // Reported, and counted: fewer records reached the journal than were emitted.
  expect(stderr.join('')).toContain(`journal write failed (${code})`);
  const after = t.processor.stats();
  expect(after.spooled).toBeLessThan(after.emitted);
  expect(after.spooled).toBeGreaterThan(0);
  // Every record is either journaled or counted as not (audit.records.unjournaled), and the recovery says how many.
  expect(after.spooled + after.unjournaled).toBe(after.emitted);
  expect(stderr.join('')).toMatch(new RegExp(`journal writes recovered; ${after.unjournaled} record\\(s\\) could not be written`));
  // Recovered: the journal holds the last records again (the end marker included), in whole lines.
  expectWholeLines(t.auditDir);
  const local = segmentsOf(t.auditDir).flatMap(readOtlpLines).map((r) => seqOf(r)!);
  expect(local).toContain(n + 1);
  expect(local.length).toBe(after.spooled);
  // The local copy has gaps where writes failed, and nothing worse.
  const v = await verifyFiles([t.auditDir]);
  expect(v.problems.filter((q) => q.kind !== 'deleted')).toEqual([]);
}

describe('disk faults: delivery goes on, the failure is reported and counted, writes resume', () => {
  it.skipIf(!canMount)('ENOSPC: a full file system (tmpfs), then space again', async () => {
    const { dir, cleanup } = await tempDir('otel-audit-disk-');
    cleanups.push(cleanup);
    const mnt = join(dir, 'mnt');
    mountTmpfs(mnt, '1m');
    const stderr = captureStderr(/journal write failed|not acknowledged|LOST/);
    p = await faultPipeline({ maxExportBatchSize: 32 }, join(mnt, 'audit'));
    const s = statfsSync(mnt);
    const filler = join(mnt, 'filler');
    writeFileSync(filler, Buffer.alloc(Number(s.bavail) * Number(s.bsize) - 48 * 1024)); // ~40 records of room
    const receipts: Promise<AuditReceipt>[] = [];
    await emit(p, 0, 300, receipts);
    await p.processor.forceFlush();
    expect(p.processor.stats().lastError ?? stderr.join('')).toMatch(/ENOSPC/);
    rmSync(filler);
    await emit(p, 300, 400, receipts);
    await p.processor.forceFlush();
    // Every receipt settles: durable in the journal, or (where the journal failed) acknowledged by the collector.
    const how = (await Promise.all(receipts)).map((r) => r.durability);
    expect(how).toContain('collector');
    expect(how).toContain('journal');
    await expectDeliveredAndRecovered(p, 400, 'ENOSPC', stderr);
  });

  it.skipIf(!canMount)('fsync always, ENOSPC once: records queued while writes went through group commits reach the journal and the collector before newer ones', async () => {
    // A failed synchronous write switches to group commits until one succeeds; the records emitted meanwhile wait
    // in the batcher or in the writer's queue. The next synchronous write must not land before them: the journal
    // would be out of order, read-back would take them for a gap (reported LOST) and the collector would get the
    // stream out of order.
    const { dir, cleanup } = await tempDir('otel-audit-disk-');
    cleanups.push(cleanup);
    const mnt = join(dir, 'mnt');
    mountTmpfs(mnt, '1m');
    const stderr = captureStderr(/journal write failed|not acknowledged|LOST/);
    const t = await faultPipeline({ fsync: 'always', maxExportBatchSize: 8 }, join(mnt, 'audit'));
    p = t;
    const receipts: Promise<AuditReceipt>[] = [t.audit.record(loginEvent(0))];
    await receipts[0];
    // Fill the file system, then write until a journal write fails.
    const filler = join(mnt, 'filler');
    const fd = openSync(filler, 'w');
    try {
      for (;;) writeSync(fd, Buffer.alloc(64 * 1024));
    } catch (e) {
      expect((e as NodeJS.ErrnoException).code).toBe('ENOSPC');
    }
    try {
      for (;;) writeSync(fd, Buffer.alloc(512));
    } catch {
      closeSync(fd);
    }
    let i = 1;
    while (!/ENOSPC/.test(t.processor.stats().lastError ?? '') && i < 200) receipts.push(t.audit.record(loginEvent(i++)));
    expect(t.processor.stats().lastError).toMatch(/ENOSPC/);
    rmSync(filler);
    // A producer in bursts, and a consumer awaiting each receipt (the app of rev1/always-reorder.mjs).
    // 40 bursts of 10 at most (the file system holds ~1,000 such lines), so the disk does not fill again.
    let bursts = 0;
    let produced!: () => void;
    const producing = new Promise<void>((r) => (produced = r));
    const producer = (): void => {
      for (let k = 0; k < 10; k++) receipts.push(t.audit.record(loginEvent(i++)));
      if (++bursts < 40) setImmediate(producer);
      else produced();
    };
    setImmediate(producer);
    for (let k = 0; k < 20; k++) await t.audit.record(loginEvent(i++));
    await producing;
    await Promise.all(receipts);
    await t.processor.forceFlush();
    const n = t.processor.stats().accepted;
    expect(t.processor.stats()).toMatchObject({ acked: n, dropped: 0 });
    expect(stderr.join('')).not.toContain('LOST');
    // The journal: every line after the one before it (the failed write left a gap, nothing out of order).
    const seqs = segmentsOf(t.auditDir).flatMap(readOtlpLines).map((r) => seqOf(r)!);
    expect(seqs.filter((s, k) => k > 0 && s <= seqs[k - 1]!)).toEqual([]);
    expect(seqs).toContain(n);
    await t.provider.shutdown();
    const d = delivered(t.collectorFile);
    expect(gaps(d.streams.get(t.processor.streamId), n + 1)).toEqual([]);
    expect(d.inOrder).toBe(true);
  });

  it.skipIf(!canMount)('EROFS at the rotation boundary: open segments keep working, the next cannot be created; writes resume after', async () => {
    const stderr = captureStderr(/journal write failed|not acknowledged|LOST/);
    p = await faultPipeline({ maxFileBytes: 4096, maxFiles: 1000, maxExportBatchSize: 8 });
    const receipts: Promise<AuditReceipt>[] = [];
    await emit(p, 0, 100, receipts);
    await p.processor.forceFlush();
    bindReadOnly(p.auditDir, p.auditDir);
    await emit(p, 100, 200, receipts);
    await p.processor.forceFlush();
    expect(stderr.join('')).toContain('journal write failed (EROFS)');
    unmount(p.auditDir);
    await emit(p, 200, 300, receipts);
    await p.processor.forceFlush();
    await Promise.all(receipts);
    await expectDeliveredAndRecovered(p, 300, 'EROFS', stderr);
  });

  it.skipIf(!canDropDacOverride)('EACCES: the directory loses write permission for a while (child process without CAP_DAC_OVERRIDE)', async () => {
    const { dir, cleanup } = await tempDir('otel-audit-disk-');
    cleanups.push(cleanup);
    const t = await faultPipeline();
    p = t;
    const auditDir = join(dir, 'audit');
    const child = emitter(
      {
        OTEL_AUDIT_DIR: auditDir,
        OTEL_AUDIT_MAX_FILE_BYTES: '8192', // rotation every few records: new files are what EACCES refuses
        OTEL_AUDIT_MAX_FILES: '10000',
        OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: t.collector.endpoint,
        OTEL_EXPORTER_OTLP_TIMEOUT: '10000', // a request timed out and sent again would be a duplicate, which is asserted
        EMIT_RATE: '400',
        EMIT_SECONDS: '1.6',
        EMIT_COUNT: '0',
        ID_PREFIX: 'acc-',
      },
      NO_DAC_OVERRIDE,
    );
    await child.waitFor((o) => o.event === 'progress' && Number(o.accepted) > 100);
    chmodSync(auditDir, 0o500);
    await sleep(500);
    // At least 500 ms without write permission, and until a write was refused for it: on a loaded machine the
    // child may not have rotated to a new segment within the 500 ms.
    await until(() => child.stderr.join('\n').includes('journal write failed (EACCES)'), () => `a journal write refused with EACCES; child stderr: ${child.stderr.join('\n')}`);
    chmodSync(auditDir, 0o700);
    const done = await child.waitFor((o) => o.event === 'done', 20_000);
    const emitted = child.event('emitted')!;
    expect(child.stderr.join('\n')).toContain('journal write failed (EACCES)');
    expect(done.report).toMatchObject({ undelivered: 0, dropped: 0 });
    const stats = done.stats as { emitted: number; spooled: number };
    expect(stats.spooled).toBeLessThan(stats.emitted);
    const d = delivered(t.collectorFile);
    const n = Number(emitted.accepted);
    for (let i = 0; i < n; i++) expect(d.ids.has(`acc-${i}`)).toBe(true);
    expect(d.duplicates).toBe(0);
    expect(d.inOrder).toBe(true);
    // Written again after the permission came back: the journal ends with the stream's end marker.
    const local = segmentsOf(auditDir).flatMap(readOtlpLines);
    expect(Math.max(...local.map((r) => seqOf(r)!))).toBe(n + 1);
    expectWholeLines(auditDir);
  });

  it('the directory removed underneath: a new segment in a re-created directory; the collector still gets everything', async () => {
    captureStderr(/journal write failed|not acknowledged|LOST/);
    p = await faultPipeline({ maxExportBatchSize: 32 });
    const receipts: Promise<AuditReceipt>[] = [];
    await emit(p, 0, 150, receipts);
    await p.processor.forceFlush();
    const before = segmentsOf(p.auditDir);
    rmSync(p.auditDir, { recursive: true, force: true });
    await emit(p, 150, 300, receipts);
    await p.processor.forceFlush();
    await Promise.all(receipts);
    expect(p.processor.stats()).toMatchObject({ acked: 300, dropped: 0 });
    await p.provider.shutdown();
    const after = segmentsOf(p.auditDir);
    expect(after.length).toBe(1);
    expect(after).not.toEqual(before);
    const local = readOtlpLines(after[0]!).map((r) => seqOf(r)!);
    expect(local[0]).toBeGreaterThan(150);
    expect(local.at(-1)).toBe(301);
    const d = delivered(p.collectorFile);
    expect(gaps(d.streams.get(p.processor.streamId), 301)).toEqual([]);
  });

  it('the directory removed while the collector is down: what only the removed files held is reported lost, exactly', async () => {
    const stderr = captureStderr(/journal write failed|not acknowledged|LOST/);
    const losses: LossEvent[] = [];
    p = await faultPipeline({ maxExportBatchSize: 32, maxQueueSize: 40, onLoss: (e) => losses.push(e) });
    await p.collector.stop();
    const receipts: Promise<AuditReceipt>[] = [];
    await emit(p, 0, 300, receipts);
    await Promise.all(receipts); // all journaled; most evicted from memory (maxQueueSize 40)
    rmSync(p.auditDir, { recursive: true, force: true });
    await emit(p, 300, 400, receipts);
    await Promise.all(receipts);
    await p.collector.start();
    await p.processor.forceFlush();
    const stats = p.processor.stats();
    await p.provider.shutdown();
    const d = delivered(p.collectorFile);
    const missing = gaps(d.streams.get(p.processor.streamId), 401);
    // Never silent: every record missing at the collector was reported, by sequence number, and counted.
    const reported = losses.flatMap((e) => e.records.map((r) => r.seq!));
    expect(missing.length).toBeGreaterThan(0);
    expect(reported.sort((a, b) => a - b)).toEqual(missing);
    expect(stats.dropped).toBe(missing.length);
    expect(stderr.join('')).toMatch(/LOST \d+ audit record\(s\).*records missing from the journal/);
    expect(missing.every((s) => s <= 300)).toBe(true); // only records that were in the removed files
  });
});

describe('rotation and retention never delete what the collector has not acknowledged', () => {
  it("another process's retention keeps an orphaned stream's unacknowledged segments beyond OTEL_AUDIT_MAX_FILES, and deletes them once replayed", async () => {
    const t = await faultPipeline();
    p = t;
    const { dir, cleanup } = await tempDir('otel-audit-disk-');
    cleanups.push(cleanup);
    const auditDir = join(dir, 'audit');
    await t.collector.stop();
    // An orphan: a process that exited during an outage, leaving ~20 small segments unacknowledged.
    const child = emitter({
      OTEL_AUDIT_DIR: auditDir,
      OTEL_AUDIT_MAX_FILE_BYTES: '8192',
      OTEL_AUDIT_MAX_FILES: '1000',
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: t.collector.endpoint,
      OTEL_EXPORTER_OTLP_TIMEOUT: '200',
      OTEL_BLRP_EXPORT_TIMEOUT: '200',
      EMIT_COUNT: '100',
      EMIT_RATE: '500',
      // One line per record, so many segments however fast the machine is (a busy CI machine batched the records
      // into a few large lines, and two segments).
      OTEL_AUDIT_FSYNC: 'always',
      ID_PREFIX: 'orphan-',
    });
    const started = await child.waitFor((o) => o.event === 'started');
    await child.exited;
    const orphanSegs = segmentsOf(auditDir).filter((f) => f.includes(started.streamId as string));
    expect(orphanSegs.length).toBeGreaterThan(5);
    await t.collector.start();

    // A process that does not replay, rotating a lot with maxFiles 3: only its own acknowledged segments go.
    const a = new AuditLogRecordProcessor({ dir: auditDir, ...FAST, replay: false, maxFileBytes: 8192, maxFiles: 3, exporter: { url: t.collector.endpoint } });
    const pa = new LoggerProvider({ processors: [a] });
    const la = pa.getLogger('audit');
    for (let i = 0; i < 200; i++) {
      la.emit({ attributes: { 'audit.actor.id': 'a', 'audit.actor.type': 'system', 'audit.action': 'TICK', 'audit.outcome': 'success' } });
      if (i % 10 === 9) await a.forceFlush();
    }
    await pa.shutdown();
    for (const f of orphanSegs) expect(existsSync(f)).toBe(true);
    expect(readFileSync(join(auditDir, 'state/retention.log'), 'utf8')).not.toContain(started.streamId as string);

    // The next process replays the orphan; once acknowledged, retention may delete it, and says where it cut.
    const b = new AuditLogRecordProcessor({ dir: auditDir, ...FAST, maxFileBytes: 8192, maxFiles: 3, exporter: { url: t.collector.endpoint } });
    const pb = new LoggerProvider({ processors: [b] });
    const rep = await b.replayed();
    expect(rep!.streams).toEqual([started.streamId]);
    await pb.shutdown();
    expect(orphanSegs.filter((f) => !existsSync(f)).length).toBeGreaterThan(0);
    expect(readFileSync(join(auditDir, 'state/retention.log'), 'utf8')).toContain(started.streamId as string);
    const d = delivered(t.collectorFile);
    for (let i = 0; i < 100; i++) expect(d.ids.has(`orphan-${i}`)).toBe(true);
    expect([...d.byId.values()].filter((r) => streamOf(r) === started.streamId).map(idOf)).toHaveLength(101);
  });
});
