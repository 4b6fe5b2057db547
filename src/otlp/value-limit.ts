/**
 * A bound on the objects one request decodes into, for a receiver: the byte limit alone does not bound memory.
 * `{"resourceLogs":[{},{},…]}` is 3 bytes an object, and a protobuf message as little as 2 (its tag and a zero
 * length); V8 holds each decoded one in ~80–100 bytes, so 60 MiB of them took ~3 GB, where the same bytes of
 * OTLP records take a few hundred MB. Values that are not objects (numbers, strings) cost less each and are bounded
 * by the body limit (the development collector's: 20 MiB).
 */

/**
 * Objects and arrays one OTLP/JSON request may hold: 2,000,000. OTLP records have one per ~33–38 bytes (9 and 15
 * attributes, with otel-audit's stamps; ~22 for a record of a body alone), so a 20 MiB request of them holds at
 * most ~1 million. Decoded and normalized, 2,000,000 empty objects took the development collector to ~400 MB.
 */
export const MAX_JSON_CONTAINERS = 2_000_000;

/**
 * Messages one OTLP/protobuf request may hold: 4,000,000 (~400 MB decoded). OTLP records have one per ~13 bytes,
 * so a 20 MiB request of them holds ~1.6 million.
 */
export const MAX_PROTOBUF_MESSAGES = 4_000_000;

/** A request holding more objects than a limit above: refused before it is decoded whole. */
export class ValueLimitError extends Error {
  override name = 'ValueLimitError';
  constructor(
    readonly limit: number,
    what: string,
  ) {
    super(`more than ${limit} ${what} in one request; send smaller requests`);
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
export function checkJsonValueCount(bytes: Uint8Array, limit: number = MAX_JSON_CONTAINERS): void {
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
      throw new ValueLimitError(limit, 'JSON objects and arrays');
    }
  }
}
