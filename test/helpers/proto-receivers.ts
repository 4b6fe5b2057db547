/**
 * Real OTLP protobuf receivers for loopback tests: OTLP/HTTP with `application/x-protobuf` (node:http) and
 * OTLP/gRPC (@grpc/grpc-js), both decoding with the real opentelemetry-proto files in
 * test/fixtures/proto (protobufjs / @grpc/proto-loader, not this package's code) and appending each request
 * as one OTLP/JSON line `{"resourceLogs":[...]}`, the way the OTel Collector's file exporter writes it.
 *
 * Both listen on 127.0.0.1, port 0 (kept across stop()/start(), so an outage looks like the same endpoint
 * going away and coming back), and are stopped for good by close().
 */
import { once } from 'node:events';
import { appendFile, mkdir } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import type {
  ExportLogsServiceRequest,
  OtlpAnyValue,
  OtlpKeyValue,
  OtlpLogRecord,
  OtlpResourceLogs,
  OtlpScopeLogs,
} from '../../src/otlp/types.js';

/** Root of the copied opentelemetry-proto tree. */
export const PROTO_DIR = fileURLToPath(new URL('../fixtures/proto/', import.meta.url));
export const LOGS_SERVICE_PROTO = 'opentelemetry/proto/collector/logs/v1/logs_service.proto';
export const LOGS_PACKAGE = 'opentelemetry.proto.collector.logs.v1';
export const LOGS_SERVICE = `${LOGS_PACKAGE}.LogsService`;

/**
 * How protobuf messages become plain objects here, the same for protobufjs (`Type.toObject`) and
 * @grpc/proto-loader: camelCase names, 64-bit integers as decimal strings, enums as numbers, bytes left as
 * bytes, fields absent from the wire absent, the name of the set oneof member in a virtual `value` member.
 */
export const PROTO_OBJECT_OPTIONS: protobuf.IConversionOptions = {
  longs: String,
  enums: Number,
  defaults: false,
  oneofs: true,
};

/** @grpc/proto-loader options matching PROTO_OBJECT_OPTIONS. */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: String,
  enums: Number,
  bytes: Buffer,
  defaults: false,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

let root: protobuf.Root | undefined;

/** The logs service protos loaded with protobufjs from the fixtures (cached). */
export function logsProtoRoot(): protobuf.Root {
  if (root !== undefined) return root;
  const r = new protobuf.Root();
  r.resolvePath = (_origin, target) => PROTO_DIR + target;
  r.loadSync(LOGS_SERVICE_PROTO, { keepCase: false });
  r.resolveAll();
  // 64-bit fields are exact only with long.js (else protobufjs falls back to doubles): make that loud.
  if (!protobuf.util.Long) throw new Error('protobufjs has no Long support: 64-bit values would be rounded');
  root = r;
  return r;
}

export const requestType = (): protobuf.Type => logsProtoRoot().lookupType(`${LOGS_PACKAGE}.ExportLogsServiceRequest`);
export const responseType = (): protobuf.Type => logsProtoRoot().lookupType(`${LOGS_PACKAGE}.ExportLogsServiceResponse`);

/** Decodes ExportLogsServiceRequest bytes with protobufjs into the plain-object form (PROTO_OBJECT_OPTIONS). */
export function decodeRequestWithProtobufjs(bytes: Uint8Array): ProtoExportRequest {
  const t = requestType();
  return t.toObject(t.decode(bytes), PROTO_OBJECT_OPTIONS) as ProtoExportRequest;
}

// ---------------------------------------------------------------------------------------------------------
// Plain-object form of decoded messages (what toObject / proto-loader give with the options above)

type Int64 = string | number;

