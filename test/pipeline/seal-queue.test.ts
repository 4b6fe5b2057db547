/**
 * Sealing off the caller's path (ARCHITECTURE.md §2.3): what onEmit leaves on the live record, what a record
 * mutated after emit() ships as, and the record that takes the place of one whose sealing throws.
 */
import type { LogRecordProcessor, ReadWriteLogRecord } from '@opentelemetry/sdk-logs';
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { afterEach, describe, expect, it } from 'vitest';
import { intAttribute, stringAttribute } from '../../src/otlp/decode.js';
import { verifyFiles } from '../../src/verify/index.js';
import type { LossEvent } from '../../src/deliver/loss.js';
import { recordsOfFile } from '../helpers/records.js';
import { makePipeline, type TestPipeline } from '../helpers/pipeline.js';

let p: TestPipeline | undefined;
afterEach(async () => {
  await p?.dispose();
  p = undefined;
});

const valid = { 'audit.actor.id': 'svc-a', 'audit.actor.type': 'service', 'audit.action': 'DELETE', 'audit.outcome': 'success' };

class Spy implements LogRecordProcessor {
  seen: Record<string, unknown>[] = [];
  onEmit(r: ReadWriteLogRecord): void {
    this.seen.push({ ...r.attributes });
  }
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

describe('sealing off the caller’s path', () => {
  it('later processors see the record id, stream id and sequence number, and none of the hashes', async () => {
    p = await makePipeline();
    const spy = new Spy();
    const provider = new LoggerProvider({ processors: [p.processor, spy] });
    for (let i = 0; i < 3; i++) provider.getLogger('audit').emit({ attributes: { ...valid } });
    await provider.shutdown();
    const shipped = recordsOfFile(p.collectorFile).filter((r) => r.eventName !== 'audit.stream.end');
    expect(spy.seen).toHaveLength(3);
    spy.seen.forEach((seen, i) => {
      expect(seen['audit.sequence.number']).toBe(i + 1);
      expect(seen['audit.sequence.stream_id']).toBe(p!.processor.streamId);
      expect(seen['audit.record.id']).toBe(stringAttribute(shipped[i]!, 'audit.record.id'));
      expect(Object.keys(seen).filter((k) => k.startsWith('audit.sequence.previous'))).toEqual([]);
    });
    expect(stringAttribute(shipped[1]!, 'audit.sequence.previous_hash')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('a record whose sealing throws is replaced in the chain: no gap, its id kept, its loss reported, both copies verify', async () => {
    const losses: LossEvent[] = [];
    p = await makePipeline({ onLoss: (e) => void losses.push(e) });
    const logger = p.provider.getLogger('audit');
    logger.emit({ attributes: { ...valid, 'audit.record.id': 'before' } });
    const trap = {
      get x(): string {
        throw new Error('getter trap');
      },
    };
    logger.emit({ body: trap as never, attributes: { ...valid, 'audit.record.id': 'trapped' } });
    logger.emit({ attributes: { ...valid, 'audit.record.id': 'after' } });
    await p.provider.shutdown();

    const shipped = recordsOfFile(p.collectorFile);
    expect(shipped.map((r) => intAttribute(r, 'audit.sequence.number'))).toEqual([1, 2, 3, 4]);
    expect(shipped.map((r) => stringAttribute(r, 'audit.record.id'))).toEqual(['before', 'trapped', 'after', expect.any(String)]);
    expect(shipped[1]!.eventName).toBe('audit.record.unsealable');
    expect(stringAttribute(shipped[1]!, 'audit.validation.error')).toMatch(/could not be sealed: getter trap/);
    expect(losses).toHaveLength(1);
    expect(losses[0]!.records).toEqual([{ recordId: 'trapped', seq: 2 }]);
    expect((await verifyFiles([p.collectorFile])).ok).toBe(true);
    expect((await verifyFiles([p.auditDir])).ok).toBe(true);
  });

  it('what ships is the record as it reached the processor, whatever the caller’s attributes object becomes after emit()', async () => {
    p = await makePipeline();
    const spy: LogRecordProcessor = {
      onEmit: (r) => {
        // A later processor replacing attributes after the audit processor took its snapshot.
        (r.attributes as Record<string, unknown>)['audit.actor.id'] = 'changed-after';
        r.setAttribute('added.after', 'x');
      },
      forceFlush: async () => {},
      shutdown: async () => {},
    };
    const provider = new LoggerProvider({ processors: [p.processor, spy] });
    provider.getLogger('audit').emit({ attributes: { ...valid } });
    await provider.shutdown();
    const [first] = recordsOfFile(p.collectorFile);
    expect(stringAttribute(first!, 'audit.actor.id')).toBe('svc-a');
    expect(first!.attributes?.some((kv) => kv.key === 'added.after')).toBe(false);
  });
});
