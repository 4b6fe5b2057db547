/**
 * The time of each stream's first and last record (as the verifier's report names them: its `first` and
 * `last` seq), for the report's span column and timeline. The report holds no times (the verifier keeps none
 * per record), so the inputs are read once more, keeping two numbers per stream.
 */
import { reportedStreamKey, VERIFIER_KEPT_CHARS } from '../audit-search/chain-status.js';
import { newReadCounts } from '../audit-search/parse-line.js';
import { readAuditRecords } from '../audit-search/read-files.js';
import { listInputFiles, type VerifyReport } from '../verify/verifier.js';

export interface StreamTimes {
  /** Nanoseconds since the epoch of the record at the stream's first / last seq (its first copy read). */
  first?: bigint;
  last?: bigint;
}

/** Times per stream id of `report`; streams whose records carry no time are absent. Throws on I/O errors. */
export async function collectStreamTimes(paths: readonly string[], report: VerifyReport): Promise<Map<string, StreamTimes>> {
  const want = new Map<string, { first: number; last: number }>();
  for (const s of report.streams) want.set(s.streamId, { first: s.first, last: s.last });
  const out = new Map<string, StreamTimes>();
  const named = new Set(paths);
  const files = (await listInputFiles(paths)).map((path) => ({ path, follow: named.has(path) }));
  for await (const batch of readAuditRecords(files, newReadCounts())) {
    for (const r of batch) {
      // The report names a stream id longer than the verifier keeps by its bounded form (chain-status.ts).
      const id = want.has(r.streamId) || r.streamId.length <= VERIFIER_KEPT_CHARS ? r.streamId : reportedStreamKey(r.streamId);
      const w = want.get(id);
      if (w === undefined || r.timeUnixNano === undefined) continue;
      let t = out.get(id);
      if (r.sequence === w.first && t?.first === undefined) out.set(id, (t = { ...t, first: r.timeUnixNano }));
      if (r.sequence === w.last && t?.last === undefined) out.set(id, { ...t, last: r.timeUnixNano });
    }
  }
  return out;
}
