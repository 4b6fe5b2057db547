/**
 * RecordSealer's edges: the restart link on the first record of a stream, a record sealed from inside another
 * (re-entry), the SDK's attribute-count limit together with a signer, and the sealer's buffer after a huge record.
 */
import type { Resource } from '@opentelemetry/resources';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, type LogRecordProcessor, type ReadWriteLogRecord } from '@opentelemetry/sdk-logs';
import { describe, expect, it } from 'vitest';
import { canonicalFromOtlp } from '../../src/chain/canonical.js';
import { HashChain } from '../../src/chain/chain.js';
import { hashCanonical } from '../../src/chain/hash.js';
import { stampLiveRecord } from '../../src/chain/live-stamps.js';
import { RecordSealer, type SealedRecord, type SealOptions, type SealSigner } from '../../src/chain/seal.js';
import { SyntheticRecord } from '../../src/chain/synthetic-record.js';
import { restartAttributes } from '../../src/integrity/stream-link.js';
import type { OtlpLogRecord } from '../../src/otlp/types.js';

const resource = resourceFromAttributes({ 'service.name': 'seal-test' });
const scope = { name: 'audit' };
const sealer = new RecordSealer();
const sealRecord = (r: ReadWriteLogRecord, chain: HashChain, o?: SealOptions): SealedRecord => sealer.seal(r, chain, o);

/** The shipped record, checked: valid JSON whose canonical form hashes to the sealed hash. */
function shipped(s: SealedRecord): { record: OtlpLogRecord; attrs: Record<string, unknown> } {
  const record = JSON.parse(s.bytes.toString('utf8')) as OtlpLogRecord;
  expect(hashCanonical(canonicalFromOtlp(record))).toBe(s.hash);
  const attrs = Object.fromEntries((record.attributes ?? []).map((kv) => [kv.key, Object.values(kv.value ?? {})[0]]));
  return { record, attrs };
}

