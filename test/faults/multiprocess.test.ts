/**
 * Deliverable 6: several processes share one OTEL_AUDIT_DIR — node:cluster workers emitting at once, and
 * processes starting together over streams left by dead ones. No interleaved or corrupted lines, each stream
 * intact, and a spool is never replayed by two processes at once (each orphaned stream reaches the collector
 * exactly once when the collector is healthy).
 *
 * The lock that guards replay also has two races that these end-to-end runs are too coarse to hit; they are
 * shown deterministically in replay-lock-race.test.ts.
 */
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseSegmentName } from '../../src/sinks/files.js';
import { readState } from '../../src/sinks/stream-state.js';
import { AuditLogRecordProcessor } from '../../src/processor.js';
import { verifyFiles } from '../../src/verify/index.js';
import { FAST } from '../helpers/pipeline.js';
import { streamOf } from '../helpers/records.js';
import { delivered, emitter, faultPipeline, gaps, killSpawned, segmentsOf, sleep, type FaultPipeline } from './_lib.js';

let p: FaultPipeline | undefined;
afterEach(async () => {
  await killSpawned();
  await p?.dispose().catch(() => undefined);
  p = undefined;
});

/** Every line of every segment is one whole OTLP/JSON request holding only the segment's own stream. */
function expectSegmentsClean(dir: string): void {
  for (const seg of segmentsOf(dir)) {
    const own = parseSegmentName(seg.split('/').pop()!)!.streamId;
    const text = readFileSync(seg, 'utf8');
    expect(text === '' || text.endsWith('\n')).toBe(true);
    for (const line of text.split('\n').filter((l) => l !== '')) {
      const req = JSON.parse(line) as { resourceLogs: { scopeLogs: { logRecords: Parameters<typeof streamOf>[0][] }[] }[] };
      for (const rl of req.resourceLogs) for (const sl of rl.scopeLogs) for (const r of sl.logRecords) expect(streamOf(r)).toBe(own);
    }
  }
}

/** Leaves `n` orphaned streams: processes that exited during an outage with everything unacknowledged. */
async function orphans(t: FaultPipeline, dir: string, n: number, count: number): Promise<string[]> {
  await t.collector.stop();
  const kids = Array.from({ length: n }, (_, k) =>
    emitter({
      OTEL_AUDIT_DIR: dir,
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: t.collector.endpoint,
      OTEL_EXPORTER_OTLP_TIMEOUT: '200',
      OTEL_BLRP_EXPORT_TIMEOUT: '200',
      EMIT_COUNT: String(count),
      ID_PREFIX: `o${k}-`,
    }),
  );
  const ids: string[] = [];
  for (const k of kids) {
    ids.push((await k.waitFor((o) => o.event === 'started')).streamId as string);
    expect((await k.exited).code).toBe(0);
  }
  await t.collector.start();
  return ids;
}

describe('cluster workers on one directory', () => {
  it('4 node:cluster workers emitting at once through collector faults: clean lines, 4 intact streams, everything delivered once', async () => {
    p = await faultPipeline();
    const t = p;
    const dir = join(t.dir, 'shared');
    t.collector.setFault({ mode: 'status', status: 503, times: 6 });
    const primary = emitter({
      CLUSTER_WORKERS: '4',
      OTEL_AUDIT_DIR: dir,
      OTEL_AUDIT_MAX_FILE_BYTES: '65536', // rotation too
      OTEL_AUDIT_MAX_FILES: '1000',
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: t.collector.endpoint,
      // Long enough for a loaded machine: a request timed out and sent again would be a duplicate, which is asserted.
      OTEL_EXPORTER_OTLP_TIMEOUT: '10000',
      EMIT_COUNT: '400',
      EMIT_RATE: '2000',
    });
    expect((await primary.exited).code).toBe(0);
    const done = primary.lines.filter((o) => o.event === 'done');
    expect(done).toHaveLength(4);
    for (const o of done) expect(o.report).toMatchObject({ emitted: 401, undelivered: 0, dropped: 0 });
    // Live streams of sibling workers are never replayed by each other.
    for (const o of primary.lines.filter((x) => x.event === 'replayed')) expect((o.report as { streams: string[] }).streams).toEqual([]);
    expectSegmentsClean(dir);
    const local = await verifyFiles([dir]);
    expect(local.problems).toEqual([]);
    expect(local.streams).toHaveLength(4);
    for (const s of local.streams) expect(s).toMatchObject({ first: 1, last: 401, ended: true });
    const d = delivered(t.collectorFile);
    for (let w = 0; w < 4; w++) {
      const prefix = (primary.lines.find((o) => o.event === 'started' && o.worker === w)!.prefix as string) ?? '';
      for (let i = 0; i < 400; i++) expect(d.ids.has(`${prefix}${i}`)).toBe(true);
    }
    for (const s of local.streams) expect(gaps(d.streams.get(s.streamId), 401)).toEqual([]);
    expect(d.inOrder).toBe(true);
    expect(d.duplicates).toBe(0);
    expect(d.conflicting).toEqual([]);
    expect((await verifyFiles([t.collectorFile])).ok).toBe(true);
  });
});

