/**
 * The typed API's receipt goes to its own record only. It was handed to "the next audit record onEmit sees": when
 * emit() threw before this processor (a processor registered before it threw), the next raw audit record took the
 * stale receipt and skipped raw validation; an audit record emitted inside emit() (the SDK's own diag warning,
 * routed by the app to the audit logger) took it too, and record() resolved with another record's id and hash.
 */
import { diag, DiagLogLevel } from '@opentelemetry/api';
import { LoggerProvider, type LogRecordProcessor } from '@opentelemetry/sdk-logs';
import { afterEach, expect, it } from 'vitest';
import { getAuditLogger } from '../../src/api/audit-logger.js';
import { stringAttribute } from '../../src/otlp/decode.js';
import { AuditLogRecordProcessor } from '../../src/processor.js';
import { collectorDir, FAST, loginEvent } from '../helpers/pipeline.js';
import { recordsOfFile } from '../helpers/records.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  diag.disable();
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

it('a raw record after a typed record() whose emit threw is still validated and marked', async () => {
  const { auditDir, collectorFile: out, collector } = await collectorDir(cleanups);
  let throwNext = true;
  const flaky: LogRecordProcessor = {
    onEmit() {
      if (throwNext) {
        throwNext = false;
        throw new Error('enrichment failed');
      }
    },
    forceFlush: async () => undefined,
    shutdown: async () => undefined,
  };
  const processor = new AuditLogRecordProcessor({ dir: auditDir, ...FAST, exporter: { url: collector.endpoint } });
  const provider = new LoggerProvider({ processors: [flaky, processor] });
  cleanups.push(() => provider.shutdown());
  const audit = getAuditLogger({ processor, loggerProvider: provider });

  expect(() => audit.record(loginEvent(1))).toThrow('enrichment failed');
  expect(processor._receiptUnclaimed(), 'the receipt was left for the next record').toBe(false);
  // A raw audit record with no actor and no outcome: must be delivered marked invalid.
  provider.getLogger('audit').emit({ eventName: 'raw.bad', attributes: { 'audit.action': 'DELETE' } });
  await provider.shutdown();

  const raw = recordsOfFile(out).find((r) => r.eventName === 'raw.bad');
  expect(raw).toBeDefined();
  expect(raw!.attributes?.some((a) => a.key === 'audit.validation.error')).toBe(true);
  expect(processor.stats().invalid).toBe(1);
});

it('record() resolves with the receipt of its own record', async () => {
  const { auditDir, collector } = await collectorDir(cleanups);
  const processor = new AuditLogRecordProcessor({ dir: auditDir, ...FAST, exporter: { url: collector.endpoint } });
  const provider = new LoggerProvider({ processors: [processor], logRecordLimits: { attributeCountLimit: 8 } });
  cleanups.push(() => provider.shutdown());
  const auditLogger = provider.getLogger('audit');
  // The app audits OTel's own warnings (a raw record; no actor: it should be marked invalid).
  const toAudit = (msg: string) => auditLogger.emit({ eventName: 'otel.diag', body: msg, attributes: { 'audit.action': 'DIAG' } });
  diag.setLogger({ error: toAudit, warn: toAudit, info: () => {}, debug: () => {}, verbose: () => {} }, DiagLogLevel.WARN);

  const audit = getAuditLogger({ processor, loggerProvider: provider });
  const receipt = await audit.record({
    id: 'typed-1',
    action: 'LOGIN',
    outcome: 'success',
    actor: { id: 'alice', type: 'user' },
    details: { a: 1, b: 2, c: 3, d: 4, e: 5, f: 6 }, // > 8 attributes in all: the SDK drops some and warns
  });
  expect(receipt.recordId).toBe('typed-1');
});

// Found by review: a record() made inside another one's emit() (a diag logger recording the SDK's warnings, here
// "Dropping extra attributes." under an attribute count limit) replaced the outer record's receipt slot: the
// outer receipt never settled, not even at shutdown, and its thinned event went unmarked as a raw record.
it('a record() made inside another record()\'s emit(): both receipts settle, each with its own record', async () => {
  const { auditDir, collectorFile: out, collector } = await collectorDir(cleanups);
  const processor = new AuditLogRecordProcessor({ dir: auditDir, ...FAST, exporter: { url: collector.endpoint } });
  const provider = new LoggerProvider({ processors: [processor], logRecordLimits: { attributeCountLimit: 16 } });
  cleanups.push(() => provider.shutdown());
  const audit = getAuditLogger({ processor, loggerProvider: provider });
  let inner: Promise<{ recordId: string }> | undefined;
  const warn = (msg: string): void => {
    inner ??= audit.record({ action: 'SDK_WARNING', outcome: 'unknown', actor: { id: 'otel-sdk', type: 'system' }, reason: String(msg) });
  };
  diag.setLogger({ error: warn, warn, info: () => undefined, debug: () => undefined, verbose: () => undefined }, DiagLogLevel.WARN);
  const details = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`d${i}`, i]));
  const outer = audit.record({ action: 'EXPORT', outcome: 'success', actor: { id: 'alice', type: 'user' }, details });
  expect(inner).toBeDefined();
  const [o, i] = await Promise.all([outer, inner!]);
  expect(o.recordId).not.toBe(i.recordId);
  await provider.shutdown();
  const records = recordsOfFile(out);
  const outerRecord = records.find((r) => stringAttribute(r, 'audit.record.id') === o.recordId);
  expect(outerRecord).toBeDefined();
  expect(stringAttribute(outerRecord!, 'audit.action')).toBe('EXPORT');
  // The typed event the limit thinned is marked as such (map/typed-slot.ts), not validated as a raw record.
  expect(stringAttribute(outerRecord!, 'audit.validation.error')).toMatch(/limit/i);
});
