/**
 * Retention (ARCHITECTURE.md §4): keep at most `maxFiles` journal segments in the directory, deleting the oldest
 * first — but only segments whose every record the collector has acknowledged: this process's own closed
 * segments up to its acknowledged sequence number, and segments of streams whose state says `done`.
 * Unacknowledged data is never deleted; when that keeps the directory above the bound, it says so.
 */
import { diagLog } from '../core/diag-log.js';
import { lstatSync, rmSync } from 'node:fs';
import { basename } from 'node:path';
import { canonicalFromOtlp } from '../chain/canonical.js';
import { hashCanonical } from '../chain/hash.js';
import { ATTR_SEQ_NUMBER, ATTR_SEQ_STREAM_ID } from '../core/attributes.js';
import { intAttribute, stringAttribute } from '../otlp/decode.js';
import type { ExportLogsServiceRequest, OtlpLogRecord } from '../otlp/types.js';
import { readLastLine } from './journal-reader.js';
import { AuditConfigError, errorText } from '../core/errors.js';
import { sayLoudly } from '../core/say.js';
import { durableAppend } from './durable.js';
import { listStreams, retentionLogPath } from './files.js';
import { readState } from './stream-state.js';
import { forgetRetiredStreams, markRetired } from './retired-streams.js';
import type { RecordSigner } from '../integrity/sign.js';
import { signRetentionWith, type RetentionIntegrity } from '../integrity/retention-signature.js';

export interface OwnStream {
  streamId: string;
  acked: number;
  /** The live journal's segments, in order; the last one is active. */
  segments: readonly { path: string; last: number }[];
  /**
   * Persists the stream's state with `acked`, called once before the first of its segments is deleted: a
   * verifier takes a retention.log entry as a cut only when the state file beside it records the removed
   * records acknowledged (docs/integrity.md §7.2 step 5), and the state is otherwise saved up to a second later.
   * Returns false when it could not: no segment of the stream is deleted then.
   */
  saveAcked?: () => boolean;
  /** One of them was deleted: the journal forgets it (its entry and line index). */
  forget?(path: string): void;
}

/**
 * `signers`: the producer's keys (record, checkpoint); each retention.log line is signed with each of them
 * (integrity/retention-signature.ts), so that a line appended by hand does not pass for retention.
 */
export function enforceRetention(dir: string, maxFiles: number, own: OwnStream, signers: readonly RecordSigner[] = []): void {
  const streams = listStreams(dir);
  const all: { path: string; streamId: string; mtime: number; last: boolean }[] = [];
  for (const [streamId, paths] of streams) {
    paths.forEach((path, i) => {
      let mtime = 0;
      try {
        mtime = lstatSync(path).mtimeMs; // never through a link
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
  let saved: boolean | undefined;
  let deleted = 0;
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
    if (f.streamId === own.streamId) {
      // Deleted without a state file that backs the cut, its acknowledged records would read as deleted ones.
      saved ??= own.saveAcked?.() ?? true;
      if (!saved) continue;
    }
    if (!recordCut(dir, f.streamId, f.path, signers)) continue;
    rmSync(f.path, { force: true });
    if (f.streamId === own.streamId) own.forget?.(f.path);
    else if (f.last) markRetired(dir, f.streamId); // removed whole now
    excess--;
    deleted++;
  }
  // A stream removed whole leaves its state file, which may now back nothing any more.
  if (deleted > 0) forgetRetiredStreams(dir, own.streamId);
  if (excess > 0) {
    const why = saved === false ? ' or the stream state that backs a deletion could not be written' : '';
    diagLog('warn', `otel-audit: ${excess} journal file(s) above OTEL_AUDIT_MAX_FILES kept: they hold records not yet acknowledged${why}`);
  }
}


/** One line of state/retention.log: the stream's records up to `last` were deleted; `lastHash` is the hash of
 * record `last`, which the next remaining record carries as its previous_hash (so the cut is verifiable). */
export interface RetentionEntry {
  streamId: string;
  file: string;
  last: number;
  lastHash: string;
  deletedAt: string;
  /** MAC/signature of the line with each of the producer's keys, one entry or a list (absent: no key configured, or an older line). */
  integrity?: RetentionIntegrity | RetentionIntegrity[];
}

/** Appends the retention entry for a segment about to be deleted; false (keep the file) if it cannot. */
function recordCut(dir: string, streamId: string, path: string, signers: readonly RecordSigner[]): boolean {
  let last: OtlpLogRecord | undefined;
  let lastSeq = 0;
  try {
    const line = readLastLine(path);
    if (line === undefined) return true; // empty segment: nothing to account for
    const req = JSON.parse(line) as ExportLogsServiceRequest;
    for (const rl of req.resourceLogs ?? [])
      for (const sl of rl.scopeLogs ?? [])
        for (const r of sl.logRecords ?? []) {
          const seq = intAttribute(r, ATTR_SEQ_NUMBER);
          if (stringAttribute(r, ATTR_SEQ_STREAM_ID) === streamId && seq !== undefined && seq > lastSeq) {
            lastSeq = seq;
            last = r;
          }
        }
    if (last === undefined) return true;
    const entry: RetentionEntry = { streamId, file: basename(path), last: lastSeq, lastHash: hashCanonical(canonicalFromOtlp(last)), deletedAt: new Date().toISOString() };
    if (signers.length > 0) entry.integrity = signRetentionWith(signers, entry);
    // Durable before the segment goes: a cut the log does not show would read as deleted records. Appended
    // only to a regular file of ours with one link (never through a link or a FIFO planted under its name).
    durableAppend(retentionLogPath(dir), JSON.stringify(entry) + '\n');
    return true;
  } catch (e) {
    const msg = `otel-audit: retention kept ${basename(path)}: could not record its cut (${errorText(e)})`;
    if (e instanceof AuditConfigError) {
      // Something was planted in the directory: say it loudly, not just in the diag log.
      sayLoudly(msg);
    } else diagLog('warn', msg);
    return false;
  }
}
