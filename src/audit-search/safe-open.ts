/**
 * How search and tail open input files: the same rules as `verify` (src/verify/safe-read.ts) — only regular
 * files, never blocking on a FIFO (O_NONBLOCK, then fstat on the opened descriptor), a symbolic link followed
 * only when the caller named the file itself — with the size as a plain number, which is all they need.
 */
import type { FileHandle } from 'node:fs/promises';
import { openRegularFile as openChecked } from '../verify/safe-read.js';

export { MAX_LINE_BYTES, NotRegularFileError } from '../verify/safe-read.js';

/** Opens `path` for reading; throws NotRegularFileError for anything but a regular file, the system error otherwise. */
export async function openRegularFile(path: string, follow: boolean): Promise<{ fh: FileHandle; size: number }> {
  const { fh, st } = await openChecked(path, follow);
  return { fh, size: Number(st.size) };
}
