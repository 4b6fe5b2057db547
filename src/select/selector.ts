/**
 * Stage 1, select: is this log record an audit record?
 * ARCHITECTURE.md §2: emitted through a logger (scope) named `OTEL_AUDIT_LOGGER_NAME` (default `audit`), or carrying
 * `audit.action`. Everything else passes through the processor untouched.
 */
import type { ReadWriteLogRecord } from '@opentelemetry/sdk-logs';
import { ATTR_ACTION } from '../core/attributes.js';

export const DEFAULT_AUDIT_LOGGER_NAME = 'audit';

export type AuditSelector = (record: ReadWriteLogRecord) => boolean;

export function createSelector(loggerName: string = DEFAULT_AUDIT_LOGGER_NAME): AuditSelector {
  return (record) => record.instrumentationScope.name === loggerName || (Object.hasOwn(record.attributes, ATTR_ACTION) && record.attributes[ATTR_ACTION] !== undefined);
}
