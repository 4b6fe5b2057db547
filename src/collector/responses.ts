/**
 * The collector's answers, in the format of the request (OTLP/HTTP, https://opentelemetry.io/docs/specs/otlp/#otlphttp-response):
 * an OTLP/JSON request gets JSON (`{}`, `{"partialSuccess":…}`, errors as `{"code","message"}`, the JSON form
 * of google.rpc.Status); a protobuf request gets `application/x-protobuf` (an ExportLogsServiceResponse, errors
 * as a protobuf google.rpc.Status). Everything else (control plane, refusals of other media types) is JSON.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { encodeLogsResponse, encodeRpcStatus } from '../otlp/protobuf-response.js';
import type { ExportLogsServiceResponse } from '../otlp/types.js';

/** How a request's answer is encoded. */
export type ResponseFormat = 'json' | 'protobuf';

export const PROTOBUF = 'application/x-protobuf';

/** The media type of a Content-Type header, lower case, without parameters. */
export const mediaType = (req: IncomingMessage): string =>
  (req.headers['content-type'] ?? '').split(';', 1)[0]?.trim().toLowerCase() ?? '';

/** Protobuf for a request that is protobuf, JSON for anything else. */
export const formatOf = (req: IncomingMessage): ResponseFormat => (mediaType(req) === PROTOBUF ? 'protobuf' : 'json');

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

/** The answer to an accepted export: empty (full success) or a partial success. */
export function sendExportResponse(res: ServerResponse, format: ResponseFormat, body: ExportLogsServiceResponse): void {
  if (format === 'protobuf') sendBytes(res, 200, PROTOBUF, encodeLogsResponse(body));
  else sendJson(res, 200, body);
}

/** 503 with Retry-After: the in-flight budget is used up by other requests; an OTLP exporter retries. */
export function sendBusy(res: ServerResponse, format: ResponseFormat): void {
  const message = 'receiver busy: request bodies in flight are at the in-memory limit (maxInFlightBytes); retry';
  sendError(res, 503, message, format, { 'Retry-After': '1' });
}

/** An error answer: a google.rpc.Status, as protobuf or as its JSON form. */
export function sendError(
  res: ServerResponse,
  status: number,
  message: string,
  format: ResponseFormat,
  headers: Record<string, string> = {},
): void {
  if (format === 'protobuf') sendBytes(res, status, PROTOBUF, encodeRpcStatus(rpcCode(status), message), headers);
  else sendJson(res, status, { code: rpcCode(status), message }, headers);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  sendBytes(res, status, 'application/json', Buffer.from(JSON.stringify(body), 'utf8'), headers);
}

function sendBytes(res: ServerResponse, status: number, type: string, body: Uint8Array, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  if (status < 200 || status === 204 || status === 304) {
    // These statuses cannot carry a body (an injected 204, say).
    res.writeHead(status, headers);
    res.end();
    return;
  }
  res.writeHead(status, { ...headers, 'Content-Type': type, 'Content-Length': body.length });
  res.end(body);
}

