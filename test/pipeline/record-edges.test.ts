/**
 * `record()` where the SDK around the processor gets in the way (found in review):
 * - the SDK's logger configuration (LoggerConfigurator `minimumSeverity`, `traceBased`) drops the record before any
 *   processor: record() names that rule, not a processor never registered;
 * - a processor after the audit processor throws: the record is kept, so record() returns its receipt (a throw
 *   made callers record the event again) and the other processor's error goes to the diag log;
 * - the SDK disabled with OTEL_AUDIT_DEFAULT_ACTOR=os-user: an event without an actor gets the SDK-disabled
 *   receipt, as with the SDK running it is valid, instead of a synchronous AuditValidationError.
 * Real LoggerProvider, real collector on 127.0.0.1, real journal.
 */
import { context, diag, DiagLogLevel, ROOT_CONTEXT, trace, TraceFlags, type Context, type ContextManager } from '@opentelemetry/api';
import { createLoggerConfigurator, LoggerProvider, type LogRecordProcessor } from '@opentelemetry/sdk-logs';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditLogger, getAuditLogger } from '../../src/api/audit-logger.js';
import { AuditConfigError, AuditLossError } from '../../src/index.js';
import { verifyFiles } from '../../src/verify/index.js';
import { loginEvent, makePipeline, type TestPipeline } from '../helpers/pipeline.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function pipeline(): Promise<TestPipeline> {
  const p = await makePipeline();
  cleanups.push(() => p.dispose());
  return p;
}

/** A provider over the pipeline's processor with `more` (after it) and a logger configuration. */
function provider(p: TestPipeline, extra: { more?: LogRecordProcessor[]; rules?: Parameters<typeof createLoggerConfigurator>[0] } = {}): LoggerProvider {
  const lp = new LoggerProvider({
    processors: [p.processor, ...(extra.more ?? [])],
    ...(extra.rules !== undefined ? { loggerConfigurator: createLoggerConfigurator(extra.rules) } : {}),
  });
  return lp;
}

const failure = { ...loginEvent(1), outcome: 'failure' as const };

/** A synchronous context manager: enough for record(), which emits in the caller's turn. */
class StackContextManager implements ContextManager {
  private stack: Context[] = [ROOT_CONTEXT];
  active(): Context {
    return this.stack[this.stack.length - 1]!;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    this.stack.push(ctx);
    try {
      return fn.call(thisArg, ...args);
    } finally {
      this.stack.pop();
    }
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.stack = [ROOT_CONTEXT];
    return this;
  }
}

