/**
 * Names and permissions of everything written under OTEL_AUDIT_DIR (DESIGN §4):
 *   audit-<streamId>-<segment>.jsonl   journal/spool segments, OTLP/JSON lines, one writer process each
 *   state/<streamId>.state             delivery state (JSON) of a stream (acknowledged sequence number, owner pid)
 *   state/<streamId>.lock              held by the process replaying an orphaned stream
 *   state/retention.log                one JSON line per segment deleted by retention, binding the cut to a hash
 *   rejected/                          batches the collector refused for good (4xx, rejected records), kept
 *   quarantine/                        torn or corrupt bytes set aside at start-up, never deleted by us
 * Files 0600, directories 0700: audit data and delivery state are nobody else's business.
 */
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const FILE_MODE = 0o600;
export const DIR_MODE = 0o700;

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

/** Creates the directory tree with owner-only permissions (mode applies to directories we create). */
export function ensureDirs(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  mkdirSync(stateDir(dir), { recursive: true, mode: DIR_MODE });
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
      return statSync(path).mtimeMs;
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
