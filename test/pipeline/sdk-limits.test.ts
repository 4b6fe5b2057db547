/**
 * The SDK applies its log record limits (logRecordLimits; OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT,
 * OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT, the count limits) to a record before any processor sees it. Fixed bug, kept
 * as a regression test: a typed event cut or thinned that way was sealed and shipped without a word — the receipt
 * and `verify` said all was well — and a record id cut short made record() throw "did not reach the processor"
 * for a record that was in fact journaled (a retry would have recorded it twice).
 */
import { LoggerProvider, type LogRecordLimits, type LogRecordProcessor, type ReadWriteLogRecord } from '@opentelemetry/sdk-logs';
import { afterEach, describe, expect, it } from 'vitest';
import { getAuditLogger } from '../../src/api/audit-logger.js';
import { attribute } from '../../src/otlp/decode.js';
import type { OtlpLogRecord } from '../../src/otlp/types.js';
import { AuditLogRecordProcessor } from '../../src/processor.js';
import { verifyFiles } from '../../src/verify/index.js';
import { collectorDir, FAST, loginEvent } from '../helpers/pipeline.js';
import { recordsOfFile } from '../helpers/records.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

const attr = (r: OtlpLogRecord, key: string): string | undefined => attribute(r, key)?.stringValue;

/** A provider with `limits`, `before` registered ahead of the audit processor, and a collector writing to `out`. */
async function pipeline(limits: LogRecordLimits, before: (provider: () => LoggerProvider) => LogRecordProcessor[] = () => []) {
  const { auditDir, collectorFile: out, collector } = await collectorDir(cleanups);
  const processor = new AuditLogRecordProcessor({ dir: auditDir, ...FAST, exporter: { url: collector.endpoint } });
  let provider: LoggerProvider | undefined;
  provider = new LoggerProvider({ processors: [...before(() => provider!), processor], logRecordLimits: limits });
  cleanups.push(() => provider!.shutdown());
  return { out, processor, provider, audit: getAuditLogger({ processor, loggerProvider: provider }) };
}

describe('a typed event changed by the SDK log record limits before otel-audit sees it', () => {
  it.each([
    ['no limit', {}, undefined],
    ['a value length limit', { attributeValueLengthLimit: 64 }, /audit\.reason cut to 64 of 300 characters/],
    ['a value length limit shorter than a record id', { attributeValueLengthLimit: 20 }, /audit\.record\.id cut to 20 of 36 characters.*audit\.reason cut to 20 of 300 characters/],
    ['an attribute count limit', { attributeCountLimit: 3 }, /audit\.reason dropped/],
  ] as const)('%s: sealed with its record id, marked with what changed; the receipt and the copies agree', async (_, limits, mark) => {
    const { out, processor, provider, audit } = await pipeline(limits);

    const receipt = await audit.record({ ...loginEvent(1), reason: 'r'.repeat(300) });
    await provider.shutdown();

    const sealed = recordsOfFile(out).find((r) => attr(r, 'audit.record.id') === receipt.recordId);
    expect(sealed, 'the sealed record carries the receipt\'s record id').toBeDefined();
    expect(attr(sealed!, 'audit.record.id')).toBe(receipt.recordId);
    const validation = attr(sealed!, 'audit.validation.error');
    if (mark === undefined) expect(validation).toBeUndefined();
    else {
      expect(validation).toMatch(mark);
      expect(validation).toContain('log record limits');
    }
    expect(processor.stats().invalid).toBe(mark === undefined ? 0 : 1);
    expect((await verifyFiles([out])).ok).toBe(true);
  });
});

// Fixed bug, kept as a regression test: matched by its event name alone, an audit record with no id of its own that
// a processor before this one emitted from inside emit() (a mirroring one) took the typed record's receipt and id:
// two records with one id, the receipt naming the wrong one.
describe('an audit record emitted inside emit(), with the typed event\'s event name and no id', () => {
  it.each([
    ['no limit', {}],
    ['an attribute count limit of 1 (the typed record keeps its id, its first attribute; the other only its action)', { attributeCountLimit: 1 }],
  ] as const)('keeps its own id; the receipt names the typed record (%s)', async (_, limits) => {
    let inside = false;
    const mirror = (provider: () => LoggerProvider): LogRecordProcessor => ({
      onEmit(r: ReadWriteLogRecord) {
        if (inside) return;
        inside = true;
        try {
          provider().getLogger('audit').emit({ eventName: r.eventName, attributes: { 'audit.action': 'MIRROR', mirror: 'yes' } });
        } finally {
          inside = false;
        }
      },
      forceFlush: async () => undefined,
      shutdown: async () => undefined,
    });
    const { out, provider, audit } = await pipeline(limits, (p) => [mirror(p)]);
    const receipt = await audit.record(loginEvent(1));
    await provider.shutdown();
    const recs = recordsOfFile(out).filter((r) => r.eventName !== 'audit.stream.end');
    expect(recs).toHaveLength(2);
    const ids = recs.map((r) => attr(r, 'audit.record.id'));
    expect(new Set(ids).size).toBe(ids.length);
    const login = recs.find((r) => attr(r, 'audit.record.id') === receipt.recordId)!;
    expect(login).toBeDefined();
    expect(attr(login, 'audit.record.id')).toBe(receipt.recordId);
    expect(attribute(login, 'audit.sequence.number')?.intValue).toBe(String(receipt.sequence));
    const mirrored = recs.find((r) => attr(r, 'audit.record.id') !== receipt.recordId)!;
    expect(attr(mirrored, 'audit.validation.error') ?? '').not.toMatch(/changed this typed event/);
  });
});
