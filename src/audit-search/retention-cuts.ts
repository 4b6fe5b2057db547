/**
 * The retention cuts of a journal directory that `tail --follow` reads: which records of a stream retention deleted
 * (`state/retention.log`, one line per segment, written before the segment is deleted), so that a segment created and
 * deleted between two polls is not shown as a deletion. A cut counts as `verify` counts it without keys: its state
 * file records the removed records acknowledged (src/verify/retention-log.ts `isBacked`; docs/integrity.md §7.2
 * step 5), and the record after it links to the hash the line records (link-tracker.ts).
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isBacked, readJournalStates, type RetentionCut } from '../verify/retention-log.js';
import { streamKey } from '../verify/record-store.js';

/** What LinkTracker asks: the hash of a stream's record `last`, when a backed cut removed the records up to it. */
export interface RetentionCuts {
  lastHashAt(streamId: string, last: number): string | undefined;
}

export class RetentionView implements RetentionCuts {
  private cuts = new Map<string, RetentionCut[]>();
  /** The log as last read (size, mtime, inode); undefined: not read yet, or absent. */
  private version: string | undefined;

  constructor(private readonly dir: string) {}

  /**
   * Reads the log again if it changed since the last read (one stat otherwise). An unreadable log or state file is
   * as if absent: a gap it would have accounted for is then shown as a deletion, as before, and verify has the word.
   */
  async refresh(): Promise<void> {
    let version: string | undefined;
    try {
      const st = await stat(join(this.dir, 'state', 'retention.log'));
      version = `${st.size}:${st.mtimeMs}:${st.ino}`;
    } catch {
      version = undefined;
    }
    if (version === this.version) return;
    this.version = version;
    if (version === undefined) {
      this.cuts = new Map();
      return;
    }
    try {
      this.cuts = (await readJournalStates([this.dir], new Map(), () => undefined)).retained;
    } catch {
      this.cuts = new Map();
      this.version = undefined;
    }
  }

  lastHashAt(streamId: string, last: number): string | undefined {
    for (const c of this.cuts.get(streamKey(streamId)) ?? []) if (c.last === last && isBacked(c)) return c.lastHash;
    return undefined;
  }
}
