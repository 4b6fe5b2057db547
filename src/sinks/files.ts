/**
 * Names and permissions of everything written under OTEL_AUDIT_DIR (ARCHITECTURE.md §4):
 *   audit-<streamId>-<segment>.jsonl   journal/spool segments, OTLP/JSON lines, one writer process each
 *   state/<streamId>.state             delivery state (JSON) of a stream (acknowledged sequence number, owner pid)
 *   state/<streamId>.lock              held by the process replaying an orphaned stream
 *   state/retention.log                one JSON line per segment deleted by retention, binding the cut to a hash
 *   rejected/                          batches the collector refused for good (4xx, rejected records), kept
 *   quarantine/                        torn or corrupt bytes set aside at start-up, never deleted by us
 * Files 0600, directories 0700: audit data and delivery state are nobody else's business. Nothing in the tree
 * is followed or trusted by name (durable.ts); `prepareAuditDir` checks the whole tree at start-up.
 */
import { lstatSync, readdirSync, unlinkSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { AuditConfigError } from '../core/errors.js';
import { canWriteIn, checkDir, checkFile, ensureDir } from './durable.js';

export { DIR_MODE, FILE_MODE } from './durable.js';

const SEGMENT_RE = /^audit-([0-9a-f-]{36})-(\d{6,})\.jsonl$/;

export function segmentName(streamId: string, segment: number): string {
  return `audit-${streamId}-${String(segment).padStart(6, '0')}.jsonl`;
}

export function parseSegmentName(name: string): { streamId: string; segment: number } | undefined {
  const m = SEGMENT_RE.exec(name);
  return m ? { streamId: m[1]!, segment: Number(m[2]) } : undefined;
}

export const stateDir = (dir: string): string => join(dir, 'state');
export const rejectedDir = (dir: string): string => join(dir, 'rejected');
export const quarantineDir = (dir: string): string => join(dir, 'quarantine');
export const statePath = (dir: string, streamId: string): string => join(stateDir(dir), `${streamId}.state`);
export const retentionLogPath = (dir: string): string => join(stateDir(dir), 'retention.log');
export const lockPath = (dir: string, streamId: string): string => join(stateDir(dir), `${streamId}.lock`);

/**
 * Makes sure OTEL_AUDIT_DIR and `state/` exist (created 0700, their parents fsynced) and are directories of
 * ours that nobody else can write. Throws AuditConfigError when they are not, an I/O error when it fails.
 */
export function ensureDirs(dir: string): void {
  ensureDir(dir, { top: true });
  ensureDir(stateDir(dir));
}

/** Makes sure a subdirectory of OTEL_AUDIT_DIR (`quarantine/`, `rejected/`) exists and is safe, as ensureDirs. */
export function ensureSubdir(dir: string, sub: string): void {
  ensureDir(dir, { top: true });
  ensureDir(sub);
}

/**
 * lstat, or undefined when the entry is gone (another process may remove its own files meanwhile) or cannot be
 * looked at (then it cannot be opened either: the first write reports that).
 */
function lstatMaybe(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/** Errors creating a directory that a disk with room again would not give: a fault, not a wrong path. */
const DISK_FAULTS: ReadonlySet<string> = new Set(['ENOSPC', 'EDQUOT', 'EIO']);

/**
 * Start-up check of OTEL_AUDIT_DIR, before anything in it is read or written (as sshd's StrictModes): the
 * directory and its subdirectories must be real directories owned by our euid and not writable by group or
 * others (missing ones are created 0700); every journal segment and every file in `state/` must be a regular
 * file of ours — segments, state files and the retention log with a single link. Anything else (a symbolic
 * link, a FIFO, a foreign file, a hard link to a file elsewhere) is refused with an AuditConfigError naming
 * the path and the fix, rather than be followed, written through, or left to block a read.
 *
 * An OTEL_AUDIT_DIR that does not exist and cannot be created (no permission, a read-only or special file system,
 * a file in its path) is refused too: a wrong path or mount, which no journal write will ever get past. Other I/O
 * errors (a full disk) are not a refusal: the journal reports them at its first write and records go to the
 * collector from memory meanwhile, as for any disk fault.
 */
export function prepareAuditDir(dir: string): void {
  const unlessRefused = (f: () => void): boolean => {
    try {
      f();
      return true;
    } catch (e) {
      if (e instanceof AuditConfigError) throw e;
      return false; // an I/O fault: the first write reports it
    }
  };
  const existed = lstatMaybe(dir) !== undefined;
  try {
    ensureDir(dir, { top: true });
  } catch (e) {
    if (e instanceof AuditConfigError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (!existed && (code === undefined || !DISK_FAULTS.has(code))) {
      throw new AuditConfigError(
        `otel-audit: OTEL_AUDIT_DIR ${dir} does not exist and cannot be created (${(e as Error).message}): create it, owned by the user the app runs as, mode 0700, or point OTEL_AUDIT_DIR at a writable directory`,
        { cause: e },
      );
    }
    return; // an I/O fault: the first write reports it
  }
  if (!canWriteIn(dir)) {
    // Ours and safe, but no journal file can ever be created in it: every record would go to the collector from
    // memory only, with a loss at shutdown during an outage. A wrong mode or mount, as a path that cannot be created.
    const mode = (lstatMaybe(dir)?.mode ?? 0) & 0o7777;
    throw new AuditConfigError(
      `otel-audit: OTEL_AUDIT_DIR ${dir} exists but this process cannot create files in it (mode ${mode.toString(8).padStart(4, '0')}${process.geteuid ? `, euid ${process.geteuid()}` : ''}, or a read-only file system): chmod 700 ${dir}, or point OTEL_AUDIT_DIR at a writable directory`,
    );
  }
  unlessRefused(() => ensureDir(stateDir(dir)));
  for (const sub of [quarantineDir(dir), rejectedDir(dir)]) if (lstatMaybe(sub) !== undefined) checkDir(sub);
  const scan = (where: string, want: (name: string) => { singleLink: boolean } | undefined): void => {
    let names: string[];
    try {
      names = readdirSync(where);
    } catch {
      return; // unreadable: the first write reports it
    }
    for (const name of names) {
      const rule = want(name);
      if (rule === undefined) continue;
      const path = join(where, name);
      const st = lstatMaybe(path);
      if (st !== undefined) checkFile(path, st, rule);
    }
  };
  scan(dir, (name) => (parseSegmentName(name) !== undefined ? { singleLink: true } : undefined));
  for (const sub of [stateDir(dir), quarantineDir(dir), rejectedDir(dir)]) removeStaleTemps(sub);
  // A lock is link(2)ed from its temp file, so it has two links for a moment while another process claims it.
  // `<stream>.alive` is a live owner's socket (stream-state.ts listenAlive): never opened, written or read as a file.
  scan(stateDir(dir), (name) => (name.endsWith('.alive') ? undefined : { singleLink: name.endsWith('.state') || name === 'retention.log' }));
}

/** A temporary file of durable.ts or stream-state.ts: `<name>.[<pid>.]<24 hex digits>.tmp`. */
const TEMP = /\.[0-9a-f]{24}\.tmp$/;
/** Older than this, no process is still writing it: a write and its link or rename take milliseconds. */
const STALE_TEMP_MS = 10 * 60_000;

/**
 * Removes temporary files a crash left between their write and their link or rename (a batch set aside, torn
 * bytes, a state file): no reader takes them for anything, but each is as large as what it held, and they would
 * pile up crash after crash. Only regular files of ours older than STALE_TEMP_MS: another process sharing the
 * directory may be writing a fresh one.
 */
function removeStaleTemps(where: string): void {
  let names: string[];
  try {
    names = readdirSync(where);
  } catch {
    return;
  }
  for (const name of names) {
    if (!TEMP.test(name)) continue;
    const path = join(where, name);
    const st = lstatMaybe(path);
    if (st === undefined || !st.isFile() || Date.now() - st.mtimeMs < STALE_TEMP_MS) continue;
    try {
      checkFile(path, st, { singleLink: false });
      unlinkSync(path);
    } catch {
      /* not ours, or gone meanwhile: left alone */
    }
  }
}

/** Journal segments by stream id, each list in segment order; streams oldest first. */
export function listStreams(dir: string): Map<string, string[]> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return new Map();
  }
  const byStream = new Map<string, { seg: number; path: string }[]>();
  for (const name of names) {
    const p = parseSegmentName(name);
    if (p === undefined) continue;
    let l = byStream.get(p.streamId);
    if (l === undefined) byStream.set(p.streamId, (l = []));
    l.push({ seg: p.segment, path: join(dir, name) });
  }
  const mtime = (path: string): number => {
    try {
      return lstatSync(path).mtimeMs; // never through a link
    } catch {
      return 0;
    }
  };
  const entries = [...byStream.entries()].map(([id, l]) => {
    l.sort((a, b) => a.seg - b.seg);
    return { id, paths: l.map((x) => x.path), t: mtime(l[0]!.path) };
  });
  entries.sort((a, b) => a.t - b.t);
  return new Map(entries.map((e) => [e.id, e.paths]));
}
