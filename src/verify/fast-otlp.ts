/**
 * Fast path of the verifier's reader: canonical form v1 straight from the text of one OTLP/JSON line, with no
 * JSON tree. On the benchmark machine JSON.parse alone ran at ~110 MB/s on journal lines and a character-level
 * JS tokenizer slower still; V8's regular expressions match the same text at > 1 GB/s.
 *
 * The fast path recognizes, with sticky regular expressions, the compact proto3 JSON that this package and
 * the OTel Collector write: members in proto field order, int64 as decimal strings, no whitespace, no escape
 * sequence or control character in any string, scalar or array-of-scalar attribute values. Anything else —
 * whitespace, escapes, kvlist or bytes values, numbers for int64, a member out of proto order, a duplicate
 * or unknown member anywhere — makes `fastParseLine` return false, and the caller takes the reference path
 * (JSON.parse + recordsOf + canonicalFromOtlp), which decides every remaining case, errors included.
 *
 * Why copying is exact here: with no backslash and no control character in a string, and the line decoded
 * from valid UTF-8 (so no lone surrogate), the JSON text of a string is already its RFC 8785 text; and since
 * no string can contain `"`, the separators used below (`","value":`, `},{"key":"`) occur only between
 * attributes. Each record matched is a valid JSON object of the shape the reference path accepts, so for every
 * line it accepts, its canonical texts are the reference's (test/verify/fast-otlp.test.ts checks this on
 * random and adversarial lines).
 *
 * Given the line's bytes as well, and the line being ASCII, the canonical forms are written as bytes copied from
 * the line (see "byte output" below) and hashed as bytes; the same offsets and rules, another output.
 */
import {
  canonicalFromParts,
  hasCanonicalBody,
  isIntegrityKey,
  MEMBER_HEAD_BYTES,
  writeCanonicalForm,
  type CanonicalMemberName,
  type CanonicalSink,
} from '../chain/canonical.js';
import { ByteWriter } from '../otlp/byte-writer.js';
import type { OtlpAnyValue } from '../otlp/types.js';

/** One log record as the fast path saw it. */
export interface FastRecord {
  /**
   * Canonical form: its text, or — when the line was given as ASCII bytes — its UTF-8 bytes, a view that is
   * valid only until the next call of fastParseLine (the bytes of a line's records share one reused buffer).
   */
  canonical: string | Uint8Array;
  /** The top-level attributes the verifier reads (see `interestingKey`), in input order. */
  attrs: Array<[string, OtlpAnyValue]>;
  eventName: string | undefined;
  /** Position in the request: resourceLogs[rl].scopeLogs[sl].logRecords[lr]. */
  rl: number;
  sl: number;
  lr: number;
}

/** Keys whose values the verifier needs: `audit.record.id`, `audit.sequence.*`, `audit.integrity.*`, `audit.checkpoint.*`. */
export function interestingKey(key: string): boolean {
  return (
    key.startsWith('audit.') &&
    (key === 'audit.record.id' ||
      key.startsWith('audit.sequence.') ||
      key.startsWith('audit.integrity.') ||
      key.startsWith('audit.checkpoint.'))
  );
}

// --- grammar (regular expression sources) -------------------------------------------------------------------

/** A JSON string with no escape and no control character. */
const STR = String.raw`"[^"\\\u0000-\u001f]*"`;
/** The decimal text of an int64 (as the reference's intText accepts it, minus "-0"). */
const INT = String.raw`(?:0|-?[1-9][0-9]*)`;
/** Any JSON number (RFC 8259 §6). */
const NUM = String.raw`-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?`;
const SCALAR_KINDS = `stringValue":${STR}|intValue":"${INT}"|boolValue":(?:true|false)|doubleValue":${NUM}`;
/** A scalar AnyValue, or the empty one. */
const SCALAR = String.raw`\{(?:"(?:${SCALAR_KINDS}))?\}`;
/** A scalar AnyValue, an array of scalars, or the empty AnyValue. */
const VALUE = String.raw`\{(?:"(?:${SCALAR_KINDS}|arrayValue":\{(?:"values":\[(?:${SCALAR}(?:,${SCALAR})*)?\])?\}))?\}`;
const KV = String.raw`\{"key":${STR},"value":${VALUE}\}`;
const KVS = String.raw`\[(?:${KV}(?:,${KV})*)?\]`;

