/**
 * Development OTLP/HTTP logs receiver ("local collector") for tests, the demo and the benchmark.
 *
 * A real HTTP server on loopback that accepts OTLP/JSON `POST /v1/logs` and appends each request, normalized,
 * as one JSON line: the format the OTel Collector's file exporter writes. Fault injection (status codes,
 * delays, dropped connections, partial success) and stop/start outages let tests exercise delivery.
 * It is deliberately not a production collector: no protobuf, no auth, no TLS. Dependency-free.
 *
 * Control plane (for a collector running in another process): `GET /_stats`, `GET /_fault`, `POST /_fault`.
 * Faults apply to `/v1/logs` only, so no fault mode can break the control plane.
 *
 * Browsers can reach a loopback port from any web page, so (tested in test/adversarial/collector-*.test.ts):
 * - a request with an `Origin` header that is not a loopback origin is refused with 403, on every path, and
 *   so is one whose `Host` is not a loopback name while the receiver listens on loopback (DNS rebinding);
 * - `POST /_fault` needs `Content-Type: application/json` (415 otherwise): a cross-origin page can send
 *   `text/plain` without a CORS preflight, but not JSON;
 * - request bodies held in memory at once, compressed and decompressed, stay within `maxInFlightBytes`: a
 *   request that would pass it is answered 503 with Retry-After (413 if it could never fit) and the rest of
 *   its body is discarded as it arrives, never buffered.
 */
import { once } from 'node:events';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { gunzip } from 'node:zlib';
import { countLogRecords, normalizeExportRequest, OtlpFormatError } from '../otlp/normalize.js';
import type { ExportLogsServiceRequest, OtlpResourceLogs, OtlpScopeLogs } from '../otlp/types.js';

/** What the receiver does with the next `/v1/logs` requests. `times` limits a fault to the next N requests. */
export type CollectorFault =
  | { mode: 'ok' }
  /** Respond with `status` and a JSON error body; nothing is written. */
  | { mode: 'status'; status: number; retryAfterSeconds?: number; times?: number }
  /** Write, then wait `delayMs` before responding (a client that gives up first is fine). */
  | { mode: 'delay'; delayMs: number; times?: number }
  /** Destroy the socket without responding and without writing. */
  | { mode: 'drop'; times?: number }
  /** Write all but the last `rejected` records of the request and report them in `partialSuccess`. */
  | { mode: 'partial'; rejected: number; times?: number };

export interface CollectorOptions {
  /** Default `127.0.0.1`. */
  host?: string;
  /** Default 4318; 0 picks a free port (kept across stop()/start()). */
  port?: number;
  /** JSON-lines output file (created 0600, parent dirs 0700). Undefined: count only, write nothing. */
  outFile?: string;
  /** fsync after every write. Default false. */
  fsync?: boolean;
  /** Initial fault. Default `{ mode: 'ok' }`. */
  fault?: CollectorFault;
  /** Diagnostic lines (listening, faults applied, errors). */
  log?: (line: string) => void;
  /** Largest accepted body, compressed and decompressed. Default 64 MiB. */
  maxBodyBytes?: number;
  /**
   * Most body bytes held in memory across all requests being read at once (compressed and decompressed
   * both count). Default 256 MiB. Past it a request is answered 503 with `Retry-After: 1` (an OTLP exporter
   * retries), or 413 when it alone exceeds it.
   */
  maxInFlightBytes?: number;
}

/** Body bytes held by requests being read (`CollectorHandle.inFlight`). */
export interface InFlightBytes {
  bytes: number;
  /** Highest `bytes` since the collector started. */
  peakBytes: number;
  limitBytes: number;
}

export interface CollectorStats {
  /** `POST /v1/logs` requests received. */
  requests: number;
  /** Requests whose records were written (fully, or all but the rejected ones for `partial`). */
  accepted: number;
  /** Requests answered with an error status or dropped. */
  rejected: number;
  /** Log records written. */
  records: number;
  /**
   * Bytes of JSON lines written. Without `outFile` nothing is serialized (so a counting receiver costs the
   * sender as little as possible): then it is the bytes of the accepted request bodies, decompressed.
   */
  bytes: number;
}

