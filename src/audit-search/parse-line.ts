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

/**
 * Calls `emit` for each audit record of the line, in order; the records at the places in `refused`
 * (`resourceLogs[i].scopeLogs[j].logRecords[k]`, the verifier's refusals: refused-lines.ts) are counted unreadable.
 */
export function parseLine(text: string, file: string, line: number, counts: ReadCounts, emit: (r: AuditRecord) => void, refused?: ReadonlySet<string>): void {
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
  const rls = arrayOf(doc['resourceLogs']);
  for (let i = 0; i < rls.length; i++) {
    const rl = rls[i];
    if (!isObject(rl)) continue;
    const resource = isObject(rl['resource']) ? (rl['resource'] as OtlpResource) : undefined;
    const sls = arrayOf(rl['scopeLogs']);
    for (let j = 0; j < sls.length; j++) {
      const sl = sls[j];
      if (!isObject(sl)) continue;
      const lrs = arrayOf(sl['logRecords']);
      for (let k = 0; k < lrs.length; k++) {
        const lr = lrs[k];
        if (!isObject(lr)) continue;
        if (refused?.has(`resourceLogs[${i}].scopeLogs[${j}].logRecords[${k}]`) === true) {
          counts.unreadable++;
          continue;
        }
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
