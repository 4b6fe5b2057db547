/**
 * Options of the audit processor, and their resolution: code options override environment variables, which
 * override defaults (ARCHITECTURE.md §6).
 */
import { resolve } from 'node:path';
import { AuditConfigError } from '../core/errors.js';
import { OTLP_PROTOCOLS } from '../deliver/otlp-sender.js';
import { DEFAULT_AUDIT_LOGGER_NAME } from '../select/selector.js';
import { loadSigningKeys } from '../integrity/index.js';
import { readAuditEnv } from './env.js';
import type { AuditProcessorOptions, ResolvedOptions } from './types.js';

export type { AuditProcessorOptions, ResolvedOptions } from './types.js';

export const DEFAULT_DIR = '.otel-audit';

export function resolveOptions(code: AuditProcessorOptions = {}, env: NodeJS.ProcessEnv = process.env): ResolvedOptions {
  const e = readAuditEnv(env);
  const o: ResolvedOptions = {
    dir: resolve(code.dir ?? e.OTEL_AUDIT_DIR ?? DEFAULT_DIR),
    file: code.file ?? e.OTEL_AUDIT_FILE ?? 'journal',
    fsync: code.fsync ?? e.OTEL_AUDIT_FSYNC ?? 'batch',
    maxFileBytes: code.maxFileBytes ?? e.OTEL_AUDIT_MAX_FILE_BYTES ?? 50 * 1024 * 1024,
    maxFiles: code.maxFiles ?? e.OTEL_AUDIT_MAX_FILES ?? 10,
    stdout: code.stdout ?? e.OTEL_AUDIT_STDOUT ?? false,
    onLossPolicy: code.onLossPolicy ?? e.OTEL_AUDIT_ON_LOSS ?? 'warn',
    loggerName: code.loggerName ?? e.OTEL_AUDIT_LOGGER_NAME ?? DEFAULT_AUDIT_LOGGER_NAME,
    defaultActor: code.defaultActor ?? e.OTEL_AUDIT_DEFAULT_ACTOR ?? 'none',
    maxQueueSize: code.maxQueueSize ?? e.OTEL_BLRP_MAX_QUEUE_SIZE ?? 8192,
    maxPendingRecords: code.maxPendingRecords ?? 65536,
    maxExportBatchSize: code.maxExportBatchSize ?? e.OTEL_BLRP_MAX_EXPORT_BATCH_SIZE ?? 2048,
    exportTimeoutMillis: code.exportTimeoutMillis ?? e.OTEL_BLRP_EXPORT_TIMEOUT ?? 30000,
    retryMinMillis: code.retryMinMillis ?? 500,
    retryMaxMillis: code.retryMaxMillis ?? 30000,
    replay: code.replay ?? true,
    onLoss: code.onLoss,
    exporter: { ...code.exporter, protocol: code.exporter?.protocol ?? e.OTEL_EXPORTER_OTLP_LOGS_PROTOCOL ?? e.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/json' },
    meterProvider: code.meterProvider,
    signingKeys: code.signingKeys ?? loadSigningKeys(env),
    checkpointEveryRecords: code.checkpointEveryRecords ?? e.OTEL_AUDIT_CHECKPOINT_RECORDS ?? 1000,
    checkpointIntervalMillis: code.checkpointIntervalMillis ?? e.OTEL_AUDIT_CHECKPOINT_INTERVAL_MS ?? 60000,
  };
  const bad = (name: string, v: unknown, allowed: string): never => {
    const shown = typeof v === 'number' || typeof v === 'bigint' ? String(v) : JSON.stringify(v);
    throw new AuditConfigError(`otel-audit option ${name}=${shown} is invalid: allowed values are ${allowed}`);
  };
  if (typeof o.loggerName !== 'string' || o.loggerName === '') bad('loggerName', o.loggerName, 'a non-empty logger name');
  if (typeof o.dir !== 'string') bad('dir', o.dir, 'a directory path');
  for (const k of ['stdout', 'replay'] as const) if (typeof o[k] !== 'boolean') bad(k, o[k], 'true, false');
  if (!['journal', 'fallback', 'off'].includes(o.file)) bad('file', o.file, 'journal, fallback, off');
  if (!['always', 'batch', 'off'].includes(o.fsync)) bad('fsync', o.fsync, 'always, batch, off');
  if (!['warn', 'throw'].includes(o.onLossPolicy)) bad('onLossPolicy', o.onLossPolicy, 'warn, throw');
  if (!['os-user', 'none'].includes(o.defaultActor)) bad('defaultActor', o.defaultActor, 'os-user, none');
  if (!(OTLP_PROTOCOLS as readonly string[]).includes(o.exporter.protocol)) bad('exporter.protocol', o.exporter.protocol, OTLP_PROTOCOLS.join(', '));
  for (const [k, min] of [
    ['maxFileBytes', 4096],
    ['maxFiles', 1],
    ['maxQueueSize', 1],
    ['maxPendingRecords', 1],
    ['maxExportBatchSize', 1],
    ['exportTimeoutMillis', 0],
    ['retryMinMillis', 1],
    ['retryMaxMillis', 1],
    ['checkpointEveryRecords', 1],
    ['checkpointIntervalMillis', 0],
  ] as const) {
    const v = o[k];
    if (!Number.isSafeInteger(v) || v < min) bad(k, v, `a whole number >= ${min}`);
  }
  if (o.retryMinMillis > o.retryMaxMillis) bad('retryMinMillis', o.retryMinMillis, `at most retryMaxMillis (${o.retryMaxMillis})`);
  if (o.maxPendingRecords < o.maxQueueSize) o.maxPendingRecords = o.maxQueueSize;
  if (o.maxExportBatchSize > o.maxQueueSize) o.maxExportBatchSize = o.maxQueueSize;
  return o;
}