export interface CollectorHandle {
  /** e.g. `http://127.0.0.1:43121`. */
  readonly url: string;
  readonly port: number;
  /** `url + '/v1/logs'`. */
  readonly endpoint: string;
  stats(): CollectorStats;
  /** Body bytes held in memory right now, their peak and the limit (`maxInFlightBytes`). */
  inFlight(): InFlightBytes;
  /** Current fault; `times` is what is left of it. */
  fault(): CollectorFault;
  setFault(fault: CollectorFault): void;
  /** Close the listener and every open connection: clients get "connection refused" (a real outage). */
  stop(): Promise<void>;
  /** Listen again on the same port. */
  start(): Promise<void>;
  /** Stop for good and flush and close the output file. */
  close(): Promise<void>;
}

export const DEFAULT_COLLECTOR_PORT = 4318;
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_IN_FLIGHT_BYTES = 256 * 1024 * 1024;

const OK: CollectorFault = { mode: 'ok' };

/** Starts the receiver and resolves once it is listening (and the output file is open). */
export async function startCollector(options: CollectorOptions = {}): Promise<CollectorHandle> {
  const collector = new LocalCollector(options);
  await collector.open();
  return collector;
}

/**
 * Validates a fault (from code, `POST /_fault` or the command line); throws `TypeError` naming the problem.
 * Returns a fresh object so later mutation of the input has no effect.
 */
export function parseFault(input: unknown): CollectorFault {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new TypeError('fault must be an object with a "mode"');
  }
  const o = input as { readonly [key: string]: unknown };
  const get = (k: string): unknown => (Object.hasOwn(o, k) ? o[k] : undefined);
  const mode = get('mode');
  const times = optInt(get('times'), 'times', 1, Number.MAX_SAFE_INTEGER);
  const withTimes = <T extends object>(f: T): T & { times?: number } => (times === undefined ? f : { ...f, times });
  switch (mode) {
    case 'ok':
      return { mode: 'ok' };
    case 'status': {
      const status = reqInt(get('status'), 'status', 200, 599);
      const retryAfterSeconds = optInt(get('retryAfterSeconds'), 'retryAfterSeconds', 0, 86_400);
      const f: CollectorFault =
        retryAfterSeconds === undefined ? { mode, status } : { mode, status, retryAfterSeconds };
      return withTimes(f);
    }
    case 'delay':
      return withTimes({ mode, delayMs: reqInt(get('delayMs'), 'delayMs', 0, 3_600_000) });
    case 'drop':
      return withTimes({ mode });
    case 'partial':
      return withTimes({ mode, rejected: reqInt(get('rejected'), 'rejected', 1, Number.MAX_SAFE_INTEGER) });
    default:
      throw new TypeError(`fault mode must be one of ok, status, delay, drop, partial; got ${JSON.stringify(mode)}`);
  }
}

function reqInt(v: unknown, name: string, min: number, max: number): number {
  const n = optInt(v, name, min, max);
  if (n === undefined) throw new TypeError(`fault.${name} is required`);
  return n;
}

