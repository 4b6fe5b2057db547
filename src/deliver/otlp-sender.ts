/**
 * OTLP delivery of pre-encoded batches, over the three OTLP transports (`http/json`, `http/protobuf`, `grpc`).
 *
 * The transports are the ones the stock log exporters are built on — `otlp-exporter-base` for HTTP and
 * `otlp-grpc-exporter-base` for gRPC — configured through the very calls `OTLPLogExporter` makes
 * (`convertLegacyHttpOptions(config, 'LOGS', 'v1/logs', …)`, `convertLegacyOtlpGrpcOptions(config, 'LOGS')`),
 * so every standard `OTEL_EXPORTER_OTLP_[LOGS_]*` variable (endpoint, headers, timeout, compression,
 * certificates) behaves exactly as in the stock exporters, with their retries and Retry-After.
 * What differs: the body is the OTLP/JSON the journal already holds (one serialization for both sinks), sent
 * as is or transcoded to protobuf (otlp/json-to-protobuf.ts, else otlp/protobuf.ts: lossless, so a collector's
 * copy of a protobuf export verifies); and an OTLP `partial_success` that rejected records is a failure of the batch here (the stock
 * delegate counts it as success, i.e. silent loss).
 */
import type { MeterProvider } from '@opentelemetry/api';
import {
  convertLegacyHttpOptions,
  createOtlpHttpExportDelegate,
} from '@opentelemetry/otlp-exporter-base/node-http';
import { createRequire } from 'node:module';
import { inspect } from 'node:util';
import { MAX_TIMER_MILLIS } from '../core/deadline.js';
import { AuditConfigError } from '../core/errors.js';
import { encodeLogsJson } from '../otlp/json-to-protobuf.js';
import { sayLoudly } from '../core/say.js';
import { decodeLogsResponse } from '../otlp/protobuf.js';
import type { ExportLogsServiceResponse } from '../otlp/types.js';

