/**
 * Development OTLP/HTTP logs receiver ("local collector") for tests, the demo and the benchmark.
 *
 * A real HTTP server on loopback that accepts OTLP/HTTP `POST /v1/logs`, as OTLP/JSON or binary protobuf
 * (`application/x-protobuf`), either identity or gzip, and appends each request, normalized, as one OTLP/JSON
 * line: the format the OTel Collector's file exporter writes (a protobuf request gives the same line as the
 * same request sent as JSON). Each request is answered in its own format (responses.ts). Fault injection
 * (status codes, delays, dropped connections, partial success) and stop/start outages let tests exercise
 * delivery. It is deliberately not a production collector: no auth, no TLS, no gRPC. Dependency-free.
 *
 * Files: request.ts (media type, encoding, decoding), body.ts (the byte budget), fault.ts, origin.ts,
 * responses.ts; this one is the server, its lifecycle and the `/v1/logs` flow.
 *
 * Control plane (for a collector running in another process): `GET /_stats`, `GET /_fault`, `POST /_fault`.
 * Faults apply to `/v1/logs` only, so no fault mode can break the control plane.
 *
 * Browsers can reach a loopback port from any web page, so (origin.ts; tested in test/adversarial/collector-*.test.ts):
 * - a request with an `Origin` header that is not a loopback origin is refused with 403, on every path, and
 *   so is one whose `Host` is not a loopback name while the receiver listens on loopback (DNS rebinding);
 * - `POST /_fault` needs `Content-Type: application/json` (415 otherwise): a cross-origin page can send
 *   `text/plain` without a CORS preflight, but not JSON;
 * - request bodies held in memory at once, compressed and decompressed, stay within `maxInFlightBytes`: a
 *   request that would pass it is answered 503 with Retry-After (413 if it could never fit) and the rest of
 *   its body is discarded as it arrives, never buffered;
 * - what a body decodes into is bounded too (otlp/value-limit.ts: 60 MiB of `{}` took ~3 GB once parsed): bodies
 *   of at most 20 MiB, and 413 for one of more than 2,000,000 JSON objects and arrays (counted before parsing)
 *   or 4,000,000 protobuf messages (decoding stops there).
 */