function optInt(v: unknown, name: string, min: number, max: number): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new TypeError(`fault.${name} must be an integer from ${min} to ${max}; got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Keeps the first `total - rejected` records of a request; scope/resource groups left empty are dropped. */
export function withoutLastRecords(req: ExportLogsServiceRequest, rejected: number): ExportLogsServiceRequest {
  let keep = countLogRecords(req) - rejected;
  const resourceLogs: OtlpResourceLogs[] = [];
  for (const rl of req.resourceLogs ?? []) {
    if (keep <= 0) break;
    const scopeLogs: OtlpScopeLogs[] = [];
    for (const sl of rl.scopeLogs ?? []) {
      if (keep <= 0) break;
      const records = sl.logRecords ?? [];
      if (records.length <= keep) {
        scopeLogs.push(sl);
      } else {
        scopeLogs.push({ ...sl, logRecords: records.slice(0, keep) });
      }
      keep -= records.length;
    }
    if (scopeLogs.length > 0) resourceLogs.push({ ...rl, scopeLogs });
  }
  return { resourceLogs };
}

/** `busy`: the budget could not take a chunk; `alone` when no other request held any of it (it never fits). */
type BodyResult = { kind: 'ok'; body: Buffer } | { kind: 'too-large' } | { kind: 'aborted' } | { kind: 'busy'; alone: boolean };

/** The in-flight byte budget shared by all requests. */
class ByteBudget {
  used = 0;
  peak = 0;
  constructor(readonly limit: number) {}

  available(): number {
    return this.limit - this.used;
  }

  /** Takes `n` bytes for `hold`; false, taking nothing, when that would pass the limit. */
  take(hold: Hold, n: number): boolean {
    if (this.used + n > this.limit) return false;
    this.used += n;
    hold.bytes += n;
    if (this.used > this.peak) this.peak = this.used;
    return true;
  }

  /** Gives back `n` of the bytes `hold` took. */
  giveBack(hold: Hold, n: number): void {
    this.used -= n;
    hold.bytes -= n;
  }

  /** Gives back everything `hold` took (idempotent). */
  release(hold: Hold): void {
    this.used -= hold.bytes;
    hold.bytes = 0;
  }
}

/** The bytes one request holds of the budget. */
interface Hold {
  bytes: number;
}

/**
 * Is `host` (a name or an IP address, without brackets or port) a loopback address? `localhost` and names
 * under `.localhost` resolve only to loopback (RFC 6761 §6.3); 0.0.0.0 is not accepted.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
  return false;
}

/** The host of a `Host` header value (`name`, `name:port`, `[v6]:port`), brackets removed. */
function hostOfHeader(value: string): string {
  const v = value.trim();
  if (v.startsWith('[')) return v.slice(1, v.indexOf(']') < 0 ? undefined : v.indexOf(']'));
  const colon = v.indexOf(':');
  return colon < 0 ? v : v.slice(0, colon);
}

/** Why a request is refused before anything else is done with it (403), or undefined. */
function refusedOrigin(req: IncomingMessage, checkHost: boolean): string | undefined {
  const origin = req.headers.origin;
  if (origin !== undefined) {
    let host: string | undefined;
    try {
      const u = new URL(origin);
      if (u.protocol === 'http:' || u.protocol === 'https:') host = u.hostname.replace(/^\[|\]$/g, '');
    } catch {
      host = undefined; // "null" (sandboxed frames, file:) or garbage
    }
    if (host === undefined || !isLoopbackHost(host)) {
      return `cross-origin request refused: Origin ${JSON.stringify(origin.slice(0, 200))} is not a loopback origin`;
    }
  }
  const hostHeader = req.headers.host;
  if (checkHost && hostHeader !== undefined && !isLoopbackHost(hostOfHeader(hostHeader))) {
    return `request refused: Host ${JSON.stringify(hostHeader.slice(0, 200))} is not a loopback name (this receiver listens on loopback)`;
  }
  return undefined;
}

/** The media type of a Content-Type header, lower case, without parameters. */
const mediaType = (req: IncomingMessage): string => (req.headers['content-type'] ?? '').split(';', 1)[0]?.trim().toLowerCase() ?? '';

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

class LocalCollector implements CollectorHandle {
  private readonly host: string;
  private readonly requestedPort: number;
  private readonly outFile: string | undefined;
  private readonly fsync: boolean;
  private readonly maxBodyBytes: number;
  private readonly budget: ByteBudget;
  /** Listening on loopback: then a request naming another Host is a DNS-rebinding attempt. */
  private readonly checkHost: boolean;
  private readonly log: (line: string) => void;

  private currentFault: CollectorFault = OK;
  private readonly counters: CollectorStats = { requests: 0, accepted: 0, rejected: 0, records: 0, bytes: 0 };
  private file: FileHandle | undefined;
  /** Every append goes through this chain, so concurrent requests never interleave lines. */
  private writes: Promise<void> = Promise.resolve();
  /** start/stop/close are serialized too, so a stop() racing a start() leaves a consistent state. */
  private lifecycle: Promise<void> = Promise.resolve();
  private server: Server | undefined;
  /** Aborted by stop(): ends pending delays so no timer outlives the outage. */
  private session = new AbortController();
  private boundPort = 0;
  private closed = false;
  private restarts = 0;

  constructor(options: CollectorOptions) {
    this.host = options.host ?? '127.0.0.1';
    this.requestedPort = options.port ?? DEFAULT_COLLECTOR_PORT;
    if (!Number.isInteger(this.requestedPort) || this.requestedPort < 0 || this.requestedPort > 65535) {
      throw new RangeError(`port must be an integer from 0 to 65535; got ${String(options.port)}`);
    }
    this.outFile = options.outFile;
    this.fsync = options.fsync ?? false;
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    const maxInFlight = options.maxInFlightBytes ?? DEFAULT_MAX_IN_FLIGHT_BYTES;
    if (!Number.isSafeInteger(maxInFlight) || maxInFlight < 1) {
      throw new RangeError(`maxInFlightBytes must be a positive integer; got ${String(options.maxInFlightBytes)}`);
    }
    this.budget = new ByteBudget(maxInFlight);
    this.checkHost = isLoopbackHost(this.host.replace(/^\[|\]$/g, ''));
    this.log = options.log ?? (() => {});
    if (options.fault) this.setFault(options.fault);
  }

  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    const host = this.host.includes(':') ? `[${this.host}]` : this.host;
    return `http://${host}:${this.boundPort}`;
  }

  get endpoint(): string {
    return `${this.url}/v1/logs`;
  }

  stats(): CollectorStats {
    return { ...this.counters };
  }

  fault(): CollectorFault {
    return { ...this.currentFault };
  }

  inFlight(): InFlightBytes {
    return { bytes: this.budget.used, peakBytes: this.budget.peak, limitBytes: this.budget.limit };
  }

  setFault(fault: CollectorFault): void {
    this.currentFault = parseFault(fault);
  }

  async open(): Promise<void> {
    if (this.outFile !== undefined) {
      await mkdir(dirname(this.outFile), { recursive: true, mode: 0o700 });
      this.file = await open(this.outFile, 'a', 0o600);
    }
    try {
      await this.start();
    } catch (err) {
      await this.file?.close();
      this.file = undefined;
      throw err;
    }
  }

  start(): Promise<void> {
    return this.serialize(async () => {
      if (this.closed) throw new Error('collector is closed');
      if (this.server) return;
      const server = createServer((req, res) => {
        this.handle(req, res).catch((err: unknown) => {
          this.log(`collector: request failed: ${errorText(err)}`);
          if (!res.headersSent) sendJson(res, 500, { code: 13, message: 'internal error' });
          else res.destroy();
        });
      });
      // Port 0 only the first time; afterwards the same port, so clients see the same endpoint come back. While
      // it was stopped the kernel may have lent that port to another socket (an ephemeral client port): a
      // restart then retries for a while instead of failing (EADDRINUSE), bounded.
      const port = this.boundPort || this.requestedPort;
      for (let attempt = 1; ; attempt++) {
        try {
          server.listen(port, this.host);
          await once(server, 'listening');
          break;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || this.boundPort === 0 || attempt >= 50) throw e;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      this.boundPort = (server.address() as AddressInfo).port;
      this.server = server;
      this.session = new AbortController();
      // The first listen is reported by the caller (who knows the port from the handle); restarts are logged.
      if (this.restarts++ > 0) this.log(`collector: listening again on ${this.url}`);
    });
  }

  stop(): Promise<void> {
    return this.serialize(() => this.stopNow());
  }

  close(): Promise<void> {
    return this.serialize(async () => {
      if (this.closed) return;
      this.closed = true;
      await this.stopNow();
      await this.writes;
      await this.file?.close();
      this.file = undefined;
    });
  }

  private async stopNow(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.session.abort();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
    this.log(`collector: stopped listening on ${this.url}`);
  }

  private serialize(op: () => Promise<void>): Promise<void> {
    const next = this.lifecycle.then(op);
    this.lifecycle = next.catch(() => undefined);
    return next;
  }

  /** Takes the fault for one `/v1/logs` request, counting `times` down. */
  private takeFault(): CollectorFault {
    const fault = this.currentFault;
    if (fault.mode !== 'ok' && fault.times !== undefined) {
      this.currentFault = fault.times <= 1 ? OK : { ...fault, times: fault.times - 1 };
    }
    return fault;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const refused = refusedOrigin(req, this.checkHost);
    if (refused !== undefined) {
      this.log(`collector: ${refused}`);
      return sendError(res, 403, refused);
    }
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path === '/v1/logs') {
      if (req.method !== 'POST') return sendError(res, 405, 'use POST', { Allow: 'POST' });
      return this.handleLogs(req, res);
    }
    if (path === '/_stats' && req.method === 'GET') return sendJson(res, 200, this.stats());
    if (path === '/_fault' && req.method === 'GET') return sendJson(res, 200, this.fault());
    if (path === '/_fault' && req.method === 'POST') return this.handleSetFault(req, res);
    return sendError(res, 404, `not found: ${req.method ?? ''} ${path ?? ''}`);
  }

  private async handleSetFault(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // A web page may POST text/plain (or a form) to any origin without a preflight; JSON needs one, which
    // this receiver never grants.
    const type = mediaType(req);
    if (type !== 'application/json') {
      return sendError(res, 415, `control requests need Content-Type: application/json; got ${type === '' ? 'none' : type}`);
    }
    const hold: Hold = { bytes: 0 };
    let body: BodyResult;
    try {
      body = await readBody(req, 64 * 1024, this.budget, hold);
      if (body.kind === 'aborted') return;
      if (body.kind === 'too-large') return sendError(res, 413, 'fault body too large');
      if (body.kind === 'busy') return body.alone ? sendError(res, 413, 'fault body too large') : sendBusy(res);
      this.setFault(parseFault(JSON.parse(body.body.toString('utf8'))));
    } catch (err) {
      return sendError(res, 400, errorText(err));
    } finally {
      this.budget.release(hold);
    }
    this.log(`collector: fault set to ${JSON.stringify(this.currentFault)}`);
    sendJson(res, 200, this.fault());
  }

  private async handleLogs(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.counters.requests++;
    const fault = this.takeFault();

    if (fault.mode === 'drop') {
      this.counters.rejected++;
      this.log('collector: fault drop: destroying the connection');
      req.socket.destroy();
      return;
    }
    if (fault.mode === 'status') {
      this.counters.rejected++;
      this.log(`collector: fault status ${fault.status}`);
      req.resume(); // discard the body; the connection stays usable
      const headers: Record<string, string> = {};
      if (fault.retryAfterSeconds !== undefined) headers['Retry-After'] = String(fault.retryAfterSeconds);
      return sendError(res, fault.status, `injected fault: HTTP ${fault.status}`, headers);
    }

    let request: ExportLogsServiceRequest;
    let bodyBytes: number;
    const hold: Hold = { bytes: 0 };
    try {
      ({ request, bodyBytes } = await this.readRequest(req, hold));
    } catch (err) {
      if (err instanceof HttpError) {
        this.counters.rejected++;
        req.resume(); // discard what is left of the body as it arrives
        if (err.status === 503) return sendBusy(res);
        return sendError(res, err.status, err.message);
      }
      throw err;
    } finally {
      // The body's bytes are garbage now (the parsed request is what is left): give them back before writing.
      this.budget.release(hold);
    }

    const total = countLogRecords(request);
    let rejectedRecords = 0;
    if (fault.mode === 'partial') {
      rejectedRecords = Math.min(fault.rejected, total);
      request = withoutLastRecords(request, rejectedRecords);
    }
    const written = total - rejectedRecords;
    // A request without records carries nothing to audit: acknowledge it without writing an empty line.
    if (written > 0) {
      let bytes = bodyBytes;
      if (this.outFile !== undefined) {
        const line = Buffer.from(`${JSON.stringify(request)}\n`, 'utf8');
        try {
          await this.append(line);
        } catch (err) {
          this.counters.rejected++;
          this.log(`collector: write failed: ${errorText(err)}`);
          return sendError(res, 500, 'could not write the output file');
        }
        bytes = line.length;
      }
      this.counters.records += written;
      this.counters.bytes += bytes;
    }
    this.counters.accepted++;

    if (fault.mode === 'delay') {
      this.log(`collector: fault delay ${fault.delayMs} ms`);
      const completed = await sleep(fault.delayMs, this.session.signal, res);
      if (!completed) return; // the client gave up or the collector stopped: nobody to answer
    }
    if (rejectedRecords > 0) {
      return sendJson(res, 200, {
        partialSuccess: {
          rejectedLogRecords: String(rejectedRecords),
          errorMessage: `injected fault: rejected the last ${rejectedRecords} log record(s)`,
        },
      });
    }
    sendJson(res, 200, {});
  }

  /**
   * Reads, decompresses, parses and normalizes the body, taking its bytes from the budget into `hold`;
   * throws `HttpError` for the client's mistakes, and with status 503 when the budget is used up.
   */
  private async readRequest(req: IncomingMessage, hold: Hold): Promise<{ request: ExportLogsServiceRequest; bodyBytes: number }> {
    const contentType = mediaType(req);
    if (contentType !== 'application/json') {
      const got = contentType === '' ? 'no Content-Type' : `Content-Type ${contentType}`;
      throw new HttpError(
        415,
        `only OTLP/JSON (Content-Type: application/json) is supported by this development receiver; got ${got}`,
      );
    }
    const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    if (encoding !== 'identity' && encoding !== 'gzip') {
      throw new HttpError(415, `unsupported Content-Encoding ${encoding}; use gzip or identity`);
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > this.maxBodyBytes) throw new HttpError(413, `body larger than ${this.maxBodyBytes} bytes`);
    // Refused before a byte is read when the declared length cannot fit now.
    if (declared > this.budget.limit) throw new HttpError(413, `body larger than the ${this.budget.limit} bytes this receiver holds at once`);
    if (declared > this.budget.available()) throw new HttpError(503, 'busy');

    const result = await readBody(req, this.maxBodyBytes, this.budget, hold);
    if (result.kind === 'aborted') throw new HttpError(400, 'request aborted');
    if (result.kind === 'too-large') throw new HttpError(413, `body larger than ${this.maxBodyBytes} bytes`);
    if (result.kind === 'busy') {
      if (result.alone) throw new HttpError(413, `body larger than the ${this.budget.limit} bytes this receiver holds at once`);
      throw new HttpError(503, 'busy');
    }
    let body = result.body;
    if (encoding === 'gzip') {
      // The decompressed bytes are held too: at most what the budget has left (and maxBodyBytes).
      // The room is reserved before inflating, so that concurrent inflations cannot overshoot together. Past
      // it while other requests hold bytes: 503 (it may fit later); alone, it never fits: 413.
      const room = Math.min(this.maxBodyBytes, this.budget.available());
      const alone = this.budget.used === hold.bytes;
      this.budget.take(hold, room);
      body = await gunzipLimited(body, room, room < this.maxBodyBytes && !alone ? 503 : 413);
      this.budget.giveBack(hold, room - body.length);
    }

    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch (err) {
      throw new HttpError(400, `invalid JSON: ${errorText(err)}`);
    }
    try {
      return { request: normalizeExportRequest(parsed), bodyBytes: body.length };
    } catch (err) {
      if (err instanceof OtlpFormatError) throw new HttpError(400, err.message);
      throw err;
    }
  }

  private append(line: Buffer): Promise<void> {
    const write = this.writes.then(async () => {
      const file = this.file;
      if (!file) {
        if (this.outFile !== undefined) throw new Error('collector is closed');
        return; // no outFile: count only
      }
      let offset = 0;
      while (offset < line.length) {
        const { bytesWritten } = await file.write(line, offset, line.length - offset);
        offset += bytesWritten;
      }
      if (this.fsync) await file.sync();
    });
    // Keep the chain alive after a failed write; the failing request reports its own error.
    this.writes = write.catch(() => undefined);
    return write;
  }
}

