/**
 * Optional stdout sink (OTEL_AUDIT_STDOUT=true) for container log pipelines: one self-contained
 * ExportLogsServiceRequest per record per line, so each line verifies on its own with `otel-audit verify`.
 *
 * A stdout that fails (EPIPE: the reader went away, a log shipper restarted) must not take the application down:
 * the first error disables the sink and is reported once at error level; the journal and the collector still get
 * every record. A stdout nobody reads must not grow the heap without bound either (ARCHITECTURE.md §5.4): past
 * `maxQueuedBytes` waiting to be written, records are not copied to it until it drains, and how many were not is
 * said then.
 */
import type { Writable } from 'node:stream';
import { sayLoudly } from '../core/say.js';
import { encodeRequest, type EncodableRecord } from '../otlp/request.js';

const NEWLINE = Buffer.from('\n');

/** Bytes waiting in stdout's buffer past which records are not copied to it (a stalled reader). */
export const STDOUT_MAX_QUEUED_BYTES = 16 << 20;

export class StdoutSink {
  private disabled = false;
  /** Records not copied to stdout since it stalled; 0 while it keeps up. */
  private skipped = 0;

  constructor(
    private readonly out: Writable = process.stdout,
    private readonly maxQueuedBytes = STDOUT_MAX_QUEUED_BYTES,
  ) {
    out.on('error', (e: NodeJS.ErrnoException) => {
      if (this.disabled) return;
      this.disabled = true;
      const msg = `otel-audit: OTEL_AUDIT_STDOUT disabled: writing to stdout failed (${e.code ?? e.message}); the journal and the collector still get every record`;
      sayLoudly(msg);
    });
  }

  write(records: readonly EncodableRecord[]): void {
    if (this.disabled || this.out.destroyed) return;
    if (this.skipped > 0 || this.out.writableLength >= this.maxQueuedBytes) return this.skip(records.length);
    const parts: Buffer[] = [];
    for (let i = 0; i < records.length; i++) parts.push(encodeRequest(records, i, i + 1), NEWLINE);
    this.out.write(Buffer.concat(parts));
  }

  private skip(n: number): void {
    if (this.skipped === 0) {
      sayLoudly(
        `otel-audit: OTEL_AUDIT_STDOUT: stdout is not being read (${this.out.writableLength} bytes waiting); records are not copied to it until it drains. The journal and the collector still get every record`,
        'warn',
      );
      this.out.once('drain', () => {
        if (this.disabled) return;
        sayLoudly(`otel-audit: OTEL_AUDIT_STDOUT: stdout drained; ${this.skipped} audit record(s) were not copied to it meanwhile (the journal and the collector have them)`, 'warn');
        this.skipped = 0;
      });
    }
    this.skipped += n;
  }
}
