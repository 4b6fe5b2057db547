/**
 * search: exit statuses and one-line messages for usage and I/O errors, hostile input that must not crash
 * it, and the same through the built CLI (dist/cli.js, as a user runs it).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runSearchCommand } from '../../src/cli/search-command.js';
import { ATTR_ACTOR_ID } from '../../src/core/attributes.js';
import { makeChain, setAttr, toLines } from '../helpers/make-chain.js';
import { tempDir } from '../helpers/tmp.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await tempDir()));
afterEach(async () => cleanup());

async function search(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runSearchCommand(argv, { out: (s) => void (out += s), err: (s) => void (err += s) });
  return { code, out, err };
}

const CLI = join(import.meta.dirname, '../../dist/cli.js');

describe('search usage and I/O errors: exit 2, one line on stderr', () => {
  beforeEach(() => writeFileSync(join(dir, 'j.jsonl'), toLines(makeChain(3)).join('\n') + '\n'));

  it.each([
    ['unknown flag', ['--bogus']],
    ['flag without value', ['--actor']],
    ['bad --since', ['--since', 'yesterday']],
    ['bad --until', ['--until', '2026-02-30']],
    ['bad relative time', ['--since', '5y']],
    ['bad --outcome', ['--outcome', 'maybe']],
    ['bad --limit', ['--limit', '0']],
    ['--where without =', ['--where', 'region']],
    ['--where with an empty key', ['--where', '=x']],
    ['a single flag twice', ['--actor', 'a', '--actor', 'b']],
    // It was taken as the actor's value: no match, exit 1, the --json never applied.
    ['a flag whose value is the next option', ['--actor', '--json']],
    // Found by review: a reversed range answered "0 matches", exit 1, as if no such record existed.
    ['--since after --until', ['--since', '2026-12-01', '--until', '2026-11-01']],
  ])('%s', async (_n, args) => {
    const { code, out, err } = await search([...args, dir]);
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err.trimEnd().split('\n')).toHaveLength(1);
    expect(err).toMatch(/^otel-audit search: /);
  });

  // Found by review: an empty file (or only other logs) answered "0 matches", exit 1: nothing was searched.
  it('files holding no audit record: exit 2, nothing was searched (as verify)', async () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    writeFileSync(join(empty, 'e.jsonl'), '');
    const r = await search(['--actor', 'alice', empty]);
    expect(r.code).toBe(2);
    expect(r.err).toBe('otel-audit search: no audit records in 1 file: nothing was searched\n');
    // Found in review: a file of lines that do not read answered exit 1 and "every chain verifies".
    writeFileSync(join(empty, 'e.jsonl'), 'not json\n\u0000\u00ff garbage\n{"resourceLogs":[{"sco\n');
    const g = await search(['--actor', 'alice', empty]);
    expect(g.code).toBe(2);
    expect(g.err).toBe('otel-audit search: no audit records in 1 file (3 lines malformed or torn: see otel-audit verify): nothing was searched\n');
  });

  it('a --stream shorter than a prefix may be: a whole id only, and said when nothing matched', async () => {
    const r = await search(['--stream', '0000000', dir]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('otel-audit search: --stream "0000000" matched only as a whole stream id: a prefix needs at least 8 characters');
  });

  it('a value that starts with -- is given with =', async () => {
    expect((await search(['--actor=--json', dir])).code).toBe(1); // taken as the actor: no match
  });

  it('no path, an unreadable path, a directory without audit files, a FIFO', async () => {
    expect((await search(['--actor', 'x'])).code).toBe(2);
    const missing = await search([join(dir, 'nope')]);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/^otel-audit search: .*nope.*ENOENT.*\n$/);
    mkdirSync(join(dir, 'empty'));
    const empty = await search([join(dir, 'empty')]);
    expect(empty.code).toBe(2);
    expect(empty.err).toMatch(/no \*\.jsonl or \*\.json files found/);
    expect(spawnSync('mkfifo', [join(dir, 'fifo.jsonl')]).status).toBe(0);
    const fifo = await search([join(dir, 'fifo.jsonl')]);
    expect(fifo.code).toBe(2);
    expect(fifo.err).toMatch(/FIFO/);
  });

  it('--help prints the usage and exits 0', async () => {
    const { code, out } = await search(['--help']);
    expect(code).toBe(0);
    expect(out).toMatch(/^usage: otel-audit search/);
  });
});

describe('hostile input never crashes search', () => {
  it('garbage, torn, non-UTF-8, wrong shapes, odd attribute values, __proto__ keys and control characters', async () => {
    const good = makeChain(4);
    setAttr(good[1]!, '__proto__', { stringValue: 'polluted' });
    setAttr(good[2]!, 'audit.actor.id', { stringValue: 'eve\n2026-01-01T00:00:00.000Z  forged  row' });
    setAttr(good[3]!, 'audit.target.id', { arrayValue: { values: [{ stringValue: 'x' }] } });
    const lines = [
      ...toLines(good),
      'not json',
      '{"resourceLogs":"nope"}',
      '{"resourceLogs":[{"scopeLogs":[{"logRecords":[null, 5, {"attributes":"x"}, {"attributes":[null, {"key":"audit.sequence.stream_id"}]}]}]}]}',
      '{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":[{"key":"audit.sequence.stream_id","value":{"stringValue":"s"}},{"key":"audit.sequence.number","value":{"intValue":"-1"}}]}]}]}]}',
      '{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"99999999999999999999999","attributes":[{"key":"audit.sequence.stream_id","value":{"stringValue":"s2"}},{"key":"audit.sequence.number","value":{"intValue":1}}]}]}]}]}',
      '['.repeat(100_000) + ']'.repeat(100_000),
    ];
    writeFileSync(join(dir, 'h.jsonl'), Buffer.concat([Buffer.from(lines.join('\n') + '\n'), Buffer.from([0xff, 0xfe, 0x0a]), Buffer.from('{"resourceLogs":[')]));
    symlinkSync('/etc/passwd', join(dir, 'link.jsonl')); // inside a directory: never followed
    const all = await search(['--json', dir]);
    expect(all.code).toBe(0);
    const matches = all.out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { streamId: string; attributes: Record<string, string>; target: string | null; chain: string });
    expect(matches.map((m) => m.streamId).sort()).toEqual([...Array(4).fill(good[0]!.attributes![5]!.value!.stringValue), 's2'].sort());
    expect(Object.getPrototypeOf(matches[1]!.attributes)).toBe(Object.prototype);
    expect(matches[1]!.attributes['__proto__']).toBe('polluted');
    expect(matches[3]!.target).toBeNull(); // an array is not a scalar
    const table = await search(['--actor', 'eve\n2026-01-01T00:00:00.000Z  forged  row', dir]);
    expect(table.code).toBe(0);
    expect(table.out.trimEnd().split('\n')).toHaveLength(2); // header + one row: the line break is shown escaped
    expect(table.out).toContain('eve\\u000a2026');
    expect((await search(['--where', '__proto__=polluted', '--json', dir])).out.split('\n').filter(Boolean)).toHaveLength(1);
    expect((await search(['--where', 'constructor=x', dir])).code).toBe(1);
  });
});

// Fixed bug, kept as a regression test: --json wrote C1 controls (an 8-bit CSI, U+009B) and bidirectional and
// zero-width characters raw, which the table escapes; a terminal showing the JSON acted on them.
it('--json output escapes what the table escapes, and parses back to the same values', async () => {
  // Found in review: soft hyphen, invisible operators, variation selectors and tag characters were printed raw.
  const evil = 'mallory\u009b31m\u202eevil\u200b\u00ad\u2063\ufe0f\u{e0061}\u3164';
  const records = makeChain(3);
  setAttr(records[1]!, ATTR_ACTOR_ID, { stringValue: evil });
  setAttr(records[2]!, ATTR_ACTOR_ID, { stringValue: 'al\u00adice\u{e0061}' }); // short: the table column holds it
  writeFileSync(join(dir, 'e.jsonl'), toLines(records).join('\n') + '\n');
  const r = await search(['--json', dir]);
  expect(r.out).not.toMatch(/[\u0080-\u009f\u200b-\u200f\u202a-\u202e\u00ad\u2063\ufe0f\u3164\u{e0061}]/u);
  expect(r.out).toContain('\\u009b');
  expect(r.out).toContain('\\u00ad\\u2063\\ufe0f\\udb40\\udc61\\u3164');
  const table = await search([dir]);
  expect(table.out).toContain(' al\\u00adice\\udb40\\udc61 ');
  expect(r.out.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { actor: string }).actor)).toContain(evil);
});

describe('through the built CLI', () => {
  it('exit 0 with matches, 1 with none, 2 on an unknown flag, each with its stderr line', () => {
    writeFileSync(join(dir, 'j.jsonl'), toLines(makeChain(6)).join('\n') + '\n');
    const run = (...args: string[]) => spawnSync(process.execPath, [CLI, 'search', ...args], { encoding: 'utf8' });
    const hit = run('--actor', 'user-1', dir);
    expect(hit.status, hit.stderr).toBe(0);
    expect(hit.stdout.split('\n')[0]).toMatch(/^TIME +STREAM +SEQ +EVENT +ACTOR +ACTION +TARGET +OUTCOME +CHAIN$/);
    expect(hit.stdout.trimEnd().split('\n')).toHaveLength(3);
    const none = run('--actor', 'nobody', dir);
    expect(none.status).toBe(1);
    expect(none.stdout).toBe('');
    expect(none.stderr).toMatch(/^otel-audit search: 0 matches; /);
    const bad = run('--frobnicate', dir);
    expect(bad.status).toBe(2);
    expect(bad.stderr.trimEnd().split('\n')).toEqual(['otel-audit search: unknown option "--frobnicate"; usage: otel-audit search [filters] [--json] [--limit N] <file|dir>... (--help for more)']);
    // Output cut short by the reader (| head) ends quietly.
    const piped = spawnSync('sh', ['-c', `"${process.execPath}" "${CLI}" search --json "${dir}" | head -c 10`], { encoding: 'utf8' });
    expect(piped.status).toBe(0);
    expect(piped.stderr).not.toMatch(/EPIPE|Error/);
  });
});
