/**
 * A bound on the objects one request decodes into, for a receiver: the byte limit alone does not bound memory.
 * `{"resourceLogs":[{},{},…]}` is 3 bytes an object, and a protobuf message as little as 2 (its tag and a zero
 * length); V8 holds each decoded one in ~80–100 bytes, so 60 MiB of them took ~3 GB where the same bytes of
 * OTLP records (one object or array per ~25–35 bytes) take a few hundred MB.
 */

/**
 * Objects and arrays (JSON) or messages (protobuf) one request may hold: 4,000,000, ~400 MB once decoded. A
 * 64 MiB request of 9-attribute records holds about 2,000,000.
 */
export const MAX_REQUEST_VALUES = 4_000_000;

/** A request holding more than MAX_REQUEST_VALUES objects, arrays or messages: refused before it is decoded whole. */
export class ValueLimitError extends Error {
  override name = 'ValueLimitError';
  constructor(readonly limit: number) {
    super(`more than ${limit} JSON objects and arrays, or protobuf messages, in one request; send smaller requests`);
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;

/**
 * Throws ValueLimitError when the JSON text in `bytes` opens more than `limit` objects and arrays (outside
 * strings). Each needs at least 2 bytes, so a body of at most 2 × limit bytes is not scanned at all.
 */
export function checkJsonValueCount(bytes: Uint8Array, limit: number = MAX_REQUEST_VALUES): void {
  if (bytes.length <= 2 * limit) return;
  let count = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (inString) {
      if (b === BACKSLASH) i++;
      else if (b === QUOTE) inString = false;
    } else if (b === QUOTE) {
      inString = true;
    } else if ((b === OPEN_BRACE || b === OPEN_BRACKET) && ++count > limit) {
      throw new ValueLimitError(limit);
    }
  }
}
