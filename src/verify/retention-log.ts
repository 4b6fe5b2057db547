/**
 * Reading the `state/` of journal directories: `state/retention.log` (the heads removed by retention, which are
 * not tampering) and the `state/<stream>.state` files (what the producer says it acknowledged). Neither is
 * authenticated (docs/integrity.md §7.2 step 5): a retention entry counts only when the state file beside it
 * agrees that the records it removed were acknowledged.
 */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { RetentionEntry } from '../sinks/retention.js';
import type { SkipListener } from './inputs.js';
import { HEX64, keep, own, streamKey } from './record-store.js';
import { FileTooLargeError, NotRegularFileError, openRegularFile, readSmallRegularFile, splitLines } from './safe-read.js';

/** A retention.log line is a few hundred bytes; a longer one is not an entry. */
const MAX_RETENTION_LINE_BYTES = 64 * 1024;
/** A state file is one short JSON line; a larger one is not a state file of ours. */
const MAX_STATE_BYTES = 64 * 1024;

/** What a `state/<stream>.state` file says (sinks/stream-state.ts), as far as the verifier uses it. */
export interface StateView {
  /** `state/<stream>.state`, as found under the input path. */
  file: string;
  /** Highest seq the collector acknowledged. */
  acked: number;
  /** Highest seq the producer had accepted when it last saved the state, when recorded. */
  last: number | undefined;
  /** The producer closed the stream (shutdown). */
  ended: boolean;
  /** Everything up to `last` was delivered and the stream is finished (a replay sets it, with `ended` false). */
  done: boolean;
}

/** A retention entry, with the state file of its stream in the same journal directory (undefined: none readable). */
export interface RetentionCut extends RetentionEntry {
  /** Where the entry was read: `<dir>/state/retention.log`. */
  log: string;
  /** Path the stream's state file would have in that directory. */
  stateFile: string;
  state: StateView | undefined;
}

/**
 * A cut the state file of its own directory backs: it records the removed records acknowledged. Retention deletes
 * nothing else, so only such a cut accounts for missing records (docs/integrity.md §7.2 step 5, §7.4 step 3).
 */
export const isBacked = (c: RetentionCut): boolean => c.state !== undefined && c.state.acked >= c.last;

/** Of the backed cuts, the one that reaches furthest (the first of those that reach as far). */
export function highestBacked(cuts: readonly RetentionCut[]): RetentionCut | undefined {
  let best: RetentionCut | undefined;
  for (const c of cuts) if (isBacked(c) && (best === undefined || c.last > best.last)) best = c;
  return best;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * The bytes of a small regular file, never through a link; undefined when it is anything else (said through
 * `onSkip`), too large (not ours: skipped silently) or unreadable.
 */
async function readSmallFile(path: string, max: number, onSkip: SkipListener): Promise<Buffer | undefined> {
  try {
    return await readSmallRegularFile(path, max, false);
  } catch (e) {
    if (e instanceof NotRegularFileError && !(e instanceof FileTooLargeError)) onSkip(path, e.message.replace(/^is an? /, ''));
    return undefined;
  }
}

/** The state files in `stateDir` of the streams `known`, by stream key. */
async function readStates(stateDir: string, onSkip: SkipListener): Promise<Map<string, StateView>> {
  const out = new Map<string, StateView>();
  let names: string[];
  try {
    names = await readdir(stateDir);
  } catch {
    return out;
  }
  for (const name of names) {
    if (!name.endsWith('.state')) continue;
    const id = name.slice(0, -'.state'.length);
    const key = streamKey(id);
    const file = join(stateDir, name);
    const bytes = await readSmallFile(file, MAX_STATE_BYTES, onSkip);
    if (bytes === undefined) continue;
    try {
      const s = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
      if (s['version'] !== 1 || s['streamId'] !== id || !isCount(s['acked'])) continue;
      out.set(key, { file, acked: s['acked'], last: isCount(s['last']) ? s['last'] : undefined, ended: s['ended'] === true, done: s['done'] === true });
    } catch {
      /* not a state file of ours: as if absent */
    }
  }
  return out;
}

/**
 * What the input directories that are journal directories say of their streams: the state file of each (the
 * first found) — of the streams `known` and of those with no record among the inputs too (a stream deleted whole
 * leaves its state file) — and the retention entries (sinks/retention.ts) of each, with the stream's state file
 * in the same directory. `state/` must be a directory and `state/retention.log` and the state files regular
 * files, none a link: anything else is skipped (`onSkip`), and the cuts it would have explained are reported
 * as deletions.
 */
export async function readJournalStates(
  paths: readonly string[],
  known: ReadonlyMap<string, number>,
  onSkip: SkipListener,
): Promise<{ retained: Map<string, RetentionCut[]>; states: Map<string, StateView> }> {
  const retained = new Map<string, RetentionCut[]>();
  const states = new Map<string, StateView>();
  for (const p of paths) {
    const stateDir = join(p, 'state');
    const path = join(stateDir, 'retention.log');
    try {
      const st = await lstat(stateDir);
      if (!st.isDirectory()) {
        if (st.isSymbolicLink()) onSkip(stateDir, 'symbolic link inside an input directory, not followed');
        continue;
      }
    } catch {
      continue; // not a journal directory
    }
    // First: a stream known only by its state file is one whose retention entries matter too.
    const here = await readStates(stateDir, onSkip);
    const entries: RetentionEntry[] = [];
    let opened: Awaited<ReturnType<typeof openRegularFile>> | undefined;
    try {
      opened = await openRegularFile(path, false);
    } catch (e) {
      if (e instanceof NotRegularFileError) onSkip(path, e.message.replace(/^is an? /, ''));
      opened = undefined; // nothing was ever deleted
    }
    const onLine = (bytes: Buffer | undefined): void => {
      if (bytes === undefined) return;
      try {
        const e = JSON.parse(bytes.toString('utf8')) as Partial<Record<keyof RetentionEntry, unknown>>;
        if (typeof e.streamId !== 'string' || !isCount(e.last) || e.last < 1 || typeof e.lastHash !== 'string' || !HEX64.test(e.lastHash)) return;
        const key = streamKey(e.streamId);
        if (!known.has(key) && !here.has(key)) return;
        entries.push({ streamId: key, file: keep(String(e.file)), last: e.last, lastHash: own(e.lastHash), deletedAt: keep(String(e.deletedAt)) });
      } catch {
        /* a torn last line of the log: ignored, so that cut is reported as an ordinary deletion */
      }
    };
    if (opened !== undefined) {
      try {
        for await (const _ of splitLines(opened.fh, onLine, MAX_RETENTION_LINE_BYTES));
      } catch {
        /* unreadable: as if absent */
      } finally {
        await opened.fh.close();
      }
    }
    for (const [k, v] of here) if (!states.has(k)) states.set(k, v);
    for (const e of entries) {
      let l = retained.get(e.streamId);
      if (l === undefined) retained.set(e.streamId, (l = []));
      l.push({ ...e, log: path, stateFile: join(stateDir, `${e.streamId}.state`), state: here.get(e.streamId) });
    }
  }
  return { retained, states };
}
