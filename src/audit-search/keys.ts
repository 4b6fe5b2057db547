/**
 * `--pubkey` and `--hmac-key-file` for search and tail, read as `verify` reads them: key files opened without
 * ever blocking on a FIFO or reading a huge file, and a bad key one line naming its file, never its content.
 */
import { AuditConfigError } from '../core/errors.js';
import { loadVerifyingKeys, type VerifyingKey } from '../integrity/keys.js';
import { NotRegularFileError, openRegularFile } from './safe-open.js';

/** Key files are a few hundred bytes; anything much larger is not a key, and is not read whole. */
const MAX_KEY_FILE_BYTES = 1024 * 1024;

/** A whole small regular file, never blocking on a FIFO; NotRegularFileError when it is not one or too large. */
async function readSmallRegularFile(path: string): Promise<Buffer> {
  const { fh, size } = await openRegularFile(path, true);
  try {
    if (size > MAX_KEY_FILE_BYTES) throw new NotRegularFileError(`is larger than ${MAX_KEY_FILE_BYTES} bytes`);
    const buf = Buffer.alloc(MAX_KEY_FILE_BYTES + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, null);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n > MAX_KEY_FILE_BYTES) throw new NotRegularFileError(`is larger than ${MAX_KEY_FILE_BYTES} bytes`); // grew since fstat
    }
    return buf.subarray(0, n);
  } finally {
    await fh.close();
  }
}

async function readKeyFile(path: string, what: string): Promise<string> {
  try {
    return (await readSmallRegularFile(path)).toString('utf8');
  } catch (e) {
    if (e instanceof NotRegularFileError) throw new AuditConfigError(`${what} ${JSON.stringify(path)} ${e.message}`);
    throw new AuditConfigError(`cannot read ${what} ${JSON.stringify(path)} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

export interface LoadedKeys {
  pubkeys: VerifyingKey[];
  hmacSecrets: string[];
}

/** Throws AuditConfigError (one line) for a key file that cannot be read or holds no valid key. */
export async function loadKeyFiles(pubkeyFiles: readonly string[], hmacKeyFiles: readonly string[]): Promise<LoadedKeys> {
  // Checked first with a non-blocking open: loadVerifyingKeys reads synchronously, and a FIFO would hang it.
  for (const f of pubkeyFiles) await readKeyFile(f, 'public key file');
  const pubkeys = loadVerifyingKeys(pubkeyFiles);
  const hmacSecrets: string[] = [];
  for (const [i, f] of hmacKeyFiles.entries()) {
    const v = await readKeyFile(f, 'HMAC key file');
    try {
      loadVerifyingKeys([], [v]); // decoded here, so a bad secret is an error naming its file
    } catch (e) {
      throw new AuditConfigError(`HMAC key file ${JSON.stringify(hmacKeyFiles[i])}: ${e instanceof Error ? e.message.replace(/^HMAC key #\d+: /, '') : 'invalid'}`);
    }
    hmacSecrets.push(v);
  }
  return { pubkeys, hmacSecrets };
}