/** The OTLP transports, as OTEL_EXPORTER_OTLP_[LOGS_]PROTOCOL names them. */
export const OTLP_PROTOCOLS = ['http/json', 'http/protobuf', 'grpc'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

export interface OtlpSenderOptions {
  /**
   * Wire protocol; overrides OTEL_EXPORTER_OTLP_[LOGS_]PROTOCOL. Default `http/json` (see README, "OTLP
   * protocols"): the journal already holds the request as OTLP/JSON, so it is sent without a second encoding.
   * `grpc` needs the optional peer `@opentelemetry/otlp-grpc-exporter-base`.
   */
  protocol?: OtlpProtocol;
  /** URL of the logs endpoint (HTTP: full URL; gRPC: `http[s]://host:port`); overrides OTEL_EXPORTER_OTLP_[LOGS_]ENDPOINT. */
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
  /** False for a permanent rejection (HTTP 4xx other than 408/429; a non-retryable gRPC status). */
  retryable: boolean;
  /** Records the collector reported as rejected in a partial_success response. */
  rejected: number;
  /** One line, safe to log: no headers, no body. */
  message: string;
  status?: number;
  /** The collector asked to wait this long before trying again (Retry-After) and the export timeout was shorter. */
  retryAfterMillis?: number;
}

export interface BatchSender {
  /** `body`: one ExportLogsServiceRequest as UTF-8 OTLP/JSON (transcoded here when the protocol is protobuf). */
  send(body: Uint8Array | string, count: number): Promise<SendResult>;
  /**
   * No more exports. An export still in flight (the transport's retries, its connection) no longer keeps the
   * process alive: it may still complete while the process runs on, but the process can exit without it
   * (what it carries is in the journal, for replay).
   */
  shutdown(): Promise<void>;
  /**
   * `listener` is called each time the transport is about to retry an export whose attempt failed, before it
   * waits (the export itself has not returned yet). Optional: a sender without retries of its own has none.
   */
  onRetry?(listener: (detail: string | undefined) => void): void;
}

interface Outgoing {
  body: Uint8Array | string;
  count: number;
}

/**
 * The body of a 2xx answer that was cut off (ReleasableRetryingTransport `requireBody`): read as unreadable, so it
 * is sent again, as many times as an unreadable answer is (UNREADABLE_RETRIES), not for ever.
 */
const CUT_OFF = new Uint8Array(0);

/**
 * Hands the delegate the bytes `send` prepared, and reads `partial_success` off the response; one in-flight
 * export per sender makes this side channel exact.
 */
class PassThroughSerializer {
  lastRejected = 0;
  lastMessage = '';
  /**
   * Why the last success response is no ExportLogsServiceResponse (undefined: it is one, or empty). The stock
   * delegate counts any 2xx as success whatever its body ("no matter the response"): an HTML page from a proxy, or a
   * partial_success in the other encoding, would then pass as delivered. Such a response proves nothing: the
   * batch is sent again (OTLP/HTTP: a full success is a 200 whose body is that message).
   */
  lastUnreadable: string | undefined;
  constructor(private readonly responseIsProtobuf: boolean) {}
  serializeRequest(req: Outgoing): Uint8Array {
    this.lastRejected = 0;
    this.lastMessage = '';
    this.lastUnreadable = undefined;
    return typeof req.body === 'string' ? Buffer.from(req.body, 'utf8') : req.body;
  }
  deserializeResponse(data: Uint8Array): ExportLogsServiceResponse {
    if (data === CUT_OFF) {
      this.lastUnreadable = 'the collector answered success, but the connection ended before its answer did (it may have rejected records)';
      throw new Error(this.lastUnreadable);
    }
    // The request's encoding first, then the other one: some receivers answer a protobuf request in JSON (`{}`), and
    // that answer, read, is as good (found in review).
    const res = this.responseIsProtobuf ? (asProtobuf(data) ?? asJson(data)) : (asJson(data) ?? asProtobuf(data));
    if (res === undefined) {
      this.lastUnreadable = `the collector answered success with a body that is not an OTLP ExportLogsServiceResponse (${data.byteLength} bytes; a proxy, or a server that is not an OTLP receiver?)`;
      throw new Error(this.lastUnreadable);
    }
    // camelCase (proto3 JSON) or the field names of the .proto, which some servers write.
    const ps = (res.partialSuccess ?? (res as { partial_success?: ExportLogsServiceResponse['partialSuccess'] }).partial_success) as
      | { rejectedLogRecords?: unknown; rejected_log_records?: unknown; errorMessage?: unknown; error_message?: unknown }
      | undefined
      | null;
    if (ps !== undefined && ps !== null) {
      this.lastRejected = Number(ps.rejectedLogRecords ?? ps.rejected_log_records ?? 0) || 0;
      const message = ps.errorMessage ?? ps.error_message;
      this.lastMessage = typeof message === 'string' ? message.slice(0, 200) : '';
    }
    return res;
  }
}

/** An OTLP/JSON response: a JSON object (a byte order mark and an empty body allowed), else undefined. */
function asJson(data: Uint8Array): ExportLogsServiceResponse | undefined {
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8').replace(/^\uFEFF/, '');
  if (text.trim() === '') return {};
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as ExportLogsServiceResponse) : undefined;
  } catch {
    return undefined;
  }
}

/** An OTLP protobuf response, else undefined. */
function asProtobuf(data: Uint8Array): ExportLogsServiceResponse | undefined {
  try {
    return decodeLogsResponse(data);
  } catch {
    return undefined;
  }
}

/**
 * A success answer whose body is no OTLP response (neither encoding) is retried this many times in a row: a proxy's
 * page in front of an absent collector then costs a retry, not the records. Past it the receiver is taken at its word
 * (the stock exporter takes it at once), loudly: some real receivers always answer so (found in review: retried
 * for ever, one batch blocked the whole stream).
 */
const UNREADABLE_RETRIES = 2;

