/**
 * The reader's fast path (src/verify/fast-otlp.ts) must be invisible: on any line it yields exactly what the
 * reference path (JSON.parse + canonicalFromOtlp) yields — same records, hashes, chain and integrity fields,
 * same errors. Checked on random OTLP/JSON lines and on thousands of single-character corruptions of them.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalFromOtlp } from '../../src/chain/canonical.js';
import type { OtlpAnyValue, OtlpKeyValue, OtlpLogRecord } from '../../src/otlp/types.js';
import { fastParseLine, shapeExpressionReads, type FastRecord } from '../../src/verify/fast-otlp.js';
import { readRecords, type ReadItem } from '../../src/verify/index.js';
import { makeChain, requestLine, toLines } from '../helpers/make-chain.js';
import { ed25519Keys, hmacSigner, hmacSecret, makeSignedChain } from '../helpers/make-signed-chain.js';
import { tempDir } from '../helpers/tmp.js';
import { prng } from '../helpers/prng.js';

let root: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir: root, cleanup } = await tempDir('otel-audit-fast-'));
});
afterAll(async () => cleanup());


const STRINGS = ['alice', '', 'a b', 'ünïcödé', '😀 x', 'Å', 'A\u030a', '\u2028', '\u007f', 'with "quote"', 'back\\slash', 'line\nbreak', 'tab\there', '</script>', '{"key":"x"}', '},{"key":"', '","value":'];
const KEYS = [
  'audit.action', 'audit.actor.id', 'user.roles', 'a', 'b', 'z', '', 'ü', '😀', '\ue000', 'audit.record.id', 'audit.sequence.stream_id',
  'audit.sequence.number', 'audit.sequence.previous_hash', 'audit.integrity.value', 'audit.integrity.key_id', 'audit.integrity',
  'audit.checkpoint.sequence', 'audit.checkpoint.head_hash', 'audit.sequence.end', 'k"q', 'audit.sequence.previous_stream_id',
];

function value(rand: (n: number) => number, depth: number): OtlpAnyValue | undefined {
  const r = rand(24);
  if (r < 7) return { stringValue: STRINGS[rand(STRINGS.length)]! };
  if (r < 10) return { intValue: ['0', '5', '-17', '9007199254740993', '-9223372036854775808', '-0'][rand(6)]! };
  if (r === 10) return { intValue: [3, 0, -4][rand(3)]! };
  if (r < 13) return { doubleValue: [1.5, 2, -0.25, 1e21, 1e-7, 12.5, 0.1][rand(7)]! };
  if (r === 13) return { doubleValue: ['2.5', 'NaN', 'Infinity'][rand(3)]! };
  if (r < 16) return { boolValue: rand(2) === 1 };
  if (r === 16) return { bytesValue: ['AAEC', 'AAE', '_-8', ''][rand(4)]! };
  if (r === 17 && depth < 3) return { arrayValue: { values: Array.from({ length: rand(4) }, () => value(rand, depth + 1) ?? {}) } };
  if (r === 18 && depth < 3) return { arrayValue: {} };
  if (r === 19 && depth < 3) return { kvlistValue: { values: Array.from({ length: rand(3) }, () => ({ key: KEYS[rand(KEYS.length)]!, value: value(rand, depth + 1) ?? {} })) } };
  if (r === 20) return {};
  if (r === 21) return undefined;
  return { stringValue: `s${rand(1000)}` };
}

function record(rand: (n: number) => number): OtlpLogRecord {
  const r: OtlpLogRecord = {};
  const t = rand(10);
  if (t < 7) r.timeUnixNano = String(1_700_000_000_000_000_000n + BigInt(rand(1e6)));
  else if (t === 7) r.timeUnixNano = 1_700_000_000_000_000_000 as unknown as string;
  if (rand(10) < 9) r.observedTimeUnixNano = String(1_700_000_000_000_000_000n + BigInt(rand(1e6)));
  if (rand(2) === 0) r.severityNumber = 9;
  if (rand(5) === 0) r.severityText = 'INFO';
  if (rand(3) > 0) r.body = value(rand, 0) ?? {};
  const attrs: OtlpKeyValue[] = [];
  const n = rand(8);
  for (let i = 0; i < n; i++) {
    const kv: OtlpKeyValue = { key: rand(4) === 0 ? KEYS[rand(KEYS.length)]! : `k${rand(6)}` };
    const v = value(rand, 1);
    if (v !== undefined) kv.value = v;
    attrs.push(kv);
  }
  if (rand(6) > 0) r.attributes = attrs;
  if (rand(8) === 0) r.droppedAttributesCount = 1;
  if (rand(8) === 0) r.flags = 1;
  if (rand(4) === 0) r.traceId = ['0af7651916cd43dd8448eb211c80319c', '0AF7651916CD43DD8448EB211C80319C', '00000000000000000000000000000000', '', '0af7'][rand(5)]!;
  if (rand(4) === 0) r.spanId = ['b7ad6b7169203331', '0000000000000000', 'B7AD6B7169203331'][rand(3)]!;
  if (rand(3) > 0) r.eventName = STRINGS[rand(STRINGS.length)]!;
  if (rand(20) === 0) (r as Record<string, unknown>)['unknownField'] = { x: [1, 'y'] };
  return r;
}

function line(rand: (n: number) => number): string {
  const resourceLogs = Array.from({ length: 1 + rand(2) }, () => ({
    ...(rand(4) > 0 ? { resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] } } : {}),
    scopeLogs: Array.from({ length: 1 + rand(2) }, () => ({
      ...(rand(3) > 0 ? { scope: rand(2) ? { name: 'audit', version: '1' } : {} } : {}),
      logRecords: Array.from({ length: rand(4) }, () => record(rand)),
      ...(rand(5) === 0 ? { schemaUrl: 'https://opentelemetry.io/schemas/1.26.0' } : {}),
    })),
    ...(rand(5) === 0 ? { schemaUrl: 'https://example' } : {}),
  }));
  return JSON.stringify({ resourceLogs });
}

/** A value as JSON text in the compact proto3 form writers use: scalars, arrays of scalars, numbers in any spelling. */
function writerValue(rand: (n: number) => number, depth = 0): string {
  const str = (): string => JSON.stringify(['', 'alice', 'a b', 'x/y', '{}', '[1]', 'audit.action', ':', ',', '12.5', 'k' + rand(9)][rand(11)]);
  // Values the fast path declines (bytes, kvlists, '007', 1e999) are rare: one of them declines a whole line.
  const rare = rand(40) === 0;
  switch (rand(depth > 0 ? 6 : 8) + (rare ? 1 : 0)) {
    case 0:
    case 1:
      return `{"stringValue":${str()}}`;
    case 2:
      return `{"intValue":"${rare ? '007' : ['0', '7', '-17', '9007199254740993', '-9223372036854775808', '-0'][rand(6)]}"}`;
    case 3:
      return `{"doubleValue":${rare ? '1e999' : ['1.5', '2', '2.0', '2.50', '-0.0', '1E2', '1e21', '1e-7', '12.5', '0.1', '5e-324'][rand(11)]}}`;
    case 4:
      return `{"boolValue":${rand(2) === 1}}`;
    case 5:
      return '{}';
    case 6:
      return rare ? `{"bytesValue":"AAEC"}` : '{"stringValue":""}';
    case 7:
      return rand(4) === 0 ? '{"arrayValue":{}}' : `{"arrayValue":{"values":[${Array.from({ length: rand(4) }, () => writerValue(rand, 1)).join(',')}]}}`;
    default:
      return `{"kvlistValue":{"values":[]}}`;
  }
}