export interface ProtoAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: Int64;
  doubleValue?: number;
  bytesValue?: Uint8Array;
  arrayValue?: { values?: ProtoAnyValue[] };
  kvlistValue?: { values?: ProtoKeyValue[] };
  /** The virtual oneof member (`oneofs: true`): name of the member that is set. */
  value?: string;
}
export interface ProtoKeyValue {
  key?: string;
  value?: ProtoAnyValue;
}
export interface ProtoLogRecord {
  timeUnixNano?: Int64;
  observedTimeUnixNano?: Int64;
  severityNumber?: number;
  severityText?: string;
  body?: ProtoAnyValue;
  attributes?: ProtoKeyValue[];
  droppedAttributesCount?: number;
  flags?: number;
  traceId?: Uint8Array;
  spanId?: Uint8Array;
  eventName?: string;
}
export interface ProtoScope {
  name?: string;
  version?: string;
  attributes?: ProtoKeyValue[];
  droppedAttributesCount?: number;
}
export interface ProtoScopeLogs {
  scope?: ProtoScope;
  logRecords?: ProtoLogRecord[];
  schemaUrl?: string;
}
export interface ProtoResourceLogs {
  resource?: { attributes?: ProtoKeyValue[]; droppedAttributesCount?: number };
  scopeLogs?: ProtoScopeLogs[];
  schemaUrl?: string;
}
export interface ProtoExportRequest {
  resourceLogs?: ProtoResourceLogs[];
}
export interface ProtoExportResponse {
  partialSuccess?: { rejectedLogRecords?: Int64; errorMessage?: string };
}

// ---------------------------------------------------------------------------------------------------------
// Decoded message → OTLP/JSON (shared by both receivers)

/**
 * OTLP/JSON of a decoded ExportLogsServiceRequest, as the Collector's file exporter writes it (proto3 JSON
 * mapping, OTLP flavour): int64/fixed64 as decimal strings, trace/span ids as lowercase hex, bytes as padded
 * base64, enums as numbers, doubles as numbers or "NaN"/"Infinity"/"-Infinity". Scalars holding their
 * default (0, "", empty) are omitted, and so are empty lists and all-zero ids (the Collector's pdata treats
 * those as unset), except AnyValue oneof members, which are always written. A message present on the wire
 * stays present even when empty (`"resource":{}`, `"body":{}`). A KeyValue always has its `key`.
 * Throws on ids of the wrong length (the Collector rejects those too).
 */
export function protoToOtlpJson(msg: ProtoExportRequest): ExportLogsServiceRequest {
  const out: ExportLogsServiceRequest = {};
  if (nonEmpty(msg.resourceLogs)) out.resourceLogs = msg.resourceLogs.map(resourceLogsJson);
  return out;
}

function resourceLogsJson(rl: ProtoResourceLogs): OtlpResourceLogs {
  const out: OtlpResourceLogs = {};
  if (rl.resource != null) {
    const r = rl.resource;
    out.resource = {};
    if (nonEmpty(r.attributes)) out.resource.attributes = r.attributes.map(keyValueJson);
    if (r.droppedAttributesCount) out.resource.droppedAttributesCount = r.droppedAttributesCount;
  }
  if (nonEmpty(rl.scopeLogs)) out.scopeLogs = rl.scopeLogs.map(scopeLogsJson);
  if (rl.schemaUrl) out.schemaUrl = rl.schemaUrl;
  return out;
}

function scopeLogsJson(sl: ProtoScopeLogs): OtlpScopeLogs {
  const out: OtlpScopeLogs = {};
  if (sl.scope != null) {
    const s = sl.scope;
    out.scope = {};
    if (s.name) out.scope.name = s.name;
    if (s.version) out.scope.version = s.version;
    if (nonEmpty(s.attributes)) out.scope.attributes = s.attributes.map(keyValueJson);
    if (s.droppedAttributesCount) out.scope.droppedAttributesCount = s.droppedAttributesCount;
  }
  if (nonEmpty(sl.logRecords)) out.logRecords = sl.logRecords.map(logRecordJson);
  if (sl.schemaUrl) out.schemaUrl = sl.schemaUrl;
  return out;
}

