/**
 * Hostile records (issue 9): what a careless or malicious caller of the typed API and of the plain Logs API can
 * hand the processor. Each test is one attack and asserts its defined outcome against real components: the
 * loopback dev collector (which validates every request as strictly as the OTLP spec), the journal on disk, and
 * the verifier over both copies.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditValidationError } from '../../src/core/errors.js';
import { stringAttribute } from '../../src/otlp/decode.js';
import type { OtlpLogRecord } from '../../src/otlp/types.js';
import { loadSigningKeys } from '../../src/integrity/keys.js';
import { verifyFiles } from '../../src/verify/index.js';
import { ed25519Keys } from '../helpers/make-signed-chain.js';
import { tempDir } from '../helpers/tmp.js';
import { loginEvent, makePipeline, type TestPipeline } from '../helpers/pipeline.js';
import { journalRecords, recordsOfFile } from '../helpers/records.js';

let p: TestPipeline | undefined;
afterEach(async () => {
  await p?.dispose();
  p = undefined;
});

const VALID = { 'audit.action': 'READ', 'audit.outcome': 'success', 'audit.actor.id': 'svc', 'audit.actor.type': 'service' } as const;

/** Shuts down, then: every record at the collector, nothing set aside, both copies verify. Returns the collector's records. */
async function deliveredIntact(t: TestPipeline, expected: number): Promise<OtlpLogRecord[]> {
  await t.provider.shutdown();
  const remote = recordsOfFile(t.collectorFile);
  expect(remote).toHaveLength(expected + 1); // + the stream end marker
  expect(existsSync(join(t.auditDir, 'rejected'))).toBe(false);
  const local = await verifyFiles([t.auditDir]);
  expect(local.problems.filter((x) => x.severity === 'error')).toEqual([]);
  const collector = await verifyFiles([t.collectorFile]);
  expect(collector.problems.filter((x) => x.severity === 'error')).toEqual([]);
  return remote;
}

/** An object whose text is `first` the first time it is asked, `then` after. */
function onceThen(first: string, then: string): object {
  let n = 0;
  return { toString: (): string => (n++ === 0 ? first : then) };
}

const mark = (r: OtlpLogRecord | undefined): string | undefined => (r === undefined ? undefined : stringAttribute(r, 'audit.validation.error'));

describe('typed API: times OTLP cannot carry are refused synchronously', () => {
  it.each([
    ['2e13 ms (past uint64 nanoseconds)', 2e13],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['-1 ms (before the epoch)', -1],
    ['an invalid Date', new Date(Number.NaN)],
    ['a Date in the year 3000', new Date('3000-01-01T00:00:00Z')],
  ])('time = %s → AuditValidationError naming `time`, nothing emitted', async (_name, time) => {
    p = await makePipeline();
    expect(() => p!.audit.record({ ...loginEvent(1), time })).toThrow(AuditValidationError);
    try {
      p.audit.record({ ...loginEvent(1), time });
    } catch (e) {
      expect((e as AuditValidationError).issues.map((i) => i.path)).toEqual(['time']);
    }
    expect(p.processor.stats().accepted).toBe(0);
  });

  it('the latest time OTLP can carry is accepted and ships', async () => {
    p = await makePipeline();
    await p.audit.record({ ...loginEvent(1), time: 18_446_744_073_709 });
    const [r] = await deliveredIntact(p, 1);
    expect(r!.timeUnixNano).toBe('18446744073709000000');
  });
});

