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
 */
import { canonicalFromParts, isIntegrityKey } from '../chain/canonical.js';
import { hashCanonical } from '../chain/hash.js';
import type { OtlpAnyValue } from '../otlp/types.js';
import { Attrs, isCheckpointClaim } from './attrs.js';

/** One log record as the fast path saw it. */
export interface FastRecord {
  /**
   * Its canonical text: only when a check needs it (a signed record, a checkpoint claim) or the caller asked for
   * every text. A line of 1,024 records held as texts until the line was done was ~1.6 MB that outlived the young
   * generation, and the GC of the verifier's longest lines.
   */
  canonical: string | undefined;
  /** SHA-256 of the canonical text (hex); undefined for a record with no audit.sequence.stream_id (not ours). */
  hash: string | undefined;
  /** The top-level attributes the verifier reads (see `interestingKey`). */
  attrs: Attrs;
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

/** A LogRecord's members up to its attributes, in proto order; captures: time, observed, body. */
const RECORD_HEAD =
  String.raw`\{(?:"timeUnixNano":"(${INT})",)?"observedTimeUnixNano":"(${INT})"` +
  String.raw`(?:,"severityNumber":${NUM})?(?:,"severityText":${STR})?(?:,"body":(${VALUE}))?`;
/** Its members after the attributes; captures: traceId, spanId, eventName. */
const RECORD_TAIL =
  String.raw`(?:,"droppedAttributesCount":${NUM})?(?:,"flags":${NUM})?` +
  String.raw`(?:,"traceId":"([0-9a-fA-F]{32}|)")?(?:,"spanId":"([0-9a-fA-F]{16}|)")?(?:,"eventName":(${STR}))?\}`;
/** One LogRecord, members in proto order; captures: time, observed, body, attributes, traceId, spanId, eventName. */
const RECORD = new RegExp(RECORD_HEAD + String.raw`(?:,"attributes":\[((?:${KV})(?:,${KV})*)?\])?` + RECORD_TAIL, 'y');
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
  /** The keys themselves. */
  names: string[];
  /** Indices of the non-integrity attributes, sorted by key (RFC 8785 order). */
  order: number[];
  /** Indices of the attributes the verifier reads. */
  interesting: number[];
  /**
   * Matches a whole LogRecord whose attributes have exactly these keys in this order, as RECORD does, with group
   * 4 + i for value i: a record of the same shape as the last is then read in one run of one regular expression,
   * with no key compared or separator searched by JS. Built only for a shape of at most SHAPE_RE_MAX_KEYS keys
   * once SHAPE_RE_AFTER records in a row had it, and for at most SHAPE_RE_LIVE shapes at a time: compiling one
   * costs milliseconds and native code growing faster than its keys (a review found files of many large or
   * ever-new shapes aborting the process, or running hundreds of times slower, when every shape had one).
   */
  record: RegExp | undefined;
  /** Records in a row that had this shape (the last ones read). */
  streak: number;
  /** False once its expression failed to run: read without one from then on. */
  mayCompile: boolean;
}

/** Records read by a shape's own expression in this thread so far (for tests: that path is taken). */
let shapeReads = 0;
export const shapeExpressionReads = (): number => shapeReads;

/** See Shape.record. */
const SHAPE_RE_MAX_KEYS = 48;
const SHAPE_RE_AFTER = 32;
const SHAPE_RE_LIVE = 8;
/** Shapes that hold a `record` expression, oldest first. */
const compiled: Shape[] = [];

function compileShape(sh: Shape): void {
  if (compiled.length === SHAPE_RE_LIVE) compiled.shift()!.record = undefined;
  sh.record = new RegExp(`${RECORD_HEAD},"attributes":\\[${listSource(sh.quoted)}\\]${RECORD_TAIL}`, 'y');
  compiled.push(sh);
}

/** `{"key":"K","value":V}` for each key, in order, each value captured. */
const listSource = (quoted: string[]): string =>
  quoted.map((q) => String.raw`\{"key":${q.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')},"value":(${VALUE})\}`).join(',');

/** The internalized copy of `s` (V8 internalizes property keys). */
const intern = (s: string): string => Object.keys({ [s]: 0 })[0]!;

// Producers write the same attributes in the same order record after record: sorting once per shape.
const SHAPES_MAX = 64;
const shapes: Shape[] = [];
let nextShape = 0;
/** The shape of the last record: its `record` expression is tried first. */
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
  // Interned, as the key constants Attrs.note compares them with are: each comparison is then one of pointers.
  const names = quoted.map((q) => intern(q.slice(1, -1)));
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
  const sh: Shape = { quoted: quoted.slice(), heads, names, order, interesting, record: undefined, streak: 0, mayCompile: quoted.length <= SHAPE_RE_MAX_KEYS };
  if (shapes.length < SHAPES_MAX) shapes.push(sh);
  else {
    const old = shapes[nextShape]!;
    if (old.record !== undefined) compiled.splice(compiled.indexOf(old), 1);
    shapes[nextShape] = sh;
    nextShape = (nextShape + 1) % SHAPES_MAX;
  }
  return sh;
}

const KEYS: string[] = [];
const VALUES: string[] = [];
const KV_SEPARATOR = '},{"key":"';

