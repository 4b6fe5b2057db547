/**
 * `--pubkey` and `--hmac-key-file`, as `verify`, `search` and `tail` read them: key files opened without ever
 * blocking on a FIFO or reading a huge file, and a bad key reported in one line naming its file, never its
 * content.
 */
import { AuditConfigError } from '../core/errors.js';
import type { KeyFileStat } from '../integrity/key-file-mode.js';
import { inWorkingDirectory, keyFileName, keyFilePathShown, keyFileReadProblem, keyFileText, loadVerifyingKeys, secretKeyFileWarning, type VerifyingKey } from '../integrity/keys.js';
import { NotRegularFileError, readSmallRegularFile } from './safe-read.js';

/** Key files are a few hundred bytes; anything much larger is not a key, and is not read whole. */
const MAX_KEY_FILE_BYTES = 1024 * 1024;

/** The file's text, and its name as messages give it (`public key file "…"`). */
async function readKeyFile(path: string, what: string, warnings: string[]): Promise<{ text: string; what: string }> {
  let bytes: Buffer;
  let st: KeyFileStat | undefined;
  try {
    bytes = await readSmallRegularFile(path, MAX_KEY_FILE_BYTES, true, (s) => (st = s));
  } catch (e) {
    // A value that may be the key itself (`--pubkey "$(cat key.pem)"`, a raw HMAC key) is never printed.
    if (!keyFilePathShown(path)) {
      const flag = what === 'HMAC key file' ? '--hmac-key-file' : '--pubkey';
      throw new AuditConfigError(`${what}: ${keyFileReadProblem(path, (e as NodeJS.ErrnoException).code, `${flag} takes the path of a file holding the key, not the key itself`)}`);
    }
    if (e instanceof NotRegularFileError) throw new AuditConfigError(`${what} ${JSON.stringify(path)} ${e.message}`);
    const code = (e as NodeJS.ErrnoException).code;
    throw new AuditConfigError(`cannot read ${what} ${JSON.stringify(path)}${inWorkingDirectory(path, code)} (${code ?? 'error'})`);
  }
  const named = `${what} ${keyFileName(path)}`;
  const kind = what === 'HMAC key file' ? 'hmac' : 'pem';
  const text = keyFileText(bytes, named, kind);
  bytes.fill(0);
  const warning = secretKeyFileWarning(named, st!, text, kind);
  // A file given twice is warned of once.
  if (warning !== undefined && !warnings.includes(warning)) warnings.push(warning);
  return { text, what: named };
}

export interface LoadedKeys {
  pubkeys: VerifyingKey[];
  hmacSecrets: string[];
  /** One line each (no key in it), for a secret key file others can read or change (integrity/key-file-mode.ts). */
  warnings: string[];
}

/** Throws AuditConfigError (one line) for a key file that cannot be read or holds no valid key. */
export async function loadKeyFiles(pubkeyFiles: readonly string[], hmacKeyFiles: readonly string[]): Promise<LoadedKeys> {
  // Read here with a non-blocking open (a FIFO never hangs it), and parsed from what was read: the file checked is
  // the file used (found in re-review: it was opened again by path, so a file swapped in between was never checked).
  const warnings: string[] = [];
  const pems: { text: string; what: string }[] = [];
  for (const f of pubkeyFiles) pems.push(await readKeyFile(f, 'public key file', warnings));
  const pubkeys = loadVerifyingKeys([], [], pems);
  const hmacSecrets: string[] = [];
  for (const f of hmacKeyFiles) hmacSecrets.push((await readKeyFile(f, 'HMAC key file', warnings)).text);
  // Decoded here too, so a bad secret is a usage error naming its file (never its content).
  hmacSecrets.forEach((v, i) => {
    try {
      loadVerifyingKeys([], [v]);
    } catch (e) {
      throw new AuditConfigError(`HMAC key file ${keyFileName(hmacKeyFiles[i]!)}: ${e instanceof Error ? e.message.replace(/^HMAC key #\d+: /, '') : 'invalid'}`);
    }
  });
  return { pubkeys, hmacSecrets, warnings };
}