describe('raw Logs API: invalid times and ids are normalised and marked, never sink a batch', () => {
  it.each([
    ['timestamp NaN', { timestamp: Number.NaN }, 'timestamp: ["NaN","NaN"]'],
    ['timestamp [1e30, 5]', { timestamp: [1e30, 5] as [number, number] }, 'timestamp: [1e+30,5]'],
    ['timestamp [-5, 0] (before the epoch)', { timestamp: [-5, 0] as [number, number] }, 'timestamp: [-5,0]'],
    ['timestamp [1, 2e9] (nanoseconds out of range)', { timestamp: [1, 2e9] as [number, number] }, 'timestamp: [1,2000000000]'],
    ['observedTimestamp 1e25 ms', { observedTimestamp: 1e25 }, 'observedTimestamp: [1e+22,'],
  ])('%s: 999 good records and the bad one all arrive, the bad one marked, both copies verify', async (_name, bad, expectedMark) => {
    p = await makePipeline({ maxExportBatchSize: 1000 });
    const logger = p.provider.getLogger('audit');
    for (let i = 0; i < 1000; i++) logger.emit({ eventName: 'file.read', attributes: { ...VALID, i }, ...(i === 500 ? bad : {}) });
    const remote = await deliveredIntact(p, 1000);
    const marked = remote.filter((r) => mark(r) !== undefined);
    expect(marked).toHaveLength(1);
    expect(mark(marked[0])).toContain(expectedMark);
    expect(mark(marked[0])).toContain('is not a valid OTLP time');
    if ('observedTimestamp' in bad) expect(BigInt(marked[0]!.observedTimeUnixNano!)).toBeGreaterThan(0n);
    else expect(marked[0]!.timeUnixNano).toBe('0');
  });
});

