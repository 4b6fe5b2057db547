/**
 * A secret key file that other local users can read or change (src/integrity/key-file-mode.ts) is said, never
 * refused: by the processor reading its environment (diag + stderr), by loadSigningKeys (stderr), and by
 * `verify` / `search` (`warning:` on stderr, the verdict unchanged). A public key file is never warned of. The
 * warning names the variable or flag and the file, and holds no piece of the key.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSearchCommand } from '../../src/cli/search-command.js';
import { runVerifyCommand } from '../../src/cli/verify-command.js';
import { resolveOptions } from '../../src/config/options.js';
import { keyFileModeProblem } from '../../src/integrity/key-file-mode.js';
import { generateEd25519KeyPair, loadSigningKeys } from '../../src/integrity/keys.js';
import { toLines } from '../helpers/make-chain.js';
import { hmacSigner, makeSignedChain } from '../helpers/make-signed-chain.js';
import { saidOnStderr } from '../helpers/stderr.js';
import { tempDir } from '../helpers/tmp.js';

const SECRET = 'hex:' + '5d'.repeat(32);
const PAIR = generateEd25519KeyPair();
const PRIVATE_BODY = PAIR.privateKeyPem.split('\n')[1]!;

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('otel-audit-keymode-'));
});
afterAll(async () => cleanup());

let n = 0;
/** A file with `mode` set by chmod (writeFileSync's mode goes through the umask). */
function keyFile(content: string, mode: number): string {
  const p = join(dir, `key-${++n}`);
  writeFileSync(p, content);
  chmodSync(p, mode);
  return p;
}

describe('keyFileModeProblem', () => {
  const own = 1000;
  it.each<[number, number, string | undefined]>([
    [0o600, own, undefined],
    [0o400, own, undefined],
    [0o700, own, undefined],
    [0o611, own, undefined], // execute bits give nobody the key's bytes
    [0o600, 0, undefined], // root-owned: a mounted secret
    [0o640, own, 'its group can read it (mode 0640): chmod 600 the file (a Kubernetes secret volume: defaultMode 0400)'],
    [0o644, own, 'its group and other users can read it (mode 0644): chmod 600 the file (a Kubernetes secret volume: defaultMode 0400)'],
    [0o604, own, 'other users can read it (mode 0604): chmod 600 the file (a Kubernetes secret volume: defaultMode 0400)'],
    [0o620, own, 'its group can write it (mode 0620): chmod 600 the file (a Kubernetes secret volume: defaultMode 0400)'],
    [0o646, own, 'its group can read it; other users can read and write it (mode 0646): chmod 600 the file (a Kubernetes secret volume: defaultMode 0400)'],
    [0o666, own, 'its group and other users can read and write it (mode 0666): chmod 600 the file (a Kubernetes secret volume: defaultMode 0400)'],
    [0o100600, 1234, "it is owned by uid 1234, neither this process's user (uid 1000) nor root: chown 1000 the file"],
    [0o444, 1234, "its group and other users can read it (mode 0444); it is owned by uid 1234, neither this process's user (uid 1000) nor root: chmod 600 the file (a Kubernetes secret volume: defaultMode 0400), and chown 1000 the file"],
  ])('mode %o, owner %i', (mode, uid, expected) => {
    expect(keyFileModeProblem({ mode, uid }, { uid: own, platform: 'linux' })).toBe(expected);
    // BigIntStats give the same answer.
    expect(keyFileModeProblem({ mode: BigInt(mode), uid: BigInt(uid) }, { uid: own, platform: 'linux' })).toBe(expected);
  });

  it('says nothing where mode bits do not govern access (Windows) or the user is unknown', () => {
    expect(keyFileModeProblem({ mode: 0o666, uid: 5 }, { uid: 1000, platform: 'win32' })).toBeUndefined();
    expect(keyFileModeProblem({ mode: 0o666, uid: 5 }, { uid: undefined, platform: 'linux' })).toBeUndefined();
  });
});

