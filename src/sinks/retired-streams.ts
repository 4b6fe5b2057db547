/**
 * Forgetting streams retention removed whole (ARCHITECTURE.md §4). Each process start leaves the state file of its
 * stream, and before this one was kept for ever: a short-lived command run often grew `state/` by one file a run,
 * and every start reads the directory's state files (20,000 of them: 434 ms in the constructor, found in review).
 *
 * A stream's state file is removed once it can no longer back anything a verifier weighs (docs/integrity.md §7):
 * - the stream is done (its state says every record was acknowledged) and retention removed its last segment;
 * - no copy of it is in `rejected/` (those copies are judged against its state file, §7.2 step 5);
 * - it was removed whole at least RETIRED_GRACE_MS ago (`markRetired` dates its state file then): a verifier that read
 *   its last segment just before and reads `state/` just after must still find the file that backs its head cut
 *   (found in review: a live directory verified while retention ran said DELETED).
 * `verify` then says nothing of the stream (a restart link that names it says it is not among the inputs, info, as
 * before): the collector's copy holds it. retention.log keeps its lines.
 */
import { lstatSync, lutimesSync, readdirSync, rmSync } from 'node:fs';
import { listStreams, rejectedDir, stateDir, statePath } from './files.js';
import { readState } from './stream-state.js';

/** How long the state file of a stream removed whole is kept: far longer than a verify of the directory takes. */
export const RETIRED_GRACE_MS = 10 * 60_000;

/** Retention deleted the stream's last segment: its state file is dated now, for the grace period (never through a link). */
export function markRetired(dir: string, streamId: string): void {
  try {
    const now = new Date();
    lutimesSync(statePath(dir, streamId), now, now);
  } catch {
    /* no state file */
  }
}

export function forgetRetiredStreams(dir: string, ownStreamId: string, now = Date.now()): void {
  let names: string[];
  try {
    names = readdirSync(stateDir(dir));
  } catch {
    return;
  }
  const ids = names.filter((n) => n.endsWith('.state')).map((n) => n.slice(0, -'.state'.length));
  if (ids.length === 0) return;
  const segments = listStreams(dir);
  let rejected: string[] = [];
  try {
    rejected = readdirSync(rejectedDir(dir));
  } catch {
    /* none set aside */
  }
  const setAside = (id: string): boolean => rejected.some((n) => n.startsWith(`${id}-`));
  for (const id of ids) {
    if (id === ownStreamId || segments.has(id) || setAside(id)) continue;
    try {
      if (lstatSync(statePath(dir, id)).mtimeMs > now - RETIRED_GRACE_MS || readState(dir, id)?.done !== true) continue;
      rmSync(statePath(dir, id), { force: true });
    } catch {
      /* kept: tried again after the next deletion */
    }
  }
}
