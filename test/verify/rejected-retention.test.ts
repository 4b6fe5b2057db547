/**
 * Records the collector refused for good are kept in rejected/ (never deleted by otel-audit), and retention deletes
 * a stream's acknowledged segments, oldest first: then the only records of the stream older than the cut are those
 * copies, and the untouched directory shows gaps after them (found in review). The cut retention wrote, bound to the
 * first record held outside rejected/ and backed by the state file, accounts for them when each copy is vouched for
 * (its signature: verify with the key); without the key, or once that cut is gone, they are DELETED (errors). Real
 * processor with an HMAC key, real loopback collector (first refusing with 400, then taking everything), real files.
 */
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { getAuditLogger } from '../../src/api/audit-logger.js';
import { loadSigningKeys } from '../../src/integrity/index.js';
import { AuditLogRecordProcessor } from '../../src/processor.js';
import { verifyFiles } from '../../src/verify/index.js';
import { captureStderr } from '../faults/_lib.js';
import { collectorDir, FAST } from '../helpers/pipeline.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

const SECRET = `base64:${Buffer.alloc(32, 3).toString('base64')}`;
const event = (i: number) => ({ id: `r${i}`, action: 'WRITE', outcome: 'success' as const, actor: { id: 'u1', type: 'user' as const }, details: { pad: 'x'.repeat(300) } });

/** One process: `refused` records refused for good (set aside), then `n` more delivered, segments of 4 KiB, at most 2 files. */
async function run(auditDir: string, url: string, setFault: (ok: boolean) => void, refused: number, n: number): Promise<string> {
  const processor = new AuditLogRecordProcessor({ dir: auditDir, ...FAST, maxFileBytes: 4096, maxFiles: 2, exporter: { url, timeoutMillis: 2000 }, signingKeys: loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: SECRET }) });
  const provider = new LoggerProvider({ processors: [processor] });
  const audit = getAuditLogger({ processor, loggerProvider: provider });
  setFault(false);
  for (let i = 1; i <= refused; i++) {
    await audit.record(event(i));
    await processor.forceFlush();
  }
  setFault(true);
  for (let i = 1; i <= n; i++) await audit.record(event(refused + i));
  await processor.forceFlush();
  await provider.shutdown();
  return processor.streamId;
}

describe('records set aside in rejected/, then retention', () => {
  it('the gap after a set-aside record is retention (info); without the cut it is DELETED; with the collector copy it verifies', async () => {
    const { auditDir, collector, collectorFile } = await collectorDir(cleanups);
    const setFault = (ok: boolean): void => collector.setFault(ok ? { mode: 'ok' } : { mode: 'status', status: 400 });
    const stderr = captureStderr();
    // Seq 1 refused for good; then enough records for retention to delete the stream's early segments.
    const stream = await run(auditDir, collector.endpoint, setFault, 1, 60);
    vi.restoreAllMocks();
    expect(stderr.join('')).toMatch(/refused records 1–1 of stream .* for good \(HTTP 400\); kept in .*rejected/);
    expect(readdirSync(join(auditDir, 'rejected'))).toHaveLength(1);
    const segments = readdirSync(auditDir).filter((f) => f.endsWith('.jsonl')).sort();
    expect(segments).toHaveLength(2); // maxFiles: retention removed the others

    const r = await verifyFiles([auditDir], { hmacSecrets: [SECRET] });
    expect(r.problems.filter((p) => p.severity === 'error')).toEqual([]);
    const gap = r.problems.filter((p) => p.kind === 'deleted');
    expect(gap).toEqual([expect.objectContaining({ severity: 'info', stream, seq: 2 })]);
    expect(gap[0]!.message).toMatch(/removed by retention .*retention\.log has the cut through seq \d+ .* copies set aside in rejected\/ .* each vouched for by its signature or by the record after it/);

    // Without the key nothing vouches for the copy: the gap is an error, whose message says how to settle it.
    const unkeyed = await verifyFiles([auditDir]);
    expect(unkeyed.problems.filter((p) => p.severity === 'error').map((p) => [p.kind, p.stream, p.seq])).toEqual([['deleted', stream, 2]]);
    expect(unkeyed.problems.find((p) => p.severity === 'error')!.message).toMatch(/no key was given to check its signature: verify with the producer's key .*; verify the collector's copy together with this directory/);

    // The cut bound to the journal's first record is the evidence: without it, the same gap is an error.
    const log = join(auditDir, 'state', 'retention.log');
    const lines = readFileSync(log, 'utf8').trimEnd().split('\n');
    writeFileSync(log, lines.slice(0, -1).join('\n') + '\n');
    const without = await verifyFiles([auditDir], { hmacSecrets: [SECRET] });
    expect(without.problems.filter((p) => p.severity === 'error').map((p) => [p.kind, p.stream, p.seq])).toEqual([['deleted', stream, 2]]);
    writeFileSync(log, lines.join('\n') + '\n');

    // The collector holds seq 2 onwards (seq 1 it refused, and rejected/ keeps it): the journal and its copy together.
    const both = await verifyFiles([auditDir, collectorFile]);
    expect(both.problems.filter((p) => p.severity === 'error')).toEqual([]);
  });
});
