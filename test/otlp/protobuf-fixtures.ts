/**
 * Shared by the protobuf tests (protobuf.test.ts, protobuf-decode.test.ts): a seeded generator of lenient
 * OTLP/JSON requests, the normalisation a Collector applies when it reads such a request and writes it back,
 * and protobufjs's own encoding of a strict request (the independent oracle for our bytes).
 */
import type {
  ExportLogsServiceRequest,
  OtlpAnyValue,
  OtlpKeyValue,
  OtlpLogRecord,
  OtlpResourceLogs,
  OtlpScopeLogs,
} from '../../src/otlp/types.js';
import { prng } from '../helpers/prng.js';
import { requestType } from '../helpers/proto-receivers.js';

export const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
export const present = (v: unknown): boolean => v !== undefined && v !== null;

// ---------------------------------------------------------------------------------------------------------
// The normalisation a Collector applies when it reads lenient OTLP/JSON and writes it back

function toBig(v: string | number): bigint {
  return BigInt(v);
}

function normAny(v: OtlpAnyValue): OtlpAnyValue {
  if (present(v.stringValue)) return { stringValue: v.stringValue! };
  if (present(v.boolValue)) return { boolValue: v.boolValue! };
  if (present(v.intValue)) return { intValue: toBig(v.intValue!).toString() };
  if (present(v.doubleValue)) {
    const d = v.doubleValue!;
    return { doubleValue: typeof d === 'string' && !['NaN', 'Infinity', '-Infinity'].includes(d) ? Number(d) : d };
  }
  if (present(v.bytesValue)) return { bytesValue: Buffer.from(v.bytesValue!, 'base64').toString('base64') };
  if (present(v.arrayValue)) {
    const vals = v.arrayValue!.values ?? [];
    return { arrayValue: vals.length > 0 ? { values: vals.map(normAny) } : {} };
  }
  if (present(v.kvlistValue)) {
    const vals = v.kvlistValue!.values ?? [];
    return { kvlistValue: vals.length > 0 ? { values: vals.map(normKv) } : {} };
  }
  return {};
}

function normKv(kv: OtlpKeyValue): OtlpKeyValue {
  return present(kv.value) ? { key: kv.key, value: normAny(kv.value!) } : { key: kv.key };
}

const normAttrs = (a: OtlpKeyValue[] | undefined | null): OtlpKeyValue[] | undefined =>
  a && a.length > 0 ? a.map(normKv) : undefined;

const SEVERITY_NAMES: Record<string, number> = { SEVERITY_NUMBER_INFO: 9, SEVERITY_NUMBER_FATAL4: 24 };

/**
 * Lenient OTLP/JSON → the strict form: ints as decimal strings, ids lowercase, defaults and empty lists
 * omitted, base64 padded. `dropZeroIds`: also drop all-zero ids, which the Collector treats as unset.
 */
export function normalize(req: ExportLogsServiceRequest, dropZeroIds: boolean): ExportLogsServiceRequest {
  const id = (s: string | undefined | null): string | undefined => {
    if (!s) return undefined;
    if (dropZeroIds && /^0+$/.test(s)) return undefined;
    return s.toLowerCase();
  };
  const rec = (r: OtlpLogRecord): OtlpLogRecord => {
    const out: OtlpLogRecord = {};
    const set = <K extends keyof OtlpLogRecord>(k: K, v: OtlpLogRecord[K] | undefined): void => {
      if (v !== undefined) out[k] = v;
    };
    const time = (t: string | number | undefined | null): string | undefined =>
      present(t) && toBig(t!) !== 0n ? toBig(t!).toString() : undefined;
    set('timeUnixNano', time(r.timeUnixNano));
    set('observedTimeUnixNano', time(r.observedTimeUnixNano));
    const sev = typeof r.severityNumber === 'string' ? SEVERITY_NAMES[r.severityNumber] : r.severityNumber;
    set('severityNumber', sev ? Number(sev) : undefined);
    set('severityText', r.severityText || undefined);
    set('body', present(r.body) ? normAny(r.body!) : undefined);
    set('attributes', normAttrs(r.attributes));
    set('droppedAttributesCount', r.droppedAttributesCount ? Number(r.droppedAttributesCount) : undefined);
    set('flags', r.flags ? Number(r.flags) : undefined);
    set('traceId', id(r.traceId));
    set('spanId', id(r.spanId));
    set('eventName', r.eventName || undefined);
    return out;
  };
  const scopeLogs = (sl: OtlpScopeLogs): OtlpScopeLogs => {
    const out: OtlpScopeLogs = {};
    if (present(sl.scope)) {
      const s = sl.scope!;
      out.scope = {};
      if (s.name) out.scope.name = s.name;
      if (s.version) out.scope.version = s.version;
      const a = normAttrs(s.attributes);
      if (a) out.scope.attributes = a;
      if (s.droppedAttributesCount) out.scope.droppedAttributesCount = s.droppedAttributesCount;
    }
    if (sl.logRecords && sl.logRecords.length > 0) out.logRecords = sl.logRecords.map(rec);
    if (sl.schemaUrl) out.schemaUrl = sl.schemaUrl;
    return out;
  };
  const resourceLogs = (rl: OtlpResourceLogs): OtlpResourceLogs => {
    const out: OtlpResourceLogs = {};
    if (present(rl.resource)) {
      out.resource = {};
      const a = normAttrs(rl.resource!.attributes);
      if (a) out.resource.attributes = a;
      if (rl.resource!.droppedAttributesCount) out.resource.droppedAttributesCount = rl.resource!.droppedAttributesCount;
    }
    if (rl.scopeLogs && rl.scopeLogs.length > 0) out.scopeLogs = rl.scopeLogs.map(scopeLogs);
    if (rl.schemaUrl) out.schemaUrl = rl.schemaUrl;
    return out;
  };
  return req.resourceLogs && req.resourceLogs.length > 0 ? { resourceLogs: req.resourceLogs.map(resourceLogs) } : {};
}

