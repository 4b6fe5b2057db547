import type { LogRecordProcessor, ReadWriteLogRecord } from '@opentelemetry/sdk-logs';
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { ExportLogsServiceRequest } from '../../src/otlp/types.js';
import { intAttribute, stringAttribute } from '../../src/otlp/decode.js';
import { verifyFiles } from '../../src/verify/index.js';
import { recordsOfFile } from '../helpers/records.js';
import { makePipeline, type TestPipeline } from '../helpers/pipeline.js';

let p: TestPipeline | undefined;
afterEach(async () => {
  await p?.dispose();
  p = undefined;
});

/** A processor placed after the audit processor: sees the stamps, then tampers with the live record. */
class Spy implements LogRecordProcessor {
  seen: Record<string, unknown>[] = [];
  onEmit(r: ReadWriteLogRecord): void {
    this.seen.push({ ...r.attributes });
    r.setAttribute('audit.actor.id', 'tampered-after');
    r.setBody('changed later');
  }
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

const valid = { 'audit.actor.id': 'svc-a', 'audit.actor.type': 'service', 'audit.action': 'DELETE', 'audit.outcome': 'success' };

describe('plain OTel Logs API records', () => {
  it('selects by logger name or audit.action, leaves other records untouched', async () => {
    p = await makePipeline();
    const spy = new Spy();
    const provider = new LoggerProvider({ processors: [p.processor, spy] });
    provider.getLogger('audit').emit({ eventName: 'thing.delete', body: 'b', attributes: { ...valid } });
    provider.getLogger('app').emit({ body: 'ordinary log line', attributes: { 'http.route': '/x' } });
    provider.getLogger('app').emit({ eventName: 'x', attributes: { ...valid, 'audit.action': 'EXPORT' } });
    await provider.shutdown();

    // Later processors see the chain stamps…
    expect(spy.seen[0]!['audit.sequence.number']).toBe(1);
    expect(typeof spy.seen[0]!['audit.sequence.stream_id']).toBe('string');
    // …the ordinary record got none…
    expect(Object.keys(spy.seen[1]!)).toEqual(['http.route']);
    expect(spy.seen[2]!['audit.sequence.number']).toBe(2);

    // …and what ships is the snapshot taken in onEmit, not what the later processor changed.
    const shipped = recordsOfFile(p.collectorFile);
    expect(shipped.map((r) => intAttribute(r, 'audit.sequence.number'))).toEqual([1, 2, 3]);
    expect(stringAttribute(shipped[0]!, 'audit.actor.id')).toBe('svc-a');
    expect(shipped[0]!.body).toEqual({ stringValue: 'b' });
    expect((await verifyFiles([p.collectorFile])).ok).toBe(true);
  });

  it('delivers an invalid record marked audit.validation.error and counts it — never throws', async () => {
    p = await makePipeline();
    const provider = new LoggerProvider({ processors: [p.processor] });
    const logger = provider.getLogger('audit');
    expect(() => logger.emit({ attributes: { 'audit.action': 'X', 'audit.actor.type': 'robot' } })).not.toThrow();
    expect(() =>
      logger.emit({ body: { n: Number.NaN, s: 'lone \ud800', big: 2 ** 70, deep: { a: { b: { c: {} } } } }, attributes: { ...valid } }),
    ).not.toThrow();
    await provider.shutdown();
    const shipped = recordsOfFile(p.collectorFile);
    expect(shipped).toHaveLength(3);
    const err0 = stringAttribute(shipped[0]!, 'audit.validation.error')!;
    expect(err0).toMatch(/audit\.actor\.id/);
    expect(err0).toMatch(/audit\.actor\.type/);
    expect(err0).toMatch(/audit\.outcome/);
    const err1 = stringAttribute(shipped[1]!, 'audit.validation.error')!;
    expect(err1).toMatch(/body\.n: NaN encoded as stringValue/);
    expect(err1).toMatch(/lone surrogate/);
    expect(err1).toMatch(/integer outside int64/);
    expect(p.processor.stats().invalid).toBe(2);
    // Marked records still chain and verify.
    expect((await verifyFiles([p.collectorFile, p.auditDir])).ok).toBe(true);
  });

  // Fixed bugs, kept as regression tests (found by review): a logger whose version or schemaUrl was not a string
  // made its record unsealable, and the record taking its place (same scope) too, so the chain stopped there for
  // good and every later record was lost; a non-string eventName or severityText, or a BigInt severityNumber,
  // made the record unsealable (its content lost).
  it('values the SDK passes through unchecked (scope version and schemaUrl, eventName, severity) never stop or empty the chain', async () => {
    p = await makePipeline();
    const provider = new LoggerProvider({ processors: [p.processor] });
    const good = provider.getLogger('audit');
    good.emit({ eventName: 'before', attributes: { ...valid } });
    provider.getLogger('audit', 2 as unknown as string).emit({ eventName: 'version-2', attributes: { ...valid } });
    provider.getLogger('audit', undefined, { schemaUrl: 7 as unknown as string }).emit({ eventName: 'schema-7', attributes: { ...valid } });
    good.emit({ eventName: 42 as unknown as string, attributes: { ...valid } });
    good.emit({ eventName: 'text-5', severityText: 5 as unknown as string, attributes: { ...valid } });
    good.emit({ eventName: 'number-5n', severityNumber: 5n as unknown as number, attributes: { ...valid } });
    good.emit({ eventName: 'after', attributes: { ...valid } });
    await provider.shutdown();
    const shipped = recordsOfFile(p.collectorFile);
    expect(shipped.map((r) => r.eventName)).toEqual(['before', 'version-2', 'schema-7', '42', 'text-5', 'number-5n', 'after', 'audit.stream.end']);
    expect(shipped.map((r) => intAttribute(r, 'audit.sequence.number'))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(shipped.every((r) => stringAttribute(r, 'audit.actor.id') === 'svc-a' || r.eventName === 'audit.stream.end')).toBe(true);
    expect(stringAttribute(shipped[3]!, 'audit.validation.error')).toContain('eventName: number written as the string "42"');
    expect(stringAttribute(shipped[4]!, 'audit.validation.error')).toContain('severityText: number written as the string "5"');
    expect(stringAttribute(shipped[5]!, 'audit.validation.error')).toContain('severityNumber: bigint is not a number; left out');
    expect(p.processor.stats().dropped).toBe(0);
    expect((await verifyFiles([p.collectorFile, p.auditDir])).ok).toBe(true);
  });

  it('a resource that cannot be encoded (an attribute getter that throws): its records are replaced by marked ones under an empty resource, and the chain goes on', async () => {
    p = await makePipeline();
    const resource = resourceFromAttributes({ 'service.name': 'boom' });
    Object.defineProperty(resource.attributes, 'host.name', { enumerable: true, get: () => { throw new Error('getter boom'); } });
    const provider = new LoggerProvider({ processors: [p.processor], resource });
    for (let i = 0; i < 3; i++) provider.getLogger('audit').emit({ eventName: `e${i}`, attributes: { ...valid } });
    await provider.shutdown();
    const shipped = recordsOfFile(p.collectorFile);
    expect(shipped.map((r) => intAttribute(r, 'audit.sequence.number'))).toEqual([1, 2, 3, 4]);
    expect(shipped.slice(0, 3).map((r) => r.eventName)).toEqual(Array(3).fill('audit.record.unsealable'));
    expect(stringAttribute(shipped[0]!, 'audit.validation.error')).toContain('getter boom');
    expect(p.processor.stats().dropped).toBe(3);
    expect((await verifyFiles([p.collectorFile, p.auditDir])).ok).toBe(true);
  });

  // Fixed bugs, kept as regression tests (found by review): no bound on a record's total size. A value reusing
  // one array at every level ran the heap out (a crash, everything unjournaled lost); a 52 MB byte array made a
  // journal line verify cannot read (tampering reported on an untouched journal) and a request collectors refuse.
  it.each([
    ['a byte array of 17 MiB', (): unknown => new Uint8Array(17 * 1024 * 1024)],
    ['an array reused at three levels (10^9 leaves)', (): unknown => {
      const a = Array(1000).fill(1);
      const b = Array(1000).fill(a);
      return Array(1000).fill(b);
    }],
    ['a flat array of 1000 strings of 65536 characters', (): unknown => Array(1000).fill('x'.repeat(65536))],
  ])('a record over 16 MiB of OTLP/JSON (%s) is replaced by a marked record and reported lost; the chain goes on', async (_what, big) => {
    const losses: string[] = [];
    p = await makePipeline({ onLoss: (e) => void losses.push(e.reason) });
    const provider = new LoggerProvider({ processors: [p.processor] });
    const logger = provider.getLogger('audit');
    logger.emit({ eventName: 'before', attributes: { ...valid } });
    logger.emit({ eventName: 'big', body: big() as never, attributes: { ...valid } });
    logger.emit({ eventName: 'after', attributes: { ...valid } });
    await provider.shutdown();
    const shipped = recordsOfFile(p.collectorFile);
    expect(shipped.map((r) => r.eventName)).toEqual(['before', 'audit.record.unsealable', 'after', 'audit.stream.end']);
    expect(losses).toEqual([expect.stringContaining('the record takes more than 16777216 bytes of OTLP/JSON')]);
    expect((await verifyFiles([p.collectorFile, p.auditDir])).ok).toBe(true);
  }, 60_000);

  it('shutdown gives a resource still being detected the time to settle: the end record carries its attributes', async () => {
    p = await makePipeline();
    const late = new Promise<string>((resolve) => setTimeout(() => resolve('machine-1'), 100));
    const resource = resourceFromAttributes({ 'service.name': 'svc', 'host.id': late });
    const provider = new LoggerProvider({ processors: [p.processor], resource });
    provider.getLogger('audit').emit({ eventName: 'early', attributes: { ...valid } }); // sealed while host.id is pending
    await provider.shutdown();
    const lines = readFileSync(p.collectorFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as ExportLogsServiceRequest);
    const last = lines.at(-1)!.resourceLogs!.at(-1)!;
    expect(last.scopeLogs!.at(-1)!.logRecords!.at(-1)!.eventName).toBe('audit.stream.end');
    expect(last.resource!.attributes!.find((a) => a.key === 'host.id')?.value).toEqual({ stringValue: 'machine-1' });
  });

  // Fixed bug, kept as a regression test: the caller's value was overwritten by a generated id and lost.
  it.each([
    ['a number', 42, { intValue: '42' }],
    ['an empty string', '', { stringValue: '' }],
    ['a boolean', true, { boolValue: true }],
  ])('a record id that is %s is kept as audit.caller.record.id; the record gets a generated id and is marked', async (_what, id, kept) => {
    p = await makePipeline();
    const provider = new LoggerProvider({ processors: [p.processor] });
    provider.getLogger('audit').emit({ eventName: 'thing.delete', attributes: { ...valid, 'audit.record.id': id } });
    await provider.shutdown();
    const [r] = recordsOfFile(p.collectorFile);
    expect(r!.attributes!.find((a) => a.key === 'audit.caller.record.id')?.value).toEqual(kept);
    expect(stringAttribute(r!, 'audit.record.id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(stringAttribute(r!, 'audit.validation.error')).toContain('audit.record.id must be a non-empty string; the caller\'s value is kept as audit.caller.record.id');
    expect((await verifyFiles([p.collectorFile])).ok).toBe(true);
  });

  it.each([
    ['attribute count limit 3 (records carry 5 attributes)', { attributeCountLimit: 3 }],
    ['attribute count limit 6 (reached by the stamps)', { attributeCountLimit: 6 }],
    ['attribute value length limit 8 (shorter than ids and hashes)', { attributeValueLengthLimit: 8 }],
  ] as const)('SDK log record limits, %s: what the SDK kept ships, with every stamp, and verifies', async (_, logRecordLimits) => {
    p = await makePipeline();
    const spy = new Spy();
    const provider = new LoggerProvider({ processors: [p.processor, spy], logRecordLimits });
    const logger = provider.getLogger('audit');
    for (let i = 0; i < 5; i++) logger.emit({ eventName: 'thing.delete', attributes: { ...valid, 'request.id': `req-${i}-0123456789` } });
    await provider.shutdown();
    const shipped = recordsOfFile(p.collectorFile).filter((r) => r.eventName === 'thing.delete');
    expect(shipped.map((r) => intAttribute(r, 'audit.sequence.number'))).toEqual([1, 2, 3, 4, 5]);
    for (const r of shipped.slice(1)) {
      expect(stringAttribute(r, 'audit.sequence.stream_id')).toBe(p.processor.streamId);
      expect(stringAttribute(r, 'audit.sequence.previous_hash')).toMatch(/^[0-9a-f]{64}$/);
      expect(stringAttribute(r, 'audit.record.id')).toMatch(/^[0-9a-f-]{36}$/);
    }
    // The user's attributes are as the SDK limited them.
    const actorId = stringAttribute(shipped[0]!, 'audit.actor.id');
    if ('attributeCountLimit' in logRecordLimits) {
      expect(shipped[0]!.droppedAttributesCount ?? 0).toBe(Math.max(0, 5 - logRecordLimits.attributeCountLimit));
    } else {
      expect(actorId).toBe('svc-a');
      expect(stringAttribute(shipped[0]!, 'request.id')).toBe('req-0-01');
    }
    // Later processors see the stamps on the live record, unless the SDK had dropped attributes already: then
    // the stamps went through its setAttribute, which applies its limit.
    const sdkDroppedFirst = 'attributeCountLimit' in logRecordLimits && logRecordLimits.attributeCountLimit < 5;
    expect(spy.seen.slice(0, 5).map((a) => a['audit.sequence.number'])).toEqual(sdkDroppedFirst ? [undefined, undefined, undefined, undefined, undefined] : [1, 2, 3, 4, 5]);
    expect((await verifyFiles([p.collectorFile, p.auditDir])).ok).toBe(true);
  });
});
