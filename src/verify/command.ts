/**
 * `otel-audit verify [--json] [--allow-reorder] <file|dir>...` (DESIGN §7).
 *
 * Exit status: 0 every chain intact; 1 integrity failure (any error-severity problem, malformed and torn lines
 * included); 2 usage or I/O error (no path, unknown option, unreadable path, no input files found).
 *
 * `--json` prints one JSON document, the `VerifyReport`:
 *
 *   {
 *     "ok": boolean,          // true when no problem has severity "error"
 *     "files": number,        // files read (directories expanded to their *.jsonl / *.json, quarantine/ skipped)
 *     "records": number,      // audit records read, every copy counted
 *     "nonAudit": number,     // records without audit.sequence.stream_id, ignored
 *     "streams": [{
 *       "streamId": string,   // audit.sequence.stream_id
 *       "first": number,      // lowest / highest sequence number accepted into the chain
 *       "last": number,
 *       "count": number,      // distinct records in the chain (duplicates and inserted records excluded)
 *       "ended": boolean,     // closed by an audit.sequence.end record; false (still open) is not an error
 *       "files": [string],    // files holding records of the stream, in reading order
 *       "ok": boolean         // no error-severity problem for this stream
 *     }],
 *     "problems": [{
 *       "kind": "modified" | "deleted" | "inserted" | "reordered" | "duplicate" | "malformed" | "torn"
 *             | "truncated" | "bad_signature",
 *       "severity": "error" | "info",  // "info" (identical duplicates) does not fail verification
 *       "stream"?: string,    // absent for malformed/torn lines, whose stream is unknown
 *       "seq"?: number,       // for "deleted": the first missing sequence number
 *       "recordId"?: string,  // audit.record.id; for "deleted", the missing record's id when its successor names it
 *       "file"?: string,      // where the evidence is; for "deleted", the record after the gap
 *       "line"?: number,      // 1-based
 *       "message": string     // what was found and why this record is blamed
 *     }]
 *   }
 *
 * Problems come file-level first (malformed/torn, in reading order), then per stream by sequence number.
 * The content of the last record of a stream is not covered by the chain (no successor records its hash).
 */
import { verifyFiles, VerifyInputError, type Problem, type StreamSummary, type VerifyReport } from './verifier.js';

export const VERIFY_USAGE = 'usage: otel-audit verify [--json] [--allow-reorder] <file|dir>...';

interface VerifyArgs {
  json: boolean;
  allowReorder: boolean;
  paths: string[];
}

/** Parses the arguments after `verify`; returns an error message for bad usage. */
function parseArgs(argv: readonly string[]): VerifyArgs | { help: true } | { error: string } {
  const args: VerifyArgs = { json: false, allowReorder: false, paths: [] };
  let optionsDone = false;
  for (const a of argv) {
    if (optionsDone || !a.startsWith('-') || a === '-') args.paths.push(a);
    else if (a === '--') optionsDone = true;
    else if (a === '--json') args.json = true;
    else if (a === '--allow-reorder') args.allowReorder = true;
    else if (a === '-h' || a === '--help') return { help: true };
    else return { error: `unknown option ${JSON.stringify(a)}` };
  }
  if (args.paths.length === 0) return { error: 'no file or directory given' };
  return args;
}

function problemLine(p: Problem): string {
  let s = p.kind.toUpperCase() + (p.severity === 'info' ? ' (info)' : '');
  if (p.stream !== undefined) s += ` stream=${p.stream}`;
  if (p.seq !== undefined) s += ` seq=${p.seq}`;
  if (p.recordId !== undefined) s += ` record=${p.recordId}`;
  if (p.file !== undefined) s += ` at ${p.file}${p.line === undefined ? '' : `:${p.line}`}`;
  return `${s} — ${p.message}`;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

function streamLine(s: StreamSummary): string {
  return (
    `stream ${s.streamId}: seq ${s.first}–${s.last}, ${plural(s.count, 'record')}, ` +
    `${s.ended ? 'ended' : 'open (no end record)'}, ${plural(s.files.length, 'file')} — ${s.ok ? 'ok' : 'FAILED'}`
  );
}

function finalLine(r: VerifyReport): string {
  const scope = `${plural(r.files, 'file')}, ${plural(r.records, 'audit record')}, ${plural(r.streams.length, 'stream')}`;
  const byKind = new Map<string, number>();
  for (const p of r.problems) {
    const key = p.severity === 'info' ? `${p.kind} (info)` : p.kind;
    byKind.set(key, (byKind.get(key) ?? 0) + 1);
  }
  const counts = [...byKind].map(([k, n]) => `${n} ${k}`);
  if (r.nonAudit > 0) counts.push(`${r.nonAudit} non-audit ignored`);
  const tail = counts.length === 0 ? '' : ` (${counts.join(', ')})`;
  if (r.ok) return `OK: ${scope} verified, every chain intact${tail}`;
  const errors = r.problems.filter((p) => p.severity === 'error').length;
  return `FAILED: ${plural(errors, 'integrity problem')} in ${scope}${tail}`;
}

/**
 * Runs `verify` with the arguments that follow the subcommand name. `out` and `err` are raw writers (like
 * `process.stdout.write`): each call gets one line — or, for `--json`, the whole document — ending in '\n'.
 * Resolves to the exit status.
 */
export async function runVerifyCommand(
  argv: string[],
  write: (s: string) => void,
  writeErr: (s: string) => void,
): Promise<number> {
  const out = (line: string): void => write(`${line}\n`);
  const err = (line: string): void => writeErr(`${line}\n`);
  const args = parseArgs(argv);
  if ('help' in args) {
    out(VERIFY_USAGE);
    return 0;
  }
  if ('error' in args) {
    err(`otel-audit verify: ${args.error}`);
    err(VERIFY_USAGE);
    return 2;
  }
  let report: VerifyReport;
  try {
    report = await verifyFiles(args.paths, { allowReorder: args.allowReorder });
  } catch (e) {
    const what = e instanceof VerifyInputError ? e.message : `unexpected error: ${e instanceof Error ? e.message : String(e)}`;
    err(`otel-audit verify: ${what}`);
    return 2;
  }
  if (report.files === 0) {
    // Verifying nothing must not look like a pass.
    err(`otel-audit verify: no *.jsonl or *.json files found in ${args.paths.join(', ')}`);
    return 2;
  }
  if (args.json) {
    out(JSON.stringify(report));
  } else {
    for (const p of report.problems) out(problemLine(p));
    for (const s of report.streams) out(streamLine(s));
    out(finalLine(report));
  }
  return report.ok ? 0 : 1;
}