/** ExportResultCode.SUCCESS of @opentelemetry/core (a const enum value; not worth a dependency). */
const EXPORT_SUCCESS = 0;

/**
 * Statuses that say the endpoint or the credentials are wrong, not the records: every request gets them, so
 * setting the refused records aside would move the whole stream into rejected/, where nothing resends it. They
 * are retried like an outage instead (the journal keeps the records; its bound and the loss policy apply) until
 * the configuration is fixed. HTTP: 401, 403, 404, 405, 407, 415; gRPC: PERMISSION_DENIED 7, UNIMPLEMENTED 12,
 * UNAUTHENTICATED 16.
 */
const HTTP_CONFIG_ERRORS: ReadonlySet<number> = new Set([401, 403, 404, 405, 407, 415]);
const GRPC_CONFIG_ERRORS: ReadonlySet<number> = new Set([7, 12, 16]);
/**
 * HTTP: 4xx is the client's fault and will not change by retrying, except 408 and 429 (OTLP spec, OTLP/HTTP
 * Response) and the configuration errors above.
 */
const isPermanentHttpStatus = (s: number): boolean => s >= 400 && s < 500 && s !== 408 && s !== 429 && !HTTP_CONFIG_ERRORS.has(s);
/**
 * gRPC: the retryable status codes of the OTLP spec (OTLP/gRPC Failures): CANCELLED 1, DEADLINE_EXCEEDED 4,
 * ABORTED 10, OUT_OF_RANGE 11, UNAVAILABLE 14, DATA_LOSS 15, and the configuration errors above; RESOURCE_EXHAUSTED 8
 * only when the server says recovery is possible (a RetryInfo in the status details, grpcRetryable). Every other
 * code is final.
 */
const GRPC_RETRYABLE: ReadonlySet<number> = new Set([1, 4, 10, 11, 14, 15, ...GRPC_CONFIG_ERRORS]);
const RESOURCE_EXHAUSTED = 8;

/**
 * RESOURCE_EXHAUSTED without a RetryInfo is final (OTLP spec): a request over the receiver's message size limit
 * (4 MiB by default in grpc-js and the Collector) gets it at every attempt, and retried forever it would block the
 * stream; final, it is bisected down to what the receiver takes.
 */
function grpcRetryable(code: number, err: unknown): boolean {
  if (code !== RESOURCE_EXHAUSTED) return GRPC_RETRYABLE.has(code);
  const md = (err as { metadata?: { get?: (key: string) => unknown[] } } | undefined)?.metadata;
  const details = typeof md?.get === 'function' ? md.get('grpc-status-details-bin') : [];
  return details.some((d) => d instanceof Uint8Array && Buffer.from(d).includes('google.rpc.RetryInfo'));
}
const CONFIG_HINT = ' (the endpoint or its credentials are wrong: retried until fixed, records stay in the journal)';

interface ExportDelegate {
  export(req: Outgoing, done: (result: { code: number; error?: Error }) => void): void;
  shutdown(): Promise<void>;
}

/** otlp-exporter-base's transport: one attempt (`HttpExporterTransport`) or the retrying one around it. */
interface ExporterTransport {
  send(data: Uint8Array, timeoutMillis: number): Promise<{ status: 'success' | 'failure' | 'retryable'; retryInMillis?: number; data?: Uint8Array; error?: unknown }>;
  shutdown(): void;
}

/** Why a retryable attempt failed, as the transport said it (`connect ECONNREFUSED 127.0.0.1:4999`), if it did. */
const retryReason = (r: { error?: unknown }): string | undefined => (r.error instanceof Error && r.error.message !== '' ? r.error.message : undefined);

/**
 * The wait before the next attempt: the collector's Retry-After when it gave a usable one (0 included), else the
 * backoff. The transport passes on what it parsed: for `Retry-After: garbage` or `-5` that is NaN or negative,
 * which setTimeout takes as 0, and the attempts went out back to back (found in review).
 */
