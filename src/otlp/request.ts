/**
 * Sealed records → one ExportLogsServiceRequest as OTLP/JSON text: the journal line and the OTLP/HTTP body
 * are this same text (one serialization, two sinks). Consecutive records of one resource/scope share an entry.
 */
import type { RecordGroup } from '../chain/group.js';

export interface EncodableRecord {
  readonly json: string;
  readonly group: RecordGroup;
}

export function encodeRequest(records: readonly EncodableRecord[], from = 0, to = records.length): string {
  let out = '{"resourceLogs":[';
  let i = from;
  let first = true;
  while (i < to) {
    const g = records[i]!.group;
    let j = i + 1;
    while (j < to && records[j]!.group === g) j++;
    let logs = records[i]!.json;
    for (let k = i + 1; k < j; k++) logs += ',' + records[k]!.json;
    out +=
      (first ? '' : ',') +
      `{"resource":${g.resource},"scopeLogs":[{"scope":${g.scope},"logRecords":[${logs}]` +
      (g.scopeSchemaUrl ? `,"schemaUrl":${JSON.stringify(g.scopeSchemaUrl)}` : '') +
      '}]' +
      (g.resourceSchemaUrl ? `,"schemaUrl":${JSON.stringify(g.resourceSchemaUrl)}` : '') +
      '}';
    first = false;
    i = j;
  }
  return out + ']}';
}
