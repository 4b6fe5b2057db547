/**
 * Protobuf wire types and the one-byte field key (https://protobuf.dev/programming-guides/encoding/), shared by
 * the OTLP request encoder (protobuf.ts, protobuf-writer.ts), the decoders (protobuf-reader.ts) and the small
 * messages of protobuf-response.ts.
 */
export const VARINT = 0;
export const I64 = 1;
export const LEN = 2;
/** Groups (deprecated): never in OTLP, but a decoder must skip them as unknown fields. */
export const GROUP_START = 3;
export const GROUP_END = 4;
export const I32 = 5;
/** The first byte of a field: (field_number << 3) | wire_type. Every field here is < 16, so one byte. */
export const key = (field: number, wire: number): number => (field << 3) | wire;
/** 2^32: a 64-bit value is handled as two 32-bit halves. */
export const TWO_32 = 4_294_967_296;

/** Bytes of the varint of a uint32 (encoding guide, "Base 128 Varints"). */
export function varintSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x20_0000 ? 3 : n < 0x1000_0000 ? 4 : 5;
}

/** Writes the varint of a uint32 at `p` (room for 5 bytes ensured by the caller); returns the position after it. */
export function putVarint32(b: Uint8Array, p: number, n: number): number {
  while (n > 0x7f) {
    b[p++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  b[p++] = n;
  return p;
}

/** Writes the varint of a 64-bit value from its uint32 halves at `p` (room for 10 bytes ensured); returns the position after it. */
export function putVarint64(b: Uint8Array, p: number, lo: number, hi: number): number {
  while (hi !== 0) {
    b[p++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  return putVarint32(b, p, lo);
}
