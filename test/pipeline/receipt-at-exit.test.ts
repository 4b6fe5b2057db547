/**
 * Found in a README review: a short-lived program that awaits record() from a function (no top-level await), with
 * OTEL_AUDIT_FILE=off and a collector that does not take the record, ended with the promise unsettled (the
 * transport retries on unref'd timers): exit status 0, its catch and the rest of its work never run. The receipt
 * now settles before the process ends: acknowledged, or rejected with AuditLossError within the export timeout.
 * Real child processes, real loopback collectors.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { killAll, runNode } from '../helpers/child.js';
import { collectorDir } from '../helpers/pipeline.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await killAll();
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

const fixture = join(import.meta.dirname, '../fixtures/cli-awaiting-receipt.mjs');

/** The program, with OTEL_AUDIT_FILE=off and an export timeout of 1.5 s. */
function runProgram(d: { auditDir: string; collector: { endpoint: string } }, env: Record<string, string> = {}): ReturnType<typeof runNode> {
  return runNode([fixture], {
    OTEL_AUDIT_DIR: d.auditDir,
    OTEL_AUDIT_FILE: 'off',
    OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: d.collector.endpoint,
    OTEL_BLRP_EXPORT_TIMEOUT: '1500',
    ...env,
  });
}

describe('a receipt awaited by a program with nothing else left to run', () => {
  it.each([
    ['the collector is down', 'down', /record lost at shutdown/],
    ['the collector refuses it for good (400)', 'refuses', /refused for good by the collector and not kept/],
  ])('OTEL_AUDIT_FILE=off, %s: rejected with AuditLossError, the program handles it', async (_label, how, message) => {
    const { auditDir, collector } = await collectorDir(cleanups);
    if (how === 'down') await collector.stop();
    else collector.setFault({ mode: 'status', status: 400 });
    const child = runProgram({ auditDir, collector }, { OTEL_AUDIT_ON_LOSS: 'throw' });
    const { code } = await child.exited;
    const refused = child.event('refused');
    expect(refused, child.stderr.join('')).toMatchObject({ name: 'AuditLossError' });
    expect(String(refused!.message)).toMatch(message);
    expect(refused!.recordIds).toHaveLength(1);
    expect(child.event('receipt')).toBeUndefined();
    expect(child.event('done')).toBeDefined();
    expect(code).toBe(3);
  });

  // Found in review of the first version: it rejected the receipt but left the record queued, so the program's own
  // shutdown then delivered the record it had been told was lost.
  it('a receipt rejected as lost stays lost: nothing of the record is sent after, even once the collector takes requests', async () => {
    const { auditDir, collector } = await collectorDir(cleanups);
    collector.setFault({ mode: 'status', status: 503 });
    const child = runProgram({ auditDir, collector });
    await child.waitFor((o) => o.event === 'refused');
    collector.setFault({ mode: 'ok' }); // the program's own shutdown() comes next
    expect((await child.exited).code).toBe(3);
    expect(child.event('done')).toBeDefined();
    expect(collector.stats().records).toBe(0);
    // The record and the stream end marker.
    expect(child.stderr.join('')).toMatch(/LOST 2 audit record\(s\) of stream .*not acknowledged by the collector at shutdown and OTEL_AUDIT_FILE=off/);
  });

  // Found in re-review: a later record was refused only as "the processor is shut down", and a process.exit() in
  // the program's handling of the rejection reported the same records lost a second time.
  it('after the hold shut the processor down: a later record is refused with the reason, and the loss is reported once', async () => {
    const { auditDir, collector } = await collectorDir(cleanups);
    await collector.stop();
    const child = runProgram({ auditDir, collector }, { OTEL_AUDIT_ON_LOSS: 'throw', AGAIN: '1', EXIT_IN_CATCH: '1' });
    expect((await child.exited).code).toBe(5);
    expect(child.event('again')).toMatchObject({ name: 'AuditLossError' });
    expect(String(child.event('again')!.message)).toMatch(/shut down when the program had nothing left to run but awaits on audit receipts, which the collector had not acknowledged within 1500 ms/);
    const stderr = child.stderr.join('');
    expect(stderr).toMatch(/otel-audit: the processor was shut down when the program had nothing left to run/);
    expect(stderr.match(/LOST \d+ audit record\(s\) of stream/g)).toEqual(["LOST 2 audit record(s) of stream"]); // the record and the end marker, once
    expect(stderr).not.toMatch(/the process exited before they were delivered/);
  });

  it('one beforeExit listener serves every processor', async () => {
    const { LoggerProvider } = await import('@opentelemetry/sdk-logs');
    const { AuditLogRecordProcessor, getAuditLogger } = await import('../../src/index.js');
    const { auditDir, collector } = await collectorDir(cleanups);
    const before = process.listenerCount('beforeExit');
    const providers = Array.from({ length: 12 }, () => {
      const processor = new AuditLogRecordProcessor({ dir: auditDir, exporter: { url: collector.endpoint }, replay: false });
      const provider = new LoggerProvider({ processors: [processor] });
      void getAuditLogger({ processor, loggerProvider: provider }).record({ action: 'READ', outcome: 'success', actor: { id: 'u', type: 'user' } });
      return provider;
    });
    expect(process.listenerCount('beforeExit') - before).toBeLessThanOrEqual(1);
    await Promise.all(providers.map((p) => p.shutdown()));
  });

  it('OTEL_AUDIT_FILE=off, the collector takes it: the receipt says so and the program acts', async () => {
    const { auditDir, collector } = await collectorDir(cleanups);
    const child = runProgram({ auditDir, collector });
    expect((await child.exited).code).toBe(0);
    expect(child.event('receipt')).toMatchObject({ durability: 'collector' });
    expect(collector.stats().records).toBe(2); // the record and the stream's end marker
  });
});
