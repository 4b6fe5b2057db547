/**
 * The OTel diag log, written so that a diag logger that throws never reaches otel-audit's own paths: `onEmit` after
 * a sequence number was reserved (its place in the chain would stay empty), `record()` after the record was kept (a
 * retry would record it twice), the export loop's retry callback, shutdown. Its failure costs its line, nothing else.
 */
import { diag } from '@opentelemetry/api';

export function diagLog(level: 'error' | 'warn', msg: string, ...args: unknown[]): void {
  try {
    diag[level](msg, ...args);
  } catch {
    /* the diag logger's own failure */
  }
}