export const retryDelay = (asked: number | undefined, backoff: number): number =>
  asked !== undefined && Number.isFinite(asked) && asked >= 0 ? asked : backoff;

/** An attempt still running this many times its timeout after it began is ended (ReleasableRetryingTransport.onDeadline). */
const ATTEMPT_CAP = 4;

/** The retry schedule of otlp-exporter-base's RetryingTransport, kept as it is there. */
const MAX_ATTEMPTS = 5;
const INITIAL_BACKOFF = 1000;
const MAX_BACKOFF = 5000;
const BACKOFF_MULTIPLIER = 1.5;
const JITTER = 0.2;

/**
 * The stock transport's retries (same schedule, Retry-After honoured, within the export timeout), with unref'd
 * timers, as the export loop's own backoff (export-loop.ts): waiting to retry never keeps the process alive. The
 * stock RetryingTransport's backoff timers are ref'd and private: with the collector down, they held a process
 * that had finished its work for up to OTEL_EXPORTER_OTLP_TIMEOUT before 'beforeExit' (and so the zero-code
 * shutdown) could run, and again after shutdown. A process that ends while a retry waits journals what is in
 * flight on exit (ARCHITECTURE.md §5.6). After `release()` (shutdown) no further attempt is made.
 */
class ReleasableRetryingTransport implements ExporterTransport {
  private released = false;
  /** Called before each backoff wait (OtlpSender.onRetry), with the failed attempt's reason when it gave one. */
  onRetry: ((detail: string | undefined) => void) | undefined;
  /** The Retry-After of the last send's final answer, when it asked for more than the export timeout had left. */
  retryAfterMillis: number | undefined;
  /**
   * Ends the attempt in flight (its connection) when it is still running ATTEMPT_CAP times its timeout after it
   * began: the stock transport's timeout is one of inactivity, so a response that trickled in a byte at a time held
   * the stream's one export for ever (found in review). Not at the timeout itself: a large request on a slow link
   * that keeps moving would then never get through (the stock exporter lets it), and one the collector had just
   * taken whole would be sent again.
   */
  onDeadline: (() => void) | undefined;
  /**
   * HTTP: a success must come with its body read to the end. The stock HTTP transport answers a 2xx whose body was
   * cut off (the connection reset mid-body) as a success with no `data` — a complete body, even an empty one, comes
   * as a buffer — and a partial_success rejecting records was then taken as delivery, its records lost without a
   * word (found in review). Such an answer proves nothing: it is read as an unreadable answer (CUT_OFF), sent again.
   */
  requireBody = false;
  constructor(private readonly inner: ExporterTransport) {}

  /** One attempt, settled by the transport or, failing that, as retryable at its cap. */
  private attempt(data: Uint8Array, timeoutMillis: number): ReturnType<ExporterTransport['send']> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        resolve({ status: 'retryable' });
        this.onDeadline?.();
      }, Math.min(ATTEMPT_CAP * Math.max(timeoutMillis, 0), MAX_TIMER_MILLIS)); // a longer delay would fire at once (found in review)
      timer.unref();
      this.inner.send(data, timeoutMillis).then(
        (r) => {
          clearTimeout(timer);
          resolve(this.requireBody && r.status === 'success' && r.data === undefined ? { ...r, data: CUT_OFF } : r);
        },
        (e: unknown) => {
          clearTimeout(timer);
          reject(e as Error);
        },
      );
    });
  }

  release(): void {
    this.released = true;
  }

  async send(data: Uint8Array, timeoutMillis: number): ReturnType<ExporterTransport['send']> {
    let attempts = MAX_ATTEMPTS;
    let nextBackoff = INITIAL_BACKOFF;
    const deadline = Date.now() + timeoutMillis;
    this.retryAfterMillis = undefined;
    let result = await this.attempt(data, timeoutMillis);
    while (result.status === 'retryable' && attempts > 0 && !this.released) {
      attempts--;
      const backoff = Math.max(Math.min(nextBackoff * (1 + Math.random() * (2 * JITTER) - JITTER), MAX_BACKOFF), 0);
      nextBackoff *= BACKOFF_MULTIPLIER;
      const retryInMillis = retryDelay(result.retryInMillis, backoff);
      const remaining = deadline - Date.now();
      if (retryInMillis > remaining) {
        // The export loop waits it out before its next attempt (export-loop.ts), rather than its own backoff.
        this.retryAfterMillis = retryInMillis === result.retryInMillis ? retryInMillis : undefined;
        return result;
      }
      this.onRetry?.(retryReason(result));
      await new Promise<void>((resolve) => setTimeout(resolve, retryInMillis).unref());
      if (this.released) return result;
      result = await this.attempt(data, remaining);
    }
    return result;
  }

  shutdown(): void {
    this.inner.shutdown();
  }
}