describe('raw Logs API: the processor owns its names', () => {
  it.each([
    ['audit.sequence.end', true, 'audit.caller.sequence.end'],
    ['audit.sequence.number', 1, 'audit.caller.sequence.number'],
    ['audit.sequence.previous_hash', 'ab'.repeat(32), 'audit.caller.sequence.previous_hash'],
    ['audit.sequence.previous_stream_id', '00000000-0000-4000-8000-000000000000', 'audit.caller.sequence.previous_stream_id'],
    ['audit.checkpoint.sequence', 3, 'audit.caller.checkpoint.sequence'],
    ['audit.integrity.value', 'AAAA', 'audit.caller.integrity.value'],
    // A caller's mark would read as the processor's verdict (found in review: shipped as is on a valid record).
    ['audit.validation.error', 'forged', 'audit.caller.validation.error'],
  ])('a caller-supplied %s is moved to %s (the third column), the record marked, and the chain stays whole', async (key, value, moved) => {
    p = await makePipeline();
    const logger = p.provider.getLogger('audit');
    logger.emit({ eventName: 'file.read', attributes: { ...VALID } });
    logger.emit({ eventName: 'file.read', attributes: { ...VALID, [key]: value } });
    for (let i = 0; i < 3; i++) logger.emit({ eventName: 'file.read', attributes: { ...VALID } });
    const remote = await deliveredIntact(p, 5);
    const forged = remote[1]!;
    const keys = forged.attributes!.map((a) => a.key);
    expect(keys).toContain(moved);
    // The processor writes its own: the chain stamps, and the mark this very move sets.
    const own = (key.startsWith('audit.sequence.') && key !== 'audit.sequence.end' && key !== 'audit.sequence.previous_stream_id') || key === 'audit.validation.error';
    expect(keys.filter((k) => k === key)).toHaveLength(own ? 1 : 0);
    expect(mark(forged)).toContain(`${key} are written only by the processor`);
    expect(forged.attributes!.find((a) => a.key === moved)!.value).toEqual(typeof value === 'string' ? { stringValue: value } : expect.anything());
  });

  it.each(['audit.stream.end', 'audit.checkpoint', 'audit.record.unsealable'])('a caller event named %s is renamed under audit.caller.* and marked; the real end marker still closes the stream', async (eventName) => {
    p = await makePipeline();
    const logger = p.provider.getLogger('audit');
    logger.emit({ eventName, attributes: { ...VALID } });
    logger.emit({ eventName: 'file.read', attributes: { ...VALID } });
    const remote = await deliveredIntact(p, 2);
    expect(remote.map((r) => r.eventName)).toEqual([eventName.replace(/^audit\./, 'audit.caller.'), 'file.read', 'audit.stream.end']);
    expect(mark(remote[0])).toContain(`event name ${eventName} is written only by the processor`);
  });

  // Found by review: the reserved-name check compared the raw value, the sealer wrote its text. An array or a String
  // object named like a checkpoint was sealed as "audit.checkpoint", and verify with the public key then failed an
  // untampered stream on a "forged checkpoint".
  it.each([
    ['an array', ['audit.checkpoint'], 'audit.checkpoint'],
    ['a String object', new String('audit.checkpoint'), 'audit.checkpoint'],
    ['an object whose toString says so (read once)', onceThen('audit.stream.end', 'file.read'), 'audit.stream.end'],
  ] as [string, unknown, string][])('a non-string event name whose text is reserved (%s) is renamed and marked; signed copies verify', async (_what, eventName, text) => {
    const keyDir = await tempDir();
    const keys = ed25519Keys(keyDir.dir);
    p = await makePipeline({ signingKeys: loadSigningKeys({ OTEL_AUDIT_SIGNING_KEY_FILE: keys.privFile }) });
    await keyDir.cleanup();
    const logger = p.provider.getLogger('audit');
    logger.emit({ eventName: eventName as unknown as string, attributes: { ...VALID } });
    logger.emit({ eventName: 'file.read', attributes: { ...VALID } });
    const remote = await deliveredIntact(p, 2);
    const first = remote[0]!;
    expect(first.eventName).toBe(text.replace(/^audit\./, 'audit.caller.'));
    expect(mark(first)).toContain(`eventName: object written as the string "${text}"`);
    expect(mark(first)).toContain(`event name ${text} is written only by the processor`);
    for (const copy of [p.auditDir, p.collectorFile]) {
      const r = await verifyFiles([copy], { pubkeys: keys.verifying });
      expect(r.problems.filter((x) => x.severity === 'error')).toEqual([]);
    }
  });

  // Found by review: once a key needed sanitizing, the keys already written were found by reading the map again; a
  // getter that answered undefined the second time left its key out, and "\ud800" (sanitized to "\ufffd") was then
  // written beside it: a duplicate key, so the record had no canonical form and both copies failed verify.
  it('a map key sanitized to one already written is dropped, even when a getter answers differently on a second read', async () => {
    p = await makePipeline();
    let reads = 0;
    const body: Record<string, unknown> = {};
    Object.defineProperty(body, '\ufffd', { enumerable: true, get: () => (reads++ % 2 === 0 ? 'first' : undefined) });
    body['\ud800'] = 'second';
    p.provider.getLogger('audit').emit({ eventName: 'file.read', body: body as never, attributes: { ...VALID } });
    // Both copies verify (deliveredIntact); whichever read the getter answered, "\ufffd" is written once.
    const [r] = await deliveredIntact(p, 1);
    const keys = (r!.body as { kvlistValue: { values: { key: string }[] } }).kvlistValue.values.map((kv) => kv.key);
    expect(keys).toEqual(['\ufffd']);
  });

  it('attributes from JSON.parse with a "__proto__" member: inherited values are never read, so a record with no actor is marked', async () => {
    p = await makePipeline();
    const attrs = JSON.parse('{"audit.action":"READ","__proto__":{"audit.actor.id":"mallory","audit.actor.type":"user","audit.outcome":"success"}}') as Record<string, string>;
    p.provider.getLogger('audit').emit({ eventName: 'file.read', attributes: attrs });
    const [r] = await deliveredIntact(p, 1);
    expect(mark(r)).toMatch(/audit\.actor\.id/);
    expect(mark(r)).toContain('__proto__');
    expect(stringAttribute(r!, 'audit.actor.id')).toBeUndefined();
  });

  it('a "__proto__" member cannot make a record take another record id (e.g. its predecessor\'s)', async () => {
    p = await makePipeline();
    const logger = p.provider.getLogger('audit');
    logger.emit({ eventName: 'file.read', attributes: { ...VALID, 'audit.record.id': 'first' } });
    logger.emit({ eventName: 'file.read', attributes: JSON.parse(`{"audit.action":"READ","audit.outcome":"success","audit.actor.id":"m","audit.actor.type":"user","__proto__":{"audit.record.id":"first"}}`) as Record<string, string> });
    const remote = await deliveredIntact(p, 2);
    const ids = remote.slice(0, 2).map((r) => stringAttribute(r, 'audit.record.id'));
    expect(ids[0]).toBe('first');
    expect(ids[1]).not.toBe('first');
  });

  it('an attribute named audit.action inherited through __proto__ does not select a record as audit', async () => {
    p = await makePipeline();
    p.provider.getLogger('app').emit({ body: 'not audit', attributes: JSON.parse('{"__proto__":{"audit.action":"READ"}}') as Record<string, string> });
    expect(p.processor.stats().accepted).toBe(0);
    await p.provider.shutdown();
    expect(existsSync(p.auditDir) ? journalRecords(p.auditDir) : []).toEqual([]);
  });
});
