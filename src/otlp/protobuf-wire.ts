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
