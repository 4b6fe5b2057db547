/**
 * Optional stdout sink (OTEL_AUDIT_STDOUT=true) for container log pipelines: one self-contained
 * ExportLogsServiceRequest per record per line, so each line verifies on its own with `otel-audit verify`.
 *
 * A stdout that fails (EPIPE: the reader went away, a log shipper restarted) must not take the application down:
 * the first error disables the sink and is reported once at error level; the journal and the collector still get
 * every record.
 */
import type { Writable } from 'node:stream';
import { sayLoudly } from '../core/say.js';
import { encodeRequest, type EncodableRecord } from '../otlp/request.js';

const NEWLINE = Buffer.from('\n');

export class StdoutSink {
  private disabled = false;

  constructor(private readonly out: Writable = process.stdout) {
    out.on('error', (e: NodeJS.ErrnoException) => {
      if (this.disabled) return;
      this.disabled = true;
      const msg = `otel-audit: OTEL_AUDIT_STDOUT disabled: writing to stdout failed (${e.code ?? e.message}); the journal and the collector still get every record`;
      sayLoudly(msg);
    });
  }

  write(records: readonly EncodableRecord[]): void {
    if (this.disabled || this.out.destroyed) return;
    const parts: Buffer[] = [];
    for (let i = 0; i < records.length; i++) parts.push(encodeRequest(records, i, i + 1), NEWLINE);
    this.out.write(Buffer.concat(parts));
  }
}