/** The sockets of one HTTP agent, so that `release()` can unref them (a collector that never answers). */
class SocketTracker {
  private readonly sockets = new Set<{ unref(): unknown; once(ev: 'close', f: () => void): unknown }>();
  private released = false;

  track<A extends object>(agent: A): A {
    const a = agent as A & { createConnection?: (...args: unknown[]) => unknown };
    const create = a.createConnection;
    if (typeof create !== 'function') return agent;
    a.createConnection = (...args: unknown[]): unknown => {
      const socket = create.apply(a, args) as { unref?: () => unknown; once?: (ev: 'close', f: () => void) => unknown } | undefined;
      if (socket !== undefined && typeof socket.unref === 'function' && typeof socket.once === 'function') {
        const s = socket as { unref(): unknown; once(ev: 'close', f: () => void): unknown };
        this.sockets.add(s);
        s.once('close', () => this.sockets.delete(s));
        if (this.released) s.unref();
      }
      return socket;
    };
    return agent;
  }

  /** Ends every open connection (an attempt past its deadline; one export in flight per sender). */
  destroyAll(): void {
    for (const s of this.sockets) (s as { destroy?: () => void }).destroy?.();
  }

  /** Every socket, open or to come, unref'd. */
  release(): void {
    this.released = true;
    for (const s of this.sockets) s.unref();
  }
}

/**
 * Puts `ReleasableRetryingTransport` in place of the delegate's stock retrying transport (the delegate keeps it
 * as `_transport`, the one-attempt transport inside as its `_transport`). Returns undefined when the shapes are
 * not there (another otlp-exporter-base): the stock transport stays, and only the sockets are released.
 */
function ownRetries(delegate: object): ReleasableRetryingTransport | undefined {
  const d = delegate as { _transport?: { _transport?: unknown } };
  const inner = d._transport?._transport as Partial<ExporterTransport> | undefined;
  if (typeof inner?.send !== 'function' || typeof inner.shutdown !== 'function') return undefined;
  const own = new ReleasableRetryingTransport(inner as ExporterTransport);
  d._transport = own as unknown as { _transport?: unknown };
  return own;
}

/** A delegate and the retrying transport put inside it (undefined: the stock one stayed). */
interface Route {
  delegate: ExportDelegate;
  retries: ReleasableRetryingTransport | undefined;
}

/** One sender over one OTLP transport; the protocol decides the body encoding and how failures are read. */
export class OtlpSender implements BatchSender {
  readonly protocol: OtlpProtocol;
  private readonly serializer: PassThroughSerializer;
  /** Where requests go: the configured transport, or the uncompressed one once gzip was found refused. */
  private route: Route;
  /** Every route made, for shutdown and onRetry. */
  private readonly routes: Route[] = [];
  /**
   * With gzip: makes the same HTTP transport without compression. A receiver that cannot decompress answers 400 (the
   * OTel Collector does, for an encoding it was not set up for), which would set every record aside in rejected/;
   * undefined once gzip is settled either way (a gzip request was taken, or the switch was made).
   */
  private uncompressed: (() => Route) | undefined;
  private retryListener: ((detail: string | undefined) => void) | undefined;
  private busy = false;
  /** Success answers in a row whose body was no OTLP response (see UNREADABLE_RETRIES). */
  private unreadableInARow = 0;
  private saidUnreadable = false;
  private readonly sockets = new SocketTracker();

