/**
 * Streams retention removed whole are forgotten (src/sinks/retired-streams.ts). Found in review: every process start
 * left its stream's state file for ever, so a command run often grew state/ by one file a run and each start read
 * them all (20,000: 434 ms in the constructor). Real processors one after another on one directory, a real loopback
 * collector, real files; verify of the directory and of the collector's copy stays clean.
 */
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { getAuditLogger } from '../../src/api/audit-logger.js';
import { AuditLogRecordProcessor } from '../../src/processor.js';
import { verifyFiles } from '../../src/verify/index.js';
import { collectorDir, FAST } from '../helpers/pipeline.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

const event = (i: number) => ({ action: 'WRITE', outcome: 'success' as const, actor: { id: 'u1', type: 'user' as const }, details: { i, pad: 'x'.repeat(300) } });

/** One process's life: `n` records in 4 KiB segments, at most 3 files, delivered, shut down. */
async function run(auditDir: string, url: string, n: number): Promise<string> {
  const processor = new AuditLogRecordProcessor({ dir: auditDir, ...FAST, maxFileBytes: 4096, maxFiles: 3, exporter: { url, timeoutMillis: 2000 } });
  const provider = new LoggerProvider({ processors: [processor] });
  const audit = getAuditLogger({ processor, loggerProvider: provider });
  for (let i = 0; i < n; i++) await audit.record(event(i));
  await provider.shutdown();
  return processor.streamId;
}

const stateFiles = (dir: string): string[] => readdirSync(join(dir, 'state')).filter((n) => n.endsWith('.state'));

describe('state files of streams retention removed whole', () => {
  it('twelve runs on one directory: state/ stays bounded, and verify of the directory and of the collector copy is clean', async () => {
    const { auditDir, collector, collectorFile } = await collectorDir(cleanups);
    const streams: string[] = [];
    for (let k = 0; k < 12; k++) streams.push(await run(auditDir, collector.endpoint, 12));
    const left = stateFiles(auditDir);
    // The streams with a segment left (at most 3 files).
    expect(left.length).toBeLessThanOrEqual(3);
    expect(left).toContain(`${streams.at(-1)}.state`);
    const local = await verifyFiles([auditDir]);
    expect(local.problems.filter((p) => p.severity === 'error')).toEqual([]);
    const both = await verifyFiles([auditDir, collectorFile]);
    expect(both.problems.filter((p) => p.severity === 'error')).toEqual([]);
    expect(both.streams.map((s) => s.streamId).sort()).toEqual([...streams].sort());
  });

  it('a stream with a copy set aside in rejected/ keeps its state file (verify judges the copy against it)', async () => {
    const { auditDir, collector } = await collectorDir(cleanups);
    const first = await run(auditDir, collector.endpoint, 12);
    mkdirSync(join(auditDir, 'rejected'), { recursive: true, mode: 0o700 });
    writeFileSync(join(auditDir, 'rejected', `${first}-3-3.jsonl`), '', { mode: 0o600 });
    for (let k = 0; k < 5; k++) await run(auditDir, collector.endpoint, 12);
    expect(stateFiles(auditDir)).toContain(`${first}.state`);
  });
});