/**
 * Reads a body of at most `limit` bytes, each chunk taken from `budget` into `hold` as it arrives. Past the
 * limit, the rest is drained (so that the client can read the 413) but not kept. When the budget cannot
 * take a chunk, everything held is given back, the rest of the body is drained, and `busy` is resolved at
 * once. The caller releases `hold`.
 */
function readBody(req: IncomingMessage, limit: number, budget: ByteBudget, hold: Hold): Promise<BodyResult> {
  return new Promise((resolve) => {
    let chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    let busy = false;
    req.on('data', (chunk: Buffer) => {
      if (busy) return;
      size += chunk.length;
      if (size > limit && !tooLarge) {
        tooLarge = true;
        chunks = [];
        budget.release(hold);
      }
      if (tooLarge) return;
      if (!budget.take(hold, chunk.length)) {
        busy = true;
        chunks = [];
        const alone = budget.used === hold.bytes;
        budget.release(hold);
        resolve({ kind: 'busy', alone });
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? { kind: 'too-large' } : { kind: 'ok', body: Buffer.concat(chunks) }));
    req.on('error', () => resolve({ kind: 'aborted' }));
    req.on('close', () => {
      if (!req.complete) resolve({ kind: 'aborted' });
    });
  });
}

/** Gunzips at most `limit` bytes; past it, rejects with `overStatus` (413, or 503 when the budget is the limit). */
function gunzipLimited(body: Buffer, limit: number, overStatus: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // maxOutputLength must be at least 1.
    gunzip(body, { maxOutputLength: Math.max(1, limit) }, (err, out) => {
      if (!err) return resolve(out);
      if (err instanceof RangeError || (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        return reject(new HttpError(overStatus, overStatus === 503 ? 'busy' : `decompressed body larger than ${limit} bytes`));
      }
      reject(new HttpError(400, `invalid gzip body: ${err.message}`));
    });
  });
}