/**
 * protobufjs's own encoding of a strict request (the oracle for our bytes): hex ids and base64 to bytes, the
 * three special doubles to numbers, and empty keys left out (protobufjs writes a member it was given, even
 * a default; a proto3 encoder omits "").
 */
export function protobufjsEncode(strict: ExportLogsServiceRequest): Uint8Array {
  const conv = (v: unknown, parentKey: string): unknown => {
    if (Array.isArray(v)) return v.map((x) => conv(x, parentKey));
    if (!isObj(v)) return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if ((k === 'traceId' || k === 'spanId') && typeof x === 'string') out[k] = Buffer.from(x, 'hex');
      else if (k === 'bytesValue' && typeof x === 'string') out[k] = Buffer.from(x, 'base64');
      else if (k === 'doubleValue') out[k] = Number(x);
      else if (k === 'key' && x === '') continue;
      else out[k] = conv(x, k);
    }
    return out;
  };
  const t = requestType();
  return t.encode(t.fromObject(conv(strict, '') as Record<string, unknown>)).finish();
}


// ---------------------------------------------------------------------------------------------------------
// Seeded property test

/** A seeded generator of lenient OTLP/JSON requests: every value kind, defaults, odd ids, big and small ints. */
export function generator(seed: number): () => ExportLogsServiceRequest {
  const r = prng(seed);
  const chance = (p: number): boolean => r(1_000_000) < p * 1_000_000;
  const pick = <T>(xs: readonly T[]): T => xs[r(xs.length)]!;
  const randBig = (bits: number): bigint => {
    let x = 0n;
    for (let i = 0; i < bits; i += 16) x = (x << 16n) | BigInt(r(65536));
    return BigInt.asUintN(bits, x);
  };
  const hexOf = (bytes: number): string => {
    let s = '';
    for (let i = 0; i < bytes * 2; i++) s += '0123456789abcdef'[r(16)];
    return chance(0.2) ? s.toUpperCase() : s;
  };
  const string = (): string =>
    pick([
      () => '',
      () => 'a',
      () => 'héllo wörld',
      () => '日本語テキスト',
      () => '😀 emoji 🎉',
      () => 'quote " backslash \\ newline \n nul \u0000',
      () => 'x'.repeat(r(300)),
      () => 'é'.repeat(r(100)),
      () => {
        let s = '';
        const n = r(40);
        for (let i = 0; i < n; i++) s += String.fromCharCode(0x20 + r(0x5f));
        return s;
      },
    ])();
  const int64 = (): string | number =>
    pick<() => string | number>([
      () => '0',
      () => 0,
      () => '-1',
      () => String(r(2001) - 1000),
      () => r(2001) - 1000,
      () => '9223372036854775807',
      () => '-9223372036854775808',
      () => '9007199254740993',
      () => Number.MAX_SAFE_INTEGER,
      () => -Number.MAX_SAFE_INTEGER,
      () => 2 ** 62,
      () => BigInt.asIntN(64, randBig(64)).toString(),
      () => BigInt.asIntN(64, randBig(r(64) + 1)).toString(),
    ])();
  const uint64 = (): string | number =>
    pick<() => string | number>([
      () => '0',
      () => 0,
      () => '1700000000000000000',
      () => String(1_700_000_000_000_000_000n + randBig(40)),
      () => 1_700_000_000_000,
      () => '18446744073709551615',
      () => randBig(64).toString(),
      () => 2 ** 63,
    ])();
  const double = (): number | string =>
    pick<() => number | string>([
      () => 0,
      () => -0,
      () => 1,
      () => r(2001) - 1000,
      () => (r(2_000_000) - 1_000_000) / 1024,
      () => 0.1,
      () => 1e300,
      () => -1e-300,
      () => 5e-324,
      () => Number.MAX_VALUE,
      () => 'NaN',
      () => 'Infinity',
      () => '-Infinity',
      () => '2.5',
    ])();
  const base64 = (): string => {
    const bytes = Buffer.alloc(r(40));
    for (let i = 0; i < bytes.length; i++) bytes[i] = r(256);
    const s = bytes.toString('base64');
    return pick([s, s, s.replace(/=+$/, ''), bytes.toString('base64url')]);
  };
  const key = (): string => pick(['a', 'b', 'a', 'service.name', '', 'ключ', string()]);
  const anyValue = (depth: number): OtlpAnyValue => {
    switch (r(depth >= 3 ? 6 : 9)) {
      case 0:
        return { stringValue: string() };
      case 1:
        return { boolValue: chance(0.5) };
      case 2:
        return { intValue: int64() };
      case 3:
        return { doubleValue: double() };
      case 4:
        return { bytesValue: base64() };
      case 5:
        return {};
      case 6: {
        const n = r(5);
        if (n === 0) return { arrayValue: pick([{}, { values: [] }]) };
        return { arrayValue: { values: Array.from({ length: n - 1 }, () => anyValue(depth + 1)) } };
      }
      default: {
        const n = r(5);
        if (n === 0) return { kvlistValue: pick([{}, { values: [] }]) };
        return { kvlistValue: { values: Array.from({ length: n - 1 }, () => keyValue(depth + 1)) } };
      }
    }
  };
  const keyValue = (depth: number): OtlpKeyValue => (chance(0.1) ? { key: key() } : { key: key(), value: anyValue(depth) });
  const attributes = (): OtlpKeyValue[] => Array.from({ length: r(6) }, () => keyValue(0));
  const maybe = <T>(p: number, f: () => T): T | undefined => (chance(p) ? f() : undefined);
  const logRecord = (): OtlpLogRecord => {
    const rec: OtlpLogRecord = {};
    const set = <K extends keyof OtlpLogRecord>(k: K, v: OtlpLogRecord[K] | undefined): void => {
      if (v !== undefined) rec[k] = v;
    };
    set('timeUnixNano', maybe(0.8, uint64));
    set('observedTimeUnixNano', maybe(0.8, uint64));
    set('severityNumber', maybe(0.7, () => pick([0, 1, 9, 17, 24, r(30), -1])));
    set('severityText', maybe(0.5, () => pick(['', 'INFO', 'ERROR', string()])));
    set('body', maybe(0.8, () => anyValue(0)));
    set('attributes', maybe(0.8, attributes));
    set('droppedAttributesCount', maybe(0.2, () => pick([0, 1, 0xffff_ffff, r(1000)])));
    set('flags', maybe(0.4, () => pick([0, 1, 0xff, 0xffff_ffff])));
    set('traceId', maybe(0.5, () => pick(['', hexOf(16), hexOf(16), '0'.repeat(32)])));
    set('spanId', maybe(0.5, () => pick(['', hexOf(8), hexOf(8), '0'.repeat(16)])));
    set('eventName', maybe(0.5, () => pick(['', 'user.login', string()])));
    return rec;
  };
  const request = (): ExportLogsServiceRequest => {
    if (chance(0.03)) return {};
    const resourceLogs: OtlpResourceLogs[] = Array.from({ length: r(4) }, () => {
      const rl: OtlpResourceLogs = {};
      if (chance(0.8)) rl.resource = chance(0.2) ? {} : { attributes: attributes(), droppedAttributesCount: pick([0, 0, 3]) };
      if (chance(0.9)) {
        rl.scopeLogs = Array.from({ length: r(4) }, () => {
          const sl: OtlpScopeLogs = {};
          if (chance(0.7)) sl.scope = chance(0.2) ? {} : { name: pick(['', 'audit', string()]), version: pick(['', '1.2.3']), attributes: attributes() };
          if (chance(0.9)) sl.logRecords = Array.from({ length: r(5) }, logRecord);
          if (chance(0.3)) sl.schemaUrl = pick(['', 'https://opentelemetry.io/schemas/1.26.0']);
          return sl;
        });
      }
      if (chance(0.3)) rl.schemaUrl = pick(['', 'https://opentelemetry.io/schemas/1.26.0']);
      return rl;
    });
    return { resourceLogs };
  };
  return request;
}

/**
 * Runs `check` on the generated request of every seed in [from, to]; a failure names the seed and the input.
 * Returns how many log records were checked.
 */
export function forEachSeed(from: number, to: number, check: (req: ExportLogsServiceRequest) => void): number {
  let records = 0;
  for (let seed = from; seed <= to; seed++) {
    const req = generator(seed)();
    try {
      check(req);
    } catch (err) {
      throw new Error(`seed ${seed}: ${String(err)}\ninput: ${JSON.stringify(req).slice(0, 2000)}`);
    }
    for (const rl of req.resourceLogs ?? []) for (const sl of rl.scopeLogs ?? []) records += sl.logRecords?.length ?? 0;
  }
  return records;
}
