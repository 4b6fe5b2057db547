/**
 * Streams retention removed whole are forgotten (src/sinks/retired-streams.ts). Found in review: every process start
 * left its stream's state file for ever, so a command run often grew state/ by one file a run and each start read
 * them all (20,000: 434 ms in the constructor). A stream removed whole keeps its state file for a grace period (found
 * in review of the first version: a verify of a live directory read the last segment, then found the state gone). Real processors one after another on one directory, a real loopback
 * collector, real files; verify of the directory and of the collector's copy stays clean.
 */
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { getAuditLogger } from '../../src/api/audit-logger.js';
import { AuditLogRecordProcessor } from '../../src/processor.js';
import { forgetRetiredStreams, RETIRED_GRACE_MS } from '../../src/sinks/retired-streams.js';
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
  it('twelve runs on one directory: state/ stays bounded once the grace period passed, and verify of the directory and of the collector copy is clean', async () => {
    const { auditDir, collector, collectorFile } = await collectorDir(cleanups);
    const streams: string[] = [];
    for (let k = 0; k < 12; k++) streams.push(await run(auditDir, collector.endpoint, 12));
    // Within the grace period nothing is forgotten (a verify reading the directory right now needs them).
    expect(stateFiles(auditDir)).toHaveLength(12);
    // An hour later, the next run's retention forgets those removed whole long enough ago.
    const hourAgo = new Date(Date.now() - 3600_000);
    for (const f of stateFiles(auditDir)) utimesSync(join(auditDir, 'state', f), hourAgo, hourAgo);
    streams.push(await run(auditDir, collector.endpoint, 12));
    const left = stateFiles(auditDir);
    // The streams with a segment left (at most 3 files), and those this last run removed whole (in their grace period).
    expect(left.length).toBeLessThanOrEqual(5);
    expect(left).toContain(`${streams.at(-1)}.state`);
    const local = await verifyFiles([auditDir]);
    expect(local.problems.filter((p) => p.severity === 'error')).toEqual([]);
    const both = await verifyFiles([auditDir, collectorFile]);
    expect(both.problems.filter((p) => p.severity === 'error')).toEqual([]);
    expect(both.streams.map((s) => s.streamId).sort()).toEqual([...streams].sort());
  });

  it('a stream removed whole keeps its state file for the grace period, then loses it', async () => {
    const { auditDir, collector } = await collectorDir(cleanups);
    const first = await run(auditDir, collector.endpoint, 12);
    // Done long ago: the grace period runs from its removal, not from its last state write.
    const hourAgo = new Date(Date.now() - 3600_000);
    utimesSync(join(auditDir, 'state', `${first}.state`), hourAgo, hourAgo);
    const later = await run(auditDir, collector.endpoint, 12); // its retention removes the first stream whole
    expect(readdirSync(auditDir).some((n) => n.includes(first))).toBe(false);
    expect(stateFiles(auditDir)).toContain(`${first}.state`);
    forgetRetiredStreams(auditDir, later, Date.now() + RETIRED_GRACE_MS - 60_000);
    expect(stateFiles(auditDir)).toContain(`${first}.state`);
    forgetRetiredStreams(auditDir, later, Date.now() + RETIRED_GRACE_MS + 1000);
    expect(stateFiles(auditDir)).not.toContain(`${first}.state`);
    expect(stateFiles(auditDir)).toContain(`${later}.state`);
  });

  it('a stream with a copy set aside in rejected/ keeps its state file (verify judges the copy against it)', async () => {
    const { auditDir, collector } = await collectorDir(cleanups);
    const first = await run(auditDir, collector.endpoint, 12);
    mkdirSync(join(auditDir, 'rejected'), { recursive: true, mode: 0o700 });
    writeFileSync(join(auditDir, 'rejected', `${first}-3-3.jsonl`), '', { mode: 0o600 });
    const later = await run(auditDir, collector.endpoint, 12);
    forgetRetiredStreams(auditDir, later, Date.now() + RETIRED_GRACE_MS + 1000);
    expect(stateFiles(auditDir)).toContain(`${first}.state`);
  });
});
