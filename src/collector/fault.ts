/**
 * The faults the development collector injects on `/v1/logs` (set from code, `POST /_fault` or the command
 * line): their type, their validation, and the request a partial-success fault leaves.
 */
import { countLogRecords } from '../otlp/normalize.js';
import type { ExportLogsServiceRequest, OtlpResourceLogs, OtlpScopeLogs } from '../otlp/types.js';

/** What the receiver does with the next `/v1/logs` requests. `times` limits a fault to the next N requests. */
export type CollectorFault =
  | { mode: 'ok' }
  /** Respond with `status` and a JSON error body; nothing is written. */
  | { mode: 'status'; status: number; retryAfterSeconds?: number; times?: number }
  /** Write, then wait `delayMs` before responding (a client that gives up first is fine). */
  | { mode: 'delay'; delayMs: number; times?: number }
  /** Destroy the socket without responding and without writing. */
  | { mode: 'drop'; times?: number }
  /** Write all but the last `rejected` records of the request and report them in `partialSuccess`. */
  | { mode: 'partial'; rejected: number; times?: number };

export const NO_FAULT: CollectorFault = { mode: 'ok' };

/** Takes the fault for one `/v1/logs` request: returns it, and what is left of it for the next ones. */
export function takeFault(fault: CollectorFault): { now: CollectorFault; next: CollectorFault } {
  if (fault.mode === 'ok' || fault.times === undefined) return { now: fault, next: fault };
  return { now: fault, next: fault.times <= 1 ? NO_FAULT : { ...fault, times: fault.times - 1 } };
}

/**
 * Validates a fault (from code, `POST /_fault` or the command line); throws `TypeError` naming the problem.
 * Returns a fresh object so later mutation of the input has no effect.
 */
export function parseFault(input: unknown): CollectorFault {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new TypeError('fault must be an object with a "mode"');
  }
  const o = input as { readonly [key: string]: unknown };
  const get = (k: string): unknown => (Object.hasOwn(o, k) ? o[k] : undefined);
  const mode = get('mode');
  const times = optInt(get('times'), 'times', 1, Number.MAX_SAFE_INTEGER);
  const withTimes = <T extends object>(f: T): T & { times?: number } => (times === undefined ? f : { ...f, times });
  switch (mode) {
    case 'ok':
      return { mode: 'ok' };
    case 'status': {
      const status = reqInt(get('status'), 'status', 200, 599);
      const retryAfterSeconds = optInt(get('retryAfterSeconds'), 'retryAfterSeconds', 0, 86_400);
      const f: CollectorFault =
        retryAfterSeconds === undefined ? { mode, status } : { mode, status, retryAfterSeconds };
      return withTimes(f);
    }
    case 'delay':
      return withTimes({ mode, delayMs: reqInt(get('delayMs'), 'delayMs', 0, 3_600_000) });
    case 'drop':
      return withTimes({ mode });
    case 'partial':
      return withTimes({ mode, rejected: reqInt(get('rejected'), 'rejected', 1, Number.MAX_SAFE_INTEGER) });
    default:
      throw new TypeError(`fault mode must be one of ok, status, delay, drop, partial; got ${JSON.stringify(mode)}`);
  }
}

function reqInt(v: unknown, name: string, min: number, max: number): number {
  const n = optInt(v, name, min, max);
  if (n === undefined) throw new TypeError(`fault.${name} is required`);
  return n;
}

function optInt(v: unknown, name: string, min: number, max: number): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new TypeError(`fault.${name} must be an integer from ${min} to ${max}; got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Keeps the first `total - rejected` records of a request; scope/resource groups left empty are dropped. */
export function withoutLastRecords(req: ExportLogsServiceRequest, rejected: number): ExportLogsServiceRequest {
  let keep = countLogRecords(req) - rejected;
  const resourceLogs: OtlpResourceLogs[] = [];
  for (const rl of req.resourceLogs ?? []) {
    if (keep <= 0) break;
    const scopeLogs: OtlpScopeLogs[] = [];
    for (const sl of rl.scopeLogs ?? []) {
      if (keep <= 0) break;
      const records = sl.logRecords ?? [];
      if (records.length <= keep) {
        scopeLogs.push(sl);
      } else {
        scopeLogs.push({ ...sl, logRecords: records.slice(0, keep) });
      }
      keep -= records.length;
    }
    if (scopeLogs.length > 0) resourceLogs.push({ ...rl, scopeLogs });
  }
  return { resourceLogs };
}