  /**
   * Printed (a processor logged with util.inspect at any depth), only its protocol: the transport's configuration
   * within holds the URL with its credentials (found in review).
   */
  [inspect.custom](): string {
    return `OtlpSender { protocol: '${this.protocol}' }`;
  }

  constructor(options: OtlpSenderOptions = {}) {
    this.protocol = options.protocol ?? 'http/json';
    this.serializer = new PassThroughSerializer(this.protocol !== 'http/json');
    const helper = { name: 'log' as const, countItems: (o: Outgoing) => o.count };
    const common = {
      ...(options.url !== undefined ? { url: options.url } : {}),
      ...(options.timeoutMillis !== undefined ? { timeoutMillis: options.timeoutMillis } : {}),
      ...(options.compression !== undefined ? { compression: options.compression as never } : {}),
    };
    let delegate: ExportDelegate;
    if (this.protocol === 'grpc') {
      delegate = createGrpcDelegate(common, options.headers, this.serializer, helper, options.meterProvider);
    } else {
      const contentType = this.protocol === 'http/json' ? 'application/json' : 'application/x-protobuf';
      const http = convertLegacyHttpOptions({ ...common, ...(options.headers !== undefined ? { headers: options.headers } : {}) }, 'LOGS', 'v1/logs', { 'Content-Type': contentType });
      // The agent the transport makes, with its sockets tracked (see shutdown).
      const agentFactory = (http as { agentFactory?: (protocol: string) => object | Promise<object> }).agentFactory;
      if (typeof agentFactory === 'function') {
        (http as { agentFactory: (protocol: string) => Promise<object> }).agentFactory = async (protocol) => this.sockets.track(await agentFactory(protocol));
      }
      const component = this.protocol === 'http/json' ? 'otel_audit_otlp_http_log_exporter' : 'otel_audit_otlp_proto_log_exporter';
      delegate = createOtlpHttpExportDelegate(http, this.serializer, component, helper, options.meterProvider) as ExportDelegate;
      if ((http as { compression?: unknown }).compression === 'gzip') {
        this.uncompressed = () => this.addRoute(createOtlpHttpExportDelegate({ ...http, compression: 'none' } as typeof http, this.serializer, component, helper, options.meterProvider) as ExportDelegate);
      }
    }
    this.route = this.addRoute(delegate);
  }

  private addRoute(delegate: ExportDelegate): Route {
    const retries = ownRetries(delegate);
    if (retries !== undefined) {
      retries.requireBody = this.protocol !== 'grpc';
      retries.onDeadline = () => this.sockets.destroyAll();
      if (this.retryListener !== undefined) retries.onRetry = this.retryListener;
    }
    const route = { delegate, retries };
    this.routes.push(route);
    return route;
  }

  send(body: Uint8Array | string, count: number): Promise<SendResult> {
    if (this.busy) throw new Error('OtlpSender: one export at a time');
    let wire: Uint8Array | string = body;
    if (this.protocol !== 'http/json') {
      try {
        wire = encodeLogsJson(body);
      } catch (e) {
        // Not expected for what this package writes; the batch is then refused for good (set aside, never dropped).
        return Promise.resolve({ ok: false, retryable: false, rejected: 0, message: `protobuf encoding failed: ${safeMessage(e as Error)}` });
      }
    }
    this.busy = true;
    return this.sendOn(this.route, wire, count)
      .then((r) => (r.status === 400 && this.uncompressed !== undefined ? this.withoutGzip(wire, count, r) : r))
      .finally(() => {
        this.busy = false;
      });
  }

