/**
 * An unfinished last line in the collector's `--out` file: what a write cut short by SIGKILL or a power cut leaves
 * (never answered, so never acknowledged: the collector answers after the write). Appended to, it would swallow
 * the next request's line: acknowledged, yet unreadable (found in review: verify found none of the records a
 * restarted collector confirmed). So at open:
 * - a last line that is a whole JSON text only lacks its '\n' (another writer's): the '\n' is added;
 * - anything else is moved to `<out>.torn` (appended and fsynced: nothing is destroyed) and the file cut back to
 *   its last complete line.
 */
import { constants as fsConstants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { isWholeLine, lastNewlineBefore } from '../sinks/journal-reader.js';

const NL = 0x0a;
const CHUNK = 1 << 20;
/** A last line up to this size is read to tell a whole JSON text from a torn one; a longer one counts as torn. */
const MAX_PARSED_BYTES = 64 * 1024 * 1024;

/** Is bytes [from, size) of the file a whole JSON text (journal-reader.ts isWholeLine)? Past MAX_PARSED_BYTES: no. */
async function isWholeJson(file: FileHandle, from: number, size: number): Promise<boolean> {
  if (size - from > MAX_PARSED_BYTES) return false;
  const buf = Buffer.allocUnsafe(size - from);
  const { bytesRead } = await file.read(buf, 0, buf.length, from);
  return bytesRead === buf.length && isWholeLine(buf);
}

/** What was done to the file's last line: nothing, a '\n' added, or `moved` bytes cut to `<out>.torn`. */
export type TailRepair = { kind: 'none' } | { kind: 'terminated' } | { kind: 'moved'; bytes: number };

/**
 * Repairs an unfinished last line of `file` (opened read-write, appending). `tornPath` is opened without following a
 * link and without waiting on a FIFO, and must be a regular file; errors name it.
 */
export async function repairTornTail(file: FileHandle, tornPath: string): Promise<TailRepair> {
  const size = (await file.stat()).size;
  if (size === 0) return { kind: 'none' };
  // Just past the last '\n': where the unfinished line starts (the same backwards scan as the journal's recovery).
  const cut = lastNewlineBefore(file.fd, size) + 1;
  if (cut === size) return { kind: 'none' };
  if (await isWholeJson(file, cut, size)) {
    await file.write(Buffer.from([NL]));
    await file.sync();
    return { kind: 'terminated' };
  }
  const C = fsConstants;
  let kept: FileHandle | undefined;
  try {
    kept = await open(tornPath, C.O_WRONLY | C.O_APPEND | C.O_CREAT | C.O_NONBLOCK | (C.O_NOFOLLOW ?? 0), 0o600);
    if (!(await kept.stat()).isFile()) throw Object.assign(new Error('not a regular file'), { code: 'not a regular file' });
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
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`cannot keep the unfinished last line of --out in ${JSON.stringify(tornPath)}: ${code === 'ELOOP' ? 'it is a symbolic link, which is not followed' : (code ?? String(e))}`);
  } finally {
    await kept?.close();
  }
  await file.truncate(cut);
  await file.sync();
  return { kind: 'moved', bytes: size - cut };
}
