/**
 * otel-audit: tamper-evident, loss-free audit logging for OpenTelemetry.
 * Pipeline: select → map → chain → deliver → sinks; verify and cli beside it.
 */
export { AuditLogRecordProcessor, auditProcessorFromEnv, type ShutdownReport } from './processor.js';
export { AuditLogger, getAuditLogger, type AuditLoggerOptions, type AuditEventInput } from './api/audit-logger.js';
export {
  AuditEventSchema,
  ActorSchema,
  TargetSchema,
  SourceSchema,
  DetailsSchema,
  DetailValueSchema,
  ANONYMOUS_ACTOR,
  ACTOR_TYPES,
  OUTCOMES,
  type AuditEvent,
  type AuditActor,
  type AuditActorType,
  type AuditOutcome,
  type DetailValue,
} from './map/schema.js';
export { AuditValidationError, AuditConfigError, AuditLossError, AuditFlushTimeoutError, type ValidationIssue } from './core/errors.js';
export type { AuditReceipt } from './deliver/receipt.js';
export type { AuditProcessorOptions } from './config/options.js';
export { loadSigningKeys, type SigningKey } from './integrity/index.js';
export type { LossEvent, LossPolicy, OnLoss } from './deliver/loss.js';
export type { OtlpProtocol, OtlpSenderOptions } from './deliver/otlp-sender.js';
export type { FileMode } from './deliver/delivery.js';
export type { FsyncPolicy } from './sinks/journal.js';
export type { DeliveryStats } from './deliver/metrics.js';
// Types that public signatures use (canonicalFromOtlp's record, AuditLoggerOptions.loggerProvider, replayed()).
export type { ReplayReport } from './deliver/replay.js';
export type { LogsLoggerProvider } from './otel/types.js';
export type { OtlpLogRecord, OtlpAnyValue, OtlpKeyValue, OtlpResource, OtlpInstrumentationScope, OtlpScopeLogs, OtlpResourceLogs, ExportLogsServiceRequest } from './otlp/types.js';
export * from './core/attributes.js';
export {
  METRIC_EMITTED,
  METRIC_EXPORTED,
  METRIC_SPOOLED,
  METRIC_DROPPED,
  METRIC_QUEUE_DEPTH,
  METRIC_EXPORT_DURATION,
  METRIC_REJECTED,
  METRIC_UNJOURNALED,
  METRIC_INVALID,
  ATTR_EXPORT_OK,
} from './deliver/metrics.js';
export { canonicalFromOtlp, CANONICALIZATION_ID, CANONICAL_FORM_VERSION, CanonicalFormError } from './chain/canonical.js';
export { hashCanonical, HASH_ALGORITHM } from './chain/hash.js';
export { mapEvent, validateEvent, prepareEvent, type MappedRecord } from './map/map-event.js';
export { osIdentity, withOsIdentity, type AuditEventDraft, type OsIdentity } from './map/os-identity.js';