function logRecordJson(r: ProtoLogRecord): OtlpLogRecord {
  const out: OtlpLogRecord = {};
  const time = int64Json(r.timeUnixNano);
  if (time !== undefined && time !== '0') out.timeUnixNano = time;
  const observed = int64Json(r.observedTimeUnixNano);
  if (observed !== undefined && observed !== '0') out.observedTimeUnixNano = observed;
  if (r.severityNumber) out.severityNumber = r.severityNumber;
  if (r.severityText) out.severityText = r.severityText;
  if (r.body != null) out.body = anyValueJson(r.body);
  if (nonEmpty(r.attributes)) out.attributes = r.attributes.map(keyValueJson);
  if (r.droppedAttributesCount) out.droppedAttributesCount = r.droppedAttributesCount;
  if (r.flags) out.flags = r.flags;
  const traceId = idJson(r.traceId, 16, 'traceId');
  if (traceId !== undefined) out.traceId = traceId;
  const spanId = idJson(r.spanId, 8, 'spanId');
  if (spanId !== undefined) out.spanId = spanId;
  if (r.eventName) out.eventName = r.eventName;
  return out;
}

function keyValueJson(kv: ProtoKeyValue): OtlpKeyValue {
  const out: OtlpKeyValue = { key: kv.key ?? '' };
  if (kv.value != null) out.value = anyValueJson(kv.value);
  return out;
}

function anyValueJson(v: ProtoAnyValue): OtlpAnyValue {
  if (v.stringValue != null) return { stringValue: v.stringValue };
  if (v.boolValue != null) return { boolValue: v.boolValue };
  if (v.intValue != null) return { intValue: String(v.intValue) };
  if (v.doubleValue != null) return { doubleValue: doubleJson(v.doubleValue) };
  if (v.bytesValue != null) return { bytesValue: Buffer.from(v.bytesValue).toString('base64') };
  if (v.arrayValue != null) {
    const values = v.arrayValue.values;
    return { arrayValue: nonEmpty(values) ? { values: values.map(anyValueJson) } : {} };
  }
  if (v.kvlistValue != null) {
    const values = v.kvlistValue.values;
    return { kvlistValue: nonEmpty(values) ? { values: values.map(keyValueJson) } : {} };
  }
  return {};
}

/** proto3 JSON double: a number, or one of the three strings for what JSON numbers cannot hold. */
function doubleJson(d: number): number | string {
  if (Number.isNaN(d)) return 'NaN';
  if (d === Number.POSITIVE_INFINITY) return 'Infinity';
  if (d === Number.NEGATIVE_INFINITY) return '-Infinity';
  return d;
}

function int64Json(v: Int64 | undefined): string | undefined {
  return v == null ? undefined : String(v);
}

function idJson(id: Uint8Array | undefined, size: number, name: string): string | undefined {
  if (id == null || id.length === 0 || id.every((x) => x === 0)) return undefined;
  if (id.length !== size) throw new Error(`${name} has ${id.length} bytes, expected ${size}`);
  return Buffer.from(id).toString('hex');
}

function nonEmpty<T>(a: T[] | undefined): a is T[] {
  return a != null && a.length > 0;
}

function countRecords(req: ExportLogsServiceRequest): number {
  let n = 0;
  for (const rl of req.resourceLogs ?? []) for (const sl of rl.scopeLogs ?? []) n += sl.logRecords?.length ?? 0;
  return n;
}

// ---------------------------------------------------------------------------------------------------------
// Shared receiver state

export interface ReceiverOptions {
  /** JSON-lines output file; parent directories are created. */
  outFile: string;
}

export interface ReceiverControls {
  /** Export requests received (including those answered with an injected status or rejected). */
  readonly requests: number;
  /** Log records written to the output file. */
  readonly records: number;
  /**
   * Answer every request with this status instead of accepting it (HTTP: an HTTP status code; gRPC: a gRPC
   * status code such as 14 UNAVAILABLE or 3 INVALID_ARGUMENT). `undefined` accepts again.
   */
  setStatus(code: number | undefined): void;
  /** Accept and write every request, but answer with partial_success; (0, "") answers plain success again. */
  setPartialSuccess(rejected: number, message?: string): void;
  /** Close the listener and every open connection: clients get "connection refused". */
  stop(): Promise<void>;
  /** Listen again on the same port. */
  start(): Promise<void>;
  /** Stop for good; resolves once every accepted request is written. */
  close(): Promise<void>;
}

