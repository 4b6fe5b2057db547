import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyFiles } from '../../src/verify/index.js';
import { killAll, runNode } from '../helpers/child.js';
import { loginEvent, makePipeline, type TestPipeline } from '../helpers/pipeline.js';
import { recordsOfFile } from '../helpers/records.js';
import { tempDir } from '../helpers/tmp.js';

let p: TestPipeline | undefined;
afterEach(async () => {
  await killAll();
  await p?.dispose();
  p = undefined;
});

describe('stdout sink', () => {
  it('OTEL_AUDIT_STDOUT=true writes one self-contained, verifiable OTLP/JSON line per record', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const child = runNode([join(import.meta.dirname, '../fixtures/stdout-app.mjs')], {
        OTEL_AUDIT_STDOUT: 'true',
        OTEL_AUDIT_DIR: join(dir, 'audit'),
        OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'http://127.0.0.1:9/v1/logs', // nobody there: stdout and journal only
        OTEL_EXPORTER_OTLP_TIMEOUT: '200',
        OTEL_BLRP_EXPORT_TIMEOUT: '200',
      });
      expect((await child.exited).code).toBe(0);
      const lines = child.lines.filter((o) => 'resourceLogs' in o);
      expect(lines).toHaveLength(21); // 20 + the stream end
      const file = join(dir, 'stdout.jsonl');
      writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
      const recs = recordsOfFile(file);
      expect(recs[0]!.body).toEqual({ stringValue: 'line\nbreak "quoted"' });
      const report = await verifyFiles([file]);
      expect(report.problems).toEqual([]);
      expect(report.streams[0]).toMatchObject({ first: 1, last: 21, ended: true });
    } finally {
      await cleanup();
    }
  });
});

describe('stdout sink whose reader goes away', () => {
  it('EPIPE disables the sink, said once on stderr; the app lives on and the journal keeps every record', async () => {
    // Fixed bug, kept as a regression test: without an 'error' listener on stdout, EPIPE killed the application.
    const { dir, cleanup } = await tempDir();
    try {
      const child = runNode([join(import.meta.dirname, '../fixtures/stdout-epipe.mjs')], {
        OTEL_AUDIT_STDOUT: 'true',
        OTEL_AUDIT_DIR: join(dir, 'audit'),
        OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'http://127.0.0.1:9/v1/logs',
        OTEL_EXPORTER_OTLP_TIMEOUT: '200',
        OTEL_BLRP_EXPORT_TIMEOUT: '200',
      });
      await child.waitFor((o) => 'resourceLogs' in o);
      child.proc.stdout!.destroy(); // the reader of the pipe goes away: the child's next writes get EPIPE
      child.proc.kill('SIGUSR2'); // the child emits the rest only now, whatever the load: they do
      const exit = await child.exited;
      expect(exit).toEqual({ code: 0, signal: null });
      expect(child.stderr.filter((l) => l.includes('OTEL_AUDIT_STDOUT disabled'))).toHaveLength(1);
      const alive = child.stderr.find((l) => l.includes('"alive"'));
      expect(JSON.parse(alive!)).toMatchObject({ event: 'alive', emitted: 51, dropped: 0 });
      const local = await verifyFiles([join(dir, 'audit')]);
      expect(local.streams[0]).toMatchObject({ first: 1, last: 51, ended: true });
    } finally {
      await cleanup();
    }
  });
});

describe('metrics through the OTel metrics API', () => {
  it('counts emitted, exported, spooled and dropped records, queue depth and export duration', async () => {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
    const meterProvider = new MeterProvider({ readers: [reader] });
    p = await makePipeline({ meterProvider, maxPendingRecords: 50, maxQueueSize: 50, file: 'off', exportTimeoutMillis: 300 });
    for (let i = 0; i < 30; i++) await p.audit.record(loginEvent(i));
    await p.collector.stop(); // now nothing can take records beyond the in-memory bound
    for (let i = 0; i < 60; i++) void p.audit.record(loginEvent(i)).catch(() => undefined);
    await reader.forceFlush();
    const metrics = new Map<string, number>();
    for (const rm of exporter.getMetrics())
      for (const sm of rm.scopeMetrics)
        for (const m of sm.metrics) {
          const dp = m.dataPoints.at(-1) as { value: number | { count: number } } | undefined;
          if (dp !== undefined) metrics.set(m.descriptor.name, typeof dp.value === 'number' ? dp.value : dp.value.count);
        }
    expect(metrics.get('audit.records.emitted')).toBe(80);
    expect(metrics.get('audit.records.exported')).toBe(30);
    expect(metrics.get('audit.records.dropped')).toBe(10);
    expect(metrics.get('audit.queue.depth')).toBe(50);
    expect(metrics.get('audit.export.duration')).toBeGreaterThanOrEqual(1);
    await meterProvider.shutdown();
  });
});
