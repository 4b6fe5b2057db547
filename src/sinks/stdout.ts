/**
 * Optional stdout sink (OTEL_AUDIT_STDOUT=true) for container log pipelines: one self-contained
 * ExportLogsServiceRequest per record per line, so each line verifies on its own with `otel-audit verify`.
 */
import type { Writable } from 'node:stream';
import { encodeRequest, type EncodableRecord } from '../otlp/request.js';

const NEWLINE = Buffer.from('\n');

export class StdoutSink {
  constructor(private readonly out: Writable = process.stdout) {}

  write(records: readonly EncodableRecord[]): void {
    const parts: Buffer[] = [];
    for (let i = 0; i < records.length; i++) parts.push(encodeRequest(records, i, i + 1), NEWLINE);
    this.out.write(Buffer.concat(parts));
  }
}