export interface ProtobufReceiverHandle extends ReceiverControls {
  /** Full URL of the logs endpoint, e.g. `http://127.0.0.1:43121/v1/logs`. */
  readonly url: string;
  readonly port: number;
}

export interface GrpcReceiverHandle extends ReceiverControls {
  /** e.g. `http://127.0.0.1:43121` (the OTLP/gRPC exporter's `url`). */
  readonly endpoint: string;
  readonly port: number;
}

class ReceiverState {
  requests = 0;
  records = 0;
  status: number | undefined;
  partial: { rejected: number; message: string } | undefined;
  private writes: Promise<void> = Promise.resolve();

  constructor(readonly outFile: string) {}

  async open(): Promise<void> {
    await mkdir(dirname(this.outFile), { recursive: true });
  }

  setPartialSuccess(rejected: number, message = ''): void {
    if (!Number.isSafeInteger(rejected) || rejected < 0) throw new RangeError(`rejected must be a count, got ${rejected}`);
    this.partial = rejected === 0 && message === '' ? undefined : { rejected, message };
  }

  /** Converts and appends one request (serialized, so lines never interleave); returns the response. */
  async accept(msg: ProtoExportRequest): Promise<ProtoExportResponse> {
    const json = protoToOtlpJson(msg);
    const n = countRecords(json);
    // A request without records carries nothing to audit: acknowledged, no line (as the JSON dev collector).
    if (n > 0) {
      const line = `${JSON.stringify({ resourceLogs: json.resourceLogs ?? [] })}\n`;
      const write = this.writes.then(() => appendFile(this.outFile, line, 'utf8'));
      this.writes = write.catch(() => undefined);
      await write;
      this.records += n;
    }
    const p = this.partial;
    if (p === undefined) return {};
    const partialSuccess: NonNullable<ProtoExportResponse['partialSuccess']> = {};
    if (p.rejected !== 0) partialSuccess.rejectedLogRecords = String(p.rejected);
    if (p.message !== '') partialSuccess.errorMessage = p.message;
    return { partialSuccess };
  }

  flushed(): Promise<void> {
    return this.writes;
  }
}

// ---------------------------------------------------------------------------------------------------------
// OTLP/HTTP, binary protobuf

const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** google.rpc.Status, the body of OTLP/HTTP error responses (code = 1, message = 2; details omitted). */
const STATUS_TYPE = protobuf
  .parse('syntax = "proto3"; package google.rpc; message Status { int32 code = 1; string message = 2; }')
  .root.lookupType('google.rpc.Status');

/** The gRPC code an OTLP/HTTP status corresponds to, for the Status body. */
function grpcCodeOfHttp(status: number): number {
  switch (status) {
    case 400:
      return grpc.status.INVALID_ARGUMENT;
    case 404:
      return grpc.status.NOT_FOUND;
    case 415:
      return grpc.status.INVALID_ARGUMENT;
    case 429:
      return grpc.status.RESOURCE_EXHAUSTED;
    case 502:
    case 503:
    case 504:
      return grpc.status.UNAVAILABLE;
    default:
      return status >= 500 ? grpc.status.INTERNAL : grpc.status.UNKNOWN;
  }
}

function sendProto(res: ServerResponse, status: number, body: Uint8Array, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/x-protobuf', 'Content-Length': String(body.length), ...headers });
  res.end(body);
}

