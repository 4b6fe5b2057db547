/**
 * The search engine: the verifier runs over the inputs first (its per-stream problems give each match its
 * chain verdict, chain-status.ts), then the same files are streamed once more, copies of a (stream, seq)
 * folded to the first in reading order, the filters applied, and matches handed on a chunk at a time as they
 * are found. What is held: the verifier's report (per stream, plus its problems), the seen ranges per stream
 * (seen-sequences.ts) and one chunk of records — never all records, never all matches.
 */
import { listInputFiles, verifyFiles, type VerifyReport } from '../verify/verifier.js';
import { ChainIndex, type CheckpointMode } from './chain-status.js';
import { matchesFilter, resourceMatches, type SearchFilter } from './filters.js';
import type { LoadedKeys } from '../verify/key-files.js';
import type { Match } from './match.js';
import { newReadCounts, type ReadCounts } from './parse-line.js';
import { readAuditRecords } from './read-files.js';
import { refusedLines } from './refused-lines.js';
import { SeenSequences } from './seen-sequences.js';
import { hashOrNull } from './copy-check.js';

/** First copies' hashes kept for streams with integrity errors (about 150 bytes each). */
const MAX_FIRST_HASHES = 1_000_000;

export interface SearchOptions {
  filter: SearchFilter;
  /** Stop after this many matches (the first ones in reading order). */
  limit?: number;
  keys?: LoadedKeys;
  /** Passed to the verifier (inputs whose writer does not keep order within a file). */
  allowReorder?: boolean;
  /** Told about each entry of an input directory that is not read (see VerifyOptions.onSkip). */
  onSkip?: (path: string, reason: string) => void;
  /** @internal For the tests: runs between the verifier's read of the files and search's own (files that change meanwhile). */
  afterVerify?: () => void;
}

/** Filled in while the search runs. */
export interface SearchProgress {
  report: VerifyReport | undefined;
  counts: ReadCounts;
  /** Copies folded into an earlier one of the same stream and seq. */
  duplicates: number;
  matches: number;
  /** Matches that are not the record verified: their file changed after the verifier read it (ChainIndex.changed). */
  changed: number;
  /** Matches written after the verifier read the files: chain `unknown`. */
  unknown: number;
}

export const newSearchProgress = (): SearchProgress => ({ report: undefined, counts: newReadCounts(), duplicates: 0, matches: 0, changed: 0, unknown: 0 });

export function checkpointMode(keys: LoadedKeys | undefined): CheckpointMode {
  if (keys === undefined || keys.pubkeys.length + keys.hmacSecrets.length === 0) return 'off';
  return keys.pubkeys.some((k) => k.algorithm === 'EdDSA') ? 'checked' : 'unchecked';
}

/** The verifier's report over `paths` and the index of it that gives verdicts. Throws VerifyInputError. */
export async function verifyForSearch(paths: readonly string[], options: Pick<SearchOptions, 'keys' | 'allowReorder' | 'onSkip'>): Promise<{ report: VerifyReport; index: ChainIndex }> {
  let hashAt: ((streamId: string, seq: number) => string | undefined) | undefined;
  const report = await verifyFiles(paths, {
    allowReorder: options.allowReorder === true,
    pubkeys: options.keys?.pubkeys ?? [],
    hmacSecrets: options.keys?.hmacSecrets ?? [],
    ...(options.onSkip ? { onSkip: options.onSkip } : {}),
    // The files are read again for the matches: a verdict holds only for the very record verified.
    onChainHashes: (f) => (hashAt = f),
  });
  return { report, index: new ChainIndex(report, checkpointMode(options.keys), hashAt) };
}

/**
 * Yields the matches over `paths`, one array per chunk read (possibly empty arrays are skipped). Throws
 * VerifyInputError for a path that cannot be read; bad content is never an error.
 */
export async function* searchFiles(paths: readonly string[], options: SearchOptions, progress: SearchProgress): AsyncGenerator<Match[]> {
  const { report, index } = await verifyForSearch(paths, options);
  options.afterVerify?.();
  progress.report = report;
  // The verifier's file list, in its reading order; a path named on the command line is followed if a link.
  const named = new Set(paths);
  const files = (await listInputFiles(paths)).map((path) => ({ path, follow: named.has(path) }));
  const seen = new SeenSequences();
  // Copies of a stream with an integrity error are folded only when byte-identical to the first (found in review: a
  // changed copy read second was hidden, a search for its planted value said "0 matches"): the first copy's hash of
  // each of its records, up to a bound, past which later copies are shown rather than hidden.
  const firstHash = new Map<string, Map<number, string | null>>();
  let hashesKept = 0;
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  if (limit <= 0) return;
  for await (const batch of readAuditRecords(files, progress.counts, refusedLines(report), options.onSkip)) {
    const out: Match[] = [];
    for (const r of batch) {
      const troubled = index.troubled(r.streamId);
      if (!seen.add(r.streamId, r.sequence)) {
        const first = troubled ? firstHash.get(r.streamId)?.get(r.sequence) : undefined;
        if (!troubled || (first !== undefined && first !== null && first === hashOrNull(r.record))) {
          progress.duplicates++;
          continue;
        }
        // Another version of a record read before: a record of its own here, its verdict says it is not the one verified.
      } else if (troubled && hashesKept < MAX_FIRST_HASHES) {
        let m = firstHash.get(r.streamId);
        if (m === undefined) firstHash.set(r.streamId, (m = new Map()));
        m.set(r.sequence, hashOrNull(r.record));
        hashesKept++;
      }
      if (!matchesFilter(options.filter, r)) continue;
      const unhashed = resourceMatches(options.filter, r);
      const verdict = index.verdict(r.streamId, r.sequence, r);
      if (verdict.chain === 'unknown') progress.unknown++;
      out.push({ record: r, verdict, ...(unhashed === undefined ? {} : { unhashed }) });
      progress.changed = index.changed;
      if (++progress.matches >= limit) {
        yield out;
        return;
      }
    }
    if (out.length > 0) yield out;
  }
}
