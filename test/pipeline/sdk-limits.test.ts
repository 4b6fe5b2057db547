/**
 * The SDK applies its log record limits (logRecordLimits; OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT,
 * OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT, the count limits) to a record before any processor sees it. Fixed bug, kept
 * as a regression test: a typed event cut or thinned that way was sealed and shipped without a word — the receipt
 * and `verify` said all was well — and a record id cut short made record() throw "did not reach the processor"
 * for a record that was in fact journaled (a retry would have recorded it twice).
 */
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { getAuditLogger } from '../../src/api/audit-logger.js';
import { startCollector } from '../../src/collector/index.js';
import { attribute } from '../../src/otlp/decode.js';
import type { OtlpLogRecord } from '../../src/otlp/types.js';
import { AuditLogRecordProcessor } from '../../src/processor.js';
import { verifyFiles } from '../../src/verify/index.js';
import { FAST, loginEvent } from '../helpers/pipeline.js';
import { recordsOfFile } from '../helpers/records.js';
import { tempDir } from '../helpers/tmp.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

const attr = (r: OtlpLogRecord, key: string): string | undefined => attribute(r, key)?.stringValue;

describe('a typed event changed by the SDK log record limits before otel-audit sees it', () => {
  it.each([
    ['no limit', {}, undefined],
    ['a value length limit', { attributeValueLengthLimit: 64 }, /audit\.reason cut to 64 of 300 characters/],
    ['a value length limit shorter than a record id', { attributeValueLengthLimit: 20 }, /audit\.record\.id cut to 20 of 36 characters.*audit\.reason cut to 20 of 300 characters/],
    ['an attribute count limit', { attributeCountLimit: 3 }, /audit\.reason dropped/],
  ] as const)('%s: sealed with its record id, marked with what changed; the receipt and the copies agree', async (_, limits, mark) => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const out = join(dir, 'collector.jsonl');
    const collector = await startCollector({ port: 0, outFile: out });
    cleanups.push(() => collector.close());
    const processor = new AuditLogRecordProcessor({ dir: join(dir, 'audit'), ...FAST, exporter: { url: collector.endpoint } });
    const provider = new LoggerProvider({ processors: [processor], logRecordLimits: limits });
    cleanups.push(() => provider.shutdown());
    const audit = getAuditLogger({ processor, loggerProvider: provider });

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
