/**
 * `otel-audit search` against an independent brute-force filter (reference.ts) over the same files: a journal
 * (two streams, rotated segments) and a collector copy (batches over several files, some twice) produced by
 * real processors through a collector outage. Every filter alone and in combinations must return exactly the
 * records the reference finds, each once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSearchCommand } from '../../src/cli/search-command.js';
import type { MatchJson } from '../../src/audit-search/match.js';
import { buildOutageFixture, type OutageFixture } from './outage-fixture.js';
import { referenceMatch, referenceRecords, specArgs, type RefRecord, type Spec } from './reference.js';

export async function search(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runSearchCommand(argv, { out: (s) => void (out += s), err: (s) => void (err += s) });
  return { code, out, err };
}

let fx: OutageFixture;
let inputs: string[];
let all: Map<string, RefRecord>;
const copies = new Set<string>();

beforeAll(async () => {
  fx = await buildOutageFixture();
  inputs = [fx.auditDir, fx.collectorDir];
  all = referenceRecords(inputs, copies);
}, 120_000);

afterAll(async () => {
  await fx?.pipeline.dispose();
});

const iso = (hours: number): string => new Date(fx.base + hours * 3_600_000).toISOString();

/** Cases as functions of the fixture (its times and stream ids are only known once it is built). */
const CASES: Array<[string, () => Spec]> = [
  ['no filter', () => ({})],
  ['--actor', () => ({ actor: 'user-1' })],
  ['--actor (the processor itself)', () => ({ actor: 'otel-audit' })],
  ['--action', () => ({ action: 'DELETE' })],
  ['--event prefix (user.* but not username.*)', () => ({ event: 'user' })],
  ['--event exact', () => ({ event: 'user.login' })],
  ['--event audit (stream end records)', () => ({ event: 'audit' })],
  ['--target', () => ({ target: 'doc-3' })],
  ['--outcome failure', () => ({ outcome: 'failure' })],
  ['--outcome unknown', () => ({ outcome: 'unknown' })],
  ['--outcome success', () => ({ outcome: 'success' })],
  ['--stream full id (the restart)', () => ({ stream: fx.streams[1]! })],
  ['--stream 8-character prefix', () => ({ stream: fx.streams[0]!.slice(0, 8) })],
  ['--since ISO (inclusive)', () => ({ since: iso(30) })],
  ['--until ISO (inclusive)', () => ({ until: iso(70) })],
  ['--since and --until', () => ({ since: iso(30), until: iso(70) })],
  ['--since ISO without offset (UTC)', () => ({ since: iso(45).replace('Z', '') })],
  ['--since relative hours', () => ({ since: '50h' })],
  ['--until relative hours', () => ({ until: '20h' })],
  ['--since relative days', () => ({ since: '3d' })],
  ['--where int', () => ({ where: [['attempt', '2']] })],
  ['--where bool', () => ({ where: [['vip', 'true']] })],
  ['--where string', () => ({ where: [['region', 'eu']] })],
  ['--where double', () => ({ where: [['ratio', '1.5']] })],
  ['--where audit attribute', () => ({ where: [['audit.source.id', '198.51.100.7']] })],
  ['--where chain attribute', () => ({ where: [['audit.sequence.number', '5']] })],
  ['--where resource attribute', () => ({ where: [['service.name', [...all.values()][0]!.resource.get('service.name')!]] })],
  ['--where twice', () => ({ where: [['attempt', '1'], ['vip', 'false']] })],
  ['actor + outcome', () => ({ actor: 'user-2', outcome: 'failure' })],
  ['event + since + until + where', () => ({ event: 'document', since: iso(10), until: iso(80), where: [['region', 'us']] })],
  ['action + stream prefix', () => ({ action: 'LOGIN', stream: fx.streams[1]!.slice(0, 10) })],
  ['target + action + event', () => ({ target: 'doc-1', action: 'UPDATE', event: 'document' })],
  ['everything at once', () => ({ actor: 'user-3', action: 'DELETE', event: 'document', outcome: 'failure', stream: fx.streams[0]!, since: iso(0), until: iso(99), where: [['vip', 'false']] })],
];