describe('replay across processes sharing a directory', () => {
  it('4 processes starting together over 3 orphaned streams: each orphan is replayed by exactly one of them, and arrives exactly once', async () => {
    p = await faultPipeline();
    const t = p;
    const dir = join(t.dir, 'shared');
    const orphaned = await orphans(t, dir, 3, 200);
    // A slow collector, so that the replays overlap with the other processes' start-up.
    t.collector.setFault({ mode: 'delay', delayMs: 20, times: 100_000 });
    const kids = Array.from({ length: 4 }, (_, k) =>
      emitter({ OTEL_AUDIT_DIR: dir, OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: t.collector.endpoint, OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: '32', EMIT_COUNT: '20', WAIT_REPLAY: '1', ID_PREFIX: `n${k}-` }),
    );
    const reports = [];
    for (const k of kids) {
      const r = await k.waitFor((o) => o.event === 'replayed');
      reports.push((r.report as { streams: string[] }).streams);
      expect((await k.exited).code).toBe(0);
    }
    const all = reports.flat();
    expect(all.sort()).toEqual([...orphaned].sort()); // each exactly once
    const d = delivered(t.collectorFile);
    for (const id of orphaned) {
      const s = d.streams.get(id)!;
      expect(gaps(s, 201)).toEqual([]);
      expect([...s.copies.values()].every((c) => c === 1)).toBe(true); // never sent twice
      expect(readState(dir, id)).toMatchObject({ done: true });
    }
    expect(readdirSync(join(dir, 'state')).filter((n) => n.endsWith('.lock'))).toEqual([]);
  });

  it('a replaying process killed mid-replay: the next one takes over its stale lock and resumes after what was acknowledged', async () => {
    p = await faultPipeline();
    const t = p;
    const dir = join(t.dir, 'shared');
    const [orphan] = await orphans(t, dir, 1, 600);
    t.collector.setFault({ mode: 'delay', delayMs: 30, times: 100_000 });
    const a = emitter({ OTEL_AUDIT_DIR: dir, OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: t.collector.endpoint, OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: '32', EMIT_COUNT: '0', EMIT_RATE: '10' });
    await a.waitFor((o) => o.event === 'started');
    while ((t.collector.stats().records ?? 0) < 250) await sleep(10);
    expect(readdirSync(join(dir, 'state')).filter((n) => n.endsWith('.lock'))).toEqual([`${orphan}.lock`]);
    a.proc.kill('SIGKILL');
    await a.exited;
    t.collector.setFault({ mode: 'ok' });
    const acked = readState(dir, orphan!)!.acked;
    expect(acked).toBeGreaterThan(0);
    const b = new AuditLogRecordProcessor({ dir, ...FAST, exporter: { url: t.collector.endpoint } });
    const provider = new LoggerProvider({ processors: [b] });
    const rep = await b.replayed();
    await provider.shutdown();
    // B replays both A's stream (A died too) and the orphan A was replaying.
    expect(rep!.streams).toContain(orphan);
    const d = delivered(t.collectorFile);
    const s = d.streams.get(orphan!)!;
    expect(gaps(s, 601)).toEqual([]);
    // Resumed after the acknowledged sequence number: re-sent at most what A had in flight and not yet recorded.
    const twice = [...s.copies.entries()].filter(([, c]) => c > 1).map(([q]) => q);
    expect(twice.every((q) => q > acked)).toBe(true);
    expect(twice.length).toBeLessThanOrEqual(128); // one request (lines of up to 64 records)
    expect(d.conflicting).toEqual([]);
  });
});
