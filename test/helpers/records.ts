/** Reading OTLP/JSON lines files back into flat lists of log records, for assertions. */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { intAttribute, stringAttribute } from '../../src/otlp/decode.js';
import type { ExportLogsServiceRequest, OtlpLogRecord } from '../../src/otlp/types.js';

export function recordsOfFile(path: string): OtlpLogRecord[] {
  const out: OtlpLogRecord[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line === '') continue;
    const req = JSON.parse(line) as ExportLogsServiceRequest;
    for (const rl of req.resourceLogs ?? []) for (const sl of rl.scopeLogs ?? []) out.push(...(sl.logRecords ?? []));
  }
  return out;
}

export function journalRecords(dir: string): OtlpLogRecord[] {
  return readdirSync(dir)
    .filter((n) => n.endsWith('.jsonl'))
    .sort()
    .flatMap((n) => recordsOfFile(join(dir, n)));
}

export const seqOf = (r: OtlpLogRecord): number | undefined => intAttribute(r, 'audit.sequence.number');
export const streamOf = (r: OtlpLogRecord): string | undefined => stringAttribute(r, 'audit.sequence.stream_id');
export const idOf = (r: OtlpLogRecord): string | undefined => stringAttribute(r, 'audit.record.id');
