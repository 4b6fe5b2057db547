/**
 * A key pasted where the path of its file belongs (a *_FILE variable, --pubkey, --hmac-key-file) is refused
 * without ever being printed: the built CLI, as a user runs it, with real key material.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEd25519KeyPair } from '../../src/integrity/keys.js';
import { makeChain, toLines } from '../helpers/make-chain.js';
import { tempDir } from '../helpers/tmp.js';

const CLI = join(import.meta.dirname, '../../dist/cli.js');
let dir: string;
let cleanup: () => Promise<void>;
let journal: string;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('otel-audit-keymat-'));
  journal = join(dir, 'j.jsonl');
  writeFileSync(journal, toLines(makeChain(3)).join('\n') + '\n');
  mkdirSync(join(dir, 'audit'), { mode: 0o700 }); // replay refuses a --dir that does not exist
});
afterAll(async () => cleanup());

const pair = generateEd25519KeyPair();
const secret = randomBytes(32);
/** The secret parts of the keys: a body line of each PEM, the HMAC key in both notations. */
const SECRETS = [pair.privateKeyPem.split('\n')[1]!, pair.publicKeyPem.split('\n')[1]!, secret.toString('base64'), secret.toString('hex')];

function run(args: string[], env: Record<string, string> = {}): { status: number | null; output: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}\n${r.stderr}` };
}

function expectHidden(output: string): void {
  expect(output).toContain('does not look like a file path (value hidden)');
  for (const s of SECRETS) for (let i = 0; i + 12 <= s.length; i += 6) expect(output).not.toContain(s.slice(i, i + 12));
}

describe('key material in a key-file setting is never printed', () => {
  it.each([
    ['OTEL_AUDIT_SIGNING_KEY_FILE', pair.privateKeyPem],
    ['OTEL_AUDIT_HMAC_KEY_FILE', `base64:${secret.toString('base64')}`],
    ['OTEL_AUDIT_HMAC_KEY_FILE', `hex:${secret.toString('hex')}`],
  ])('%s holding the key (replay start-up)', (name, value) => {
    const r = run(['replay', '--dir', join(dir, 'audit')], { [name]: value });
    expect(r.status).toBe(2);
    expect(r.output).toContain(name);
    expectHidden(r.output);
  });

  it.each([
    ['verify', '--pubkey', pair.publicKeyPem],
    ['verify', '--pubkey', pair.privateKeyPem],
    ['verify', '--hmac-key-file', `base64:${secret.toString('base64')}`],
    ['search', '--pubkey', pair.publicKeyPem],
    ['search', '--hmac-key-file', `hex:${secret.toString('hex')}`],
  ])('%s %s with the key itself', (cmd, flag, value) => {
    const r = run([cmd, flag, value, journal]);
    expect(r.status).toBe(2);
    expectHidden(r.output);
  });
});

describe('a raw HMAC key that reads like words, given where its file belongs (found in review)', () => {
  // A raw key is any text of 32+ bytes: nothing in its shape tells it from a file name, only that nothing is there.
  const WORDS = ['my-company-audit-hmac-secret-2026-prod!', 'Tr0ub4dor&3-Tr0ub4dor&3-Tr0ub4dor&3', 'correct horse battery staple 2026'];

  it.each(WORDS)('%s: refused, never printed (OTEL_AUDIT_HMAC_KEY_FILE, verify and search --hmac-key-file, the report page)', (key) => {
    const page = join(dir, 'page.html');
    const runs = [
      run(['replay', '--dir', join(dir, 'audit')], { OTEL_AUDIT_HMAC_KEY_FILE: key }),
      run(['verify', '--hmac-key-file', key, '--report', page, journal]),
      run(['verify', `--hmac-key-file=${key}`, journal]),
      run(['search', '--hmac-key-file', key, journal]),
    ];
    for (const r of runs) {
      expect(r.status).toBe(2);
      expect(r.output).toMatch(/it may be the key itself \(value hidden\)|does not look like a file path \(value hidden\)/);
      expect(r.output).not.toContain(key);
    }
    expect(readFileSync(page, 'utf8')).not.toContain(key.slice(0, 12));
  });

  it('a missing key file given as a path (with a /) is named: a typo, not a key', () => {
    const typo = join(dir, 'hmac.ky'); // a path (it has a /), so named
    const r = run(['verify', '--hmac-key-file', typo, journal]);
    expect(r.status).toBe(2);
    expect(r.output).toContain(`cannot read HMAC key file ${JSON.stringify(typo)} (ENOENT)`);
  });
});

describe('a key file given as an input of verify or search (found in review)', () => {
  const pemBody = pair.privateKeyPem.split('\n').find((l) => l.length > 12 && !l.startsWith('-----'))!;
  it.each([
    ['a raw HMAC key', 'ThisIsMyVerySecretHmacKeyValue!!ABCDEFG', 'ThisIsMyVerySecretHmacKeyValue!!ABCDEFG'],
    ['a base64: key', `base64:${secret.toString('base64')}`, secret.toString('base64')],
    ['a PEM key', pair.privateKeyPem, pemBody],
    // Past the line's start V8 quotes the text around the error (`..."x":SECRETVALU"...`): found in re-review.
    ['a key in a JSON-like line', '[ "hmac", SECRETKEYabcdef0123456789 ]', 'SECRETKEYabcdef0123456789'],
    ['a key after an OTLP-like start', '{"resourceLogs":[{"x":SECRETVALUE123456789}]}', 'SECRETVALUE123456789'],
  ])('%s: its line is malformed, and no character of the key past the first is quoted', (_what, content, key) => {
    const file = join(dir, 'hmac.key');
    writeFileSync(file, `${content}\n`);
    const page = join(dir, 'input-page.html');
    const verified = run(['verify', '--report', page, file]);
    expect(verified.output).toMatch(/MALFORMED .* not JSON/);
    for (const r of [verified, run(['search', file])]) {
      for (let i = 1; i + 4 <= key.length; i += 2) expect(r.output).not.toContain(key.slice(i, i + 4));
    }
    const html = readFileSync(page, 'utf8');
    for (let i = 1; i + 6 <= key.length; i += 3) expect(html).not.toContain(key.slice(i, i + 6));
  });
});
