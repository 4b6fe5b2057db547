/**
 * Delivery state of one stream, persisted next to its journal: which sequence number the collector has
 * acknowledged, and which process owns the stream. Written atomically (temp file + rename) so a crash leaves
 * either the old or the new state, never a torn one. A stale `acked` only means re-sending some records
 * (at-least-once), never skipping one.
 */
import * as fs from 'node:fs';
import { hostname } from 'node:os';
import { FILE_MODE, ensureDirs, lockPath, statePath } from './files.js';

export interface StreamState {
  version: 1;
  streamId: string;
  pid: number;
  host: string;
  startedAt: string;
  /** Highest sequence number acknowledged by the collector (0: none). */
  acked: number;
  /** Highest sequence number accepted by the processor, as far as known. */
  last: number;
  /** The stream was closed by shutdown (its end record is in the journal). */
  ended: boolean;
  /** Every record up to the stream's end is acknowledged: its segments may be deleted by retention. */
  done: boolean;
  /** The stream this process started after, when it replayed one (a restart link for readers). */
  previousStreamId?: string;
}

export function newState(streamId: string): StreamState {
  return {
    version: 1,
    streamId,
    pid: process.pid,
    host: hostname(),
    startedAt: new Date().toISOString(),
    acked: 0,
    last: 0,
    ended: false,
    done: false,
  };
}

export function writeState(dir: string, state: StreamState): void {
  ensureDirs(dir);
  const path = statePath(dir, state.streamId);
  const tmp = `${path}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(state) + '\n', { mode: FILE_MODE });
  fs.renameSync(tmp, path);
}

/** Reads a state file; undefined when absent or unreadable (treated as "nothing acknowledged"). */
export function readState(dir: string, streamId: string): StreamState | undefined {
  try {
    const s = JSON.parse(fs.readFileSync(statePath(dir, streamId), 'utf8')) as Partial<StreamState>;
    if (s.version !== 1 || s.streamId !== streamId || typeof s.acked !== 'number') return undefined;
    return s as StreamState;
  } catch {
    return undefined;
  }
}

/** Is the process that wrote this state still alive on this host? */
export function isOwnerAlive(state: Pick<StreamState, 'pid' | 'host'>): boolean {
  if (state.host !== hostname()) return true; // cannot tell; never steal another host's stream
  if (state.pid === process.pid) return true;
  try {
    process.kill(state.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Claims the right to replay an orphaned stream: an O_EXCL lock file holding our pid. A lock whose holder
 * died is taken over. Returns a release function, or undefined when another live process holds it.
 */
export function claimReplay(dir: string, streamId: string): (() => void) | undefined {
  ensureDirs(dir);
  const path = lockPath(dir, streamId);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = fs.openSync(path, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, FILE_MODE);
      fs.writeSync(fd, JSON.stringify({ pid: process.pid, host: hostname() }));
      fs.closeSync(fd);
      return () => fs.rmSync(path, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let holder: { pid: number; host: string } | undefined;
      try {
        holder = JSON.parse(fs.readFileSync(path, 'utf8')) as { pid: number; host: string };
      } catch {
        holder = undefined; // torn lock file: its writer died mid-write
      }
      if (holder !== undefined && isOwnerAlive(holder)) return undefined;
      fs.rmSync(path, { force: true });
    }
  }
  return undefined;
}
