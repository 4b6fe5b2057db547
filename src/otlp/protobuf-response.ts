/**
 * The `ExportLogsServiceResponse` an OTLP receiver answers a protobuf export with (http/protobuf and grpc):
 * its `partial_success` decoded to the OTLP/JSON shape the senders read. Dependency-free. Field numbers from
 * opentelemetry-proto collector/logs/v1/logs_service.proto (copies in test/fixtures/proto).
 */
import type { ExportLogsServiceResponse } from './types.js';
import { I32, I64, LEN, TWO_32, VARINT } from './protobuf-wire.js';

// collector/logs/v1/logs_service.proto — response
/** ExportLogsServiceResponse: ExportLogsPartialSuccess partial_success = 1; */
const RESPONSE_PARTIAL_SUCCESS = 1;
/** ExportLogsPartialSuccess: int64 rejected_log_records = 1; */
const PARTIAL_REJECTED = 1;
/** ExportLogsPartialSuccess: string error_message = 2; */
const PARTIAL_ERROR_MESSAGE = 2;

// ---------------------------------------------------------------------------------------------------------
// Response

/**
 * The OTLP/JSON form of a protobuf `ExportLogsServiceResponse`: `{}` for an empty body (full success),
 * `{ partialSuccess: { rejectedLogRecords?: "<int64 decimal>", errorMessage?: string } }` otherwise (proto3
 * JSON: zero and empty members omitted; a present partial_success stays present even when empty).
 * Unknown fields of any wire type are skipped; truncated or malformed input throws an `Error`.
 */
export function decodeLogsResponse(bytes: Uint8Array): ExportLogsServiceResponse {
  const r = new Reader(bytes);
  const out: ExportLogsServiceResponse = {};
  while (r.pos < r.end) {
    r.tag();
    if (r.field === RESPONSE_PARTIAL_SUCCESS && r.wire === LEN) {
      const end = r.lengthEnd();
      // A message field seen twice is merged (proto semantics).
      out.partialSuccess = decodePartialSuccess(r, end, out.partialSuccess ?? {});
    } else {
      r.skip(r.field, r.wire, 0);
    }
  }
  return out;
}

type PartialSuccess = NonNullable<ExportLogsServiceResponse['partialSuccess']>;

function decodePartialSuccess(r: Reader, end: number, into: PartialSuccess): PartialSuccess {
  const outerEnd = r.end;
  r.end = end;
  while (r.pos < end) {
    r.tag();
    if (r.field === PARTIAL_REJECTED && r.wire === VARINT) {
      r.varint();
      const text = int64Text(r.lo, r.hi);
      if (text === '0') delete into.rejectedLogRecords;
      else into.rejectedLogRecords = text;
    } else if (r.field === PARTIAL_ERROR_MESSAGE && r.wire === LEN) {
      const e = r.lengthEnd();
      const message = new TextDecoder().decode(r.bytes.subarray(r.pos, e));
      r.pos = e;
      if (message === '') delete into.errorMessage;
      else into.errorMessage = message;
    } else {
      r.skip(r.field, r.wire, 0);
    }
  }
  r.end = outerEnd;
  return into;
}

/** Decimal text of an int64 from its two's-complement halves. */
function int64Text(l: number, h: number): string {
  if (h < 0x20_0000) return String(h * TWO_32 + l); // below 2^53: exact as a double
  return BigInt.asIntN(64, (BigInt(h) << 32n) | BigInt(l)).toString();
}

/** Groups nest; a hostile body must not nest them deep enough to overflow the stack. */
const MAX_GROUP_DEPTH = 100;

class Reader {
  pos = 0;
  end: number;
  /** Set by tag(). */
  field = 0;
  wire = 0;
  /** Set by varint(). */
  lo = 0;
  hi = 0;

  constructor(readonly bytes: Uint8Array) {
    this.end = bytes.length;
  }

  /** Reads the next field's key into field/wire. */
  tag(): void {
    const at = this.pos;
    this.varint();
    if (this.hi !== 0) throw this.error(`field key at byte ${at} is out of range`);
    this.field = this.lo >>> 3;
    this.wire = this.lo & 7;
    if (this.field === 0) throw this.error(`field number 0 at byte ${at}`);
  }

  /** Reads a varint into lo/hi. */
  varint(): void {
    const at = this.pos;
    let l = 0;
    let h = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw this.error(`truncated varint at byte ${at}`);
      const c = this.bytes[this.pos++]!;
      const bits = c & 0x7f;
      if (i < 4) l |= bits << (7 * i);
      else if (i === 4) {
        l |= bits << 28;
        h = bits >>> 4;
      } else {
        // The tenth byte holds bit 63 only: more (or a continuation) is not a 64-bit varint.
        if (i === 9 && c > 1) throw this.error(`varint at byte ${at} overflows 64 bits`);
        h |= bits << (7 * i - 32);
      }
      if (c < 0x80) {
        this.lo = l >>> 0;
        this.hi = h >>> 0;
        return;
      }
    }
    throw this.error(`varint at byte ${at} overflows 64 bits`); // not reached: the tenth byte ends it
  }

  /** Reads a length prefix; returns where the length-delimited content ends. */
  lengthEnd(): number {
    const at = this.pos;
    this.varint();
    if (this.hi !== 0 || this.lo > this.end - this.pos) {
      throw this.error(`truncated: length-delimited field at byte ${at} runs past the end`);
    }
    return this.pos + this.lo;
  }

  skip(field: number, wire: number, depth: number): void {
    switch (wire) {
      case VARINT:
        this.varint();
        return;
      case I64:
        this.advance(8);
        return;
      case LEN:
        this.pos = this.lengthEnd();
        return;
      case I32:
        this.advance(4);
        return;
      case 3: {
        // Start group: skip fields up to the matching end group.
        if (depth >= MAX_GROUP_DEPTH) throw this.error('groups nested too deep');
        for (;;) {
          if (this.pos >= this.end) throw this.error(`truncated: group ${field} has no end`);
          this.tag();
          const f = this.field;
          const w = this.wire;
          if (w === 4) {
            if (f !== field) throw this.error(`end group ${f} does not match start group ${field}`);
            return;
          }
          this.skip(f, w, depth + 1);
        }
      }
      case 4:
        throw this.error(`unexpected end group ${field}`);
      default:
        throw this.error(`invalid wire type ${wire} (field ${field})`);
    }
  }

  private advance(n: number): void {
    if (this.end - this.pos < n) throw this.error(`truncated: ${n}-byte field at byte ${this.pos} runs past the end`);
    this.pos += n;
  }

  private error(detail: string): Error {
    return new Error(`decodeLogsResponse: ${detail} (${this.bytes.length} bytes)`);
  }
}

