/** Reading OTLP/JSON back: attribute lookup and per-stream filtering of a parsed ExportLogsServiceRequest. */
import { ATTR_SEQ_NUMBER, ATTR_SEQ_STREAM_ID } from '../core/attributes.js';
import type { ExportLogsServiceRequest, OtlpAnyValue, OtlpLogRecord } from './types.js';

export function attribute(r: OtlpLogRecord, key: string): OtlpAnyValue | undefined {
  const list: unknown = r.attributes;
  // `"attributes": null` reads as none, as verify reads it (found in review: replay threw, and left the line unsent).
  if (!Array.isArray(list)) return undefined;
  for (const kv of list as unknown[]) {
    if (typeof kv === 'object' && kv !== null && (kv as { key?: unknown }).key === key) return (kv as { value?: OtlpAnyValue }).value;
  }
  return undefined;
}

export function stringAttribute(r: OtlpLogRecord, key: string): string | undefined {
  return attribute(r, key)?.stringValue;
}

export function intAttribute(r: OtlpLogRecord, key: string): number | undefined {
  const v = attribute(r, key)?.intValue;
  if (v === undefined) return undefined;
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isSafeInteger(n) ? n : undefined;
}

export interface FilteredRequest {
  request: ExportLogsServiceRequest;
  count: number;
  first: number;
  last: number;
}

/**
 * Keeps the records of `streamId` whose sequence number satisfies `keep`; drops empty scope/resource
 * entries. Returns undefined when nothing is kept.
 */
export function filterRequest(
  req: ExportLogsServiceRequest,
  streamId: string,
  keep: (seq: number) => boolean,
): FilteredRequest | undefined {
  let count = 0;
  let first = Number.POSITIVE_INFINITY;
  let last = 0;
  const resourceLogs = [];
  for (const rl of req.resourceLogs ?? []) {
    const scopeLogs = [];
    for (const sl of rl.scopeLogs ?? []) {
      const logRecords = (sl.logRecords ?? []).filter((r) => {
        if (stringAttribute(r, ATTR_SEQ_STREAM_ID) !== streamId) return false;
        const seq = intAttribute(r, ATTR_SEQ_NUMBER);
        if (seq === undefined || !keep(seq)) return false;
        count++;
        if (seq < first) first = seq;
        if (seq > last) last = seq;
        return true;
      });
      if (logRecords.length > 0) scopeLogs.push({ ...sl, logRecords });
    }
    if (scopeLogs.length > 0) resourceLogs.push({ ...rl, scopeLogs });
  }
  return count === 0 ? undefined : { request: { resourceLogs }, count, first, last };
}

/** filterRequest as the OTLP/JSON body of a request to send again or set aside (bisection parts, the rest after a failure). */
export function filteredBody(req: ExportLogsServiceRequest, streamId: string, keep: (seq: number) => boolean): { body: string; count: number; first: number; last: number } | undefined {
  const f = filterRequest(req, streamId, keep);
  return f === undefined ? undefined : { body: JSON.stringify(f.request), count: f.count, first: f.first, last: f.last };
}
