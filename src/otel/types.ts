/**
 * The OpenTelemetry types this package shares with the SDK, declared here so that they resolve the same on
 * both OpenTelemetry JS lines: on 0.2xx they live in `@opentelemetry/api-logs`, on 3.x in
 * `@opentelemetry/api` 1.10 (where `AnyValue` is `unknown`), and `@opentelemetry/core` is not a peer of ours.
 * The shapes are the Logs API's own (api-logs `AnyValue`, `LogAttributes`; api 1.10 `LogRecord`).
 */
import type { ReadWriteLogRecord } from '@opentelemetry/sdk-logs';

export type AnyValueScalar = string | number | boolean;
export type AnyValueArray = AnyValue[];
export interface AnyValueMap {
  [attributeKey: string]: AnyValue;
}
/** A log attribute or body value, as the Logs API defines it. */
export type AnyValue = AnyValueScalar | Uint8Array | AnyValueArray | AnyValueMap | null | undefined;
export type LogAttributes = AnyValueMap;

/** The severities this package writes (OTel Logs data model, SeverityNumber). */
export const SEVERITY_INFO = 9;
export const SEVERITY_WARN = 13;

/** The record's resource and scope, typed as whichever sdk-logs line is installed types them. */
export type SdkResource = ReadWriteLogRecord['resource'];
export type SdkInstrumentationScope = ReadWriteLogRecord['instrumentationScope'];

/** What `Logger.emit` takes: the Logs API `LogRecord`, as both lines define it. */
export interface LogRecordInput {
  eventName?: string;
  timestamp?: number | Date | [number, number];
  observedTimestamp?: number | Date | [number, number];
  severityNumber?: number;
  severityText?: string;
  body?: AnyValue;
  attributes?: LogAttributes;
}

/** The Logs API `Logger` and `LoggerProvider`, as far as this package uses them. */
export interface LogsLogger {
  emit(record: LogRecordInput): void;
  /** Logs API (api-logs 0.2xx late, api 1.10): whether a record like this one would be emitted at all. */
  enabled?(options?: { context?: unknown; severityNumber?: number; eventName?: string }): boolean;
}
export interface LogsLoggerProvider {
  getLogger(name: string, version?: string): LogsLogger;
}
