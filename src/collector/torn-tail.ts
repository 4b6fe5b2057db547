/**
 * A torn last line left in the collector's `--out` file by an earlier run: a write cut short by SIGKILL or a power
 * cut, never answered, so never acknowledged (the collector answers after the write). Appended to, it would swallow
 * the next request's line: acknowledged, yet unreadable (found in review: verify found none of the records a
 * restarted collector confirmed). So at open the fragment is moved to `<out>.torn` (appended, fsynced: nothing is
 * destroyed) and the file cut back to its last complete line.
 */
import { constants as fsConstants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

const NL = 0x0a;
const CHUNK = 1 << 20;

/** Where the last '\n' of the file is, +1 (0: none); the file's size when it ends with one. */
async function endOfLastLine(file: FileHandle, size: number): Promise<number> {
  const buf = Buffer.allocUnsafe(Math.min(CHUNK, size));
  for (let end = size; end > 0; ) {
    const start = Math.max(0, end - buf.length);
    const { bytesRead } = await file.read(buf, 0, end - start, start);
    const nl = buf.subarray(0, bytesRead).lastIndexOf(NL);
    if (nl >= 0) return start + nl + 1;
    end = start;
  }
  return 0;
}

/**
 * Cuts a torn last line off `file` (opened for writing and reading), after keeping it in `tornPath`. Returns the
 * bytes moved, 0 when the file ends with a whole line (or is empty).
 */
export async function cutTornTail(file: FileHandle, tornPath: string): Promise<number> {
  const size = (await file.stat()).size;
  if (size === 0) return 0;
  const cut = await endOfLastLine(file, size);
  if (cut === size) return 0;
  const C = fsConstants;
  const kept = await open(tornPath, C.O_WRONLY | C.O_APPEND | C.O_CREAT | (C.O_NOFOLLOW ?? 0), 0o600);
  try {
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, size - cut));
    for (let at = cut; at < size; ) {
      const { bytesRead } = await file.read(buf, 0, Math.min(buf.length, size - at), at);
      if (bytesRead === 0) break;
      await kept.write(buf, 0, bytesRead);
      at += bytesRead;
    }
    // The fragment ends a line of its own there, so that fragments of several restarts stay apart.
    await kept.write(Buffer.from([NL]));
    await kept.sync();
  } finally {
    await kept.close();
  }
  await file.truncate(cut);
  await file.sync();
  return size - cut;
}
