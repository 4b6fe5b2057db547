/** The closing line of search on stderr: what was read and what the verifier found over the same inputs. */
import type { VerifyReport } from '../verify/verifier.js';
import type { ReadCounts } from './parse-line.js';

const IRREGULAR: Record<string, string> = { match: 'matches', copy: 'copies' };
const plural = (n: number, word: string): string => `${n} ${n === 1 ? word : (IRREGULAR[word] ?? `${word}s`)}`;

/** `limit`: the search stopped there (so only part of the files was searched). */
export function summaryLine(matches: number, limit: number | undefined, report: VerifyReport, counts: ReadCounts): string {
  const distinct = report.streams.reduce((n, s) => n + s.count, 0);
  let head = plural(matches, 'match');
  if (limit !== undefined && matches >= limit) head += ` (stopped at --limit ${limit})`;
  const scope = `${plural(report.files, 'file')}, ${plural(report.records, 'audit record')} (${distinct} distinct) in ${plural(report.streams.length, 'stream')}`;
  const notes: string[] = [];
  if (counts.unreadable > 0) notes.push(`unreadable lines or records skipped: ${counts.unreadable}`);
  const broken = report.streams.filter((s) => !s.ok).length;
  // Past the report's listing limit a closing problem stands for many (Problem.omitted), and one of another kind has
  // no stream either (found in review: counted as one malformed line each).
  let fileLevel = 0;
  for (const p of report.problems) if ((p.kind === 'malformed' || p.kind === 'torn') && p.stream === undefined) fileLevel += p.omitted?.errors ?? (p.severity === 'error' ? 1 : 0);
  notes.push(broken === 0 ? 'every chain verifies' : `${plural(broken, 'stream')} with integrity problems (see otel-audit verify)`);
  if (fileLevel > 0) notes.push(`${plural(fileLevel, 'malformed or torn line')}`);
  const unverified = report.streams.filter((s) => s.signatures.verified === false).length;
  if (unverified > 0) notes.push(`${plural(unverified, 'stream')} with no record MAC/signature verified under the given keys: unsigned, or stripped and rewritten (see otel-audit verify)`);
  return `${head}; ${scope}; ${notes.join('; ')}`;
}
