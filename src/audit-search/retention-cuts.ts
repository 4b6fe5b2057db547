/**
 * The retention cuts of a journal directory that `tail --follow` reads: which records of a stream retention deleted
 * (`state/retention.log`, one line per segment, written before the segment is deleted), so that a segment created and
 * deleted between two polls is not shown as a deletion. A cut counts as `verify` counts it without keys
 * (src/verify/chain-check.ts `boundCut`, retention-log.ts `isBacked`): its `last` and `lastHash` are those of the
 * record before the gap, and the stream's state file records them acknowledged; link-tracker.ts adds verify's
 * other condition, that no record of the stream before the gap is still in the directory.
 *
 * The log only grows (one line per deleted segment, for the life of the directory): it is read as it is appended to
 * (FileFollower), and only the newest cuts of each stream are kept — retention deletes a stream's oldest segment
 * first, so the cut a gap needs is its stream's newest — and the state files of the streams with new lines are read
 * again. Before, the whole log and every state file were read again at each poll it changed (found in review: 1.4 GB
 * and a core's worth of CPU on a log of 200,000 lines).
 */
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseRetentionLine, readStates } from '../verify/retention-log.js';
import { streamKey } from '../verify/record-store.js';
import { FileFollower } from './file-follower.js';

/** What LinkTracker asks: did a backed cut remove a stream's records up to `last`, the last of them hashing to `lastHash`? */
export interface RetentionCuts {
  isCut(streamId: string, last: number, lastHash: string): boolean;
}

/** Cuts kept per stream, newest last: more than one poll's worth of deleted segments. */
const KEPT_PER_STREAM = 16;

export class RetentionView implements RetentionCuts {
  private readonly stateDir: string;
  private readonly log: FileFollower;
  /** By stream key, the newest cuts read. */
  private readonly cuts = new Map<string, { last: number; lastHash: string }[]>();
  /** By stream key, what its state file records acknowledged, read after its newest cut. */
  private readonly acked = new Map<string, number>();

  constructor(dir: string) {
    this.stateDir = join(dir, 'state');
    this.log = new FileFollower(join(this.stateDir, 'retention.log'), false);
  }

  /**
   * Reads what was appended to the log since the last call, then the state files of the streams it names. `state/`
   * must be a directory and the files regular ones, none a link, as verify reads them; anything unreadable is as if
   * absent: a gap it would have accounted for is then shown as a deletion, and verify has the word.
   */
  async refresh(): Promise<void> {
    try {
      if (!(await lstat(this.stateDir)).isDirectory()) return;
    } catch {
      return;
    }
    const named = new Set<string>();
    try {
      await this.log.poll((bytes) => {
        const c = bytes === undefined ? undefined : parseRetentionLine(bytes);
        if (c === undefined) return;
        let kept = this.cuts.get(c.streamId);
        if (kept === undefined) this.cuts.set(c.streamId, (kept = []));
        if (kept.some((k) => k.last === c.last && k.lastHash === c.lastHash)) return; // read again (the log rewritten)
        kept.push({ last: c.last, lastHash: c.lastHash });
        if (kept.length > KEPT_PER_STREAM) kept.shift();
        named.add(c.streamId);
      });
    } catch {
      /* unreadable: as if absent */
    }
    if (named.size === 0) return;
    const states = await readStates(this.stateDir, () => undefined, named);
    for (const key of named) {
      const s = states.get(key);
      if (s === undefined) this.acked.delete(key);
      else this.acked.set(key, s.acked);
    }
  }

  isCut(streamId: string, last: number, lastHash: string): boolean {
    const key = streamKey(streamId);
    if ((this.acked.get(key) ?? 0) < last) return false; // retention deletes only acknowledged records
    return this.cuts.get(key)?.some((c) => c.last === last && c.lastHash === lastHash) ?? false;
  }
}