/** One LogRecord, members in proto order; captures: time, observed, body, attributes, traceId, spanId, eventName. */
const RECORD = new RegExp(
  String.raw`\{(?:"timeUnixNano":"(${INT})",)?"observedTimeUnixNano":"(${INT})"` +
    String.raw`(?:,"severityNumber":${NUM})?(?:,"severityText":${STR})?(?:,"body":(${VALUE}))?` +
    String.raw`(?:,"attributes":\[((?:${KV})(?:,${KV})*)?\])?(?:,"droppedAttributesCount":${NUM})?(?:,"flags":${NUM})?` +
    String.raw`(?:,"traceId":"([0-9a-fA-F]{32}|)")?(?:,"spanId":"([0-9a-fA-F]{16}|)")?(?:,"eventName":(${STR}))?\}`,
  'y',
);
/**
 * An object whose members are any of `ms`, each at most once and in that order (proto field order, as
 * writers emit them): a repeated member name never matches, so the reference path reports it.
 */
const ordered = (ms: string[]): string =>
  String.raw`\{(?:${ms.map((m, i) => `(?:${m}${ms.slice(i + 1).map((n) => `(?:,${n})?`).join('')})`).join('|')})?\}`;
/** Resource and scope are not in the canonical form: only their syntax matters. */
const RESOURCE = ordered([String.raw`"attributes":${KVS}`, String.raw`"droppedAttributesCount":${NUM}`]);
const SCOPE = ordered([`"name":${STR}`, `"version":${STR}`, String.raw`"attributes":${KVS}`, String.raw`"droppedAttributesCount":${NUM}`]);
const LINE_OPEN = /\{"resourceLogs":\[/y;
const RL_OPEN = new RegExp(String.raw`\{(?:"resource":${RESOURCE},)?"scopeLogs":\[`, 'y');
const SL_OPEN = new RegExp(String.raw`\{(?:"scope":${SCOPE},)?"logRecords":\[`, 'y');
/** Closes a ScopeLogs or ResourceLogs: `]`, optional schemaUrl, `}`. */
const CLOSE = new RegExp(String.raw`\](?:,"schemaUrl":${STR})?\}`, 'y');

const COMMA = 44;
const CLOSE_BRACKET = 93;

const FALLBACK = Object.freeze({ fallback: true });
const fail = (): never => {
  throw FALLBACK;
};

let S = '';
let P = 0;

function match(re: RegExp): boolean {
  re.lastIndex = P;
  if (!re.test(S)) return false;
  P = re.lastIndex;
  return true;
}

function need(re: RegExp): void {
  if (!match(re)) fail();
}

/** `[` was consumed: calls `item` for each element until the closing `]` (left for the caller). */
function elements(item: () => void): void {
  if (S.charCodeAt(P) === CLOSE_BRACKET) return;
  for (;;) {
    item();
    if (S.charCodeAt(P) !== COMMA) return;
    P++;
  }
}

// --- values -------------------------------------------------------------------------------------------------

const DOUBLE_IN_ARRAY = new RegExp(String.raw`\{"doubleValue":(${NUM})\}`, 'g');

/** RFC 8785 text of a double by its JSON text; the same few values recur record after record. */
const doubles = new Map<string, string>();

function doubleText(num: string): string {
  let t = doubles.get(num);
  if (t === undefined) {
    const n = Number(num);
    if (!Number.isFinite(n)) fail(); // 1e999: the reference reports it
    t = JSON.stringify(n);
    if (doubles.size >= 4096) doubles.clear();
    doubles.set(num, t);
  }
  return t;
}

/** Canonical text of a VALUE matched by the grammar. */
function valueCanonical(v: string): string {
  switch (v.charCodeAt(2)) {
    case 100: // doubleValue
      return `{"doubleValue":${doubleText(v.slice(15, -1))}}`;
    case 97: {
      // arrayValue: {"arrayValue":{}} or {"arrayValue":{"values":[…]}}
      if (v.length === 17) return '[]';
      const inner = v.slice(25, -3);
      return '[' + (inner.includes('"doubleValue":') ? inner.replace(DOUBLE_IN_ARRAY, (_, n: string) => `{"doubleValue":${doubleText(n)}}`) : inner) + ']';
    }
    default: // stringValue, intValue, boolValue, or the empty {}: already canonical
      return v;
  }
}

/** The value of a verifier-relevant attribute, as the reference path would see it. */
function valueObject(v: string): OtlpAnyValue {
  if (v.length === 2) return {}; // the empty AnyValue
  switch (v.charCodeAt(2)) {
    case 115:
      return { stringValue: v.slice(16, -2) };
    case 105:
      return { intValue: v.slice(13, -2) };
    case 98:
      return { boolValue: v.length === 18 };
    case 100:
      return { doubleValue: Number(v.slice(15, -1)) };
    default:
      return fail(); // an array where a chain attribute is expected: the reference path reports it
  }
}

// --- attributes ---------------------------------------------------------------------------------------------

/** A set of attribute keys in input order, and what the canonical form needs. */
interface Shape {
  /** The keys as quoted in the input (`"audit.action"`). */
  quoted: string[];
  /** `{"key":` / `,"key":` — the canonical member's head, per position in `order`. */
  heads: string[];
  /** The same heads as UTF-8, for the byte output. */
  headBytes: Buffer[];
  /** The keys themselves. */
  names: string[];
  /** Indices of the non-integrity attributes, sorted by key (RFC 8785 order). */
  order: number[];
  /** Indices of the attributes the verifier reads. */
  interesting: number[];
}

// Producers write the same attributes in the same order record after record: sorting once per shape.
const SHAPES_MAX = 64;
const shapes: Shape[] = [];
let nextShape = 0;
/** The shape of the last record: tried first, keys compared in place. */
let LAST_SHAPE: Shape | undefined;

function shapeOf(quoted: string[]): Shape {
  const n = quoted.length;
  for (let s = 0; s < shapes.length; s++) {
    const sh = shapes[s]!;
    const k = sh.quoted;
    if (k.length !== n) continue;
    let i = 0;
    while (i < n && k[i] === quoted[i]) i++;
    if (i === n) return sh;
  }
  const names = quoted.map((q) => q.slice(1, -1));
  const order: number[] = [];
  const interesting: number[] = [];
  for (let i = 0; i < n; i++) {
    if (!isIntegrityKey(names[i]!)) order.push(i);
    if (interestingKey(names[i]!)) interesting.push(i);
  }
  // RFC 8785 §3.2.3: UTF-16 code unit order, which is JS string order.
  order.sort((a, b) => (names[a]! < names[b]! ? -1 : names[a]! > names[b]! ? 1 : 0));
  for (let i = 1; i < order.length; i++) {
    if (names[order[i]!] === names[order[i - 1]!]) fail(); // duplicate key: the reference reports it
  }
  const heads = order.map((i, j) => (j === 0 ? '{' : ',') + quoted[i]! + ':');
  const sh: Shape = { quoted: quoted.slice(), heads, headBytes: heads.map((h) => Buffer.from(h)), names, order, interesting };
  if (shapes.length < SHAPES_MAX) shapes.push(sh);
  else {
    shapes[nextShape] = sh;
    nextShape = (nextShape + 1) % SHAPES_MAX;
  }
  return sh;
}

const KEYS: string[] = [];
/** Start and end of each attribute's value in the attribute list (offsets, not slices: the byte output copies). */
const VS: number[] = [];
const VE: number[] = [];
const KV_SEPARATOR = '},{"key":"';

/** Splits the list like `generic` when the keys are those of `sh`, in place; false otherwise. */
function splitAs(block: string, sh: Shape): boolean {
  const quoted = sh.quoted;
  const count = quoted.length;
  let n = 0;
  let p = 0;
  for (;;) {
    if (n === count) return false;
    const q = quoted[n]!;
    // indexOf, not startsWith(q, at): V8's startsWith with a position was a third of the parse time here.
    if (block.indexOf(q, p + 7) !== p + 7) return false;
    const vs = p + q.length + 16; // {"key": + "key" + ,"value":
    const next = block.indexOf(KV_SEPARATOR, vs);
    VS[n] = vs;
    VE[n++] = next < 0 ? block.length - 1 : next;
    if (next < 0) break;
    p = next + 2;
  }
  return n === count;
}

/** Splits the list into KEYS (quoted) and value offsets. */
function splitGeneric(block: string): void {
  let n = 0;
  let p = 0;
  for (;;) {
    const ke = block.indexOf('"', p + 8); // closing quote of the key
    const vs = ke + 10; // after ","value":
    const next = block.indexOf(KV_SEPARATOR, vs);
    KEYS[n] = block.slice(p + 7, ke + 1);
    VS[n] = vs;
    VE[n] = next < 0 ? block.length - 1 : next;
    n++;
    if (next < 0) break;
    p = next + 2;
  }
  KEYS.length = n;
}

/**
 * Canonical `attributes` text of the attribute list matched by the grammar (`{"key":…},…` without the
 * brackets), collecting the verifier-relevant values into `attrs`.
 */
function attributesCanonical(block: string, attrs: Array<[string, OtlpAnyValue]>): string {
  const shape = splitAttributes(block, attrs);
  const order = shape.order;
  if (order.length === 0) return '{}';
  const heads = shape.heads;
  const n = order.length;
  // Concatenation builds a rope that the hash flattens once; Array.join measured ~25% slower end to end.
  let out = '';
  for (let j = 0; j < n; j++) {
    const i = order[j]!;
    out += heads[j]! + valueCanonical(block.slice(VS[i]!, VE[i]!));
  }
  return out + '}';
}

/** Splits the list into VS/VE by its shape, collecting the verifier-relevant values into `attrs`. */
function splitAttributes(block: string, attrs: Array<[string, OtlpAnyValue]>): Shape {
  // {"key":"K1","value":V1},{"key":"K2","value":V2}
  let shape = LAST_SHAPE;
  if (shape === undefined || !splitAs(block, shape)) {
    splitGeneric(block);
    shape = LAST_SHAPE = shapeOf(KEYS);
  }
  for (const i of shape.interesting) attrs.push([shape.names[i]!, valueObject(block.slice(VS[i]!, VE[i]!))]);
  return shape;
}

// --- byte output ---------------------------------------------------------------------------------------------
//
// When the line is ASCII, string offsets are byte offsets: the canonical form is then written as bytes, copied
// from the line's bytes, and hashed as bytes. A text built by concatenation is a rope of ~50 fragments that the
// hash must flatten and re-encode as UTF-8, and the fragments are most of the garbage per record.

/** The line is ASCII and its bytes are at the start of W (offsets in S are offsets in W.buf). */
let BYTES = false;
/**
 * The line's bytes, then the canonical forms of its records one after the other (reset per line). The line
 * is copied in once so that every later copy is a copyWithin: no view allocated per copied value.
 */
let W = new ByteWriter();
/** W grows to the longest line's needs; past this it is let go after that line. */
const W_KEEP_BYTES = 4 << 20;

/** Copies bytes [s, e) of the line. */
function copy(s: number, e: number): void {
  W.ensure(e - s);
  W.buf.copyWithin(W.pos, s, e);
  W.pos += e - s;
}

/** ASCII text, by a loop: the pieces are short, and a native write per piece cost more. */
function ascii(t: string): void {
  const n = t.length;
  W.ensure(n);
  const out = W.buf;
  for (let i = 0, p = W.pos; i < n; i++) out[p + i] = t.charCodeAt(i);
  W.pos += n;
}

/** Writes the canonical value of the VALUE at [s, e) of the line, as valueCanonical would give it. */
function valueBytes(s: number, e: number): void {
  if (e - s > 2) {
    const kind = W.buf[s + 2];
    // A double is re-serialized (rare in audit records); a search bounded by a slice, not by the line's end.
    if (kind === 100 || (kind === 97 && S.slice(s, e).includes('"doubleValue":'))) {
      ascii(valueCanonical(S.slice(s, e)));
      return;
    }
    if (kind === 97) {
      // arrayValue of scalars with no double: its elements are already canonical.
      W.byte(91);
      if (e - s !== 17) copy(s + 25, e - 3);
      W.byte(93);
      return;
    }
  }
  copy(s, e); // stringValue, intValue, boolValue, or the empty {}: already canonical
}

/** What the sink writes for the record being read. */
let ATTR_SHAPE: Shape | undefined;
/** Offset of the attribute list (after `"attributes":[`) in the line. */
let ATTR_AT = 0;
let BODY: string | undefined;

/** Writes the members that writeCanonicalForm decides on, into W. */
class LineByteSink implements CanonicalSink {
  private first = true;
  open(): void {
    this.first = true;
    W.byte(123);
  }
  member(name: CanonicalMemberName): void {
    W.bytes(MEMBER_HEAD_BYTES.get(name)![this.first ? 0 : 1]);
    this.first = false;
  }
  attributes(): void {
    const sh = ATTR_SHAPE!;
    const order = sh.order;
    const heads = sh.headBytes;
    for (let j = 0; j < order.length; j++) {
      const i = order[j]!;
      W.bytes(heads[j]!);
      valueBytes(ATTR_AT + VS[i]!, ATTR_AT + VE[i]!);
    }
    W.byte(125);
  }
  body(): void {
    ascii(BODY!);
  }
  jsonString(t: string): void {
    // Only the event name: a STR of an ASCII line (no quote, backslash or control character) is its own JSON text.
    W.byte(34);
    ascii(t);
    W.byte(34);
  }
  ascii(t: string): void {
    ascii(t);
  }
  close(): void {
    W.byte(125);
  }
}
const SINK = new LineByteSink();

// --- records and line ---------------------------------------------------------------------------------------

let OUT: FastRecord[] = [];
let RL = 0;
let SL = 0;
let LR = 0;

const ATTRIBUTES_OPEN = '"attributes":[';

function logRecord(): void {
  const start = P;
  RECORD.lastIndex = P;
  const m = RECORD.exec(S);
  if (m === null) return fail();
  P = RECORD.lastIndex;
  const attrs: Array<[string, OtlpAnyValue]> = [];
  const block = m[4];
  const ev = m[7];
  const eventName = ev === undefined ? undefined : ev.slice(1, -1);
  let canonical: string | Uint8Array;
  if (!BYTES) {
    canonical = canonicalFromParts({
      attributes: block === undefined ? '{}' : attributesCanonical(block, attrs),
      body: m[3] === undefined ? undefined : valueCanonical(m[3]),
      eventName,
      timeUnixNano: m[1] ?? '',
      observedTimeUnixNano: m[2]!,
      traceId: m[5],
      spanId: m[6],
    });
  } else {
    let hasAttributes = false;
    if (block !== undefined) {
      ATTR_SHAPE = splitAttributes(block, attrs);
      // The first `"attributes":[` of the record is its attributes member: none of the members before it (no
      // string of the grammar holds a quote) can contain that text.
      ATTR_AT = S.indexOf(ATTRIBUTES_OPEN, start) + ATTRIBUTES_OPEN.length;
      hasAttributes = ATTR_SHAPE.order.length > 0;
    }
    BODY = m[3] === undefined ? undefined : valueCanonical(m[3]);
    const from = W.pos;
    writeCanonicalForm(SINK, {
      hasAttributes,
      hasBody: hasCanonicalBody(BODY),
      eventName,
      timeUnixNano: m[1] ?? '',
      observedTimeUnixNano: m[2]!,
      traceId: m[5],
      spanId: m[6],
    });
    // A view taken now stays right even if W moves to a larger buffer for a later record of the line.
    canonical = new Uint8Array(W.buf.buffer, W.buf.byteOffset + from, W.pos - from);
  }
  OUT.push({
    canonical,
    attrs,
    eventName,
    rl: RL,
    sl: SL,
    lr: LR++,
  });
}

function scopeLogs(): void {
  need(SL_OPEN);
  LR = 0;
  elements(logRecord);
  need(CLOSE);
  SL++;
}

function resourceLogs(): void {
  need(RL_OPEN);
  SL = 0;
  elements(scopeLogs);
  need(CLOSE);
  RL++;
}

/**
 * Canonical forms and verifier attributes of every log record of one line, in line order, appended to `out`;
 * false (and `out` unchanged) when the line needs the reference path. `bytes`, the UTF-8 the line was decoded
 * from, lets the canonical forms be written as bytes when the line is ASCII (see FastRecord.canonical).
 */
export function fastParseLine(line: string, out: FastRecord[], bytes?: Uint8Array): boolean {
  S = line;
  P = 0;
  OUT = out;
  // UTF-8 of as many bytes as UTF-16 units: every character is ASCII (a BOM dropped by the decoder differs too).
  BYTES = bytes !== undefined && bytes.length === line.length;
  if (W.buf.length > W_KEEP_BYTES) W = new ByteWriter();
  W.pos = 0;
  if (BYTES) W.bytes(bytes!);
  RL = 0;
  const before = out.length;
  try {
    if (line === '{}') return true;
    need(LINE_OPEN);
    elements(resourceLogs);
    if (!line.endsWith(']}') || P !== line.length - 2) fail();
    return true;
  } catch (e) {
    if (e !== FALLBACK) throw e;
    out.length = before;
    return false;
  } finally {
    S = '';
    OUT = [];
    BYTES = false;
  }
}