  /**
   * A gzip request refused with 400, before any gzip request was taken: the same request once uncompressed. Taken
   * (or read: a partial_success), the receiver cannot decompress, and every request goes uncompressed from now on,
   * said once; refused again, the 400 is about the records (bisected as any).
   */
  private async withoutGzip(wire: Uint8Array | string, count: number, refused: SendResult): Promise<SendResult> {
    const plain = this.uncompressed!();
    const r = await this.sendOn(plain, wire, count);
    if (!r.ok && r.rejected === 0) {
      // Refused again (or not answered): nothing learnt; a later 400 asks again, with a new transport.
      this.dropRoute(plain);
      return r.status === 400 ? r : { ...r, message: `${r.message} (sent uncompressed after HTTP 400 to gzip: ${refused.message})` };
    }
    this.dropRoute(this.route);
    this.route = plain;
    this.uncompressed = undefined;
    sayLoudly('otel-audit: the collector refused a gzip-compressed request (HTTP 400) and took it uncompressed: requests are sent uncompressed from now on; set OTEL_EXPORTER_OTLP_COMPRESSION=none for this receiver', 'warn');
    return r;
  }

  private dropRoute(route: Route): void {
    this.routes.splice(this.routes.indexOf(route), 1);
    route.retries?.release();
    void route.delegate.shutdown().catch(() => undefined);
  }

