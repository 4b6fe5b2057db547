/**
 * The OTel Logs API global of whichever OpenTelemetry JS line the application runs.
 *
 * - 3.x line: `@opentelemetry/api` >= 1.10 carries the Logs API itself (`logs`); NodeSDK 0.30x registers its
 *   LoggerProvider there, and `@opentelemetry/api-logs` is usually not installed at all.
 * - 0.2xx line: `@opentelemetry/api` 1.9 has no `logs`; the global lives in `@opentelemetry/api-logs`.
 *
 * So `api.logs` wins when it exists, and api-logs is loaded only when it does not (an optional peer). Both
 * keep their state on `globalThis`, so every copy of a package in the process (ESM or CommonJS) sees the one
 * provider that was set.
 */
import * as api from '@opentelemetry/api';
import { createRequire } from 'node:module';
import { AuditConfigError } from '../core/errors.js';
import type { LogsLoggerProvider } from './types.js';

export interface LogsApi {
  getLoggerProvider(): LogsLoggerProvider;
  setGlobalLoggerProvider(provider: LogsLoggerProvider): boolean | LogsLoggerProvider;
}

let cached: LogsApi | undefined;

/** The Logs API of the installed line; throws AuditConfigError naming the package to install when neither has it. */
export function logsApi(): LogsApi {
  if (cached !== undefined) return cached;
  const fromApi = (api as { logs?: LogsApi }).logs;
  if (fromApi !== undefined) return (cached = fromApi);
  try {
    const req = createRequire(import.meta.url);
    cached = (req('@opentelemetry/api-logs') as { logs: LogsApi }).logs;
    return cached;
  } catch {
    throw new AuditConfigError(
      'no OpenTelemetry Logs API found: install @opentelemetry/api >= 1.10 (OpenTelemetry JS 3.x) or @opentelemetry/api-logs 0.2xx next to @opentelemetry/api 1.9',
    );
  }
}

/** Which line the installed packages belong to, for diagnostics and tests. */
export function otelLine(): '3.x' | '0.2xx' {
  return (api as { logs?: unknown }).logs !== undefined ? '3.x' : '0.2xx';
}