/** Splits the list like `splitGeneric` when the keys are those of `sh`, in place; false otherwise. */
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
    VALUES[n++] = block.slice(vs, next < 0 ? block.length - 1 : next);
    if (next < 0) break;
    p = next + 2;
  }
  if (n !== count) return false;
  VALUES.length = n;
  return true;
}

/** Splits the list into KEYS (quoted) and VALUES. */
function splitGeneric(block: string): void {
  let n = 0;
  let p = 0;
  for (;;) {
    const ke = block.indexOf('"', p + 8); // closing quote of the key
    const vs = ke + 10; // after ","value":
    const next = block.indexOf(KV_SEPARATOR, vs);
    KEYS[n] = block.slice(p + 7, ke + 1);
    VALUES[n] = block.slice(vs, next < 0 ? block.length - 1 : next);
    n++;
    if (next < 0) break;
    p = next + 2;
  }
  KEYS.length = n;
  VALUES.length = n;
}

/**
 * Canonical `attributes` text of a list of shape `sh` whose value i is `v[base + i]`, collecting the
 * verifier-relevant values into `attrs`, in input order.
 */
function attributesCanonical(sh: Shape, v: ArrayLike<string | undefined>, base: number, attrs: Attrs): string {
  for (const i of sh.interesting) attrs.note(sh.names[i]!, valueObject(v[base + i]!));
  const order = sh.order;
  if (order.length === 0) return '{}';
  const heads = sh.heads;
  const n = order.length;
  // Concatenation builds a rope that the hash flattens once; Array.join measured ~25% slower end to end.
  let out = '';
  for (let j = 0; j < n; j++) out += heads[j]! + valueCanonical(v[base + order[j]!]!);
  return out + '}';
}

// --- records and line ---------------------------------------------------------------------------------------

let OUT: FastRecord[] = [];
let KEEP_TEXT = false;
let RL = 0;
let SL = 0;
let LR = 0;

function logRecord(): void {
  const attrs = new Attrs();
  let attributes = '{}';
  // Index of the traceId capture: after the shape's values, or RECORD's.
  let t = 5;
  let m: RegExpExecArray | null = null;
  const last = LAST_SHAPE;
  const re = last?.record;
  if (re !== undefined) {
    re.lastIndex = P;
    m = re.exec(S);
    if (m !== null) {
      P = re.lastIndex;
      shapeReads++;
      last!.streak++;
      attributes = attributesCanonical(last!, m, 4, attrs);
      t = 4 + last!.names.length;
    }
  }
  if (m === null) {
    RECORD.lastIndex = P;
    m = RECORD.exec(S);
    if (m === null) return fail();
    P = RECORD.lastIndex;
    const block = m[4];
    if (block !== undefined) {
      // {"key":"K1","value":V1},{"key":"K2","value":V2}
      let shape = LAST_SHAPE;
      if (shape !== undefined && splitAs(block, shape)) shape.streak++;
      else {
        splitGeneric(block);
        if (shape !== undefined) shape.streak = 0;
        shape = LAST_SHAPE = shapeOf(KEYS);
        shape.streak = 1;
      }
      if (shape.record === undefined && shape.mayCompile && shape.streak >= SHAPE_RE_AFTER) compileShape(shape);
      attributes = attributesCanonical(shape, VALUES, 0, attrs);
    }
  }
  const ev = m[t + 2];
  const eventName = ev === undefined ? undefined : ev.slice(1, -1);
  const canonical = canonicalFromParts({
    attributes,
    body: m[3] === undefined ? undefined : valueCanonical(m[3]),
    eventName,
    timeUnixNano: m[1] ?? '',
    observedTimeUnixNano: m[2]!,
    traceId: m[t],
    spanId: m[t + 1],
  });
  OUT.push({
    canonical: KEEP_TEXT || attrs.signed || isCheckpointClaim(attrs, eventName) ? canonical : undefined,
    hash: attrs.streamId === undefined ? undefined : hashCanonical(canonical),
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
 * Hashes, verifier attributes and (see FastRecord.canonical; all with `keepText`) canonical forms of every log
 * record of one line, in line order, appended to `out`; false (and `out` unchanged) when the line needs the
 * reference path.
 */
export function fastParseLine(line: string, out: FastRecord[], keepText = false): boolean {
  S = line;
  KEEP_TEXT = keepText;
  P = 0;
  OUT = out;
  RL = 0;
  const before = out.length;
  try {
    if (line === '{}') return true;
    need(LINE_OPEN);
    elements(resourceLogs);
    if (!line.endsWith(']}') || P !== line.length - 2) fail();
    return true;
  } catch (e) {
    if (e !== FALLBACK) {
      // Anything else (V8 refusing to compile an expression, say) is no finding about the line: the reference
      // path decides it, and the shape involved is read without expressions from now on.
      const sh = LAST_SHAPE;
      if (sh?.record !== undefined) {
        compiled.splice(compiled.indexOf(sh), 1);
        sh.record = undefined;
      }
      if (sh !== undefined) sh.mayCompile = false;
      LAST_SHAPE = undefined;
    }
    out.length = before;
    return false;
  } finally {
    S = '';
    OUT = [];
  }
}
