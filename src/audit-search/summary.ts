/** The closing line of search on stderr: what was read and what the verifier found over the same inputs. */
import { countProblems, unverifiedStreams, type VerifyReport } from '../verify/verifier.js';
import type { ReadCounts } from './parse-line.js';

const IRREGULAR: Record<string, string> = { match: 'matches', copy: 'copies' };
const plural = (n: number, word: string): string => `${n} ${n === 1 ? word : (IRREGULAR[word] ?? `${word}s`)}`;

/**
 * `limit`: the search stopped there (so only part of the files was searched). `changed`: matches that are not the
 * records verified (their files changed after the verifier read them); `unknown`: matches written after it read them.
 */
export function summaryLine(matches: number, limit: number | undefined, report: VerifyReport, counts: ReadCounts, changed = 0, unknown = 0): string {
  const distinct = report.streams.reduce((n, s) => n + s.count, 0);
  let head = plural(matches, 'match');
  if (limit !== undefined && matches >= limit) head += ` (stopped at --limit ${limit})`;
  const scope = `${plural(report.files, 'file')}, ${plural(report.records, 'audit record')} (${distinct} distinct) in ${plural(report.streams.length, 'stream')}`;
  const notes: string[] = [];
  if (counts.unreadable > 0) notes.push(`unreadable lines or records skipped: ${counts.unreadable}`);
  const broken = report.streams.filter((s) => !s.ok).length;
  // Malformed and torn lines are the file-level problems; past the report's listing limit a closing problem stands
  // for many (found in review: counted as one malformed line each, a closing one of another kind too).
  const { byKind } = countProblems(report.problems);
  const fileLevel = (byKind.get('malformed') ?? 0) + (byKind.get('torn') ?? 0);
  if (broken > 0) notes.push(`${plural(broken, 'stream')} with integrity problems (see otel-audit verify)`);
  else if (report.streams.length > 0 && changed === 0 && unknown === 0) notes.push('every chain verifies');
  if (changed > 0) notes.push(`${plural(changed, 'match')} not the record verified: the files changed while searching (run otel-audit verify)`);
  // Found in review: a search of a journal being written said "every chain verifies" above matches marked unknown.
  if (unknown > 0) notes.push(`${plural(unknown, 'match')} written after the verifier read the files: chain unknown (run otel-audit verify)`);
  if (fileLevel > 0) notes.push(`${plural(fileLevel, 'malformed or torn line')}`);
  const unverified = unverifiedStreams(report).length;
  if (unverified > 0) notes.push(`${plural(unverified, 'stream')} with no record MAC/signature verified under the given keys: unsigned, or stripped and rewritten (see otel-audit verify)`);
  return `${head}; ${scope}; ${notes.join('; ')}`;
}
