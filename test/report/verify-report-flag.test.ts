/** `otel-audit verify --report FILE.html` through the built CLI: the page is written beside the usual verdict. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeChain, testStreamId, toLines } from '../helpers/make-chain.js';
import { tempDir } from '../helpers/tmp.js';

const cli = join(import.meta.dirname, '../../dist/cli.js');
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

function run(args: string[], cwd?: string): { code: number; out: string; err: string } {
  try {
    return { code: 0, out: execFileSync(process.execPath, [cli, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...(cwd !== undefined ? { cwd } : {}) }), err: '' };
  } catch (e) {
    const x = e as { status: number; stdout: string; stderr: string };
    return { code: x.status, out: x.stdout, err: x.stderr };
  }
}

describe('verify --report', () => {
  it('a tampered file: exit 1, the usual lines, and a self-contained page naming the finding, its stream, seq and file', async () => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const file = join(dir, 'copy.jsonl');
    const streamId = testStreamId();
    writeFileSync(file, toLines(makeChain(5, { streamId })).join('\n').replace('"stringValue":"user-2"', '"stringValue":"mallory"') + '\n');
    const page = join(dir, 'report.html');
    const r = run(['verify', '--report', page, file]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/MODIFIED/);
    const html = readFileSync(page, 'utf8');
    expect(html).toContain('modified');
    expect(html).toContain(streamId);
    expect(html).toContain('copy.jsonl');
    expect(html).not.toMatch(/\s(src|href)=["']?https?:/i);
  });

  it.each([
    ['a journal segment (the report name forgotten before a glob)', (f: string, _d: string) => ['--report', f, f.replace('1.jsonl', '2.jsonl')]],
    ['the file it verifies', (f: string, _d: string) => ['--report', f, f]],
    ['another option', (f: string, _d: string) => ['--report', '--json', f]],
    ['an .html that is also an input', (_f: string, d: string) => ['--report', join(d, 'x.html'), join(d, 'x.html')]],
  ])('--report taking %s: usage error (exit 2), no file replaced or created', async (_what, argsOf) => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const seg1 = join(dir, 'audit-1.jsonl');
    const lines = toLines(makeChain(4, { streamId: testStreamId() }));
    writeFileSync(seg1, lines.slice(0, 2).join('\n') + '\n');
    writeFileSync(join(dir, 'audit-2.jsonl'), lines.slice(2).join('\n') + '\n');
    writeFileSync(join(dir, 'x.html'), 'kept');
    const before = readFileSync(seg1, 'utf8');
    const r = run(['verify', ...argsOf(seg1, dir)], dir);
    expect(r.code).toBe(2);
    expect(readFileSync(seg1, 'utf8')).toBe(before);
    expect(readFileSync(join(dir, 'x.html'), 'utf8')).toBe('kept');
    expect(existsSync(join(dir, '--json'))).toBe(false);
  });

  // Fixed bug, kept as a regression test: the page was written before the verdict was printed, so a page that could
  // not be written (no such directory, a report too large) cost the user the verdict too.
  it('a report that cannot be written: exit 2, and the verdict is printed all the same', async () => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const file = join(dir, 'copy.jsonl');
    writeFileSync(file, toLines(makeChain(5, { streamId: testStreamId() })).join('\n') + '\n');
    const r = run(['verify', '--report', join(dir, 'no-such-dir', 'r.html'), file], dir);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/^OK: 1 file, 5 audit records/m);
    expect(r.err).toMatch(/cannot write the report/);
  });

  it('usage: --report needs a value; given twice is an error (exit 2)', () => {
    expect(run(['verify', '--report']).code).toBe(2);
    expect(run(['verify', '--report', 'a.html', '--report', 'b.html', 'x.jsonl']).code).toBe(2);
  });
});

describe('verify --report on a run that reaches no verdict (exit 2)', () => {
  /** Each way to exit 2 after the arguments were read: a page from an earlier run must not stay. */
  it.each([
    ['an input that does not exist', (d: string) => [join(d, 'missing.jsonl')], /missing\.jsonl/],
    ['a directory with no journal files', (d: string) => [join(d, 'empty')], /no \*\.jsonl or \*\.json files found/],
    ['files with no audit records', (d: string) => [join(d, 'other.jsonl')], /no audit records in 1 file/],
    ['an HMAC key file that does not exist', (d: string) => ['--hmac-key-file', join(d, 'no.key'), join(d, 'good.jsonl')], /no\.key/],
  ])('%s: the earlier INTACT page is replaced by a NO VERDICT page giving the reason', async (_what, argsOf, reason) => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    mkdirSync(join(dir, 'empty'));
    writeFileSync(join(dir, 'other.jsonl'), '{"resourceLogs":[]}\n');
    writeFileSync(join(dir, 'good.jsonl'), toLines(makeChain(3, { streamId: testStreamId() })).join('\n') + '\n');
    const page = join(dir, 'report.html');
    expect(run(['verify', '--report', page, join(dir, 'good.jsonl')]).code).toBe(0);
    expect(readFileSync(page, 'utf8')).toContain('INTACT');

    const r = run(['verify', '--report', page, ...argsOf(dir)]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(reason);
    const html = readFileSync(page, 'utf8');
    expect(html).not.toContain('INTACT');
    expect(html).toContain('NO VERDICT');
    expect(html).toMatch(reason);
    expect(html).toContain("default-src 'none'"); // the same self-contained page rules
  });

  // Found in review: a key pasted in place of its file fails key loading (exit 2), and the NO VERDICT page showed
  // the command line as typed, the key in it, in a file readable by others (0644).
  it.each([
    ['an HMAC secret given to --hmac-key-file', (k: string) => ['--hmac-key-file', k], 'base64:c3VwZXItc2VjcmV0LWhtYWMta2V5LTAxMjM0NTY3ODk='],
    ['an HMAC secret given as --hmac-key-file=…', (k: string) => [`--hmac-key-file=${k}`], 'hex:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff'],
    ['a PEM key given to --pubkey', (k: string) => ['--pubkey', k], '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIBn5uYbNRyt3I0L0jyL1oAZ7Qk8dCnSQfkEtHbFvLPGm\n-----END PRIVATE KEY-----\n'],
    // Found in review: only the key options' values were hidden; an input is as likely a place to paste one.
    ['an HMAC secret given as an input', (k: string) => [k], 'base64:c3VwZXItc2VjcmV0LWhtYWMta2V5LTAxMjM0NTY3ODk='],
  ])('%s: the page hides it, as stderr does', async (_what, argsOf, secret) => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    writeFileSync(join(dir, 'good.jsonl'), toLines(makeChain(3, { streamId: testStreamId() })).join('\n') + '\n');
    const page = join(dir, 'report.html');
    const r = run(['verify', '--report', page, ...argsOf(secret), join(dir, 'good.jsonl')]);
    expect(r.code).toBe(2);
    const html = readFileSync(page, 'utf8');
    expect(html).toContain('NO VERDICT');
    expect(html).toContain('(value hidden)');
    for (const piece of [secret.slice(7, 30), 'MC4CAQAwBQYDK2VwBCIEIBn5', 'BEGIN PRIVATE']) if (secret.includes(piece)) expect(html).not.toContain(piece);
    expect(r.err).not.toContain(secret.slice(7, 30));
  });

  // Found in review: a PEM key pasted as an input starts with '-', so it was an unknown option: a usage error, which
  // wrote no page, and the earlier run's INTACT page stayed.
  it.each([
    ['a PEM key pasted as an input (an unknown option)', ['-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIBn5uYbNRyt3I0L0jyL1oAZ7Qk8dCnSQfkEtHbFvLPGm\n-----END PRIVATE KEY-----\n'], true],
    ['a misspelled option', ['--josn'], true],
    // Found in re-review: the reason on the page (and stderr) quoted the unknown option whole, key and all.
    ['an unknown option carrying a key (--hmac-secret=<hex>)', ['--hmac-secret=1faf9ea9d1c0b7e2a4f5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9edaf'], true],
    ['--report naming an input too', [], false],
  ] as const)('a usage error (%s): the page is a NO VERDICT page, unless it could be an input', async (_what, bad, written) => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const good = join(dir, 'good.jsonl');
    writeFileSync(good, toLines(makeChain(3, { streamId: testStreamId() })).join('\n') + '\n');
    const page = join(dir, 'report.html');
    expect(run(['verify', '--report', page, good]).code).toBe(0);
    const intact = readFileSync(page, 'utf8');
    expect(intact).toContain('INTACT');
    const r = run(['verify', '--report', page, ...bad, good, ...(written ? [] : [page])]);
    expect(r.code).toBe(2);
    const html = readFileSync(page, 'utf8');
    if (!written) {
      expect(html).toBe(intact); // never replaced: it could be an input
      return;
    }
    expect(html).toContain('NO VERDICT');
    for (const secret of ['MC4CAQAwBQYDK2VwBCIEIBn5', 'BEGIN PRIVATE', '1faf9ea9d1c0b7e2']) {
      expect(html).not.toContain(secret);
      expect(r.err).not.toContain(secret);
    }
  });

  it('search and tail given a key in place of a path: exit 2, the key not shown', () => {
    const secret = 'base64:c3VwZXItc2VjcmV0LWhtYWMta2V5LTAxMjM0NTY3ODk=';
    for (const command of ['search', 'tail']) {
      const r = run([command, secret]);
      expect([r.code, r.err.trim()]).toEqual([2, `otel-audit ${command}: an input that looks like a key, not a path (value hidden): ENOENT`]);
    }
  });

  // Found in review: the other usage messages quoted an option's value, or a command, as given.
  it.each([
    ['search --since=KEY', (k: string) => ['search', `--since=${k}`, '.']],
    ['search --where=KEY', (k: string) => ['search', `--where=${k}`, '.']],
    ['search --limit=KEY', (k: string) => ['search', `--limit=${k}`, '.']],
    ['tail -n KEY', (k: string) => ['tail', '-n', k, '.']],
    ['replay --timeout=KEY', (k: string) => ['replay', `--timeout=${k}`]],
    ['replay, the key as an operand', (k: string) => ['replay', k]],
    ['keygen, the key as an argument', (k: string) => ['keygen', k]],
    ['the key as the command', (k: string) => [k]],
    ['demo, the key as an argument', (k: string) => ['demo', k]],
  ])('%s: exit 2, the key not shown', (_what, argsOf) => {
    const pem = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIBn5uYbNRyt3I0L0jyL1oAZ7Qk8dCnSQfkEtHbFvLPGm\n-----END PRIVATE KEY-----\n';
    const r = run(argsOf(pem));
    expect(r.code).toBe(2);
    expect(r.err).toContain('(value hidden: it looks like a key)');
    expect(r.err).not.toMatch(/MC4CAQAw|BEGIN PRIVATE/);
  });

  // Found in re-review: an unknown option written -k=<key> or --name=<key>, and the collector's own usage messages,
  // quoted the key whole (a 64-hex-digit HMAC secret).
  it.each([
    ['verify -k=KEY', (k: string) => ['verify', `-k=${k}`, '.']],
    ['verify --hmac-secret=KEY', (k: string) => ['verify', `--hmac-secret=${k}`, '.']],
    ['search -k=KEY', (k: string) => ['search', `-k=${k}`, '.']],
    ['tail -k=KEY', (k: string) => ['tail', `-k=${k}`, '.']],
    ['collector --hmac-secret=KEY', (k: string) => ['collector', `--hmac-secret=${k}`]],
    ['collector, the key as an operand', (k: string) => ['collector', '--fsync', k]],
    ['collector --host=KEY', (k: string) => ['collector', `--host=${k}`]],
    ['collector --port=KEY', (k: string) => ['collector', `--port=${k}`]],
  ])('%s: exit 2, the hex key not shown', (_what, argsOf) => {
    const hex = '1faf9ea9d1c0b7e2a4f5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9edaf';
    const r = run(argsOf(hex));
    expect(r.code).toBe(2);
    expect(r.err).toContain('(value hidden: it looks like a key)');
    expect(r.err).not.toContain(hex.slice(0, 16));
  });

  // Found in review: a PEM text starts with "-", so it read as an unknown option, quoted whole on stderr.
  it.each(['verify', 'search', 'tail'])('%s given a PEM key where a path belongs: exit 2, the key not shown', (command) => {
    const pem = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIBn5uYbNRyt3I0L0jyL1oAZ7Qk8dCnSQfkEtHbFvLPGm\n-----END PRIVATE KEY-----\n';
    const r = run([command, pem]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('unknown option (value hidden: it looks like a key)');
    expect(r.err).not.toMatch(/MC4CAQAw|BEGIN PRIVATE/);
  });

  // Found in review: with keys given and no record signature verified (signatures stripped, hashes recomputed),
  // verify printed a WARNING and --json said verified: false, but the page said only INTACT.
  it('keys given and no record signature verified: the page says so beside INTACT, in the summary and in the table', async () => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    writeFileSync(join(dir, 'unsigned.jsonl'), toLines(makeChain(5, { streamId: testStreamId(), end: true })).join('\n') + '\n');
    writeFileSync(join(dir, 'hmac.key'), 'an hmac secret of at least thirty-two bytes\n', { mode: 0o600 });
    const page = join(dir, 'report.html');
    const r = run(['verify', '--hmac-key-file', join(dir, 'hmac.key'), '--report', page, join(dir, 'unsigned.jsonl')]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/WARNING stream=.* no record MAC\/signature verified under the given keys/);
    const html = readFileSync(page, 'utf8');
    expect(html).toContain('INTACT');
    expect(html).toContain('<b>1 stream with no record MAC/signature verified under the given keys</b>: a producer without a record key writes such a stream, and so does anyone who strips the signatures and recomputes the hashes');
    expect(html).toContain('<b>1 with no record signature verified under the given keys</b>');
    expect(html).toContain('<b class="sev-error">none verified under the given keys</b>');
  });

  it('--report naming a key file or a checkpoint source: usage error (exit 2), the file kept', async () => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    writeFileSync(join(dir, 'good.jsonl'), toLines(makeChain(3, { streamId: testStreamId() })).join('\n') + '\n');
    writeFileSync(join(dir, 'k.html'), 'too-short-key\n');
    for (const opt of ['--hmac-key-file', '--pubkey']) {
      const r = run(['verify', opt, join(dir, 'k.html'), '--report', join(dir, 'k.html'), join(dir, 'good.jsonl')]);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/is also an input or a key file/);
      expect(readFileSync(join(dir, 'k.html'), 'utf8')).toBe('too-short-key\n');
    }
  });

  it('a page that cannot be written either: exit 2, the reason and the failed write both on stderr', async () => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const r = run(['verify', '--report', join(dir, 'no-such-dir', 'r.html'), join(dir, 'missing.jsonl')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/missing\.jsonl/);
    expect(r.err).toMatch(/cannot write the report .*is not this run's/);
  });
});
