/** Reading `state/retention.log` of journal directories: the heads removed by retention, which are not tampering. */
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import type { RetentionEntry } from '../sinks/retention.js';
import type { SkipListener } from './inputs.js';
import { HEX64, keep, own, streamKey } from './record-store.js';
import { NotRegularFileError, openRegularFile, splitLines } from './safe-read.js';

/** A retention.log line is a few hundred bytes; a longer one is not an entry. */
const MAX_RETENTION_LINE_BYTES = 64 * 1024;

/**
 * Retention entries (sinks/retention.ts) of every input directory that is a journal directory, for the
 * streams `known` (entries of other streams can match nothing). `state/` must be a directory and
 * `state/retention.log` a regular file, neither a link: anything else is skipped (`onSkip`), and the cuts it
 * would have explained are reported as ordinary deletions.
 */
export async function readRetentionLogs(paths: readonly string[], known: ReadonlyMap<string, number>, onSkip: SkipListener): Promise<Map<string, RetentionEntry[]>> {
  const byStream = new Map<string, RetentionEntry[]>();
  for (const p of paths) {
    const stateDir = join(p, 'state');
    const path = join(stateDir, 'retention.log');
    let opened: Awaited<ReturnType<typeof openRegularFile>>;
    try {
      const st = await lstat(stateDir);
      if (!st.isDirectory()) {
        if (st.isSymbolicLink()) onSkip(stateDir, 'symbolic link inside an input directory, not followed');
        continue;
      }
      opened = await openRegularFile(path, false);
    } catch (e) {
      if (e instanceof NotRegularFileError) onSkip(path, e.message.replace(/^is an? /, ''));
      continue; // not a journal directory, or nothing was ever deleted
    }
    const onLine = (bytes: Buffer | undefined): void => {
      if (bytes === undefined) return;
      try {
        const e = JSON.parse(bytes.toString('utf8')) as Partial<Record<keyof RetentionEntry, unknown>>;
        if (typeof e.streamId !== 'string' || typeof e.last !== 'number' || typeof e.lastHash !== 'string' || !HEX64.test(e.lastHash)) return;
        const key = streamKey(e.streamId);
        if (!known.has(key)) return;
        let l = byStream.get(key);
        if (l === undefined) byStream.set(key, (l = []));
        l.push({ streamId: key, file: keep(String(e.file)), last: e.last, lastHash: own(e.lastHash), deletedAt: keep(String(e.deletedAt)) });
      } catch {
        /* a torn last line of the log: ignored, so that cut is reported as an ordinary deletion */
      }
    };
    try {
      for await (const _ of splitLines(opened.fh, onLine, MAX_RETENTION_LINE_BYTES));
    } catch {
      /* unreadable: as if absent */
    } finally {
      await opened.fh.close();
    }
  }
  return byStream;
}
