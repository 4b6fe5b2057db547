/**
 * RFC 8785 — JSON Canonicalization Scheme (JCS) — for parsed JSON values.
 * https://www.rfc-editor.org/rfc/rfc8785
 *
 * Input is the data model of I-JSON (RFC 7493) as `JSON.parse` yields it: null, boolean, finite number,
 * string, array and plain object. Anything else has no canonical form and throws `JcsError`:
 * lone surrogates (RFC 8785 §3.1: "MUST use I-JSON"), NaN/±Infinity (§3.2.2.3), values of other JS types
 * (undefined, bigint, function, symbol, Date, Map, typed arrays, class instances, …) and cycles.
 *
 * Generic and allocation-friendly rather than fast: it is used for checkpoints and in tests as an independent
 * derivation of the record canonical form (whose hot path builds JCS text directly, see otlp/encode.ts).
 */

/** A value that has no RFC 8785 canonical form. `path` is a JSON-path-like location, `$` for the root. */
export class JcsError extends Error {
  override readonly name = 'JcsError';
  readonly path: string;

  constructor(path: string, detail: string) {
    super(`${path}: ${detail}`);
    this.path = path;
  }
}

/** RFC 8785 canonical text of a parsed JSON value. The UTF-8 encoding of this string is the canonical octets (§3.2.4). */
export function jcs(value: unknown): string {
  return serialize(value, '$', []);
}

/** UTF-8 octets of the canonical form (RFC 8785 §3.2.4: "the JSON data MUST be encoded in UTF-8"). */
export function jcsBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(jcs(value));
}

/**
 * RFC 8785 §3.2.2.2 (strings): JSON.stringify is exactly the required serialization for well-formed strings:
 * `"` and `\` escaped as `\"` and `\\`; U+0008, U+0009, U+000A, U+000C, U+000D as `\b \t \n \f \r`; other
 * controls below U+0020 as `\u00xx` with lowercase hex; everything else (including U+007F, non-ASCII and
 * `/`) literally. Lone surrogates are not Unicode (§3.1 requires I-JSON, RFC 7493 §2.1), so they are an
 * error — JSON.stringify would escape them as `\udxxx`, which is not a canonical form.
 */
function serializeString(s: string, path: string): string {
  if (!s.isWellFormed()) throw new JcsError(path, 'lone surrogate in string');
  return JSON.stringify(s);
}

/**
 * RFC 8785 §3.2.2.3 (numbers): the ECMAScript Number-to-String algorithm (ECMA-262 Number::toString, as used
 * by JSON.stringify): shortest round-trip digits, exponent form for exponents ≥ 21 or ≤ -7 (`1e+30`,
 * `1e-27`), `-0` as `0`. NaN and ±Infinity are not JSON and have no canonical form.
 */
function serializeNumber(n: number, path: string): string {
  if (!Number.isFinite(n)) throw new JcsError(path, `${n} is not a finite number`);
  return JSON.stringify(n); // -0 → "0"
}

const isPlainObject = (v: object): boolean => {
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
};

const memberPath = (path: string, key: string): string =>
  /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;

/** RFC 8785 §3.2.3: property names sorted by their UTF-16 code units; JS `<` on strings is exactly that. */
const byUtf16 = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function serialize(v: unknown, path: string, ancestors: object[]): string {
  switch (typeof v) {
    case 'string':
      return serializeString(v, path);
    case 'number':
      return serializeNumber(v, path);
    case 'boolean':
      // RFC 8785 §3.2.2.1: literals are serialized as `null`, `true`, `false`.
      return v ? 'true' : 'false';
    case 'object':
      break;
    default:
      throw new JcsError(path, `${typeof v} is not a JSON value`);
  }
  if (v === null) return 'null';
  // Cycles have no JSON form; a repeated (shared, acyclic) reference is fine and serialized each time.
  if (ancestors.includes(v)) throw new JcsError(path, 'cycle');
  ancestors.push(v);
  let out: string;
  if (Array.isArray(v)) {
    // RFC 8785 §3.2.1 / §3.2.2: array elements keep their order, no whitespace.
    out = '[';
    for (let i = 0; i < v.length; i++) {
      if (!Object.hasOwn(v, i)) throw new JcsError(`${path}[${i}]`, 'sparse array hole is not a JSON value');
      out += (i === 0 ? '' : ',') + serialize(v[i], `${path}[${i}]`, ancestors);
    }
    out += ']';
  } else {
    if (!isPlainObject(v)) {
      const ctor = (v as { constructor?: { name?: unknown } }).constructor?.name;
      throw new JcsError(path, `${typeof ctor === 'string' ? ctor : 'object'} is not a plain JSON object`);
    }
    if (Object.getOwnPropertySymbols(v).length > 0) throw new JcsError(path, 'symbol-keyed property is not JSON');
    // Own enumerable string keys: what JSON.parse creates, `__proto__` included as a plain member.
    const keys = Object.keys(v).sort(byUtf16);
    out = '{';
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      const at = memberPath(path, k);
      // §3.2.3: names are sorted on their unescaped form, then serialized as strings (§3.2.2.2).
      out += (i === 0 ? '' : ',') + serializeString(k, at) + ':' + serialize((v as Record<string, unknown>)[k], at, ancestors);
    }
    out += '}';
  }
  ancestors.pop();
  return out;
}
