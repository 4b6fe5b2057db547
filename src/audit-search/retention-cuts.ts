/**
 * The retention cuts of a journal directory that `tail --follow` reads: which records of a stream retention deleted
 * (`state/retention.log`, one line per segment, written before the segment is deleted), so that a segment created and
 * deleted between two polls is not shown as a deletion. A cut is taken as `verify` takes one without keys
 * (src/verify/chain-check.ts `boundCut`, retention-log.ts `isBacked`): its `last` and `lastHash` are those of the
 * record before the gap, and the stream's state file records them acknowledged; link-tracker.ts adds that no file
 * the stream's earlier records were read from is still there. tail sees less than verify (copies under other names,
 * rejected/), so such a gap makes the records after it `unknown`, not `verified` (link-tracker.ts).
 *
 * The log only grows (one line per deleted segment, for the life of the directory): it is read as it is appended to
 * (FileFollower), and only the newest cuts of the most recently named streams are kept — retention deletes a
 * stream's oldest segment first, so the cut a gap needs is its stream's newest — and the state file of each stream
 * with new lines is read again. Before, the whole log and every state file were read again at each poll it changed
 * (found in review: 1.4 GB and a core's worth of CPU on a log of 200,000 lines). A log that shrank, was rewritten in
 * place or replaced is read again from its start (FileFollower tells), what was kept from it forgotten.
 */
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseRetentionLine, readStateFile } from '../verify/retention-log.js';
import { streamKey } from '../verify/record-store.js';
import { FileFollower } from './file-follower.js';

/** What LinkTracker asks: did a backed cut remove a stream's records up to `last`, the last of them hashing to `lastHash`? */
export interface RetentionCuts {
  isCut(streamId: string, last: number, lastHash: string): boolean;
}

/** Cuts kept per stream, newest last: more than one poll's worth of deleted segments. */
const KEPT_PER_STREAM = 16;
/** Streams whose cuts are kept, those named last: more than a directory has writing at once. */
const KEPT_STREAMS = 4096;
/** A stream id that can be a state file's name as it is (sinks/stream-state.ts names them by stream id). */
const FILE_NAME_ID = /^(?!\.{1,2}$)[A-Za-z0-9._:-]{1,256}$/;

export class RetentionView implements RetentionCuts {
  private readonly stateDir: string;
  private log: FileFollower;
  /** By stream key, the newest cuts read. */
  private readonly cuts = new Map<string, { last: number; lastHash: string }[]>();
  /** By stream key, what its state file records acknowledged, read after its newest cut. */
  private readonly acked = new Map<string, number>();

  constructor(dir: string) {
    this.stateDir = join(dir, 'state');
    this.log = this.follower();
  }

  private follower(): FileFollower {
    return new FileFollower(join(this.stateDir, 'retention.log'), false);
  }

  /**
   * Reads what was appended to the log since the last call, then the state files of the streams it names. `state/`
   * must be a directory and the files regular ones, none a link, as verify reads them; anything unreadable is as if
   * absent: a gap it would have accounted for is then shown as a deletion, and verify has the word.
   */
  async refresh(): Promise<void> {
    try {
      if (!(await lstat(this.stateDir)).isDirectory()) return this.forget();
    } catch {
      return this.forget();
    }
    const named = new Map<string, string>();
    /** Shrunk, rewritten or replaced (found in review: cuts read before a truncation still counted): read anew. */
    const restart = (): void => {
      this.clear();
      named.clear();
    };
    try {
      const there = await this.log.poll((bytes) => {
        const c = bytes === undefined ? undefined : parseRetentionLine(bytes);
        if (c === undefined) return;
        let kept = this.cuts.get(c.streamId);
        if (kept === undefined) kept = [];
        else this.cuts.delete(c.streamId); // set again below: the map's order is the order streams were last named
        this.cuts.set(c.streamId, kept);
        if (this.cuts.size > KEPT_STREAMS) this.dropStream(this.cuts.keys().next().value!);
        if (kept.some((k) => k.last === c.last && k.lastHash === c.lastHash)) return;
        kept.push({ last: c.last, lastHash: c.lastHash });
        if (kept.length > KEPT_PER_STREAM) kept.shift();
        named.set(c.streamId, c.signed.streamId);
      }, restart);
      if (!there) return this.forget();
    } catch {
      return this.forget(); // unreadable: as if absent
    }
    for (const [key, id] of named) {
      if (!this.cuts.has(key)) continue; // dropped again in the same read (past KEPT_STREAMS): no state to keep for it
      // Only a name that can be a file of state/ as it is (no path); anything else has no state file: not backed.
      const s = FILE_NAME_ID.test(id) ? await readStateFile(this.stateDir, id, () => undefined) : undefined;
      if (s === undefined) this.acked.delete(key);
      else this.acked.set(key, s.acked);
    }
  }

  /** The log is gone or unreadable: what was read is forgotten, and the log, once there again, read from its start. */
  private forget(): void {
    this.clear();
    void this.log.close().catch(() => undefined);
    this.log = this.follower();
  }

  private clear(): void {
    this.cuts.clear();
    this.acked.clear();
  }

  /** Closes the log's file. */
  close(): Promise<void> {
    return this.log.close();
  }

  private dropStream(key: string): void {
    this.cuts.delete(key);
    this.acked.delete(key);
  }

  isCut(streamId: string, last: number, lastHash: string): boolean {
    const key = streamKey(streamId);
    if ((this.acked.get(key) ?? 0) < last) return false; // retention deletes only acknowledged records
    return this.cuts.get(key)?.some((c) => c.last === last && c.lastHash === lastHash) ?? false;
  }
}
