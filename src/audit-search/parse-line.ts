/**
 * One OTLP/JSON line (an ExportLogsServiceRequest, as the journal and the Collector's file exporter write
 * them) into audit records. Whatever the line holds, this never throws: a line that is not JSON, or not a
 * logs request, is counted as unreadable and skipped — the verifier, run over the same files, is what reports
 * it (as `malformed` or `torn`), and search and tail show that in their chain column.
 *
 * A line the verifier refuses for its member names (one written twice, or with an escape) is unreadable here
 * too: JSON.parse keeps the last of two equal names, and on Node 24/26 may read an escaped name as another
 * string (src/otlp/json-members.ts), so what search or tail showed would not be what is hashed.
 */
import type { OtlpLogRecord, OtlpResource } from '../otlp/types.js';
import { memberNames, refusedNames } from '../otlp/json-members.js';
import { auditRecordOf, type AuditRecord } from './audit-record.js';

/** What was passed over, for the closing note on stderr. */
export interface ReadCounts {
  /** Audit records read, every copy counted. */
  records: number;
  /** Records without `audit.sequence.stream_id`. */
  nonAudit: number;
  /** Lines that are not a logs request, and records whose stream id or sequence number is not valid. */
  unreadable: number;
}

export const newReadCounts = (): ReadCounts => ({ records: 0, nonAudit: 0, unreadable: 0 });

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const arrayOf = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Calls `emit` for each audit record of the line, in order. */
export function parseLine(text: string, file: string, line: number, counts: ReadCounts, emit: (r: AuditRecord) => void): void {
  if (text.trim() === '') return;
  let doc: unknown;
  try {
    if (refusedNames(memberNames(text))) throw new Error('member names');
    doc = JSON.parse(text);
  } catch {
    counts.unreadable++;
    return;
  }
  if (!isObject(doc) || (doc['resourceLogs'] !== undefined && !Array.isArray(doc['resourceLogs']))) {
    counts.unreadable++;
    return;
  }
  for (const rl of arrayOf(doc['resourceLogs'])) {
    if (!isObject(rl)) continue;
    const resource = isObject(rl['resource']) ? (rl['resource'] as OtlpResource) : undefined;
    for (const sl of arrayOf(rl['scopeLogs'])) {
      if (!isObject(sl)) continue;
      for (const lr of arrayOf(sl['logRecords'])) {
        if (!isObject(lr)) continue;
        const r = auditRecordOf(lr as OtlpLogRecord, resource, file, line);
        if (r === 'nonAudit') counts.nonAudit++;
        else if (r === 'unreadable') counts.unreadable++;
        else {
          counts.records++;
          emit(r);
        }
      }
    }
  }
}
