/**
 * One collector writes an `--out` file at a time: `<out>.lock`, claimed as a journal's replay claims are
 * (sinks/stream-state.ts claimLockFile: created whole, pid + host + PID namespace + process start + nonce; a dead
 * holder's lock taken over by rename-and-check, so two starters never both get it; released only while still
 * ours). A second collector started on the same file would otherwise append its lines into the first one's, and its
 * start-up repair of an unfinished last line (torn-tail.ts) would cut a line the first one is still writing and has
 * answered 200 for (found in review: acknowledged records gone). A holder in another PID namespace (a container
 * sharing the volume) is alive while it renews the lock, which the holder does every OWNER_HEARTBEAT_MS.
 */
import { claimLockFile, OWNER_HEARTBEAT_MS, readLock, touchLockFile } from '../sinks/stream-state.js';

/**
 * The holder's pid as its lock says, for the message; undefined when it cannot be read. Read as the claim reads it:
 * never through a link, never waiting on a FIFO planted there (found in review: a FIFO hung the start).
 */
function holderPid(lockPath: string): number | undefined {
  try {
    const pid = (JSON.parse(readLock(lockPath)) as { pid?: unknown }).pid;
    return typeof pid === 'number' && Number.isSafeInteger(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Takes the lock of `outFile`; returns its release. Throws, naming the holder, when a live collector holds it. */
export function lockOut(outFile: string): () => void {
  const lockPath = `${outFile}.lock`;
  const release = claimLockFile(lockPath);
  if (release === undefined) {
    const pid = holderPid(lockPath);
    throw Object.assign(new Error(`another collector${pid === undefined ? '' : ` (pid ${pid})`} writes it (${lockPath}); stop it first`), { code: 'locked' });
  }
  const lease = setInterval(() => touchLockFile(lockPath), OWNER_HEARTBEAT_MS);
  lease.unref();
  return () => {
    clearInterval(lease);
    release();
  };
}