function sendStatus(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  const body = STATUS_TYPE.encode(STATUS_TYPE.create({ code: grpcCodeOfHttp(status), message })).finish();
  sendProto(res, status, body, headers);
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const c = chunk as Buffer;
    size += c.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/** How a receiver listens and stops: what the shared controls drive. */
interface Lifecycle {
  listen(): Promise<void>;
  stopNow(): Promise<void>;
  listening(): boolean;
}

/** The controls both receivers have; `checkStatus` throws a RangeError for a status its protocol cannot answer. */
function sharedControls(state: ReceiverState, life: Lifecycle, checkStatus: (code: number) => void): ReceiverControls {
  let closed = false;
  return {
    get requests() {
      return state.requests;
    },
    get records() {
      return state.records;
    },
    setStatus(code) {
      if (code !== undefined) checkStatus(code);
      state.status = code;
    },
    setPartialSuccess(rejected, message) {
      state.setPartialSuccess(rejected, message);
    },
    stop: () => life.stopNow(),
    async start() {
      if (closed) throw new Error('receiver is closed');
      if (!life.listening()) await life.listen();
    },
    async close() {
      closed = true;
      await life.stopNow();
      await state.flushed();
    },
  };
}

/** Starts an OTLP/HTTP receiver for `application/x-protobuf` on 127.0.0.1 (a free port). */
export async function startProtobufReceiver(opts: ReceiverOptions): Promise<ProtobufReceiverHandle> {
  const state = new ReceiverState(opts.outFile);
  await state.open();
  const reqType = requestType();
  const resType = responseType();
  let port = 0;
  let server: Server | undefined;

  const handleLogs = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    state.requests++;
    if (state.status !== undefined) {
      req.resume();
      return sendStatus(res, state.status, `injected fault: HTTP ${state.status}`);
    }
    let msg: ProtoExportRequest;
    try {
      const contentType = (req.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase();
      if (contentType !== 'application/x-protobuf') {
        throw new HttpError(415, `only Content-Type application/x-protobuf is accepted; got ${contentType || 'none'}`);
      }
      const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
      if (encoding !== 'identity' && encoding !== 'gzip') {
        throw new HttpError(415, `unsupported Content-Encoding ${encoding}; use gzip or identity`);
      }
      let body = await readBody(req);
      if (encoding === 'gzip') {
        try {
          body = gunzipSync(body, { maxOutputLength: MAX_BODY_BYTES });
        } catch (err) {
          throw new HttpError(400, `bad gzip body: ${String(err)}`);
        }
      }
      try {
        msg = reqType.toObject(reqType.decode(body), PROTO_OBJECT_OPTIONS) as ProtoExportRequest;
      } catch (err) {
        throw new HttpError(400, `cannot decode ExportLogsServiceRequest: ${String(err)}`);
      }
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      req.resume();
      return sendStatus(res, err.status, err.message);
    }
    let response: ProtoExportResponse;
    try {
      response = await state.accept(msg);
    } catch (err) {
      return sendStatus(res, 400, `cannot convert the request: ${String(err)}`);
    }
    sendProto(res, 200, resType.encode(resType.fromObject(response)).finish());
  };

  const listen = async (): Promise<void> => {
    const s = createServer((req, res) => {
      const path = (req.url ?? '/').split('?', 1)[0];
      let done: Promise<void>;
      if (path !== '/v1/logs') done = Promise.resolve(sendStatus(res, 404, `not found: ${path ?? ''}`));
      else if (req.method !== 'POST') done = Promise.resolve(sendStatus(res, 405, 'use POST', { Allow: 'POST' }));
      else done = handleLogs(req, res);
      done.catch((err: unknown) => {
        if (!res.headersSent) sendStatus(res, 500, String(err));
        else res.destroy();
      });
    });
    s.listen(port, '127.0.0.1');
    await once(s, 'listening');
    port = (s.address() as AddressInfo).port;
    server = s;
  };

  const stopNow = async (): Promise<void> => {
    const s = server;
    if (s === undefined) return;
    server = undefined;
    const done = new Promise<void>((resolve) => s.close(() => resolve()));
    s.closeAllConnections();
    await done;
  };

  await listen();
  const controls = sharedControls(state, { listen, stopNow, listening: () => server !== undefined }, (code) => {
    if (!Number.isInteger(code) || code < 100 || code > 599) throw new RangeError(`HTTP status must be 100…599, got ${code}`);
  });
  return Object.defineProperties(controls, {
    url: { get: () => `http://127.0.0.1:${port}/v1/logs` },
    port: { get: () => port },
  }) as ProtobufReceiverHandle;
}

// ---------------------------------------------------------------------------------------------------------
// OTLP/gRPC

let grpcDefinition: protoLoader.PackageDefinition | undefined;

/** The logs service loaded by @grpc/proto-loader from the fixtures (cached). */
export function logsPackageDefinition(): protoLoader.PackageDefinition {
  return (grpcDefinition ??= protoLoader.loadSync(LOGS_SERVICE_PROTO, PROTO_LOADER_OPTIONS));
}

export function logsServiceDefinition(): grpc.ServiceDefinition {
  const def = logsPackageDefinition()[LOGS_SERVICE];
  if (def === undefined || !('Export' in def)) throw new Error(`${LOGS_SERVICE} not found in ${LOGS_SERVICE_PROTO}`);
  return def as grpc.ServiceDefinition;
}

export type LogsServiceClient = grpc.Client & {
  Export(req: ProtoExportRequest, cb: (err: grpc.ServiceError | null, res?: ProtoExportResponse) => void): grpc.ClientUnaryCall;
};

/**
 * A grpc-js client of LogsService/Export built from the same protos (for tests that act as the sender).
 * It has its own subchannel pool, so it never reuses a connection another client opened before an outage.
 */
export function grpcLogsClient(endpoint: string): LogsServiceClient {
  const Ctor = grpc.makeGenericClientConstructor(logsServiceDefinition(), 'LogsService');
  const target = endpoint.replace(/^https?:\/\//, '');
  return new Ctor(target, grpc.credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
  }) as unknown as LogsServiceClient;
}

/** One Export call; resolves with the response or rejects with the grpc ServiceError. */
export function grpcExport(client: LogsServiceClient, req: ProtoExportRequest): Promise<ProtoExportResponse> {
  return new Promise((resolve, reject) => {
    client.Export(req, (err, res) => (err ? reject(err) : resolve(res ?? {})));
  });
}

/** Resolves once 127.0.0.1:port refuses connections (at most ~5 s). */
async function untilRefused(port: number): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', () => resolve(true));
    });
    if (refused) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`127.0.0.1:${port} still accepts connections after stop()`);
}