describe('the producer', () => {
  it.each([
    ['OTEL_AUDIT_HMAC_KEY_FILE', `${SECRET}\n`, SECRET.slice(4, 20)],
    ['OTEL_AUDIT_SIGNING_KEY_FILE', PAIR.privateKeyPem, PRIVATE_BODY.slice(0, 20)],
  ])('%s readable by others: used, and said once on stderr without the key; 0600 and 0400 say nothing', async (name, content, piece) => {
    const open = keyFile(content, 0o644);
    const warned: string[] = [];
    const keys = loadSigningKeys({ [name]: open }, (m) => warned.push(m));
    expect(keys.record).toBeDefined();
    expect(warned).toEqual([`otel-audit: ${name} (${JSON.stringify(open)}): its group and other users can read it (mode 0644): chmod 600 the file (a Kubernetes secret volume: defaultMode 0400)`]);
    expect(warned.join('')).not.toContain(piece);

    // The processor's own reading of its environment says it on stderr (and in the diag log), once per process.
    const { said } = await saidOnStderr(() => {
      resolveOptions({}, { [name]: open });
      resolveOptions({}, { [name]: open });
    });
    expect(said).toBe(`${warned[0]}\n`);

    for (const mode of [0o600, 0o400]) {
      const closed = keyFile(content, mode);
      const quiet: string[] = [];
      loadSigningKeys({ [name]: closed }, (m) => quiet.push(m));
      expect(quiet).toEqual([]);
      expect((await saidOnStderr(() => resolveOptions({}, { [name]: closed }))).said).toBe('');
    }
  });

  it('a key given in OTEL_AUDIT_HMAC_KEY itself has no file to warn of', () => {
    const warned: string[] = [];
    loadSigningKeys({ OTEL_AUDIT_HMAC_KEY: SECRET }, (m) => warned.push(m));
    expect(warned).toEqual([]);
  });
});

describe('verify and search', () => {
  const chain = makeSignedChain({ n: 3, recordSigner: hmacSigner(SECRET) });
  const journal = (): string => keyFile(toLines(chain.records, 2).join('\n') + '\n', 0o600);

  async function run(command: 'verify' | 'search', argv: string[]): Promise<{ code: number; err: string }> {
    let err = '';
    const code =
      command === 'verify'
        ? await runVerifyCommand(argv, () => {}, (s) => void (err += s))
        : await runSearchCommand(argv, { out: () => {}, err: (s) => void (err += s) });
    return { code, err };
  }

  it.each(['verify', 'search'] as const)('%s: an HMAC key file others can read is a warning; the exit status is what it was', async (command) => {
    const f = journal();
    const open = keyFile(`${SECRET}\n`, 0o604);
    const r = await run(command, ['--hmac-key-file', open, f]);
    expect(r.code).toBe(0);
    const warnings = r.err.split('\n').filter((l) => l.includes('warning'));
    expect(warnings).toEqual([`otel-audit ${command}: warning: HMAC key file ${JSON.stringify(open)}: other users can read it (mode 0604): chmod 600 the file (a Kubernetes secret volume: defaultMode 0400)`]);
    expect(r.err).not.toContain(SECRET.slice(4, 20));
    const closed = await run(command, ['--hmac-key-file', keyFile(`${SECRET}\n`, 0o600), f]);
    expect(closed.code).toBe(0);
    expect(closed.err).not.toMatch(/warning/);
  });

  it('verify: a --pubkey file holding a private key is a secret too; a public key file is not', async () => {
    const f = journal();
    const priv = keyFile(PAIR.privateKeyPem, 0o640);
    const pub = keyFile(PAIR.publicKeyPem, 0o644);
    const r = await run('verify', ['--pubkey', priv, '--pubkey', pub, f]);
    expect(r.code).toBe(0);
    expect(r.err).toBe(`otel-audit verify: warning: public key file ${JSON.stringify(priv)}: its group can read it (mode 0640): chmod 600 the file (a Kubernetes secret volume: defaultMode 0400)\n`);
    expect(r.err).not.toContain(PRIVATE_BODY.slice(0, 20));
  });
});