/** Resolves true after `ms`, or false as soon as the collector stops or the client goes away. */
function sleep(ms: number, signal: AbortSignal, res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted || res.destroyed) return resolve(false);
    const finish = (completed: boolean): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      res.off('close', onAbort);
      resolve(completed);
    };
    const onAbort = (): void => finish(false);
    const timer = setTimeout(() => finish(true), ms);
    signal.addEventListener('abort', onAbort);
    res.on('close', onAbort);
  });
}

/** google.rpc.Code for an HTTP status, so error bodies look like a real OTLP/HTTP server's. */
function rpcCode(status: number): number {
  switch (status) {
    case 400:
    case 413:
    case 415:
      return 3; // INVALID_ARGUMENT
    case 401:
      return 16; // UNAUTHENTICATED
    case 403:
      return 7; // PERMISSION_DENIED
    case 404:
      return 5; // NOT_FOUND
    case 405:
    case 501:
      return 12; // UNIMPLEMENTED
    case 429:
      return 8; // RESOURCE_EXHAUSTED
    case 500:
      return 13; // INTERNAL
    case 502:
    case 503:
    case 504:
      return 14; // UNAVAILABLE
    default:
      return 2; // UNKNOWN
  }
}

/** 503 with Retry-After: the in-flight budget is used up by other requests; an OTLP exporter retries. */
function sendBusy(res: ServerResponse): void {
  sendError(res, 503, 'receiver busy: request bodies in flight are at the in-memory limit (maxInFlightBytes); retry', { 'Retry-After': '1' });
}

function sendError(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { code: rpcCode(status), message }, headers);
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  if (status < 200 || status === 204 || status === 304) {
    // These statuses cannot carry a body (an injected 204, say).
    res.writeHead(status, headers);
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
