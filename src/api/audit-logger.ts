/**
 * The typed audit API: `audit.record(event)` validates (throwing `AuditValidationError` synchronously),
 * maps the event to semantic attributes and emits it through the OTel Logs API, so it passes the
 * LoggerProvider and its processors like any record. It returns a receipt that settles when the record is
 * durable by the configured policy.
 */
import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import { diagLog } from '../core/diag-log.js';
import { deferred } from '../deliver/deferred.js';
import type { AuditReceipt } from '../deliver/receipt.js';
import { prepareEvent } from '../map/map-event.js';
import { withOsIdentity, type AuditEventDraft } from '../map/os-identity.js';
import { logsApi } from '../otel/logs-api.js';
import { sdkDisabled } from '../otel/sdk-disabled.js';
import { SEVERITY_INFO, SEVERITY_WARN, type LogsLogger, type LogsLoggerProvider } from '../otel/types.js';
import { AuditLogRecordProcessor } from '../processor.js';
import { AuditConfigError, AuditLossError, errorText } from '../core/errors.js';
import { kindOf } from '../core/value-kind.js';
import type { AuditEvent, ReadonlyInput } from '../map/schema.js';

/**
 * What `record()` takes: an AuditEvent (without `actor` where the processor's `defaultActor` is `'os-user'`), its
 * arrays readonly or not (an `as const` literal included). The event is only read.
 */
export type AuditEventInput = ReadonlyInput<AuditEvent> | ReadonlyInput<AuditEventDraft>;

export interface AuditLoggerOptions {
  /** The processor the records go through; default: the one most recently constructed in this process. */
  processor?: AuditLogRecordProcessor;
  /** The provider the processor is registered on; default: the global one (NodeSDK or `otel-audit/register`). */
  loggerProvider?: LogsLoggerProvider;
}

const SDK_DISABLED = 'OTEL_SDK_DISABLED=true: the OpenTelemetry SDK is disabled, so audit records are not recorded';

/** A receipt that says the record was not kept: rejected, with a handler attached (no unhandled rejection). */
function notKept(err: AuditLossError): Promise<AuditReceipt> {
  const p = Promise.reject(err);
  p.catch(() => undefined);
  return p;
}

/**
 * The typed API: `record(event)` validates an audit event, emits it through the OTel Logs API to the
 * AuditLogRecordProcessor and returns a receipt that settles once the record is durable as the processor's policy
 * says (journal or collector). Get one with `getAuditLogger()`.
 */
export class AuditLogger {
  private logger: LogsLogger | undefined;
  /**
   * The global provider `logger` came from; undefined when the provider was given or once a record reached the
   * processor through it (then it is kept, as a given one is: an app that sets another global provider later does
   * not move this logger's records). Until then it is asked again at each record: on the 0.2xx line npm often
   * installs a second copy of api-logs (sdk-node pins its own), and a logger taken from this copy's proxy before
   * NodeSDK started never gets the real provider, since NodeSDK sets the other copy's proxy.
   */
  private fromGlobal: LogsLoggerProvider | undefined;

  /** `processor` undefined: the SDK is disabled (getAuditLogger with OTEL_SDK_DISABLED=true); record() says so. */
  constructor(private readonly processor: AuditLogRecordProcessor | undefined, provider?: LogsLoggerProvider) {
    if (processor === undefined) return;
    if (provider !== undefined) this.logger = provider.getLogger(processor.loggerName);
    else this.loggerNow(processor);
  }

  /** The logger to emit with: of the global provider as it is now, unless a provider was given. */
  private loggerNow(processor: AuditLogRecordProcessor): LogsLogger {
    if (this.logger !== undefined && this.fromGlobal === undefined) return this.logger;
    const global = logsApi().getLoggerProvider();
    if (global !== this.fromGlobal || this.logger === undefined) {
      this.fromGlobal = global;
      this.logger = global.getLogger(processor.loggerName);
    }
    return this.logger;
  }

