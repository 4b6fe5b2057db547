/**
 * Duplicate member names in JSON text. RFC 8259 leaves `{"a":1,"a":2}` to the parser, and JSON.parse keeps
 * the last one silently, so a byte-level edit such as `"stringValue":"mallory","stringValue":"alice"` would
 * show one value to a human reading the file and hash as the other. The verifier reads lines through
 * JSON.parse (the reference path), so it checks the raw text too and reports such a line as malformed.
 * The same pass notes a member name written with an escape, and one that is the protobuf spelling of an OTLP
 * field, which the verifier refuses too (MemberNames).
 * The fast path (fast-otlp.ts) needs no check: its grammar admits each member at most once.
 *
 * Speed: one pass of charCodeAt over the text, strings skipped with indexOf (a regular expression per token
 * was 4× slower); the names of an object are compared with === while it has few (OTLP objects have 1 to 8
 * members), and go into a Set beyond that, so that an object with a million members stays linear.
 */

const QUOTE = 34;
const BACKSLASH = 92;
const OPEN_BRACE = 123;
const OPEN_BRACKET = 91;
const CLOSE_BRACE = 125;
const CLOSE_BRACKET = 93;
const COMMA = 44;
/** Names of an object kept as offsets up to this many, then in a Set. */
const SMALL = 16;

// Per nesting depth, reused across calls (the check is synchronous, so never re-entered): is it an object,
// how many names it has, where its first names are in the text (no string made for them: compared in place,
// length first), and the Set of names once there are many, or once one is written with an escape.
const IS_OBJECT: boolean[] = [];
const COUNT: number[] = [];
const STARTS: number[][] = [];
const LENGTHS: number[][] = [];
const SETS: Array<Set<string> | undefined> = [];

/** The name of the member whose quoted text is text[start - 1 .. start + length], unescaped. */
function nameAt(text: string, start: number, length: number): string {
  const raw = text.slice(start, start + length);
  return raw.includes('\\') ? (JSON.parse(text.slice(start - 1, start + length + 1)) as string) : raw;
}

/** What `memberNames` finds in the member names of a text. */
export interface MemberNames {
  /**
   * The first member name that appears twice in one object, compared after unescaping (`"a"` and `"\u0061"`
   * are one name); the scan stops there.
   */
  duplicate: string | undefined;
  /**
   * The first member name (up to where the scan stopped) written with an escape, such as `"\u0062ody"`. No
   * OTLP/JSON writer escapes a member name (they are the schema's ASCII names), and JSON.parse on V8 13.6–14.6
   * (Node 24 and 26) can decode an escaped member name as another string once an earlier name poisoned its key
   * cache (nodejs/node#63785, https://issues.chromium.org/issues/521080746): a member the verifier would then
   * not see, so it refuses such a line rather than trust that parse. Decoded here as a string value, which
   * that bug does not touch.
   */
  escaped: string | undefined;
  /**
   * The first member name (up to where the scan stopped) that is the protobuf name of an OTLP field whose JSON
   * name differs (`string_value` for `stringValue`: PROTO_FIELD_NAMES). OTLP/JSON keys MUST be the lowerCamelCase
   * JSON names, and "original field names are not valid" (OTLP spec, JSON Protobuf Encoding;
   * opentelemetry-specification#2829), yet readers built on protobuf's JSON mapping accept both, and the
   * OTel Collector's keeps the last of the two: `{"stringValue":"alice","string_value":"mallory"}` hashes as
   * alice here and is read as mallory there (found in review).
   */
  protoName: string | undefined;
}

/**
 * Protobuf field names that differ from their JSON names, in the messages of an ExportLogsServiceRequest
 * (opentelemetry-proto: collector/logs/v1/logs_service.proto, logs/v1/logs.proto, common/v1/common.proto,
 * resource/v1/resource.proto), each with its JSON name.
 */
export const PROTO_FIELD_NAMES: ReadonlyMap<string, string> = new Map(
  [
    'resource_logs', 'scope_logs', 'schema_url', 'log_records', 'dropped_attributes_count', 'entity_refs', 'id_keys',
    'description_keys', 'time_unix_nano', 'observed_time_unix_nano', 'severity_number', 'severity_text', 'trace_id',
    'span_id', 'event_name', 'string_value', 'bool_value', 'int_value', 'double_value', 'array_value', 'kvlist_value',
    'bytes_value',
  ].map((name) => [name, name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())]),
);
const UNDERSCORE = 95;