  private sendOn(route: Route, wire: Uint8Array | string, count: number): Promise<SendResult> {
    return new Promise<SendResult>((resolve) => {
      route.delegate.export({ body: wire, count }, (result) => {
        if (result.code === EXPORT_SUCCESS) {
          const unreadable = this.serializer.lastUnreadable;
          if (unreadable !== undefined && ++this.unreadableInARow <= UNREADABLE_RETRIES) {
            resolve({ ok: false, retryable: true, rejected: 0, message: `${unreadable}: not counted as delivered, sent again` });
            return;
          }
          if (unreadable !== undefined) {
            // Every answer of this receiver reads so: retried for ever, the stream would stop behind one batch. Taken,
            // and said: if the receiver is no OTLP collector, what it took is not there (the journal keeps its copy).
            if (!this.saidUnreadable) {
              this.saidUnreadable = true;
              sayLoudly(`otel-audit: ${unreadable}, ${UNREADABLE_RETRIES + 1} times in a row: such answers now count as delivered; if this endpoint is not an OTLP receiver, the records it takes are not delivered (the local journal keeps them until retention)`, 'warn');
            }
          } else {
            this.unreadableInARow = 0;
            // A gzip request answered by an OTLP response: the receiver decompresses, so a later 400 is about the
            // records. Not any success: a proxy's page proves nothing about the collector (found in review).
            if (route === this.route) this.uncompressed = undefined;
          }
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
        const code = typeof err?.code === 'number' ? err.code : undefined;
        if (this.protocol === 'grpc') {
          resolve({
            ok: false,
            retryable: code === undefined || grpcRetryable(code, err),
            rejected: 0,
            message: code !== undefined ? `gRPC status ${code}${GRPC_CONFIG_ERRORS.has(code) ? CONFIG_HINT : ''}` : safeMessage(err),
          });
          return;
        }
        resolve({
          ok: false,
          retryable: code === undefined || !isPermanentHttpStatus(code),
          rejected: 0,
          message: code !== undefined ? `HTTP ${code}${HTTP_CONFIG_ERRORS.has(code) ? CONFIG_HINT : ''}` : safeMessage(err),
          ...(code !== undefined ? { status: code } : {}),
          ...(route.retries?.retryAfterMillis !== undefined ? { retryAfterMillis: route.retries.retryAfterMillis } : {}),
        });
      });
    });
  }

  /**
   * An export in flight is not cancelled (its current attempt may still be acknowledged while the process runs
   * on), but it is not retried any more and its connection is unref'd: after shutdown it no longer keeps the
   * process alive.
   */
  async shutdown(): Promise<void> {
    this.uncompressed = undefined;
    for (const r of this.routes) r.retries?.release();
    this.sockets.release();
    await Promise.all(this.routes.map((r) => r.delegate.shutdown()));
  }

  onRetry(listener: (detail: string | undefined) => void): void {
    this.retryListener = listener;
    for (const r of this.routes) if (r.retries !== undefined) r.retries.onRetry = listener;
  }
}

/** The package a `grpc` sender needs: an optional peer, so HTTP users do not install grpc-js. */
export const GRPC_PACKAGE = '@opentelemetry/otlp-grpc-exporter-base';

interface GrpcBase {
  convertLegacyOtlpGrpcOptions(config: object, signal: string): unknown;
  createOtlpGrpcExportDelegate(
    options: unknown,
    serializer: PassThroughSerializer,
    component: string,
    helper: { name: 'log'; countItems(o: Outgoing): number },
    meterProvider: MeterProvider | undefined,
    grpcName: string,
    grpcPath: string,
  ): ExportDelegate;
}

function createGrpcDelegate(
  common: object,
  headers: Record<string, string> | undefined,
  serializer: PassThroughSerializer,
  helper: { name: 'log'; countItems(o: Outgoing): number },
  meterProvider: MeterProvider | undefined,
): ExportDelegate {
  const req = createRequire(import.meta.url);
  let base: GrpcBase;
  let basePath: string;
  try {
    basePath = req.resolve(GRPC_PACKAGE);
    base = req(basePath) as GrpcBase;
  } catch {
    throw new AuditConfigError(
      `OTLP protocol grpc needs the package ${GRPC_PACKAGE}, an optional peer dependency of otel-audit: install it next to your OpenTelemetry SDK (npm install ${GRPC_PACKAGE}), or use http/protobuf or http/json`,
    );
  }
  const config: Record<string, unknown> = { ...common };
  if (headers !== undefined) {
    // Code-option headers become gRPC metadata, built with the grpc-js that the transport itself uses.
    const { Metadata } = createRequire(basePath)('@grpc/grpc-js') as { Metadata: new () => { set(k: string, v: string): void } };
    const metadata = new Metadata();
    for (const [k, v] of Object.entries(headers)) {
      try {
        metadata.set(k, v);
      } catch {
        // grpc-js quotes the value in its error: a token, as often as not.
        throw new AuditConfigError(`otel-audit option exporter.headers is invalid (values hidden): ${JSON.stringify(k)} is not valid gRPC metadata${GRPC_METADATA_RULE}`);
      }
    }
    config.metadata = metadata;
  }
  try {
    return base.createOtlpGrpcExportDelegate(
      base.convertLegacyOtlpGrpcOptions(config, 'LOGS'),
      serializer,
      'otel_audit_otlp_grpc_log_exporter',
      helper,
      meterProvider,
      'LogsExportService',
      '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
    );
  } catch (e) {
    if (e instanceof AuditConfigError) throw e;
    // The transport reads OTEL_EXPORTER_OTLP_[LOGS_]HEADERS into metadata itself, and its error quotes the value.
    const code = (e as { code?: unknown } | undefined)?.code;
    throw new AuditConfigError(
      `otel-audit: the OTLP gRPC transport refused its configuration${typeof code === 'string' ? ` (${code})` : ''}; its message is not shown, as it may quote a header value: check OTEL_EXPORTER_OTLP_[LOGS_]HEADERS${GRPC_METADATA_RULE}, and the other OTEL_EXPORTER_OTLP_[LOGS_]* variables`,
    );
  }
}

const GRPC_METADATA_RULE = ': names of a-z 0-9 _ . -, values of printable ASCII';

/** Error text without anything that could echo a header value back. */
function safeMessage(err: Error | undefined): string {
  if (err === undefined) return 'export failed';
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? `${code}: ${err.message.slice(0, 120)}` : err.message.slice(0, 120);
}
