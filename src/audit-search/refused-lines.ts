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

/**
 * What the verifier refuses of a line: all of it (true), some of its records (their places in the line, as
 * `resourceLogs[i].scopeLogs[j].logRecords[k]`: a record whose stream id or sequence number is not valid, say), or
 * nothing (false). Found in review: search dropped every record of a line of which the verifier refused one.
 */
export type Refusal = boolean | ReadonlySet<string>;

/** What the verifier refuses of this line (decoded text, without its line break). */
export function refusedByVerifier(file: string, line: number, text: string): Refusal {
  let whole = false;
  let places: Set<string> | undefined;
  lineItemsOfBytes(file, Buffer.from(text, 'utf8'), line, true, LINE_CHECK, (item) => {
    if (item.kind !== 'malformed' && item.kind !== 'torn') return;
    if (item.record !== undefined) (places ??= new Set()).add(item.record);
    else whole = true;
  });
  return whole || (places ?? false);
}

export type RefusedLine = (file: string, line: number, text: string) => Refusal;

/**
 * The lines `report` refuses; checked one by one when the report could not list them all. A `torn` line (the last,
 * without its line break) is checked again as read now: a writer may have finished it since the verifier ran. A
 * `malformed` one is checked again too, for which of its records are refused (the report names the line only).
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
    if (kind !== undefined || !complete) {
      const refused = refusedByVerifier(file, line, text);
      if (kind === 'malformed') return refused === false ? true : refused; // the verifier refused it: never shown whole
      if (refused === false && kind === 'torn') onRecovered?.(); // finished since the verifier read it
      return refused;
    }
    return false;
  };
}
