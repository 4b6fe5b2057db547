/**
 * Optional stdout sink (OTEL_AUDIT_STDOUT=true) for container log pipelines: one self-contained
 * ExportLogsServiceRequest per record per line, so each line verifies on its own with `otel-audit verify`.
 */
import type { Writable } from 'node:stream';
import type { SealedRecord } from '../chain/seal.js';
import { encodeRequest } from '../otlp/request.js';

export class StdoutSink {
  constructor(private readonly out: Writable = process.stdout) {}

  write(records: readonly SealedRecord[]): void {
    let text = '';
    for (let i = 0; i < records.length; i++) text += encodeRequest(records, i, i + 1) + '\n';
    this.out.write(text);
  }
}
