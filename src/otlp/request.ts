/**
 * Sealed records → one ExportLogsServiceRequest as UTF-8 OTLP/JSON: the journal line and the OTLP/HTTP body
 * are these same bytes (one serialization, two sinks). Consecutive records of one resource/scope share an
 * entry. Pure byte concatenation: every piece was encoded once, when it was first seen.
 */
import type { RecordGroup } from '../chain/group.js';

export interface EncodableRecord {
  readonly json: Buffer;
  readonly group: RecordGroup;
}

const HEAD = Buffer.from('{"resourceLogs":[');
const TAIL = Buffer.from(']}');
const COMMA = Buffer.from(',');

export function encodeRequest(records: readonly EncodableRecord[], from = 0, to = records.length): Buffer {
  const parts: Buffer[] = [HEAD];
  let size = HEAD.length + TAIL.length;
  let i = from;
  while (i < to) {
    const g = records[i]!.group;
    if (i > from) {
      parts.push(COMMA);
      size += 1;
    }
    parts.push(g.prefix);
    size += g.prefix.length;
    let j = i;
    for (; j < to && records[j]!.group === g; j++) {
      if (j > i) {
        parts.push(COMMA);
        size += 1;
      }
      const json = records[j]!.json;
      parts.push(json);
      size += json.length;
    }
    parts.push(g.suffix);
    size += g.suffix.length;
    i = j;
  }
  parts.push(TAIL);
  return Buffer.concat(parts, size);
}
