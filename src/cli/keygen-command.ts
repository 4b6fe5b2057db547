/**
 * `otel-audit keygen --out-dir DIR`: a new Ed25519 key pair for record signatures and checkpoints.
 *
 * Writes DIR/audit-signing.key.pem (PKCS#8 PEM private key, mode 0600 — point OTEL_AUDIT_SIGNING_KEY_FILE at
 * it) and DIR/audit-signing.pub.pem (SPKI PEM public key, mode 0644 — give it to `otel-audit verify --pubkey`),
 * creating DIR (0700) if needed, and prints the key id. Refuses to overwrite either file (exit 2), so an
 * existing key is never lost by accident. Each file appears whole or not at all, and is fsynced with its directory
 * before the key id is printed (sinks/durable.ts, durableCreateNew).
 *
 * Exit status: 0 written; 2 usage or I/O error.
 */
import { optionValue, walkArguments, quotedArgument } from './arguments.js';
import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { generateEd25519KeyPair } from '../integrity/keys.js';
import { errorText } from '../core/errors.js';
import { shellQuote } from '../report/command-line.js';
import { durableCreateNew, mkdirDurable } from '../sinks/durable.js';

export const KEYGEN_USAGE = 'usage: otel-audit keygen --out-dir DIR';
export const PRIVATE_KEY_FILE = 'audit-signing.key.pem';
export const PUBLIC_KEY_FILE = 'audit-signing.pub.pem';

/**
 * Runs `keygen` with the arguments after the subcommand. `out`/`err` are raw writers (like
 * `process.stdout.write`); each call gets one line ending in '\n'. Resolves to the exit status.
 */
export async function runKeygenCommand(argv: string[], out: (s: string) => void, err: (s: string) => void): Promise<number> {
  let outDir: string | undefined;
  const usage = (msg: string): number => {
    err(`otel-audit keygen: ${msg}\n${KEYGEN_USAGE}\n`);
    return 2;
  };
  const operands: string[] = [];
  // The shared rules (arguments.ts): a value that starts with `--` counts only given with `=` (`--out-dir --help`
  // wrote a key pair into ./--help/).
  const stopped = walkArguments<number>(argv, operands, (o) => {
    if (o.name === '-h' || o.name === '--help') {
      out(`${KEYGEN_USAGE}\n`);
      return 0;
    }
    if (o.name !== '--out-dir') return usage(`unknown argument ${quotedArgument(o.arg)}`);
    const v = optionValue(o);
    if (v === undefined) return usage('--out-dir needs a directory');
    if (outDir !== undefined) return usage('--out-dir is given more than once');
    outDir = v;
    return undefined;
  });
  if (stopped !== undefined) return stopped;
  if (operands.length > 0) return usage(`unknown argument ${quotedArgument(operands[0]!)}`);
  if (outDir === undefined) {
    err(`otel-audit keygen: --out-dir is required\n${KEYGEN_USAGE}\n`);
    return 2;
  }
  // Absolute: the path printed is one a variable can hold whatever directory the app starts in (found in review:
  // `--out-dir .` printed a bare file name, which then did not resolve from the app's directory).
  const privPath = resolve(outDir, PRIVATE_KEY_FILE);
  const pubPath = resolve(outDir, PUBLIC_KEY_FILE);
  const pair = generateEd25519KeyPair();
  try {
    mkdirDurable(outDir); // 0700; not mkdir({ recursive: true }), which loops for ever on a path under /proc
  } catch (e) {
    err(`otel-audit keygen: cannot write to ${outDir}: ${errorText(e)}\n`);
    return 2;
  }
  try {
    durableCreateNew(privPath, pair.privateKeyPem, 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    err(
      code === 'EEXIST'
        ? `otel-audit keygen: ${privPath} already exists; refusing to overwrite a key (move it away first)\n`
        : `otel-audit keygen: cannot write ${privPath}: ${errorText(e)}\n`,
    );
    return 2;
  }
  try {
    durableCreateNew(pubPath, pair.publicKeyPem, 0o644);
  } catch (e) {
    // Never leave a private key without its public half (nor half a pair that would block the next run).
    await rm(privPath, { force: true });
    const code = (e as NodeJS.ErrnoException).code;
    err(
      code === 'EEXIST'
        ? `otel-audit keygen: ${pubPath} already exists; refusing to overwrite it (move it away first)\n`
        : `otel-audit keygen: cannot write ${pubPath}: ${errorText(e)}\n`,
    );
    return 2;
  }
  out(`key id: ${pair.keyId}\n`);
  // Quoted for the shell when they need it (a directory with a space), so the command printed runs as printed.
  out(`private key: ${shellQuote(privPath)} (mode 0600) — set OTEL_AUDIT_SIGNING_KEY_FILE to this path; keep it secret\n`);
  out(`public key:  ${shellQuote(pubPath)} (mode 0644) — verify with: otel-audit verify --pubkey ${shellQuote(pubPath)} <file|dir>...\n`);
  return 0;
}
