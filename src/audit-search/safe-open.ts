/**
 * How search and tail open input files, so that a hostile input directory cannot hang them: only regular
 * files are read (a FIFO, socket or device is refused without blocking: O_NONBLOCK, then fstat on the opened
 * descriptor), and a symbolic link is followed only when the caller named the file itself (O_NOFOLLOW
 * otherwise). The rules `verify` applies to its inputs, kept here so that these commands do not depend on
 * the verifier's internals.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/**
 * Longest line read, in bytes: 64 MiB, as `verify`. A longer line is dropped as it streams past (never held
 * whole) and counted as unreadable.
 */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;

/** A path that exists but is not a regular file (a FIFO, a device, a link inside a directory…). */
export class NotRegularFileError extends Error {
  override name = 'NotRegularFileError';
}

function kind(st: { isDirectory(): boolean; isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): string {
  if (st.isDirectory()) return 'directory';
  if (st.isFIFO()) return 'FIFO';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return 'character device';
  if (st.isBlockDevice()) return 'block device';
  return 'special file';
}

/** Opens `path` for reading; throws NotRegularFileError for anything but a regular file, the system error otherwise. */
export async function openRegularFile(path: string, follow: boolean): Promise<{ fh: FileHandle; size: number }> {
  let fh: FileHandle;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | (follow ? 0 : constants.O_NOFOLLOW));
  } catch (e) {
    if (!follow && (e as NodeJS.ErrnoException).code === 'ELOOP') throw new NotRegularFileError('is a symbolic link inside an input directory (not followed)', { cause: e });
    throw e;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new NotRegularFileError(`is a ${kind(st)}, not a regular file`);
    return { fh, size: st.size };
  } catch (e) {
    await fh.close();
    throw e;
  }
}