  /**
   * Records one audit event. Throws `AuditValidationError` (invalid event), `AuditLossError` (fail-closed
   * policy and the pipeline cannot take it) or `AuditConfigError` (the processor is not on this provider).
   * An event may name no actor only when the processor's `defaultActor` is `'os-user'` (the OS user running the
   * process); otherwise such an event is refused with `AuditValidationError`, as any invalid event.
   */
  record(event: AuditEventInput): Promise<AuditReceipt> {
    if (this.processor === undefined) {
      // Validated all the same: an app's invalid event fails the same way whether the SDK runs or not; with the
      // environment's os-user default, a draft without its actor is as valid as with the SDK (found in review: it threw).
      const m = prepareEvent(defaultActorFromEnv() === 'os-user' ? withOsIdentity(event as AuditEventDraft) : (event as AuditEvent));
      return notKept(new AuditLossError(SDK_DISABLED, [m.recordId]));
    }
    const m = prepareEvent(this.processor.options.defaultActor === 'os-user' ? withOsIdentity(event as AuditEventDraft) : (event as AuditEvent));
    if (!this.processor.canAccept()) {
      const err = new AuditLossError(`audit record refused: ${this.processor.refusal() ?? 'the pipeline cannot accept records'}`, [m.recordId]);
      if (this.processor.options.onLossPolicy === 'throw') throw err;
    }
    const d = deferred<AuditReceipt>();
    // Settled later; without a handler a loss at shutdown would become an unhandled rejection in the app.
    d.promise.catch(() => undefined);
    const outer = this.processor._expectReceipt({ receipt: d, recordId: m.recordId, eventName: m.eventName, attributes: m.attributes });
    const logger = this.loggerNow(this.processor);
    const severityNumber = event.outcome === 'failure' ? SEVERITY_WARN : SEVERITY_INFO;
    try {
      logger.emit({
        eventName: m.eventName,
        ...(m.body !== undefined ? { body: m.body } : {}),
        ...(m.timestamp !== undefined ? { timestamp: m.timestamp } : {}),
        severityNumber,
        severityText: event.outcome === 'failure' ? 'WARN' : 'INFO',
        attributes: m.attributes,
      });
    } catch (e) {
      // A processor before this one threw: the receipt must not stay for the next audit record to take.
      if (this.processor._receiptUnclaimed(outer)) throw e;
      // One after it threw: the record is kept, and its receipt is the answer. Thrown, a retry would record the
      // event twice (found in review); the other processor's error is said instead.
      diagLog('error', `otel-audit: audit record ${m.recordId} was recorded, but a log record processor after the AuditLogRecordProcessor threw: ${errorText(e)}`);
      this.fromGlobal = undefined;
      this.processor._holdReceipt(d, m.recordId);
      return d.promise;
    }
    if (this.processor._receiptUnclaimed(outer)) {
      // A provider shut down drops records before any processor sees them: that is a loss, not a set-up error.
      const lost = this.processor._lostAfterShutdown(m.recordId);
      if (lost !== undefined) {
        d.reject(lost);
        return d.promise;
      }
      // NodeSDK with the SDK disabled never registers the processor it was given: not a set-up mistake.
      if (sdkDisabled()) return notKept(new AuditLossError(SDK_DISABLED, [m.recordId]));
      // Recorded all the same, by another audit processor: said, so that the caller does not record it twice.
      const other = AuditLogRecordProcessor._sawRecord(m.recordId, this.processor);
      if (other !== undefined) {
        throw new AuditConfigError(
          `the audit record reached another AuditLogRecordProcessor of this process (stream ${other.streamId}), which recorded it, not the one this AuditLogger uses (stream ${this.processor.streamId}): the LoggerProvider holds that other one (two audit pipelines, --import otel-audit/register and NodeSDK's?); do not record the event again, keep one pipeline`,
        );
      }
      const dropped = droppedByLoggerConfig(logger, severityNumber, this.processor.loggerName);
      if (dropped !== undefined) throw new AuditConfigError(dropped);
      throw new AuditConfigError(
        `the audit record did not reach the AuditLogRecordProcessor: register the processor on the LoggerProvider this AuditLogger uses (NodeSDK logRecordProcessors, LoggerProvider processors, or --import otel-audit/register), and keep the ${JSON.stringify(this.processor.loggerName)} logger enabled in its logger configuration (loggerConfigurator)`,
      );
    }
    this.fromGlobal = undefined; // the record reached the processor: this logger is kept from now on
    this.processor._holdReceipt(d, m.recordId);
    return d.promise;
  }
}

