/**
 * The small messages around an export: the `ExportLogsServiceResponse` an OTLP receiver answers a protobuf
 * export with (decoded by the senders, http/protobuf and grpc; encoded by the development collector), and the
 * `google.rpc.Status` body of an OTLP/HTTP error answer to a protobuf request
 * (https://opentelemetry.io/docs/specs/otlp/#failures-1). Dependency-free. Field numbers from opentelemetry-proto
 * collector/logs/v1/logs_service.proto (copies in test/fixtures/proto) and googleapis google/rpc/status.proto.
 */
import type { ExportLogsServiceResponse } from './types.js';
import { int64Text, ProtoReader } from './protobuf-reader.js';
import { LEN, VARINT, key } from './protobuf-wire.js';

// collector/logs/v1/logs_service.proto — response
/** ExportLogsServiceResponse: ExportLogsPartialSuccess partial_success = 1; */
const RESPONSE_PARTIAL_SUCCESS = key(1, LEN);
/** ExportLogsPartialSuccess: int64 rejected_log_records = 1; */
const PARTIAL_REJECTED = key(1, VARINT);
/** ExportLogsPartialSuccess: string error_message = 2; */
const PARTIAL_ERROR_MESSAGE = key(2, LEN);

// google/rpc/status.proto (`repeated google.protobuf.Any details = 3` is never written here)
/** Status: int32 code = 1; */
const STATUS_CODE = key(1, VARINT);
/** Status: string message = 2; */
const STATUS_MESSAGE = key(2, LEN);

type PartialSuccess = NonNullable<ExportLogsServiceResponse['partialSuccess']>;

// ---------------------------------------------------------------------------------------------------------
// Decoding (the senders)

/**
 * The OTLP/JSON form of a protobuf `ExportLogsServiceResponse`: `{}` for an empty body (full success),
 * `{ partialSuccess: { rejectedLogRecords?: "<int64 decimal>", errorMessage?: string } }` otherwise (proto3
 * JSON: zero and empty members omitted; a present partial_success stays present even when empty).
 * Unknown fields of any wire type are skipped; truncated or malformed input throws an `Error`.
 */
export function decodeLogsResponse(bytes: Uint8Array): ExportLogsServiceResponse {
  const r = new ProtoReader(bytes, (detail) => new Error(`decodeLogsResponse: ${detail} (${bytes.length} bytes)`));
  const out: ExportLogsServiceResponse = {};
  while (r.pos < r.end) {
    r.tag();
    if (r.key === RESPONSE_PARTIAL_SUCCESS) {
      // A message field seen twice is merged (proto semantics).
      out.partialSuccess = decodePartialSuccess(r, out.partialSuccess ?? {});
    } else {
      r.skipField();
    }
  }
  return out;
}

function decodePartialSuccess(r: ProtoReader, into: PartialSuccess): PartialSuccess {
  const outer = r.enter();
  while (r.pos < r.end) {
    r.tag();
    if (r.key === PARTIAL_REJECTED) {
      r.varint();
      const text = int64Text(r.lo, r.hi);
      if (text === '0') delete into.rejectedLogRecords;
      else into.rejectedLogRecords = text;
    } else if (r.key === PARTIAL_ERROR_MESSAGE) {
      const message = r.string(true);
      if (message === '') delete into.errorMessage;
      else into.errorMessage = message;
    } else {
      r.skipField();
    }
  }
  r.leave(outer);
  return into;
}

// ---------------------------------------------------------------------------------------------------------
// Encoding (the development collector): a few fields, built by concatenation, off any hot path

/**
 * The protobuf `ExportLogsServiceResponse` of its OTLP/JSON form: empty for `{}` (full success). An int64
 * `rejectedLogRecords` may be a number or a decimal string; zero and empty members are omitted (proto3).
 */
export function encodeLogsResponse(res: ExportLogsServiceResponse): Uint8Array {
  const p = res.partialSuccess;
  if (p === undefined) return new Uint8Array(0);
  const parts: Uint8Array[] = [];
  const rejected = BigInt.asUintN(64, BigInt(p.rejectedLogRecords ?? 0));
  if (rejected !== 0n) parts.push(Uint8Array.of(PARTIAL_REJECTED, ...varint(rejected)));
  if (p.errorMessage !== undefined && p.errorMessage !== '') parts.push(stringField(PARTIAL_ERROR_MESSAGE, p.errorMessage));
  const inner = Buffer.concat(parts);
  return Buffer.concat([Uint8Array.of(RESPONSE_PARTIAL_SUCCESS, ...varint(BigInt(inner.length))), inner]);
}

/** A `google.rpc.Status` { code, message } (the code a google.rpc.Code, e.g. 3 INVALID_ARGUMENT). */
export function encodeRpcStatus(code: number, message: string): Uint8Array {
  const parts: Uint8Array[] = [];
  if (code !== 0) parts.push(Uint8Array.of(STATUS_CODE, ...varint(BigInt.asUintN(64, BigInt(code)))));
  if (message !== '') parts.push(stringField(STATUS_MESSAGE, message));
  return Buffer.concat(parts);
}

/** `google.rpc.Status` decoded: code and message, unknown fields (details) skipped. Throws on malformed input. */
export function decodeRpcStatus(bytes: Uint8Array): { code: number; message: string } {
  const r = new ProtoReader(bytes, (detail) => new Error(`decodeRpcStatus: ${detail} (${bytes.length} bytes)`));
  let code = 0;
  let message = '';
  while (r.pos < r.end) {
    r.tag();
    if (r.key === STATUS_CODE) {
      r.varint();
      code = r.lo | 0; // int32: the low 32 bits, signed
    } else if (r.key === STATUS_MESSAGE) {
      message = r.string(true);
    } else {
      r.skipField();
    }
  }
  return { code, message };
}

function varint(n: bigint): number[] {
  const out: number[] = [];
  while (n > 0x7fn) {
    out.push(Number(n & 0x7fn) | 0x80);
    n >>= 7n;
  }
  out.push(Number(n));
  return out;
}

/** A string field; lone surrogates become U+FFFD (messages here are diagnostics, never audit data). */
function stringField(tag: number, s: string): Uint8Array {
  const bytes = Buffer.from(s, 'utf8');
  return Buffer.concat([Uint8Array.of(tag, ...varint(BigInt(bytes.length))), bytes]);
}