/** Key lists of earlier records, reused by later ones (across lines too, as in a journal). */
const shapeKeys: string[][] = [];

/** An ASCII line of records with members in proto order, as the processor and the Collector write them. */
/** A value of every kind the fast path takes, and only those (writerValue also yields some it declines). */
function takenValue(rand: (n: number) => number): string {
  const str = (): string => JSON.stringify(['', 'alice', 'a b', 'x/y', '{}', '[1]', ':', ',', '12.5', 'k' + rand(9)][rand(10)]);
  switch (rand(7)) {
    case 0:
      return `{"stringValue":${str()}}`;
    case 1:
      return `{"intValue":"${['0', '7', '-17', '9007199254740993'][rand(4)]}"}`;
    case 2:
      return `{"doubleValue":${['1.5', '2', '2.50', '1E2', '1e21', '1e-7'][rand(6)]}}`;
    case 3:
      return `{"boolValue":${rand(2) === 1}}`;
    case 4:
      return '{}';
    case 5:
      return `{"arrayValue":{"values":[${Array.from({ length: rand(3) }, () => `{"stringValue":${str()}}`).join(',')}]}}`;
    default:
      return `{"stringValue":${str()}}`;
  }
}

function writerLine(rand: (n: number) => number, fixed?: readonly string[], count = 1 + rand(6)): string {
  const keys = ['audit.action', 'audit.actor.id', 'user.roles', 'a', 'b', 'B', 'z', '', 'audit.record.id', 'audit.sequence.stream_id', 'audit.sequence.number',
    'audit.sequence.previous_hash', 'audit.integrity.value', 'audit.integrity', 'audit.checkpoint.sequence', 'audit.sequence.end', 'k~', 'k.',
    'k(+)*?[^$]{1}|/.'];
  const rec = (): string => {
    const m: string[] = [];
    const t = String(1_700_000_000_000_000_000n + BigInt(rand(1e6)));
    if (rand(5) > 0) m.push(`"timeUnixNano":"${rand(8) === 0 ? '0' : t}"`);
    m.push(`"observedTimeUnixNano":"${rand(8) === 0 ? '0' : t}"`);
    if (rand(2) === 0) m.push(`"severityNumber":${rand(25)}`);
    if (rand(5) === 0) m.push('"severityText":"INFO"');
    if (rand(3) > 0) m.push(`"body":${fixed === undefined ? writerValue(rand) : takenValue(rand)}`);
    if (fixed !== undefined) m.push(`"attributes":[${fixed.map((k) => `{"key":"${k}","value":${takenValue(rand)}}`).join(',')}]`);
    else if (rand(8) > 0) {
      // Half the time the keys of an earlier record, in the same order: the fast path reads such a record by
      // its shape's own expression (fast-otlp.ts, Shape.record), with new values.
      const names = rand(2) === 0 && shapeKeys.length > 0 ? shapeKeys[rand(shapeKeys.length)]! : Array.from({ length: rand(12) }, () => (rand(6) === 0 ? keys[rand(keys.length)]! : `k${rand(200)}`));
      if (shapeKeys.length < 4) shapeKeys.push(names);
      else shapeKeys[rand(4)] = names;
      m.push(`"attributes":[${names.map((k) => `{"key":"${k}","value":${writerValue(rand)}}`).join(',')}]`);
    }
    if (rand(8) === 0) m.push('"droppedAttributesCount":1');
    if (rand(8) === 0) m.push('"flags":1');
    if (rand(4) === 0) m.push(`"traceId":"${['0af7651916cd43dd8448eb211c80319c', '0AF7651916CD43DD8448EB211C80319C', '00000000000000000000000000000000', ''][rand(4)]}"`);
    if (rand(4) === 0) m.push(`"spanId":"${['b7ad6b7169203331', '0000000000000000', 'B7AD6B7169203331', ''][rand(4)]}"`);
    if (rand(3) > 0) m.push(`"eventName":"${['user.login', '', 'audit.checkpoint', 'e'][rand(4)]}"`);
    return `{${m.join(',')}}`;
  };
  const records = Array.from({ length: count }, rec).join(',');
  return `{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},"scopeLogs":[{"scope":{"name":"audit"},"logRecords":[${records}]}]}]}`;
}

