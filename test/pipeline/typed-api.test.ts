import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditLogger } from '../../src/api/audit-logger.js';
import { AuditConfigError, AuditLossError, AuditValidationError } from '../../src/core/errors.js';
import { canonicalFromOtlp } from '../../src/chain/canonical.js';
import { hashCanonical } from '../../src/chain/hash.js';
import { stringAttribute } from '../../src/otlp/decode.js';
import { verifyFiles } from '../../src/verify/index.js';
import { idOf, journalRecords, recordsOfFile, seqOf } from '../helpers/records.js';
import { loginEvent, makePipeline, type TestPipeline } from '../helpers/pipeline.js';

let p: TestPipeline | undefined;
afterEach(async () => {
  await p?.dispose();
  p = undefined;
});

describe('typed API: record(event)', () => {
  it('delivers chained records to the collector and the journal; receipts carry seq and hash', async () => {
    p = await makePipeline();
    const receipts = await Promise.all(Array.from({ length: 200 }, (_, i) => p!.audit.record(loginEvent(i))));
    expect(receipts.map((r) => r.sequence)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(new Set(receipts.map((r) => r.streamId)).size).toBe(1);
    // Durable in the journal — or already acknowledged by the collector, whichever came first.
    for (const r of receipts) expect(['journal', 'collector']).toContain(r.durability);
    await p.provider.shutdown();

    const remote = recordsOfFile(p.collectorFile);
    const local = journalRecords(p.auditDir);
    expect(remote.length).toBe(201); // + the stream end marker
    expect(local.length).toBe(201);
    // What was hashed is what was shipped, in both copies.
    for (const [i, r] of receipts.entries()) {
      expect(hashCanonical(canonicalFromOtlp(remote[i]!))).toBe(r.hash);
      expect(hashCanonical(canonicalFromOtlp(local[i]!))).toBe(r.hash);
      expect(idOf(remote[i]!)).toBe(r.recordId);
    }
    const end = remote[200]!;
    expect(end.eventName).toBe('audit.stream.end');
    expect(end.attributes!.find((a) => a.key === 'audit.sequence.end')?.value?.boolValue).toBe(true);
    expect(seqOf(end)).toBe(201);
    for (const report of [await verifyFiles([p.auditDir]), await verifyFiles([p.collectorFile])]) {
      expect(report.problems).toEqual([]);
      expect(report.streams).toHaveLength(1);
      expect(report.streams[0]!.ended).toBe(true);
    }
  });

  it('maps the event to semantic attributes on the wire', async () => {
    p = await makePipeline();
    await p.audit.record({
      id: 'evt-1',
      name: 'user.login',
      action: 'LOGIN',
      outcome: 'failure',
      reason: 'bad password',
      actor: { id: 'alice', type: 'user', roles: ['admin'] },
      target: { id: 'acct-9', type: 'account' },
      source: { address: '2001:db8::1', port: 5555 },
      session: { id: 'sess-1' },
      request: { method: 'POST', path: '/login' },
      error: { type: 'InvalidCredentials' },
      message: 'login failed',
      details: { attempts: 3, mfa: false },
    });
    await p.provider.shutdown();
    const r = recordsOfFile(p.collectorFile)[0]!;
    const attr = (k: string) => r.attributes!.find((a) => a.key === k)?.value;
    expect(r.eventName).toBe('user.login');
    expect(r.body).toEqual({ stringValue: 'login failed' });
    expect(attr('audit.record.id')).toEqual({ stringValue: 'evt-1' });
    expect(attr('audit.actor.id')).toEqual({ stringValue: 'alice' });
    expect(attr('audit.actor.type')).toEqual({ stringValue: 'user' });
    expect(attr('audit.outcome')).toEqual({ stringValue: 'failure' });
    expect(attr('audit.reason')).toEqual({ stringValue: 'bad password' });
    expect(attr('audit.target.id')).toEqual({ stringValue: 'acct-9' });
    expect(attr('audit.source.type')).toEqual({ stringValue: 'ipv6' });
    expect(attr('client.port')).toEqual({ intValue: '5555' });
    expect(attr('user.roles')).toEqual({ arrayValue: { values: [{ stringValue: 'admin' }] } });
    expect(attr('http.request.method')).toEqual({ stringValue: 'POST' });
    expect(attr('error.type')).toEqual({ stringValue: 'InvalidCredentials' });
    expect(attr('attempts')).toEqual({ intValue: '3' });
    expect(attr('mfa')).toEqual({ boolValue: false });
    expect(attr('audit.schema.version')).toEqual({ stringValue: '1' });
    expect(attr('audit.sequence.number')).toEqual({ intValue: '1' });
    expect(attr('audit.sequence.previous_hash')).toBeUndefined();
    expect(r.severityText).toBe('WARN');
  });

  it('throws AuditValidationError synchronously, listing every problem, and emits nothing', async () => {
    p = await makePipeline();
    let err: unknown;
    try {
      void p.audit.record({ action: '', outcome: 'maybe', actor: { id: 'x', type: 'robot' } } as never);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AuditValidationError);
    const paths = (err as AuditValidationError).issues.map((i) => i.path).sort();
    expect(paths).toEqual(['action', 'actor.type', 'outcome']);
    expect(p.processor.stats().emitted).toBe(0);
  });

  it('throws AuditConfigError when the processor is not on the logger provider used', async () => {
    p = await makePipeline();
    const other = new LoggerProvider();
    const wrong = new AuditLogger(p.processor, other);
    expect(() => wrong.record(loginEvent(1))).toThrow(AuditConfigError);
    await other.shutdown();
  });

  it.each([
    ['1 ms after the epoch', 1, '1000000'],
    ['1995-01-01 as a number', Date.UTC(1995, 0, 1), '788918400000000000'],
    ['1995-01-01 as a Date', new Date(Date.UTC(1995, 0, 1)), '788918400000000000'],
    ['2020-01-01 and half a millisecond', Date.UTC(2020, 0, 1) + 0.5, '1577836800000500000'],
  ])('time %s is recorded as that instant', async (_name, time, nanos) => {
    p = await makePipeline({ fsync: 'always' });
    const r = await p.audit.record({ ...loginEvent(1), time });
    expect(journalRecords(p.auditDir).find((x) => idOf(x) === r.recordId)?.timeUnixNano).toBe(nanos);
  });

  it('after the provider was shut down (a graceful shutdown in progress): the receipt rejects with AuditLossError and the loss is counted', async () => {
    const losses: string[][] = [];
    p = await makePipeline({ onLoss: (e) => void losses.push(e.records.map((r) => String(r.recordId))) });
    await p.audit.record(loginEvent(1));
    await p.provider.shutdown();
    const late = p.audit.record({ ...loginEvent(2), id: 'late-1' });
    await expect(late).rejects.toThrow(AuditLossError);
    await expect(late).rejects.toThrow('audit record refused: the processor is shut down');
    expect(losses).toEqual([['late-1']]);
    expect(p.processor.stats().dropped).toBe(1);
  });

  it.each(['always', 'off'] as const)('fsync=%s: receipts settle once the record is durable', async (fsync) => {
    p = await makePipeline({ fsync });
    const r = await p.audit.record(loginEvent(1));
    expect(['journal', 'collector']).toContain(r.durability);
    // fsync=always: the line is on disk before record() returns, so it is readable right now.
    if (fsync === 'always') expect(journalRecords(p.auditDir).map(idOf)).toContain(r.recordId);
  });

  it('file=off: receipts settle on the collector acknowledgement; nothing is written locally', async () => {
    p = await makePipeline({ file: 'off' });
    const r = await p.audit.record(loginEvent(1));
    expect(r.durability).toBe('collector');
    await p.provider.shutdown();
    expect(() => journalRecords(p!.auditDir)).toThrow(/ENOENT/);
    expect(recordsOfFile(p.collectorFile).map((x) => stringAttribute(x, 'audit.record.id'))).toContain(r.recordId);
  });
});