describe('the SDK logger configuration drops the record before any processor', () => {
  it('minimumSeverity above INFO: record() names the rule; a failure (WARN) still passes; a rule of its own for "audit" keeps all', async () => {
    const p = await pipeline();
    const strict = getAuditLogger({ processor: p.processor, loggerProvider: provider(p, { rules: [{ pattern: '*', config: { minimumSeverity: 13 } }] }) });
    let thrown: unknown;
    try {
      await strict.record(loginEvent(0));
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(AuditConfigError);
    expect((thrown as Error).message).toMatch(/^the audit record \(severity 9\) was dropped by the LoggerProvider before any processor saw it: the logger configuration of "audit" sets a minimumSeverity above it; give the "audit" logger a rule of its own/);
    await expect(strict.record(failure)).resolves.toMatchObject({ sequence: expect.any(Number) });

    const exempt = getAuditLogger({
      processor: p.processor,
      loggerProvider: provider(p, { rules: [{ pattern: 'audit', config: { minimumSeverity: 0 } }, { pattern: '*', config: { minimumSeverity: 13 } }] }),
    });
    await expect(exempt.record(loginEvent(2))).resolves.toMatchObject({ sequence: expect.any(Number) });
  });

  it('traceBased, inside an unsampled span: record() names the rule', async () => {
    const p = await pipeline();
    context.setGlobalContextManager(new StackContextManager());
    cleanups.push(async () => context.disable());
    const audit = getAuditLogger({ processor: p.processor, loggerProvider: provider(p, { rules: [{ pattern: '*', config: { traceBased: true } }] }) });
    const unsampled = trace.setSpanContext(ROOT_CONTEXT, { traceId: '1'.repeat(32), spanId: '2'.repeat(16), traceFlags: TraceFlags.NONE });
    expect(() => context.with(unsampled, () => audit.record(loginEvent(0)))).toThrow(
      /the logger configuration of "audit" is traceBased and the record was made inside an unsampled span/,
    );
    const sampled = trace.setSpanContext(ROOT_CONTEXT, { traceId: '1'.repeat(32), spanId: '2'.repeat(16), traceFlags: TraceFlags.SAMPLED });
    await expect(context.with(sampled, () => audit.record(loginEvent(1)))).resolves.toMatchObject({ sequence: expect.any(Number) });
  });
});

describe('a processor after the audit processor throws', () => {
  it('record() returns the receipt of the record kept, once; the error goes to the diag log', async () => {
    const p = await pipeline();
    const throwing: LogRecordProcessor = {
      onEmit: () => {
        throw new Error('downstream processor broke');
      },
      forceFlush: async () => undefined,
      shutdown: async () => undefined,
    };
    const logged: string[] = [];
    const log = (m: string): void => void logged.push(m);
    diag.setLogger({ error: log, warn: log, info: log, debug: log, verbose: log }, DiagLogLevel.ERROR);
    cleanups.push(async () => diag.disable());
    const audit = getAuditLogger({ processor: p.processor, loggerProvider: provider(p, { more: [throwing] }) });
    const receipt = await audit.record({ ...loginEvent(0), id: 'evt-1' });
    expect(receipt.recordId).toBe('evt-1');
    expect(logged).toEqual([`otel-audit: audit record evt-1 was recorded, but a log record processor after the AuditLogRecordProcessor threw: downstream processor broke`]);
    await p.provider.shutdown();
    const report = await verifyFiles([p.auditDir]);
    expect(report.ok).toBe(true);
    // The event is in the journal once (and the stream's end record after it).
    expect(report.records).toBe(2);
  });
});

describe('onLoss', () => {
  /** A shut-down pipeline whose onLoss records each loss as an audit event, through `when` (at once, or later). */
  async function recordingLosses(when: (record: () => void) => void): Promise<{ p: TestPipeline; calls: number[] }> {
    const calls: number[] = [];
    let audit: TestPipeline['audit'] | undefined;
    const p = await makePipeline({
      onLoss: (event) => {
        calls.push(event.records.length);
        when(() => void audit!.record({ ...loginEvent(99), action: 'RECORD_LOST' }).catch(() => undefined));
      },
    });
    cleanups.push(() => p.dispose());
    audit = p.audit;
    await p.provider.shutdown();
    return { p, calls };
  }

  // Found in review: an onLoss that records the loss as an audit event after shutdown called itself until the stack
  // overflowed, 721 losses counted for one.
  it('a loss the callback causes itself is counted, not passed to it again', async () => {
    const { p, calls } = await recordingLosses((record) => record());
    await expect(p.audit.record(loginEvent(1))).rejects.toThrow(AuditLossError);
    expect(calls).toEqual([1]);
    expect(p.processor.stats().dropped).toBe(2);
  });

  // Found in re-review: the same callback recording later (setImmediate) went on for ever, 6,993 calls in 500 ms.
  it('after shutdown, only the first refused record is passed to it, also when it records later', async () => {
    const { p, calls } = await recordingLosses((record) => setImmediate(record));
    await expect(p.audit.record(loginEvent(1))).rejects.toThrow(AuditLossError);
    await expect(p.audit.record(loginEvent(2))).rejects.toThrow(AuditLossError);
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(calls).toEqual([1]);
    expect(p.processor.stats().dropped).toBe(3);
  });
});

describe('the SDK disabled', () => {
  it('with OTEL_AUDIT_DEFAULT_ACTOR=os-user, an event without an actor gets the SDK-disabled receipt, not a throw', async () => {
    const before = process.env.OTEL_AUDIT_DEFAULT_ACTOR;
    process.env.OTEL_AUDIT_DEFAULT_ACTOR = 'OS-USER';
    try {
      const disabled = new AuditLogger(undefined);
      const { actor: _none, ...draft } = loginEvent(0);
      await expect(disabled.record(draft)).rejects.toThrow(AuditLossError);
      await expect(disabled.record(draft)).rejects.toThrow(/OTEL_SDK_DISABLED=true/);
      process.env.OTEL_AUDIT_DEFAULT_ACTOR = 'none';
      expect(() => disabled.record(draft)).toThrow(/actor/);
    } finally {
      if (before === undefined) delete process.env.OTEL_AUDIT_DEFAULT_ACTOR;
      else process.env.OTEL_AUDIT_DEFAULT_ACTOR = before;
    }
  });
});

// Found in review: a diag logger that throws, met on onEmit's path after the sequence number was reserved (the
// live record could not be stamped: a processor before this one froze its attributes), made onEmit report the
// record lost and leave its place in the chain empty, and record() throw after the record was kept.
describe('a diag logger that throws', () => {
  it('on the stamping path and after a later processor threw: each record is kept once, its receipt settles, the chain verifies', async () => {
    const p = await pipeline();
    const freezer: LogRecordProcessor = {
      onEmit: (r) => void Object.freeze(r.attributes),
      forceFlush: async () => undefined,
      shutdown: async () => undefined,
    };
    const throwing: LogRecordProcessor = {
      onEmit: () => {
        throw new Error('downstream processor broke');
      },
      forceFlush: async () => undefined,
      shutdown: async () => undefined,
    };
    const boom = (): void => {
      throw new Error('diag logger down');
    };
    diag.setLogger({ error: boom, warn: boom, info: boom, debug: boom, verbose: boom }, DiagLogLevel.WARN);
    cleanups.push(async () => diag.disable());
    const lp = new LoggerProvider({ processors: [freezer, p.processor, throwing] });
    const audit = getAuditLogger({ processor: p.processor, loggerProvider: lp });
    const first = await audit.record({ ...loginEvent(0), id: 'evt-1' });
    const second = await audit.record({ ...loginEvent(1), id: 'evt-2' });
    expect([first.recordId, second.recordId]).toEqual(['evt-1', 'evt-2']);
    expect(second.sequence).toBe(first.sequence + 1);
    diag.disable();
    await p.provider.shutdown();
    const report = await verifyFiles([p.auditDir]);
    expect(report.ok).toBe(true);
    expect(report.records).toBe(3);
  });

  it('in the export retry path: the records refused twice are delivered when the collector takes them', async () => {
    const p = await pipeline();
    p.collector.setFault({ mode: 'status', status: 503, times: 2 });
    const boom = (): void => {
      throw new Error('diag logger down');
    };
    diag.setLogger({ error: boom, warn: boom, info: boom, debug: boom, verbose: boom }, DiagLogLevel.WARN);
    cleanups.push(async () => diag.disable());
    const receipts = await Promise.all([0, 1, 2].map((i) => p.audit.record(loginEvent(i))));
    await p.processor.forceFlush();
    diag.disable();
    const report = await p.processor.shutdownWithReport();
    expect(report.undelivered).toBe(0);
    const delivered = await verifyFiles([p.collectorFile]);
    expect(delivered.ok).toBe(true);
    expect(delivered.records).toBe(receipts.length + 1);
  });
});