async function items(file: string, fastPath: boolean): Promise<ReadItem[]> {
  const out: ReadItem[] = [];
  for await (const i of readRecords(file, { fastPath })) out.push(i);
  return out;
}

/** Writes `lines` to a file and checks that both paths read the same items; returns how many the fast path took. */
async function sameBothWays(name: string, lines: readonly string[]): Promise<number> {
  const file = join(root, name);
  await writeFile(file, lines.join('\n') + '\n');
  const fast = await items(file, true);
  const ref = await items(file, false);
  expect(fast.length).toBe(ref.length);
  for (let i = 0; i < ref.length; i++) expect(fast[i], `${name} item ${i} (line ${ref[i]!.line})`).toEqual(ref[i]);
  let taken = 0;
  const out: FastRecord[] = [];
  for (const l of lines) if (fastParseLine(l, out)) taken++;
  return taken;
}

describe('fast path ≡ reference path', () => {
  it('on the lines this package and the collector write (chains, signed chains, checkpoints)', async () => {
    const keys = ed25519Keys(root, 'fast');
    const signed = makeSignedChain({ n: 30, recordSigner: hmacSigner(hmacSecret(1)), checkpointSigner: keys.signer, checkpointEvery: 7, shutdown: 'end-checkpoint' });
    // The processor and the Collector write LogRecord members in proto field order (as makeSignedChain does;
    // makeChain puts eventName first, which takes the reference path).
    const proto = [...toLines(signed.records, 4), '{}', '{"resourceLogs":[]}'];
    const lines = [...toLines(makeChain(40, { end: true }), 3), ...proto];
    const taken = await sameBothWays('writers.jsonl', lines);
    expect(taken).toBeGreaterThanOrEqual(proto.length);
    const out0: FastRecord[] = [];
    expect(proto.every((l) => fastParseLine(l, out0))).toBe(true);
    // And the canonical texts are the reference's (all kept on request; by default only those a check reads).
    const out: FastRecord[] = [];
    fastParseLine(requestLine(signed.records), out, true);
    expect(out.map((r) => r.canonical)).toEqual(signed.records.map((r) => canonicalFromOtlp(r)));
  });

  it('on 1500 random lines (escapes, unicode, lenient numbers, bytes, kvlists, bad values)', async () => {
    const rand = prng(0xfa57);
    const lines = Array.from({ length: 1500 }, () => line(rand));
    const taken = await sameBothWays('random.jsonl', lines);
    expect(taken).toBeGreaterThan(100); // the fast path is exercised, not bypassed
    expect(taken).toBeLessThan(lines.length); // and so is the fallback
  });

  it('on 2000 random lines in the shape writers produce (every value kind the fast path takes, and some it declines)', async () => {
    const rand = prng(0xb17e5);
    const lines = Array.from({ length: 2000 }, () => writerLine(rand));
    let records = 0;
    for (const l of lines) {
      const out: FastRecord[] = [];
      if (!fastParseLine(l, out, true)) continue;
      // The reference: JSON.parse and canonicalFromOtlp of each record, in line order.
      const doc = JSON.parse(l) as { resourceLogs?: Array<{ scopeLogs?: Array<{ logRecords?: OtlpLogRecord[] }> }> };
      const ref = (doc.resourceLogs ?? []).flatMap((rl) => (rl.scopeLogs ?? []).flatMap((sl) => sl.logRecords ?? []));
      expect(out.map((r) => r.canonical), l).toEqual(ref.map((r) => canonicalFromOtlp(r)));
      records += ref.length;
    }
    expect(records).toBeGreaterThan(1500); // the fast path is exercised, not bypassed
    // And end to end, items and errors: the reader's fast path against the reference path.
    await sameBothWays('writer-shaped.jsonl', lines);
  });

  it('on long runs of one attribute shape, read by that shape\'s own expression, and on shapes too large for one', async () => {
    const rand = prng(0x5ba9e);
    const shapes = [
      ['audit.action', 'audit.actor.id', 'k(+)*?[^$]{1}|/.', 'audit.record.id', 'audit.sequence.stream_id', 'audit.sequence.number', 'audit.sequence.previous_hash', 'audit.integrity.value', 'z', ''],
      Array.from({ length: 40 }, (_, i) => `attr.${i}`),
      Array.from({ length: 60 }, (_, i) => `wide.${i}`), // past SHAPE_RE_MAX_KEYS: never compiled
      ['b', 'a', 'audit.sequence.stream_id', 'audit.sequence.number'],
    ];
    const lines: string[] = [];
    for (let round = 0; round < 3; round++) for (const keys of shapes) for (let l = 0; l < 12; l++) lines.push(writerLine(rand, keys, 8));
    const before = shapeExpressionReads();
    const taken = await sameBothWays('shape-runs.jsonl', lines);
    expect(taken).toBeGreaterThan(lines.length / 2);
    expect(shapeExpressionReads() - before).toBeGreaterThan(500); // the path is exercised, not bypassed
  });

  // Found in review: one record of ~2,300+ attributes made V8 fail to compile its shape's expression, and that shape,
  // left as the last one, made every later line of every file "malformed"; 64 records of 300 new keys each ran the
  // process out of memory compiling expressions. Now such shapes get none, and any failure of the fast path is a
  // fallback to the reference path.
  it('a record of thousands of attributes, and many wide shapes, are read as the reference reads them', async () => {
    const wide = (n: number, tag: string): string =>
      `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"observedTimeUnixNano":"1","attributes":[${Array.from({ length: n }, (_, i) => `{"key":"${tag}${i}","value":{}}`).join(',')}]}]}]}]}`;
    const chain = toLines(makeChain(20, { end: true }), 3);
    await sameBothWays('huge-record.jsonl', [wide(2500, 'k'), ...chain]);
    await sameBothWays('huge-records-in-a-row.jsonl', [...Array.from({ length: 40 }, () => wide(2500, 'k')), ...chain]);
    await sameBothWays('wide-shapes.jsonl', [...Array.from({ length: 64 }, (_, i) => wide(300, `s${i}-`)), ...chain]);
  });

  it('on 4000 single-character corruptions of valid lines', async () => {
    const rand = prng(0xc0ff);
    const base = [...toLines(makeChain(12, { end: true }), 2), ...Array.from({ length: 20 }, () => line(rand))];
    const alphabet = ['"', '{', '}', '[', ']', ',', ':', '\\', ' ', '0', '1', '-', '.', 'e', 'a', '\t', '\u0001', 'é', 'n', 't'];
    const lines: string[] = [];
    for (let i = 0; i < 4000; i++) {
      const l = base[rand(base.length)]!;
      const at = rand(l.length);
      const c = alphabet[rand(alphabet.length)]!;
      const op = rand(3);
      lines.push(op === 0 ? l.slice(0, at) + l.slice(at + 1) : op === 1 ? l.slice(0, at) + c + l.slice(at) : l.slice(0, at) + c + l.slice(at + 1));
    }
    await sameBothWays('corrupt.jsonl', lines);
  });

  it('on hand-picked edge cases', async () => {
    const ok = '{"timeUnixNano":"1","observedTimeUnixNano":"2","attributes":[{"key":"a","value":{"stringValue":"x"}}],"eventName":"e"}';
    const wrap = (rec: string): string => `{"resourceLogs":[{"scopeLogs":[{"logRecords":[${rec}]}]}]}`;
    const lines = [
      wrap(ok),
      wrap(ok.replace('"attributes"', '"\\u0061ttributes"')), // an escaped member name
      wrap(ok.replace('{"key":"a"', '{"key":"a","key":"b"')), // duplicate member in a KeyValue
      wrap(ok.replace('"eventName":"e"', '"eventName":"e","eventName":"f"')), // duplicate record member
      wrap(ok.replace('"stringValue":"x"', '"stringValue":"x","intValue":"1"')), // two values
      wrap(ok.replace('"stringValue":"x"', '"intValue":"-0"')),
      wrap(ok.replace('"stringValue":"x"', '"intValue":"007"')),
      wrap(ok.replace('"stringValue":"x"', '"doubleValue":1e999')),
      wrap(ok.replace('"stringValue":"x"', '"doubleValue":2.50')),
      wrap(ok.replace('"stringValue":"x"', '"arrayValue":{"values":[{"doubleValue":1.0},{}]}')),
      wrap(ok.replace('"stringValue":"x"', '"stringValue":null')),
      wrap(ok.replace('{"stringValue":"x"}', 'null')),
      wrap(ok.replace('"1"', '"01"')),
      wrap(ok.replace('"attributes":[{"key":"a","value":{"stringValue":"x"}}]', '"attributes":[{"key":"a","value":{"stringValue":"x"}},{"key":"a","value":{"stringValue":"y"}}]')),
      wrap(ok.replace('"attributes":[{"key":"a","value":{"stringValue":"x"}}]', '"attributes":[{"key":"audit.integrity.value","value":{"stringValue":"x"}},{"key":"audit.integrity.value","value":{"stringValue":"y"}}]')),
      wrap(ok) + ' ',
      wrap(ok) + 'x',
      ` ${wrap(ok)}`,
      wrap(`${ok},${ok}`),
      wrap(ok.replace('}],"eventName"', '},{"key":"b"}],"eventName"')), // KeyValue without value
      '{"resourceLogs":[{"scopeLogs":[{"logRecords":[]}]}],"extra":1}',
      '{"resourceLogs":null}',
      '{"resourceLogs":[{"resource":{"attributes":[{"key":"k","value":{"kvlistValue":{"values":[]}}}]},"scopeLogs":[]}]}',
      '[]',
      '"x"',
    ];
    await sameBothWays('edges.jsonl', lines);
  });
});