/** OTEL_AUDIT_DEFAULT_ACTOR as the processor reads it (any case), for record() when there is no processor. */
function defaultActorFromEnv(): string {
  return (process.env.OTEL_AUDIT_DEFAULT_ACTOR ?? '').trim().toLowerCase();
}

/**
 * Why the SDK's own logger configuration (sdk-logs LoggerConfigurator: `disabled`, `minimumSeverity`,
 * `traceBased`) dropped a record of `severityNumber` before any processor saw it, asked through the Logs API's
 * `enabled()`; undefined when it did not (or the API has no `enabled`). Found in review: such a record was
 * reported as a processor never registered.
 */
function droppedByLoggerConfig(logger: LogsLogger, severityNumber: number, name: string): string | undefined {
  if (typeof logger.enabled !== 'function') return undefined;
  const keep = `give the ${JSON.stringify(name)} logger a rule of its own that keeps every record (LoggerProvider loggerConfigurator), before any rule that matches it`;
  try {
    if (logger.enabled({ context: ROOT_CONTEXT })) {
      if (!logger.enabled({ context: ROOT_CONTEXT, severityNumber })) {
        return `the audit record (severity ${severityNumber}) was dropped by the LoggerProvider before any processor saw it: the logger configuration of ${JSON.stringify(name)} sets a minimumSeverity above it; ${keep}`;
      }
      if (!logger.enabled({ context: context.active(), severityNumber })) {
        return `the audit record was dropped by the LoggerProvider before any processor saw it: the logger configuration of ${JSON.stringify(name)} is traceBased and the record was made inside an unsampled span; ${keep}`;
      }
    }
    // Disabled outright looks the same as a provider with no processor, or none at all (a no-op logger).
    return undefined;
  } catch {
    return undefined;
  }
}

/** An AuditLogger over the given (or most recent) processor and the given (or global) LoggerProvider. */
export function getAuditLogger(options: AuditLoggerOptions = {}): AuditLogger {
  // From JavaScript: a clear error, not a TypeError from deep inside (found in review).
  if (typeof options !== 'object' || options === null) throw new AuditConfigError(`getAuditLogger takes an options object { processor?, loggerProvider? }, not ${kindOf(options)}`);
  // Duck-typed, not instanceof: a processor of the package's other build (ESM or CommonJS) was taken before, and
  // getAuditLogger() without it finds that very instance through the process-wide registry (found in review).
  const p = options.processor as Partial<AuditLogRecordProcessor> | undefined | null;
  if (p !== undefined && (typeof p !== 'object' || p === null || typeof p.onEmit !== 'function' || typeof p.streamId !== 'string' || typeof p.options !== 'object')) {
    throw new AuditConfigError('getAuditLogger: options.processor is not an AuditLogRecordProcessor');
  }
  if (options.loggerProvider !== undefined && typeof (options.loggerProvider as { getLogger?: unknown } | null)?.getLogger !== 'function') {
    throw new AuditConfigError('getAuditLogger: options.loggerProvider has no getLogger(): pass an OpenTelemetry LoggerProvider');
  }
  const processor = options.processor ?? AuditLogRecordProcessor.current();
  // The zero-code entry installs nothing then: record() says the SDK is disabled rather than the app crashing here.
  if (processor === undefined && sdkDisabled()) return new AuditLogger(undefined);
  if (processor === undefined) {
    throw new AuditConfigError('no AuditLogRecordProcessor exists in this process: create one (auditProcessorFromEnv()) or start with --import otel-audit/register');
  }
  return new AuditLogger(processor, options.loggerProvider);
}
