/**
 * Retention (DESIGN §4): keep at most `maxFiles` journal segments in the directory, deleting the oldest
 * first — but only segments whose every record the collector has acknowledged: this process's own closed
 * segments up to its acknowledged sequence number, and segments of streams whose state says `done`.
 * Unacknowledged data is never deleted; when that keeps the directory above the bound, it says so.
 */
import { diag } from '@opentelemetry/api';
import { rmSync, statSync } from 'node:fs';
import { listStreams } from './files.js';
import { readState } from './stream-state.js';

export interface OwnStream {
  streamId: string;
  acked: number;
  /** The live journal's segments, in order; the last one is active. */
  segments: readonly { path: string; last: number }[];
}

export function enforceRetention(dir: string, maxFiles: number, own: OwnStream): void {
  const streams = listStreams(dir);
  const all: { path: string; streamId: string; mtime: number; last: boolean }[] = [];
  for (const [streamId, paths] of streams) {
    paths.forEach((path, i) => {
      let mtime = 0;
      try {
        mtime = statSync(path).mtimeMs;
      } catch {
        /* vanished */
      }
      all.push({ path, streamId, mtime, last: i === paths.length - 1 });
    });
  }
  let excess = all.length - maxFiles;
  if (excess <= 0) return;
  all.sort((a, b) => a.mtime - b.mtime);
  const doneCache = new Map<string, boolean>();
  for (const f of all) {
    if (excess <= 0) break;
    let deletable: boolean;
    if (f.streamId === own.streamId) {
      // Never the active segment; a closed one when its last record is acknowledged.
      const i = own.segments.findIndex((s) => s.path === f.path);
      deletable = i !== -1 && i < own.segments.length - 1 && own.segments[i]!.last <= own.acked;
    } else {
      let done = doneCache.get(f.streamId);
      if (done === undefined) doneCache.set(f.streamId, (done = readState(dir, f.streamId)?.done === true));
      deletable = done;
    }
    if (!deletable) continue;
    rmSync(f.path, { force: true });
    excess--;
  }
  if (excess > 0) diag.warn(`otel-audit: ${excess} journal file(s) above OTEL_AUDIT_MAX_FILES kept: they hold records not yet acknowledged`);
}

