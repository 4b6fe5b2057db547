import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyFiles } from '../../src/verify/index.js';
import { loginEvent, makePipeline, type TestPipeline } from '../helpers/pipeline.js';
import { journalRecords, recordsOfFile, seqOf } from '../helpers/records.js';

let p: TestPipeline | undefined;
afterEach(async () => {
  await p?.dispose();
  p = undefined;
});

const segments = (dir: string): string[] => readdirSync(dir).filter((n) => n.endsWith('.jsonl')).sort();

async function emit(t: TestPipeline, from: number, to: number): Promise<void> {
  const rs = [];
  for (let i = from; i < to; i++) {
    rs.push(t.audit.record(loginEvent(i)));
    if (i % 20 === 19) await new Promise((r) => setTimeout(r, 2)); // several batches, several rotations
  }
  await Promise.all(rs);
}

describe('rotation and retention', () => {
  it('rotates by size without breaking the chain; deletes only acknowledged segments, and says where it cut', async () => {
    p = await makePipeline({ maxFileBytes: 16 * 1024, maxFiles: 20, maxExportBatchSize: 16 });
    // The disk bound (20 × 16 KiB) counts every record accepted and not acknowledged, those still on their way to
    // the journal too: 100 records (~120 KB) at a time stay under it.
    for (let from = 0; from < 600; from += 100) {
      await emit(p, from, from + 100);
      await p.processor.forceFlush();
    }
    await emit(p, 600, 700); // a few more rotations after everything before was acknowledged
    await p.provider.shutdown();
    const files = segments(p.auditDir);
    expect(files.length).toBeLessThanOrEqual(21); // the bound, plus the active segment written since
    expect(p.processor.stats().dropped).toBe(0);
    const log = readFileSync(join(p.auditDir, 'state/retention.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(log.length).toBeGreaterThan(0);
    const local = journalRecords(p.auditDir);
    const firstKept = Math.min(...local.map((r) => seqOf(r)!));
    expect(log.map((e) => e.last)).toContain(firstKept - 1);
    // The collector has everything; the local copy verifies, the removed head reported as info.
    expect(new Set(recordsOfFile(p.collectorFile).map(seqOf)).size).toBe(701);
    const report = await verifyFiles([p.auditDir]);
    expect(report.ok).toBe(true);
    expect(report.problems).toEqual([expect.objectContaining({ kind: 'deleted', severity: 'info', seq: 1 })]);
    expect(report.streams[0]).toMatchObject({ first: firstKept, last: 701, ended: true });
  });

  it('forgets the segments retention deleted: journalFiles() and the shutdown report name only files that exist', async () => {
    // Fixed bug, kept as a regression test: the writer kept the entry and line index of every segment ever written
    // (an unbounded leak in a long-running process), and ShutdownReport.journalFiles listed deleted files.
    p = await makePipeline({ maxFileBytes: 4096, maxFiles: 3, maxExportBatchSize: 8 });
    for (let round = 0; round < 60; round++) {
      await emit(p, round * 5, round * 5 + 5); // ~3.5 KB: under the disk bound of 3 × 4 KiB unacknowledged
      await p.processor.forceFlush(); // acknowledged: the next rotation lets retention delete the closed segments
    }
    expect(segments(p.auditDir).length).toBeLessThanOrEqual(4);
    const listed = p.processor.journalFiles();
    expect(listed.length).toBeLessThanOrEqual(4);
    expect(listed.filter((f) => !existsSync(f))).toEqual([]);
    const report = await p.processor.shutdownWithReport();
    expect(report.journalFiles.filter((f) => !existsSync(f))).toEqual([]);
    expect(readFileSync(join(p.auditDir, 'state/retention.log'), 'utf8').trim().split('\n').length).toBeGreaterThan(10);
  });

  it('never deletes unacknowledged segments; past the disk bound the loss policy applies, loudly', async () => {
    const losses: number[] = [];
    p = await makePipeline({ maxFileBytes: 16 * 1024, maxFiles: 2, maxExportBatchSize: 16, onLoss: (e) => losses.push(e.records.length) });
    await p.collector.stop();
    const rs = [];
    for (let i = 0; i < 400; i++) {
      rs.push(p.audit.record(loginEvent(i)).then(() => 'ok', () => 'refused'));
      if (i % 20 === 19) await new Promise((r) => setTimeout(r, 2));
    }
    const outcomes = await Promise.all(rs);
    const stats = p.processor.stats();
    expect(stats.dropped).toBeGreaterThan(0); // 2 × 16 KiB hold far fewer than 400 records
    expect(losses.reduce((a, b) => a + b, 0)).toBe(stats.dropped);
    expect(outcomes.filter((o) => o === 'refused')).toHaveLength(stats.dropped);
    // What was accepted is all on disk, chained without a gap (refused records were never sealed).
    const files = segments(p.auditDir);
    expect(files.length).toBeGreaterThan(2);
    const local = await verifyFiles([p.auditDir]);
    expect(local.problems).toEqual([]);
    expect(local.streams[0]).toMatchObject({ first: 1, last: stats.accepted });
    await p.collector.start();
    await p.processor.forceFlush();
    await p.provider.shutdown();
    expect(new Set(recordsOfFile(p.collectorFile).map(seqOf)).size).toBe(stats.accepted + 1);
  });

  // Found in review: the bound counted only bytes already in the files. Records emitted in one go (no await between
  // them) wait in memory for the next tick before they are journaled, so a burst of 20,000 went into a 2 × 1 MiB
  // journal (19 MB, no loss reported), and 100 records made one 98 KB line in a 4 KiB segment.
  it.each([
    [4096, 2, 100],
    [16 * 1024, 2, 400],
    [64 * 1024, 3, 2000],
  ])('a burst with the collector down: segments of at most %i bytes (a line of one record aside), %i of them, the rest refused and reported', async (maxFileBytes, maxFiles, n) => {
    const losses: number[] = [];
    p = await makePipeline({ maxFileBytes, maxFiles, onLoss: (e) => losses.push(e.records.length) });
    await p.collector.stop();
    const rs = [];
    for (let i = 0; i < n; i++) rs.push(p.audit.record(loginEvent(i)).then(() => 'ok', () => 'refused'));
    const outcomes = await Promise.all(rs);
    const stats = p.processor.stats();
    expect(stats.dropped).toBeGreaterThan(0);
    expect(losses.reduce((a, b) => a + b, 0)).toBe(stats.dropped);
    expect(outcomes.filter((o) => o === 'refused')).toHaveLength(stats.dropped);
    const sizes = segments(p.auditDir).map((f) => {
      const text = readFileSync(join(p!.auditDir, f), 'utf8');
      return { bytes: Buffer.byteLength(text), oneRecord: recordsOfFile(join(p!.auditDir, f)).length === 1 };
    });
    for (const s of sizes) if (!s.oneRecord) expect(s.bytes).toBeLessThanOrEqual(maxFileBytes);
    // The bound is checked before each record is sealed: the last one accepted may pass it by its own line.
    const line = Math.max(...sizes.map((s) => s.bytes));
    expect(sizes.reduce((a, s) => a + s.bytes, 0)).toBeLessThanOrEqual(maxFiles * maxFileBytes + line);
    const local = await verifyFiles([p.auditDir]);
    expect(local.problems).toEqual([]);
    expect(local.streams[0]).toMatchObject({ first: 1, last: stats.accepted });
  });

  it('a segment deleted by hand (not by retention) is reported as deleted records', async () => {
    p = await makePipeline({ maxFileBytes: 16 * 1024, maxFiles: 100, maxExportBatchSize: 16 });
    await emit(p, 0, 300);
    await p.provider.shutdown();
    const files = segments(p.auditDir);
    expect(files.length).toBeGreaterThan(2);
    rmSync(join(p.auditDir, files[1]!));
    const report = await verifyFiles([p.auditDir]);
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([expect.objectContaining({ kind: 'deleted', severity: 'error' })]);
  });
});
