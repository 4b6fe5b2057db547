/**
 * Sealed records → one ExportLogsServiceRequest as UTF-8 OTLP/JSON: the journal line and the OTLP/HTTP body
 * are these same bytes (one serialization, two sinks). Consecutive records of one resource/scope share an
 * entry. Every piece was encoded when first seen; here they are only joined and encoded to UTF-8 once.
 */
import type { RecordGroup } from '../chain/group.js';

export interface EncodableRecord {
  readonly json: string;
  readonly group: RecordGroup;
}

export function encodeRequest(records: readonly EncodableRecord[], from = 0, to = records.length): Buffer {
  let out = '{"resourceLogs":[';
  let i = from;
  while (i < to) {
    const g = records[i]!.group;
    out += (i > from ? ',' : '') + g.prefix + records[i]!.json;
    let j = i + 1;
    for (; j < to && records[j]!.group === g; j++) out += ',' + records[j]!.json;
    out += g.suffix;
    i = j;
  }
  return Buffer.from(out + ']}', 'utf8');
}
