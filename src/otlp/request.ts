/**
 * Sealed records → one ExportLogsServiceRequest as UTF-8 OTLP/JSON: the journal line and the OTLP/HTTP body
 * are these same bytes (one serialization, two sinks). Consecutive records of one resource/scope share an
 * entry. Every record was encoded when sealed; here they are only joined.
 */
import type { RecordGroup } from './types.js';

export interface EncodableRecord {
  /** UTF-8 OTLP/JSON of the LogRecord. */
  readonly bytes: Uint8Array;
  readonly group: RecordGroup;
}

const HEAD = Buffer.from('{"resourceLogs":[');
const TAIL = Buffer.from(']}');
const COMMA = Buffer.from(',');

export function encodeRequest(records: readonly EncodableRecord[], from = 0, to = records.length): Buffer {
  const parts: Uint8Array[] = [HEAD];
  let i = from;
  while (i < to) {
    const g = records[i]!.group;
    if (i > from) parts.push(COMMA);
    parts.push(Buffer.from(g.prefix, 'utf8'), records[i]!.bytes);
    let j = i + 1;
    for (; j < to && records[j]!.group === g; j++) parts.push(COMMA, records[j]!.bytes);
    parts.push(Buffer.from(g.suffix, 'utf8'));
    i = j;
  }
  parts.push(TAIL);
  return Buffer.concat(parts);
}
