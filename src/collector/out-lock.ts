/**
 * One collector writes an `--out` file at a time: `<out>.lock`, created exclusively, holds the writer's pid. A second
 * collector started on the same file (by mistake, or a restart racing the old process's exit) would otherwise append
 * its lines into the first one's, and its start-up repair of an unfinished last line (torn-tail.ts) would cut a line
 * the first one is still writing and has answered 200 for (found in review: acknowledged records gone). A lock left
 * by a process that no longer exists (SIGKILL) is taken over.
 */
import { constants as fsConstants, readFileSync, unlinkSync } from 'node:fs';
import { open } from 'node:fs/promises';

/** Is a process with this pid alive (EPERM: alive, another user's)? */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function holderOf(lockPath: string): number | undefined {
  try {
    const pid = (JSON.parse(readFileSync(lockPath, 'utf8')) as { pid?: unknown }).pid;
    return typeof pid === 'number' && Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined; // unreadable, or being written: its holder is not known
  }
}

/**
 * Takes the lock of `outFile`; resolves to its release. Rejects, naming the holder, when a live process holds it.
 */
export async function lockOut(outFile: string): Promise<() => void> {
  const lockPath = `${outFile}.lock`;
  const C = fsConstants;
  for (let attempt = 0; ; attempt++) {
    try {
      const fh = await open(lockPath, C.O_WRONLY | C.O_CREAT | C.O_EXCL | (C.O_NOFOLLOW ?? 0), 0o600);
      try {
        await fh.writeFile(JSON.stringify({ pid: process.pid }));
      } finally {
        await fh.close();
      }
      return () => {
        try {
          unlinkSync(lockPath);
        } catch {
          // already gone: nothing to release
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 2) throw e;
      const pid = holderOf(lockPath);
      if (pid === undefined || alive(pid)) {
        throw Object.assign(new Error(`another collector${pid === undefined ? '' : ` (pid ${pid})`} writes it (${lockPath}); stop it first, or remove the lock if no collector runs`), { code: 'locked' });
      }
      // Its holder is gone (killed): taken over.
      try {
        unlinkSync(lockPath);
      } catch {
        // another starter took it over first: the next attempt says so
      }
    }
  }
}