/** Does the verifier refuse a line for these member names (one twice, escaped, or in its protobuf spelling)? */
export const refusedNames = (n: MemberNames): boolean => n.duplicate !== undefined || n.escaped !== undefined || n.protoName !== undefined;

/** The first duplicate member name of `text` (see `memberNames`); undefined when there is none. */
export const duplicateMemberName = (text: string): string | undefined => memberNames(text).duplicate;

/**
 * One pass over the member names of `text`. Meant for text that JSON.parse accepted; on anything else it
 * returns without reading past the end. Iterative, so nesting depth cannot overflow the stack.
 */
// One loop on purpose: a single-pass scanner whose state (stack, position) would only be passed around if split.
export function memberNames(text: string): MemberNames {
  const found: MemberNames = { duplicate: undefined, escaped: undefined, protoName: undefined };
  const n = text.length;
  let depth = 0;
  let maxDepth = 0;
  let expectName = false;
  try {
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c === QUOTE) {
        // The closing quote is the next '"' preceded by an even number of backslashes.
        const start = i + 1;
        for (;;) {
          i = text.indexOf('"', i + 1);
          if (i < 0) return found; // unterminated: not JSON
          let slashes = 0;
          while (text.charCodeAt(i - 1 - slashes) === BACKSLASH) slashes++;
          if ((slashes & 1) === 0) break;
        }
        if (!expectName) continue;
        expectName = false;
        const at = depth - 1;
        const count = COUNT[at]!;
        const length = i - start;
        let plain = true; // no escape in the name: its text is the name
        let underscore = false;
        for (let j = start; j < i; j++) {
          const d = text.charCodeAt(j);
          if (d === BACKSLASH) {
            plain = false;
            break;
          }
          if (d === UNDERSCORE) underscore = true;
        }
        if (!plain && found.escaped === undefined) found.escaped = nameAt(text, start, length);
        if ((underscore || !plain) && found.protoName === undefined) {
          const name = nameAt(text, start, length);
          if (PROTO_FIELD_NAMES.has(name)) found.protoName = name;
        }
        let set = SETS[at];
        if (set === undefined) {
          if (plain && count < SMALL) {
            const starts = STARTS[at]!;
            const lengths = LENGTHS[at]!;
            for (let k = 0; k < count; k++) {
              if (lengths[k] !== length) continue;
              const other = starts[k]!;
              let j = 0;
              while (j < length && text.charCodeAt(other + j) === text.charCodeAt(start + j)) j++;
              if (j === length) {
                found.duplicate = text.slice(start, i);
                return found;
              }
            }
            if (count < SMALL) {
              starts[count] = start;
              lengths[count] = length;
              COUNT[at] = count + 1;
              continue;
            }
          }
          // Many names, or one with an escape: from here on, this object's names are compared as strings.
          set = SETS[at] = new Set();
          const starts = STARTS[at]!;
          const lengths = LENGTHS[at]!;
          for (let k = 0; k < count; k++) set.add(nameAt(text, starts[k]!, lengths[k]!));
        }
        const name = nameAt(text, start, length);
        if (set.has(name)) {
          found.duplicate = name;
          return found;
        }
        set.add(name);
        COUNT[at] = count + 1;
      } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        const object = c === OPEN_BRACE;
        IS_OBJECT[depth] = object;
        COUNT[depth] = 0;
        STARTS[depth] ??= [];
        LENGTHS[depth] ??= [];
        SETS[depth] = undefined;
        if (++depth > maxDepth) maxDepth = depth;
        expectName = object;
      } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        if (depth > 0) depth--;
        expectName = false;
      } else if (c === COMMA) {
        expectName = depth > 0 && IS_OBJECT[depth - 1] === true;
      }
    }
    return found;
  } finally {
    // Hold no strings of the line after returning, and no arrays for a freak nesting depth.
    for (let d = 0; d < maxDepth && d < SETS.length; d++) SETS[d] = undefined;
    if (STARTS.length > 64) IS_OBJECT.length = COUNT.length = STARTS.length = LENGTHS.length = SETS.length = 64;
  }
}

/** What is wrong with a member name that MemberNames.protoName found. */
export const protoNameMessage = (name: string): string =>
  `JSON member name ${JSON.stringify(name)} is the protobuf spelling of ${JSON.stringify(PROTO_FIELD_NAMES.get(name))}, which OTLP/JSON does not allow`;
