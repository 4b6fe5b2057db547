/**
 * OTLP/HTTP delivery of pre-encoded batches.
 *
 * The transport is the one `@opentelemetry/exporter-logs-otlp-http` is built on — its `otlp-exporter-base`,
 * configured through the very call `OTLPLogExporter` makes (`convertLegacyHttpOptions(config, 'LOGS',
 * 'v1/logs', …)`) — so every standard `OTEL_EXPORTER_OTLP_[LOGS_]*` variable (endpoint, headers, timeout,
 * compression, certificates) behaves exactly as in the stock exporter, with its retries and Retry-After.
 * What differs: the body is the text the journal already holds (one serialization for both sinks, where
 * `OTLPLogExporter` would re-serialize from SDK objects), and an OTLP `partial_success` that rejected
 * records is a failure of the batch here (the stock delegate counts it as success, i.e. silent loss).
 */
import type { MeterProvider } from '@opentelemetry/api';
import {
  convertLegacyHttpOptions,
  createOtlpHttpExportDelegate,
} from '@opentelemetry/otlp-exporter-base/node-http';
import type { ExportLogsServiceResponse } from '../otlp/types.js';

export interface OtlpSenderOptions {
  /** Full URL of the logs endpoint; overrides OTEL_EXPORTER_OTLP_[LOGS_]ENDPOINT. */
  url?: string;
  /** Extra headers; merged over OTEL_EXPORTER_OTLP_[LOGS_]HEADERS. Never logged. */
  headers?: Record<string, string>;
  /** Per-export timeout including the transport's retries; overrides OTEL_EXPORTER_OTLP_[LOGS_]TIMEOUT. */
  timeoutMillis?: number;
  compression?: 'gzip' | 'none';
  /** For the transport's own self-observability metrics; the global one when absent. */
  meterProvider?: MeterProvider;
}

export interface SendResult {
  ok: boolean;
  /** False for a permanent rejection (4xx other than 408/429, or records rejected by partial_success). */
  retryable: boolean;
  /** Records the collector reported as rejected in a partial_success response. */
  rejected: number;
  /** One line, safe to log: no headers, no body. */
  message: string;
  status?: number;
}

export interface BatchSender {
  /** `body`: one ExportLogsServiceRequest as UTF-8 OTLP/JSON. */
  send(body: Uint8Array | string, count: number): Promise<SendResult>;
  shutdown(): Promise<void>;
}

interface Outgoing {
  body: Uint8Array | string;
  count: number;
}

/** Reads `partial_success` off the response; one in-flight export per sender makes this side channel exact. */
class PassThroughSerializer {
  lastRejected = 0;
  lastMessage = '';
  serializeRequest(req: Outgoing): Uint8Array {
    this.lastRejected = 0;
    this.lastMessage = '';
    return typeof req.body === 'string' ? Buffer.from(req.body, 'utf8') : req.body;
  }
  deserializeResponse(data: Uint8Array): ExportLogsServiceResponse {
    const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
    const res = (text.trim() === '' ? {} : JSON.parse(text)) as ExportLogsServiceResponse;
    const ps = res.partialSuccess;
    if (ps !== undefined) {
      this.lastRejected = Number(ps.rejectedLogRecords ?? 0) || 0;
      this.lastMessage = typeof ps.errorMessage === 'string' ? ps.errorMessage.slice(0, 200) : '';
    }
    return res;
  }
}

/** ExportResultCode.SUCCESS of @opentelemetry/core (a const enum value; not worth a dependency). */
const EXPORT_SUCCESS = 0;

const isPermanentStatus = (s: number): boolean => s >= 400 && s < 500 && s !== 408 && s !== 429;

export class OtlpHttpSender implements BatchSender {
  private readonly serializer = new PassThroughSerializer();
  private readonly delegate;
  private busy = false;

  constructor(options: OtlpSenderOptions = {}) {
    const config = {
      ...(options.url !== undefined ? { url: options.url } : {}),
      ...(options.headers !== undefined ? { headers: options.headers } : {}),
      ...(options.timeoutMillis !== undefined ? { timeoutMillis: options.timeoutMillis } : {}),
      ...(options.compression !== undefined ? { compression: options.compression as never } : {}),
    };
    this.delegate = createOtlpHttpExportDelegate(
      convertLegacyHttpOptions(config, 'LOGS', 'v1/logs', { 'Content-Type': 'application/json' }),
      this.serializer,
      'otel_audit_otlp_http_log_exporter',
      { name: 'log', countItems: (o: Outgoing) => o.count },
      options.meterProvider,
    );
  }

  send(body: Uint8Array | string, count: number): Promise<SendResult> {
    if (this.busy) throw new Error('OtlpHttpSender: one export at a time');
    this.busy = true;
    return new Promise<SendResult>((resolve) => {
      this.delegate.export({ body, count }, (result) => {
        this.busy = false;
        if (result.code === EXPORT_SUCCESS) {
          const rejected = this.serializer.lastRejected;
          if (rejected > 0) {
            resolve({
              ok: false,
              retryable: true,
              rejected,
              message: `collector rejected ${rejected} of ${count} records (partial_success: ${this.serializer.lastMessage || 'no message'})`,
            });
          } else resolve({ ok: true, retryable: true, rejected: 0, message: 'ok' });
          return;
        }
        const err = result.error as (Error & { code?: number }) | undefined;
        const status = typeof err?.code === 'number' ? err.code : undefined;
        resolve({
          ok: false,
          retryable: status === undefined || !isPermanentStatus(status),
          rejected: 0,
          message: status !== undefined ? `HTTP ${status}` : safeMessage(err),
          ...(status !== undefined ? { status } : {}),
        });
      });
    });
  }

  shutdown(): Promise<void> {
    return this.delegate.shutdown();
  }
}

/** Error text without anything that could echo a header value back. */
function safeMessage(err: Error | undefined): string {
  if (err === undefined) return 'export failed';
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? `${code}: ${err.message.slice(0, 120)}` : err.message.slice(0, 120);
}
