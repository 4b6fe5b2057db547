/**
 * Lines the verifier refuses (`malformed`, `torn`): search and tail must not show their records. Their own reader
 * (parse-line.ts) is laxer — a line with an unexpected member, a non-object entry or a record that has no
 * canonical form still parses — and a record shown from such a line would take the place of the genuine copy of its
 * (stream, seq), with the chain verdict of the genuine one.
 *
 * From the verifier's report when it lists every such line; otherwise (past the report's bound on listed problems,
 * or for lines appended after it ran: tail --follow) each line is checked the verifier's way.
 */
import { lineItemsOfBytes } from '../verify/line-items.js';
import { resolve } from '../verify/record-checks.js';
import type { VerifyReport } from '../verify/verifier.js';

const LINE_CHECK = resolve({});

/** Does the verifier refuse this line (decoded text, without its line break)? */
export function refusedByVerifier(file: string, line: number, text: string): boolean {
  let refused = false;
  lineItemsOfBytes(file, Buffer.from(text, 'utf8'), line, true, LINE_CHECK, (item) => {
    if (item.kind === 'malformed' || item.kind === 'torn') refused = true;
  });
  return refused;
}

export type RefusedLine = (file: string, line: number, text: string) => boolean;

/**
 * The lines `report` refuses; checked one by one when the report could not list them all. A `torn` line (the last,
 * without its line break) is checked again as read now: a writer may have finished it since the verifier ran.
 */
export function refusedLines(report: VerifyReport, onRecovered?: () => void): RefusedLine {
  const listed = new Map<string, Map<number, 'malformed' | 'torn'>>();
  let complete = true;
  for (const p of report.problems) {
    if ((p.kind !== 'malformed' && p.kind !== 'torn') || p.stream !== undefined) continue;
    if (p.file === undefined || p.line === undefined) {
      complete = false; // "N more malformed problems not listed"
      continue;
    }
    let lines = listed.get(p.file);
    if (lines === undefined) listed.set(p.file, (lines = new Map()));
    lines.set(p.line, p.kind);
  }
  return (file, line, text) => {
    const kind = listed.get(file)?.get(line);
    if (kind === 'malformed') return true;
    if (kind !== 'torn' && complete) return false;
    const refused = refusedByVerifier(file, line, text);
    if (!refused && kind === 'torn') onRecovered?.(); // finished since the verifier read it
    return refused;
  };
}