describe('search --json equals a brute-force filter over the same files', () => {
  it('the fixture has what the cases need: 2 streams, duplicates, rotated segments, records in every file', () => {
    expect(fx.streams).toHaveLength(2);
    expect(all.size).toBe(fx.events + 2); // + one end record per stream
    const perKey = new Map<string, number>();
    for (const c of copies) {
      const key = c.split(':').slice(-1)[0]!;
      perKey.set(key, (perKey.get(key) ?? 0) + 1);
    }
    // Every record is in the journal and the collector copy; some twice in the collector copy.
    expect(Math.min(...perKey.values())).toBeGreaterThanOrEqual(2);
    expect(Math.max(...perKey.values())).toBeGreaterThanOrEqual(3);
  });

  it.each(CASES)('%s', async (_name, make) => {
    const spec = make();
    const now = Date.now();
    const expected = [...all.entries()].filter(([, r]) => referenceMatch(spec, r, now));
    const { code, out, err } = await search([...specArgs(spec), '--json', ...inputs]);
    const lines = out.split('\n').filter((l) => l !== '');
    const got = lines.map((l) => JSON.parse(l) as MatchJson);
    const keys = got.map((m) => `${m.streamId}#${m.sequence}`);
    expect(new Set(keys).size, 'each record once').toBe(keys.length);
    expect(keys.sort()).toEqual(expected.map(([k]) => k).sort());
    expect(code, err).toBe(expected.length > 0 ? 0 : 1);
    for (const m of got) {
      const ref = all.get(`${m.streamId}#${m.sequence}`)!;
      expect(m.recordId).toBe(ref.recordId);
      expect(m.eventName).toBe(ref.eventName);
      expect(m.actor).toBe(ref.attrs.get('audit.actor.id') ?? null);
      expect(m.action).toBe(ref.attrs.get('audit.action') ?? null);
      expect(m.target).toBe(ref.attrs.get('audit.target.id') ?? null);
      expect(m.outcome).toBe(ref.attrs.get('audit.outcome') ?? null);
      expect(m.time).toBe(new Date(Number(ref.time! / 1_000_000n)).toISOString());
      expect(copies.has(`${m.file}:${m.line}:${m.streamId}#${m.sequence}`), `${m.file}:${m.line} holds the record`).toBe(true);
      expect(m.chain).toBe('verified');
      expect(m.checkpoint).toBeUndefined();
    }
  });

  it('cases that must match something do (the table is not vacuous)', () => {
    const now = Date.now();
    const empty = CASES.filter(([, make]) => ![...all.values()].some((r) => referenceMatch(make(), r, now))).map(([n]) => n);
    expect(empty).toEqual([]);
  });

  it('a combination nothing satisfies: exit 1, no output', async () => {
    const { code, out, err } = await search(['--outcome', 'success', '--where', 'region=us', ...inputs]);
    expect(code).toBe(1);
    expect(out).toBe('');
    expect(err).toMatch(/^otel-audit search: 0 matches;/);
  });

  it('--limit N: the first N of the full result, in reading order', async () => {
    const full = (await search(['--json', '--actor', 'user-4', ...inputs])).out.split('\n').filter(Boolean);
    const { code, out, err } = await search(['--json', '--actor', 'user-4', '--limit', '3', ...inputs]);
    expect(code).toBe(0);
    expect(out.split('\n').filter(Boolean)).toEqual(full.slice(0, 3));
    expect(err).toContain('stopped at --limit 3');
  });

  it('the table: a header and one aligned row per match, the stream short, the chain verified', async () => {
    const { code, out } = await search(['--actor', 'user-1', ...inputs]);
    expect(code).toBe(0);
    const rows = out.trimEnd().split('\n');
    const header = rows[0]!;
    expect(header.split(/\s+/)).toEqual(['TIME', 'STREAM', 'SEQ', 'EVENT', 'ACTOR', 'ACTION', 'TARGET', 'OUTCOME', 'CHAIN']);
    const expected = [...all.values()].filter((r) => r.attrs.get('audit.actor.id') === 'user-1');
    expect(rows).toHaveLength(expected.length + 1);
    const chainAt = header.indexOf('CHAIN');
    const actorAt = header.indexOf('ACTOR');
    for (const row of rows.slice(1)) {
      expect(row.slice(chainAt)).toBe('verified');
      expect(row.slice(actorAt).startsWith('user-1 ')).toBe(true);
      expect(row).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z {2}[0-9a-f]{8} /);
    }
  });
});