/** Starts an OTLP/gRPC receiver (LogsService/Export) on 127.0.0.1 (a free port), insecure. */
export async function startGrpcReceiver(opts: ReceiverOptions): Promise<GrpcReceiverHandle> {
  const state = new ReceiverState(opts.outFile);
  await state.open();
  const service = logsServiceDefinition();
  let port = 0;
  let server: grpc.Server | undefined;

  const Export = (
    call: grpc.ServerUnaryCall<ProtoExportRequest, ProtoExportResponse>,
    callback: grpc.sendUnaryData<ProtoExportResponse>,
  ): void => {
    state.requests++;
    if (state.status !== undefined) {
      callback({ code: state.status, details: `injected fault: gRPC status ${state.status}` });
      return;
    }
    state.accept(call.request).then(
      (response) => callback(null, response),
      (err: unknown) => callback({ code: grpc.status.INVALID_ARGUMENT, details: `cannot convert the request: ${String(err)}` }),
    );
  };

  const listen = async (): Promise<void> => {
    const s = new grpc.Server({ 'grpc.max_receive_message_length': MAX_BODY_BYTES });
    s.addService(service, { Export });
    // After stop() the old listener may take a moment to release the port: retry briefly.
    for (let attempt = 0; ; attempt++) {
      try {
        port = await new Promise<number>((resolve, reject) => {
          s.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
            err ? reject(err) : resolve(p),
          );
        });
        break;
      } catch (err) {
        if (attempt >= 40 || port === 0) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    server = s;
  };

  const stopNow = async (): Promise<void> => {
    const s = server;
    if (s === undefined) return;
    server = undefined;
    // Closes the listener and destroys every session, but reports neither: wait until the port refuses.
    s.forceShutdown();
    await untilRefused(port);
  };

  await listen();
  const controls = sharedControls(state, { listen, stopNow, listening: () => server !== undefined }, (code) => {
    if (!Number.isInteger(code) || code < 1 || code > 16) throw new RangeError(`gRPC status must be a non-OK code 1…16, got ${code}`);
  });
  return Object.defineProperties(controls, {
    endpoint: { get: () => `http://127.0.0.1:${port}` },
    port: { get: () => port },
  }) as GrpcReceiverHandle;
}
