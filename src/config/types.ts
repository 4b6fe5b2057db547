/**
 * The options of the audit processor as code passes them, and as resolveOptions returns them (ARCHITECTURE.md §6).
 * Their environment variables, checks and defaults: the table in table.ts.
 */
import type { MeterProvider } from '@opentelemetry/api';
import type { FileMode } from '../deliver/delivery.js';
import type { LossPolicy, OnLoss } from '../deliver/loss.js';
import type { OtlpProtocol, OtlpSenderOptions } from '../deliver/otlp-sender.js';
import type { FsyncPolicy } from '../sinks/journal.js';
import type { SigningKey } from '../integrity/index.js';

export interface AuditProcessorOptions {
  /** Directory for journal, spool and state. Env OTEL_AUDIT_DIR; default `./.otel-audit` (working dir). */
  dir?: string;
  /** Env OTEL_AUDIT_FILE; default `journal`. */
  file?: FileMode;
  /** Env OTEL_AUDIT_FSYNC; default `batch`. */
  fsync?: FsyncPolicy;
  /** Env OTEL_AUDIT_MAX_FILE_BYTES; default 50 MiB. */
  maxFileBytes?: number;
  /** Env OTEL_AUDIT_MAX_FILES; default 10. Acknowledged segments beyond it are deleted, oldest first. */
  maxFiles?: number;
  /** Env OTEL_AUDIT_STDOUT; default false. */
  stdout?: boolean;
  /** Env OTEL_AUDIT_ON_LOSS; default `warn`. */
  onLossPolicy?: LossPolicy;
  /** Called for every record that could be made durable nowhere. */
  onLoss?: OnLoss;
  /**
   * Typed events that name no actor (or no source) get the OS user running the process as actor and this host
   * as source (`os-user`; for command-line tools), or are refused (`none`). Env OTEL_AUDIT_DEFAULT_ACTOR;
   * default `none`. An actor the caller gave is never replaced.
   */
  defaultActor?: 'os-user' | 'none';
  /** Env OTEL_AUDIT_LOGGER_NAME; default `audit`. */
  loggerName?: string;
  /**
   * OTLP transport; unset fields come from OTEL_EXPORTER_OTLP_[LOGS_]* like the stock exporters. The protocol
   * from OTEL_EXPORTER_OTLP_LOGS_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL, else `http/json`.
   */
  exporter?: OtlpSenderOptions;
  /** Records kept in memory for export beyond which journaled ones are evicted. Env OTEL_BLRP_MAX_QUEUE_SIZE; 8192. */
  maxQueueSize?: number;
  /** Hard bound on records in memory (not yet in the journal nor acknowledged); past it, the loss policy. Default 65536. */
  maxPendingRecords?: number;
  /**
   * Most records per OTLP request. Env OTEL_BLRP_MAX_EXPORT_BATCH_SIZE; default 2048, not the BLRP's 512: to
   * deliver in sequence order there is one request in flight at a time, so when the application keeps the
   * event loop busy each round trip must carry more. Capped at maxQueueSize, as the BLRP does.
   */
  maxExportBatchSize?: number;
  /** Default timeout of forceFlush/shutdown. Env OTEL_BLRP_EXPORT_TIMEOUT; default 30000. */
  exportTimeoutMillis?: number;
  /** Backoff between failed exports (doubling). Defaults 500 and 30000 ms. */
  retryMinMillis?: number;
  retryMaxMillis?: number;
  /** Replay streams left unacknowledged by earlier processes sharing `dir`. Default true. */
  replay?: boolean;
  /**
   * How often a running processor looks again for streams left to replay (their process gone, their replay stopped
   * by another process's shutdown), in ms; 0: only at start-up. Default 60000.
   */
  replayRescanMillis?: number;
  /** For the processor's own metrics; the global MeterProvider when absent. */
  meterProvider?: MeterProvider;
  /**
   * Per-record MAC/signature and checkpoint keys, made by `loadSigningKeys` (anything else is refused with
   * AuditConfigError). Default: from OTEL_AUDIT_HMAC_KEY[_FILE] / OTEL_AUDIT_SIGNING_KEY_FILE (see
   * docs/integrity.md), which are validated even when this is given; `record` signs every record, `checkpoint`
   * (Ed25519) signs checkpoints — without it there are none.
   */
  signingKeys?: { record?: SigningKey; checkpoint?: SigningKey };
  /** A signed checkpoint after this many records. Env OTEL_AUDIT_CHECKPOINT_RECORDS; default 1000. */
  checkpointEveryRecords?: number;
  /** And this often when records were sealed since the last one (0: by count only). Env OTEL_AUDIT_CHECKPOINT_INTERVAL_MS; 60000. */
  checkpointIntervalMillis?: number;
}

export type ResolvedOptions = Required<Omit<AuditProcessorOptions, 'onLoss' | 'exporter' | 'meterProvider'>> &
  Pick<AuditProcessorOptions, 'onLoss' | 'meterProvider'> & { exporter: OtlpSenderOptions & { protocol: OtlpProtocol } };
// (signingKeys is resolved to an object, possibly empty: no signing.)