import { once } from 'node:events';
import { constants as fsConstants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { countLogRecords } from '../otlp/normalize.js';
import type { ExportLogsServiceRequest } from '../otlp/types.js';
import { ByteBudget, HttpError, readBody, type BodyResult, type Hold } from './body.js';
import { NO_FAULT, parseFault, takeFault, withoutLastRecords, type CollectorFault } from './fault.js';
import { isLoopbackHost, refusedOrigin } from './origin.js';
import { readExportRequest } from './request.js';
import { formatOf, mediaType, sendBusy, sendError, sendExportResponse, sendJson, type ResponseFormat } from './responses.js';
import { errorText } from '../core/errors.js';
import { mkdirDurable } from '../sinks/durable.js';
import { lockOut } from './out-lock.js';
import { repairTornTail } from './torn-tail.js';

export type { CollectorFault } from './fault.js';

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
  /**
   * Largest accepted body, compressed and decompressed. Default 20 MiB, the OTel Collector's default
   * (confighttp `max_request_body_size`): an exporter that works against this receiver works against that one.
   */
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
export const DEFAULT_MAX_BODY_BYTES = 20 * 1024 * 1024;
export const DEFAULT_MAX_IN_FLIGHT_BYTES = 256 * 1024 * 1024;

/** Starts the receiver and resolves once it is listening (and the output file is open). */
export async function startCollector(options: CollectorOptions = {}): Promise<CollectorHandle> {
  const collector = new LocalCollector(options);
  await collector.open();
  return collector;
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

  private currentFault: CollectorFault = NO_FAULT;
  private readonly counters: CollectorStats = { requests: 0, accepted: 0, rejected: 0, records: 0, bytes: 0 };
  private file: FileHandle | undefined;
  /** Releases `<out>.lock` (out-lock.ts), while this collector holds it. */
  private unlockOut: (() => void) | undefined;
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
      // Non-blocking, then checked: opening a FIFO for writing would otherwise wait for a reader, for ever,
      // before the collector even listens; only a regular file is an output file.
      const C = fsConstants;
      let file: FileHandle | undefined;
      let readable = true;
      try {
        // Not mkdir({ recursive: true }), which loops for ever on a path under /proc (ENOENT however often the
        // parents are made): one clear error instead.
        mkdirDurable(dirname(this.outFile));
        // Before the file is touched: one collector writes it at a time (out-lock.ts).
        this.unlockOut = lockOut(this.outFile);
        // Never through a symbolic link (records appended to whatever it points at); mode 0600 even for a file
        // that existed with a looser one, as the help says.
        // Read-write, to check its last line (torn-tail.ts); write-only when this process may only write it.
        const flags = C.O_APPEND | C.O_CREAT | C.O_NONBLOCK | (C.O_NOFOLLOW ?? 0);
        try {
          file = await open(this.outFile, C.O_RDWR | flags, 0o600);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EACCES') throw e;
          file = await open(this.outFile, C.O_WRONLY | flags, 0o600);
          readable = false;
        }
        if (!(await file.stat()).isFile()) throw Object.assign(new Error('not a regular file'), { code: 'not a regular file' });
        await file.chmod(0o600);
      } catch (e) {
        await file?.close();
        this.releaseOut();
        const code = (e as NodeJS.ErrnoException).code;
        const why = code === 'ELOOP' ? 'it is a symbolic link, which is not followed' : code === 'locked' ? errorText(e) : (code ?? errorText(e));
        throw new Error(`cannot open --out ${JSON.stringify(this.outFile)}: ${why}`);
      }
      try {
        const torn = `${this.outFile}.torn`;
        const r = readable ? await repairTornTail(file, torn) : undefined;
        if (r === undefined) this.log('collector: --out is not readable by this process: its last line is not checked for one an earlier run left unfinished');
        else if (r.kind === 'terminated') this.log('collector: --out ended with a whole JSON line without its newline: the newline was added');
        else if (r.kind === 'moved') this.log(`collector: --out ended with an unfinished line of ${r.bytes} bytes (what a run killed mid-write leaves, never acknowledged): moved to ${torn}`);
      } catch (e) {
        await file.close();
        this.releaseOut();
        throw e;
      }
      this.file = file;
    }
    try {
      await this.start();
    } catch (err) {
      await this.file?.close();
      this.file = undefined;
      this.releaseOut();
      throw err;
    }
  }

  private releaseOut(): void {
    this.unlockOut?.();
    this.unlockOut = undefined;
  }

  start(): Promise<void> {
    return this.serialize(async () => {
      if (this.closed) throw new Error('collector is closed');
      if (this.server) return;
      const server = createServer((req, res) => {
        this.handle(req, res).catch((err: unknown) => {
          this.log(`collector: request failed: ${errorText(err)}`);
          if (!res.headersSent) sendError(res, 500, 'internal error', formatOf(req));
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
      this.releaseOut();
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

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Errors are answered in the request's format: a protobuf exporter reads a protobuf Status.
    const format = formatOf(req);
    const refused = refusedOrigin(req, this.checkHost);
    if (refused !== undefined) {
      this.log(`collector: ${refused}`);
      return sendError(res, 403, refused, format);
    }
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path === '/v1/logs') {
      if (req.method !== 'POST') return sendError(res, 405, 'use POST', format, { Allow: 'POST' });
      return this.handleLogs(req, res, format);
    }
    if (path === '/_stats' && req.method === 'GET') return sendJson(res, 200, this.stats());
    if (path === '/_fault' && req.method === 'GET') return sendJson(res, 200, this.fault());
    if (path === '/_fault' && req.method === 'POST') return this.handleSetFault(req, res);
    return sendError(res, 404, `not found: ${req.method ?? ''} ${path ?? ''}`, format);
  }

  private async handleSetFault(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // A web page may POST text/plain (or a form) to any origin without a preflight; JSON needs one, which
    // this receiver never grants.
    const type = mediaType(req);
    if (type !== 'application/json') {
      return sendError(res, 415, `control requests need Content-Type: application/json; got ${type === '' ? 'none' : type}`, 'json');
    }
    const hold: Hold = { bytes: 0 };
    let body: BodyResult;
    try {
      body = await readBody(req, 64 * 1024, this.budget, hold);
      if (body.kind === 'aborted') return;
      if (body.kind === 'too-large') return sendError(res, 413, 'fault body too large', 'json');
      if (body.kind === 'busy') return body.alone ? sendError(res, 413, 'fault body too large', 'json') : sendBusy(res, 'json');
      this.setFault(parseFault(JSON.parse(body.body.toString('utf8'))));
    } catch (err) {
      return sendError(res, 400, errorText(err), 'json');
    } finally {
      this.budget.release(hold);
    }
    this.log(`collector: fault set to ${JSON.stringify(this.currentFault)}`);
    sendJson(res, 200, this.fault());
  }

  private async handleLogs(req: IncomingMessage, res: ServerResponse, format: ResponseFormat): Promise<void> {
    this.counters.requests++;
    const { now: fault, next } = takeFault(this.currentFault);
    this.currentFault = next;
    if (fault.mode === 'drop' || fault.mode === 'status') return this.refuse(req, res, fault, format);

    let request: ExportLogsServiceRequest;
    let bodyBytes: number;
    const hold: Hold = { bytes: 0 };
    try {
      ({ request, bodyBytes } = await readExportRequest(req, { maxBodyBytes: this.maxBodyBytes, budget: this.budget }, hold));
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      this.counters.rejected++;
      req.resume(); // discard what is left of the body as it arrives
      if (err.status === 503) return sendBusy(res, format);
      return sendError(res, err.status, err.message, format);
    } finally {
      // The body's bytes are garbage now (the decoded request is what is left): give them back before writing.
      this.budget.release(hold);
    }

    const total = countLogRecords(request);
    const rejectedRecords = fault.mode === 'partial' ? Math.min(fault.rejected, total) : 0;
    if (rejectedRecords > 0) request = withoutLastRecords(request, rejectedRecords);
    if (!(await this.write(request, total - rejectedRecords, bodyBytes))) {
      return sendError(res, 500, 'could not write the output file', format);
    }

    if (fault.mode === 'delay') {
      this.log(`collector: fault delay ${fault.delayMs} ms`);
      const completed = await sleep(fault.delayMs, this.session.signal, res);
      if (!completed) return; // the client gave up or the collector stopped: nobody to answer
    }
    if (rejectedRecords > 0) {
      return sendExportResponse(res, format, {
        partialSuccess: {
          rejectedLogRecords: String(rejectedRecords),
          errorMessage: `injected fault: rejected the last ${rejectedRecords} log record(s)`,
        },
      });
    }
    sendExportResponse(res, format, {});
  }

  /** The `drop` and `status` faults: nothing is read or written. */
  private refuse(req: IncomingMessage, res: ServerResponse, fault: CollectorFault & { mode: 'drop' | 'status' }, format: ResponseFormat): void {
    this.counters.rejected++;
    if (fault.mode === 'drop') {
      this.log('collector: fault drop: destroying the connection');
      req.socket.destroy();
      return;
    }
    this.log(`collector: fault status ${fault.status}`);
    req.resume(); // discard the body; the connection stays usable
    const headers: Record<string, string> = {};
    if (fault.retryAfterSeconds !== undefined) headers['Retry-After'] = String(fault.retryAfterSeconds);
    sendError(res, fault.status, `injected fault: HTTP ${fault.status}`, format, headers);
  }

  /**
   * Writes the `written` records of an accepted request as one OTLP/JSON line (none: a request without
   * records carries nothing to audit, so no empty line) and counts it; false when the write failed.
   */
  private async write(request: ExportLogsServiceRequest, written: number, bodyBytes: number): Promise<boolean> {
    if (written > 0) {
      let bytes = bodyBytes;
      if (this.outFile !== undefined) {
        const line = Buffer.from(`${JSON.stringify(request)}\n`, 'utf8');
        try {
          await this.append(line);
        } catch (err) {
          this.counters.rejected++;
          this.log(`collector: write failed: ${errorText(err)}`);
          return false;
        }
        bytes = line.length;
      }
      this.counters.records += written;
      this.counters.bytes += bytes;
    }
    this.counters.accepted++;
    return true;
  }

  private append(line: Buffer): Promise<void> {
    const write = this.writes.then(async () => {
      const file = this.file;
      if (!file) {
        if (this.outFile !== undefined) throw new Error('collector is closed');
        return; // no outFile: count only
      }
      // A write that fails part-way (ENOSPC) is cut back to the last whole line: the next request would otherwise
      // be appended to the fragment, on the same line, and be unreadable though acknowledged.
      const start = (await file.stat()).size;
      try {
        let offset = 0;
        while (offset < line.length) {
          const { bytesWritten } = await file.write(line, offset, line.length - offset);
          offset += bytesWritten;
        }
        if (this.fsync) await file.sync();
      } catch (err) {
        await file.truncate(start).catch(() => undefined);
        throw err;
      }
    });
    // Keep the chain alive after a failed write; the failing request reports its own error.
    this.writes = write.catch(() => undefined);
    return write;
  }
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