describe('RecordSealer', () => {
  it('after a restart, keeps own attributes named like Object.prototype members next to the restart stamps', () => {
    const chain = new HashChain(undefined, restartAttributes({ streamId: 'prev-stream', lastSeq: 7, lastHash: 'a'.repeat(64) }));
    const r = new SyntheticRecord(resource, scope, {
      eventName: 'e',
      attributes: { constructor: 'c', toString: 't', hasOwnProperty: 'h', 'audit.action': 'a' },
    });
    const { attrs } = shipped(sealRecord(r, chain));
    expect(attrs).toMatchObject({ constructor: 'c', toString: 't', hasOwnProperty: 'h', 'audit.action': 'a' });
    expect(attrs).toMatchObject({ 'audit.sequence.previous_stream_id': 'prev-stream', 'audit.sequence.previous_stream_last': '7' });
  });

  it.each([
    ['the resource attribute getter (runs before encoding)', 'resource'],
    ['a getter inside the body (runs mid-encoding)', 'body'],
  ] as const)('refuses a record sealed from inside another, via %s; the outer record is intact', (_, where) => {
    const chain = new HashChain();
    const errors: unknown[] = [];
    const reenter = (): void => {
      try {
        sealRecord(new SyntheticRecord(resource, scope, { eventName: 'inner', attributes: { x: 'INNER'.repeat(50) } }), new HashChain());
      } catch (e) {
        errors.push(e);
      }
    };
    const res =
      where === 'resource'
        ? ({ get attributes() { reenter(); return { 'service.name': 'getter' }; }, schemaUrl: undefined } as unknown as Resource)
        : resource;
    const r = new SyntheticRecord(res, scope, { eventName: 'outer', attributes: { 'audit.action': 'a' } });
    if (where === 'body') r.setBody({ get trap() { reenter(); return 'value'; } } as never);
    const { record, attrs } = shipped(sealRecord(r, chain));
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toMatch(/sealed while another was being sealed/);
    expect(record.eventName).toBe('outer');
    expect(attrs['audit.sequence.number']).toBe('1');
    // And the writer is usable again afterwards.
    shipped(sealRecord(new SyntheticRecord(resource, scope, { eventName: 'next', attributes: {} }), chain));
  });

  it('with a signer at the SDK attribute-count limit: no false dropped count; later processors see the live stamps only', async () => {
    const signer: SealSigner = { sign: () => ({ 'audit.integrity.value': 'c2ln', 'audit.integrity.algorithm': 'HMAC-SHA256' }) };
    const chain = new HashChain();
    const out: { attrs: Record<string, unknown>; dropped: number | undefined }[] = [];
    const seen: Record<string, unknown>[] = [];
    const sealer: LogRecordProcessor = {
      onEmit(r: ReadWriteLogRecord) {
        // As the processor does: the live stamps in onEmit, the SDK's count taken before them.
        const dropped = r.droppedAttributesCount;
        stampLiveRecord(r, undefined, chain.streamId, chain.reserve());
        const s = shipped(sealRecord(r, chain, { signer, droppedAttributesCount: dropped }));
        out.push({ attrs: s.attrs, dropped: s.record.droppedAttributesCount });
      },
      forceFlush: async () => {},
      shutdown: async () => {},
    };
    const spy: LogRecordProcessor = { onEmit: (r) => void seen.push({ ...r.attributes }), forceFlush: async () => {}, shutdown: async () => {} };
    const provider = new LoggerProvider({ processors: [sealer, spy], logRecordLimits: { attributeCountLimit: 3 } });
    provider.getLogger('audit').emit({ attributes: { a: 1, b: 2, 'audit.action': 'x' } });
    provider.getLogger('audit').emit({ attributes: { a: 1, b: 2, c: 3, 'audit.action': 'x' } });
    await provider.shutdown();
    expect(out[0]!.dropped).toBeUndefined();
    expect(out[0]!.attrs).toMatchObject({ a: '1', 'audit.action': 'x', 'audit.sequence.number': '1', 'audit.integrity.value': 'c2ln' });
    expect(seen[0]).toMatchObject({ 'audit.sequence.number': 1, 'audit.sequence.stream_id': chain.streamId });
    expect(seen[0]).not.toHaveProperty('audit.integrity.value');
    // Over the limit already: the SDK's own drop is counted, and nothing else.
    expect(out[1]!.dropped).toBe(1);
    expect(out[1]!.attrs).toMatchObject({ 'audit.sequence.number': '2', 'audit.integrity.value': 'c2ln' });
  });

  it('with a signer, a record’s own audit.integrity.* attributes give way to the signer’s (no duplicate keys)', () => {
    const signer: SealSigner = { sign: () => ({ 'audit.integrity.value': 'real', 'audit.integrity.algorithm': 'HMAC-SHA256' }) };
    const r = new SyntheticRecord(resource, scope, {
      eventName: 'e',
      attributes: { 'audit.integrity.value': 'forged', 'audit.integrity.other': 'x', 'audit.action': 'a' },
    });
    const { record } = shipped(sealRecord(r, new HashChain(), { signer }));
    const keys = (record.attributes ?? []).map((kv) => kv.key);
    expect(keys.filter((k) => k === 'audit.integrity.value')).toHaveLength(1);
    expect(keys).not.toContain('audit.integrity.other');
    expect(record.attributes!.find((kv) => kv.key === 'audit.integrity.value')!.value).toEqual({ stringValue: 'real' });
    // Without a signer they ship as they are (outside the canonical form either way).
    const unsigned = shipped(sealRecord(new SyntheticRecord(resource, scope, { eventName: 'e', attributes: { 'audit.integrity.other': 'x' } }), new HashChain()));
    expect(unsigned.attrs['audit.integrity.other']).toBe('x');
  });

  it('does not keep a huge record’s buffer once the next records are sealed', () => {
    const chain = new HashChain();
    const huge = new SyntheticRecord(resource, scope, { eventName: 'huge', attributes: {} });
    huge.setBody(Array.from({ length: 40 }, () => 'é'.repeat(60_000)));
    shipped(sealRecord(huge, chain));
    expect(sealer.bufferBytes).toBeLessThanOrEqual(1 << 20);
    shipped(sealRecord(new SyntheticRecord(resource, scope, { eventName: 'small', attributes: { a: 'b' } }), chain));
    expect(sealer.bufferBytes).toBeLessThanOrEqual(1 << 20);
  });
});
