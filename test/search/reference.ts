/**
 * An independent, brute-force reading of OTLP/JSON files for the search tests: every file parsed whole with
 * JSON.parse, every record's attributes put in a Map, copies folded by stream + seq. Deliberately shares no
 * code with src/audit-search, so the two can disagree.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface Kv {
  key: string;
  value: Record<string, unknown>;
}

export interface RefRecord {
  streamId: string;
  seq: number;
  recordId: string;
  eventName: string;
  /** ns since the epoch */
  time: bigint | undefined;
  attrs: Map<string, string | undefined>;
  resource: Map<string, string | undefined>;
  file: string;
  line: number;
}

function text(v: Record<string, unknown> | undefined): string | undefined {
  if (v === undefined) return undefined;
  if ('stringValue' in v) return String(v['stringValue']);
  if ('intValue' in v) return String(BigInt(v['intValue'] as string));
  if ('boolValue' in v) return v['boolValue'] ? 'true' : 'false';
  if ('doubleValue' in v) return String(v['doubleValue']);
  return undefined;
}

function toMap(list: Kv[] | undefined): Map<string, string | undefined> {
  const m = new Map<string, string | undefined>();
  for (const kv of list ?? []) m.set(kv.key, text(kv.value));
  return m;
}

function walk(path: string, out: string[]): void {
  if (statSync(path).isDirectory()) {
    for (const n of readdirSync(path).sort()) if (n !== 'quarantine') walk(join(path, n), out);
  } else if (path.endsWith('.jsonl') || path.endsWith('.json')) out.push(path);
}

/**
 * Every audit record of `paths` once (first copy met), keyed `stream#seq`; `copies` gets `file:line:key` of
 * every copy.
 */
export function referenceRecords(paths: string[], copies = new Set<string>()): Map<string, RefRecord> {
  const files: string[] = [];
  for (const p of paths) walk(p, files);
  const out = new Map<string, RefRecord>();
  for (const file of files) {
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((lineText, i) => {
        if (lineText.trim() === '') return;
        const req = JSON.parse(lineText) as { resourceLogs?: Array<{ resource?: { attributes?: Kv[] }; scopeLogs?: Array<{ logRecords?: Array<Record<string, unknown>> }> }> };
        for (const rl of req.resourceLogs ?? []) {
          for (const sl of rl.scopeLogs ?? []) {
            for (const r of sl.logRecords ?? []) {
              const attrs = toMap(r['attributes'] as Kv[]);
              const streamId = attrs.get('audit.sequence.stream_id');
              if (streamId === undefined) continue;
              const seq = Number(attrs.get('audit.sequence.number'));
              const key = `${streamId}#${seq}`;
              copies.add(`${file}:${i + 1}:${key}`);
              if (out.has(key)) continue;
              const t = r['timeUnixNano'] !== undefined && r['timeUnixNano'] !== '0' ? r['timeUnixNano'] : r['observedTimeUnixNano'];
              out.set(key, {
                streamId,
                seq,
                recordId: attrs.get('audit.record.id') ?? '',
                eventName: (r['eventName'] as string | undefined) ?? '',
                time: t === undefined ? undefined : BigInt(t as string),
                attrs,
                resource: toMap(rl.resource?.attributes),
                file,
                line: i + 1,
              });
            }
          }
        }
      });
  }
  return out;
}

/** A search as the tests state it: each field is one CLI option; the reference applies it by hand. */
export interface Spec {
  actor?: string;
  action?: string;
  event?: string;
  target?: string;
  outcome?: string;
  stream?: string;
  since?: string;
  until?: string;
  where?: Array<[string, string]>;
}

export function specArgs(s: Spec): string[] {
  const a: string[] = [];
  for (const k of ['actor', 'action', 'event', 'target', 'outcome', 'stream', 'since', 'until'] as const) {
    if (s[k] !== undefined) a.push(`--${k}`, s[k]);
  }
  for (const [k, v] of s.where ?? []) a.push('--where', `${k}=${v}`);
  return a;
}

const REL = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

function timeOf(arg: string, now: number): bigint {
  const m = /^(\d+)([smhdw])$/.exec(arg);
  if (m) return BigInt(now - Number(m[1]) * REL[m[2] as keyof typeof REL]) * 1_000_000n;
  const ms = Date.parse(/[zZ]|[+-]\d\d:\d\d$/.test(arg) ? arg : `${arg}Z`);
  return BigInt(ms) * 1_000_000n;
}

export function referenceMatch(s: Spec, r: RefRecord, now: number): boolean {
  if (s.actor !== undefined && r.attrs.get('audit.actor.id') !== s.actor) return false;
  if (s.action !== undefined && r.attrs.get('audit.action') !== s.action) return false;
  if (s.target !== undefined && r.attrs.get('audit.target.id') !== s.target) return false;
  if (s.outcome !== undefined && r.attrs.get('audit.outcome') !== s.outcome) return false;
  if (s.event !== undefined && r.eventName !== s.event && !r.eventName.startsWith(s.event + '.')) return false;
  if (s.stream !== undefined && r.streamId !== s.stream && !(s.stream.length >= 8 && r.streamId.startsWith(s.stream))) return false;
  if (s.since !== undefined && (r.time === undefined || r.time < timeOf(s.since, now))) return false;
  if (s.until !== undefined && (r.time === undefined || r.time > timeOf(s.until, now))) return false;
  for (const [k, v] of s.where ?? []) {
    const value = r.attrs.has(k) ? r.attrs.get(k) : r.resource.get(k);
    if (value !== v) return false;
  }
  return true;
}
