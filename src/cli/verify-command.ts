/**
 * `otel-audit verify [options] <file|dir>...` (ARCHITECTURE.md §7, docs/integrity.md §8).
 *
 * Options:
 *   --json                  print the VerifyReport below instead of text
 *   --allow-reorder         do not report `reordered` (inputs whose writer does not keep order in a file)
 *   --pubkey FILE           trusted Ed25519 key (SPKI PEM public key, or the PKCS#8 private key); repeatable.
 *                           Verifies EdDSA record signatures and checkpoints (coverage, truncation)
 *   --hmac-key-file FILE    trusted HMAC-SHA256 secret (same notation as OTEL_AUDIT_HMAC_KEY); repeatable
 *   --require-signatures    every record must carry a MAC/signature that verifies under a given key
 *   --checkpoints PATH      more files/directories whose valid checkpoints are evidence for the streams
 *                           verified (e.g. the collector's copy when verifying the local journal); repeatable,
 *                           needs --pubkey
 *   --jobs N                worker threads that parse and hash (default: one per available core, at most 8,
 *                           when the inputs exceed 8 MiB, else none); 1: all in one thread. Same report for any N
 *
 * Exit status: 0 every chain intact; 1 integrity failure (any error-severity problem, malformed and torn lines
 * included); 2 usage or I/O error (no path, unknown option, unreadable path or key, no input files found, input
 * files holding no audit record and no bad line, a path named that is not a regular file or directory, a
 * worker thread that failed). Every failure is one line on stderr, never a trace.
 *
 * Hostile inputs (safe-read.ts, verifier.ts `listInputs`): a path named on the command line is followed if
 * it is a symbolic link; inside a directory, symbolic links are never followed and FIFOs, sockets and
 * devices never opened — each is skipped with a note on stderr ("skipped PATH: …"), which does not change
 * the exit status. A line longer than MAX_LINE_BYTES (64 MiB) or repeating a JSON member name in one
 * object is `malformed`. Memory is about 75 bytes per record and about 0.5 KB per stream, summary included:
 * a million one-record streams peaked at 650 MB RSS (test/adversarial/verify-cli-child.test.ts bounds 1 GiB).
 *
 * `--json` prints one JSON document, the `VerifyReport` (schema v1, documented in docs/integrity.md §8.2):
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
 *       "ok": boolean,        // no error-severity problem for this stream
 *       "coveredThrough": number,  // highest seq proven by a valid checkpoint; 0 none (always 0 without --pubkey)
 *       "signatures": { "valid", "invalid", "unknownKey", "unchecked", "unsigned": number,  // chain records,
 *                             // checkpoints excluded; "unchecked": signed but no key given
 *                       "verified"?: boolean },  // only when keys were given: some record verified under one
 *                             // (false: unsigned producer or stripped signatures; --require-signatures decides)
 *       "checkpoints": { "valid", "invalid", "unknownKey", "unchecked": number },
 *       "previousStreamId"?: string  // the stream this one continues after a restart
 *     }],
 *     "problems": [{
 *       "kind": "modified" | "deleted" | "inserted" | "reordered" | "duplicate" | "malformed" | "torn"
 *             | "truncated" | "bad_signature" | "restart",
 *       "severity": "error" | "info",  // "info" (identical duplicates, restarts, retention cuts, a stream
 *                             // whose every record names one key not given, without --require-signatures)
 *                             // does not fail verification
 *       "stream"?: string,    // absent for malformed/torn lines, whose stream is unknown
 *       "seq"?: number,       // for "deleted"/"truncated": the first missing sequence number
 *       "through"?: number,   // for a problem about a run of records: the last sequence number of the run
 *       "recordId"?: string,  // audit.record.id; for "deleted", the missing record's id when its successor names it
 *       "file"?: string,      // where the evidence is; for "deleted", the record after the gap
 *       "line"?: number,      // 1-based
 *       "reason"?: string,    // sub-kind of bad_signature / truncated / restart (docs/integrity.md §7.4)
 *       "message": string,    // what was found and why this record is blamed
 *       "omitted"?: { "count": number, "errors": number }  // on the one closing problem per kind past the first
 *                             // 100,000 listed: how many problems of that kind it stands for, how many of them errors
 *     }],
 *     "skipped"?: [{ "path": string, "reason": string }],  // inputs found and not read (a symbolic link inside an
 *                             // input directory, a name that is not valid UTF-8, a FIFO…): not covered by the verdict;
 *                             // the first 100, absent when none
 *     "skippedCount"?: number  // how many in all, when more than are listed
 *   }
 *
 * Problems come file-level first (malformed/torn, in reading order), then per stream by sequence number,
 * then restart links between streams and checkpoints of streams absent from the inputs.
 * Without a signature or checkpoint, the content of the last record of a stream is not covered by the chain
 * (no successor records its hash).
 */
import { keyFilePathShown, looksLikeKeyMaterial, type VerifyingKey } from '../integrity/keys.js';
import { loadKeyFiles } from '../verify/key-files.js';
import { commandLine, writeNoVerdictReportFile, writeVerifyReportFile } from '../report/index.js';
import { countProblems, inputsNotRead, seqSpan, unverifiedStreams, verifyFiles, VerifyInputError, VerifyWorkerError, type Problem, type StreamSummary, type VerifyReport } from '../verify/verifier.js';
import { errorText } from '../core/errors.js';
import { optionValue, walkArguments, quotedArgument } from './arguments.js';
import { resolve } from 'node:path';
import { printable, printableJson } from '../audit-search/printable.js';

export const VERIFY_USAGE =
  'usage: otel-audit verify [--json] [--allow-reorder] [--pubkey FILE]... [--hmac-key-file FILE]... ' +
  '[--require-signatures] [--checkpoints PATH]... [--report FILE.html] [--jobs N] <file|dir>...';

interface VerifyArgs {
  json: boolean;
  allowReorder: boolean;
  pubkeys: string[];
  hmacKeyFiles: string[];
  requireSignatures: boolean;
  checkpoints: string[];
  paths: string[];
  /** A self-contained HTML page of the verdict for auditors (src/report). */
  report?: string;
  jobs: number | 'auto';
}

/** More threads than this only add memory: the main thread's chain checks are the limit by then. */
const MAX_JOBS = 64;

const VALUE_OPTIONS = { '--pubkey': 'pubkeys', '--hmac-key-file': 'hmacKeyFiles', '--checkpoints': 'checkpoints' } as const;

/** A value that looks like a key itself, as every message shows it (integrity/keys.ts keyFileName). */
const hide = (v: string): string => (looksLikeKeyMaterial(v) ? '(value hidden)' : v);

/**
 * The arguments as the report page shows them: any value that looks like a key (pasted in place of its file, or of
 * an input or a --checkpoints path: found in review) is `(value hidden)`, that run then being an exit-2 one whose
 * page still shows the command. Option names stay; `--opt=value` keeps its name.
 */
function hideKeyValues(argv: readonly string[]): string[] {
  let optionsDone = false;
  // A key file's path is also hidden when nothing is there (keyFilePathShown: a raw HMAC key pasted in its place).
  const hideKeyFile = (v: string): string => (keyFilePathShown(v) ? v : '(value hidden)');
  const isKeyFileOption = (o: string | undefined): boolean => o === '--pubkey' || o === '--hmac-key-file';
  return argv.map((a, i) => {
    if (!optionsDone && a === '--') optionsDone = true;
    const eq = a.indexOf('=');
    if (!optionsDone && a.startsWith('--') && eq > 0) {
      const name = a.slice(0, eq);
      return `${name}=${(isKeyFileOption(name) ? hideKeyFile : hide)(a.slice(eq + 1))}`;
    }
    return !optionsDone && isKeyFileOption(argv[i - 1]) ? hideKeyFile(a) : hide(a);
  });
}

/**
 * The page to write for a run whose arguments do not parse: the one `--report` value, an .html name no other
 * argument names (it could be an input the parse did not reach); else none.
 */
function reportOfBadUsage(argv: readonly string[]): string | undefined {
  const pages: string[] = [];
  const others: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      others.push(...argv.slice(i + 1));
      break;
    }
    if (a === '--report' && i + 1 < argv.length) pages.push(argv[++i]!);
    else if (a.startsWith('--report=')) pages.push(a.slice('--report='.length));
    else others.push(a.includes('=') && a.startsWith('--') ? a.slice(a.indexOf('=') + 1) : a);
  }
  if (pages.length !== 1 || !/\.html?$/i.test(pages[0]!)) return undefined;
  const page = resolve(pages[0]!);
  return others.some((o) => resolve(o) === page) ? undefined : pages[0];
}

/** Parses the arguments after `verify`; returns an error message for bad usage. */
function parseArgs(argv: readonly string[]): VerifyArgs | { help: true } | { error: string } {
  const args: VerifyArgs = { json: false, allowReorder: false, pubkeys: [], hmacKeyFiles: [], requireSignatures: false, checkpoints: [], paths: [], jobs: 'auto' };
  const stop = walkArguments<{ help: true } | { error: string }>(argv, args.paths, (o) => {
    const { arg: a, name } = o;
    if (name === '--report') {
      const value = optionValue(o);
      if (value === undefined) return { error: '--report needs a value' };
      if (args.report !== undefined) return { error: '--report given twice' };
      // The page replaces whatever file has its name: a journal segment taken for it (`--report audit-*.jsonl`, the
      // name forgotten) would be lost. Only an .html/.htm name is taken.
      if (!/\.html?$/i.test(value)) return { error: `--report needs a file name ending in .html (got ${quotedArgument(value)})` };
      args.report = value;
      return undefined;
    }
    if (name === '--jobs') {
      const value = o.value();
      if (value === undefined || !/^[1-9][0-9]*$/.test(value) || Number(value) > MAX_JOBS) return { error: `--jobs needs an integer from 1 to ${MAX_JOBS}` };
      args.jobs = Number(value);
      return undefined;
    }
    if (name in VALUE_OPTIONS) {
      // Not optionValue: a key pasted in place of its file (`-----BEGIN …`) gets its own message (key-files.ts).
      const value = o.value();
      if (value === undefined || value === '') return { error: `${name} needs a value` };
      args[VALUE_OPTIONS[name as keyof typeof VALUE_OPTIONS]].push(value);
    } else if (a === '--json') args.json = true;
    else if (a === '--allow-reorder') args.allowReorder = true;
    else if (a === '--require-signatures') args.requireSignatures = true;
    else if (a === '-h' || a === '--help') return { help: true };
    else return { error: `unknown option ${quotedArgument(a)}` };
    return undefined;
  });
  if (stop !== undefined) return stop;
  if (args.paths.length === 0) return { error: 'no file or directory given' };
  if (args.report !== undefined) {
    // The page replaces the file of its name, whatever the run's outcome: never an input, key or checkpoint source.
    const named = [...args.paths, ...args.pubkeys, ...args.hmacKeyFiles, ...args.checkpoints];
    if (named.some((p) => resolve(p) === resolve(args.report!))) return { error: `--report ${JSON.stringify(args.report)} is also an input or a key file: it would be replaced` };
  }
  if (args.checkpoints.length > 0 && args.pubkeys.length === 0) return { error: '--checkpoints needs --pubkey (checkpoints are trusted only when their signature verifies)' };
  return args;
}

/**
 * Writes the report as one JSON document, in pieces of about 1 MiB that each end with '\n' (whitespace
 * between array elements): for a million streams one string would be about 400 MB on top of the report,
 * near V8's longest string. A small report is one piece, the same document as JSON.stringify(report) (escapes aside).
 */
function writeJsonReport(r: VerifyReport, write: (s: string) => void): void {
  const PIECE = 1 << 20;
  // Escaped as search's --json is (audit-search/printable.ts): a stream id holding a bidirectional override or a
  // zero-width character must not print as another one.
  const head = printableJson({ ok: r.ok, files: r.files, records: r.records, nonAudit: r.nonAudit });
  let buf = `${head.slice(0, -1)},"streams":[`;
  const items = (list: readonly unknown[]): void => {
    for (let i = 0; i < list.length; i++) {
      if (i > 0) buf += ',';
      buf += printableJson(list[i]);
      if (buf.length >= PIECE) {
        write(`${buf}\n`);
        buf = '';
      }
    }
  };
  items(r.streams);
  buf += '],"problems":[';
  items(r.problems);
  buf += ']';
  if (r.skipped !== undefined) {
    buf += ',"skipped":[';
    items(r.skipped);
    buf += ']';
    if (r.skippedCount !== undefined) buf += `,"skippedCount":${r.skippedCount}`;
  }
  write(`${buf}}\n`);
}

function problemLine(p: Problem): string {
  let s = p.kind.toUpperCase() + (p.severity === 'info' ? ' (info)' : '');
  if (p.stream !== undefined) s += ` stream=${p.stream}`;
  if (p.seq !== undefined) s += ` seq=${p.seq}${p.through === undefined ? '' : `–${p.through}`}`;
  if (p.recordId !== undefined) s += ` record=${p.recordId}`;
  if (p.file !== undefined) s += ` at ${p.file}${p.line === undefined ? '' : `:${p.line}`}`;
  return `${s} — ${p.message}`;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

function streamLine(s: StreamSummary, checked: { signatures: boolean; checkpoints: boolean }): string {
  let line =
    `stream ${s.streamId}: ${seqSpan(s.first, s.last)}, ${plural(s.count, 'record')}, ` +
    `${s.ended ? 'ended' : 'open (no end record)'}, ${plural(s.files.length, 'file')}`;
  if (s.previousStreamId !== undefined) line += `, continues ${s.previousStreamId}`;
  if (checked.signatures) {
    const g = s.signatures;
    const parts = [`${g.valid} valid`];
    if (g.invalid > 0) parts.push(`${g.invalid} invalid`);
    if (g.unknownKey > 0) parts.push(`${g.unknownKey} unknown key`);
    if (g.unsigned > 0) parts.push(`${g.unsigned} unsigned`);
    line += `; signatures: ${parts.join(', ')}`;
  }
  if (checked.checkpoints) {
    const c = s.checkpoints;
    line += `; ${plural(c.valid, 'valid checkpoint')}${c.invalid + c.unknownKey > 0 ? `, ${c.invalid + c.unknownKey} not valid` : ''}`;
    if (s.coveredThrough === 0) line += `, no record covered by a valid checkpoint yet`;
    else if (s.coveredThrough >= s.last) line += `, covered through seq ${s.coveredThrough} (every record)`;
    else line += `, covered through seq ${s.coveredThrough}; ${seqSpan(s.coveredThrough + 1, s.last)} not yet covered`;
  }
  return `${line} — ${s.ok ? 'ok' : 'FAILED'}`;
}


function unverifiedLine(s: StreamSummary, requireSignatures: boolean): string {
  const g = s.signatures;
  const found = [g.unsigned > 0 ? `${g.unsigned} unsigned` : '', g.unknownKey > 0 ? `${g.unknownKey} under a key not given` : '', g.invalid > 0 ? `${g.invalid} invalid` : '']
    .filter((x) => x !== '')
    .join(', ');
  return (
    `WARNING stream=${s.streamId} — no record MAC/signature verified under the given keys${found === '' ? '' : ` (${found})`}: ` +
    `a producer without a record key writes such a stream, and so does anyone who strips the signatures and recomputes the hashes; ` +
    (requireSignatures ? '--require-signatures is given: an error' : '--require-signatures makes it an error')
  );
}

function finalLine(r: VerifyReport, requireSignatures: boolean): string {
  const scope = `${plural(r.files, 'file')}, ${plural(r.records, 'audit record')}, ${plural(r.streams.length, 'stream')}`;
  const { errors, byKind } = countProblems(r.problems);
  const counts = [...byKind].map(([k, n]) => `${n} ${k}`);
  if (r.nonAudit > 0) counts.push(`${r.nonAudit} non-audit ignored`);
  const tail = counts.length === 0 ? '' : ` (${counts.join(', ')})`;
  const n = unverifiedStreams(r).length;
  // The hint to give the flag only where it was not given.
  const unverified =
    n === 0
      ? ''
      : `; ${n === 1 ? '1 stream has' : `${n} streams have`} no record signature verified under the given keys ` +
        (requireSignatures ? '(an error under --require-signatures)' : '(use --require-signatures to require them)');
  const skipped = uncheckedNote(r) + notReadNote(r);
  if (r.ok) return `OK: ${scope} verified, every chain intact${tail}${unverified}${skipped}`;
  return `FAILED: ${plural(errors, 'integrity problem')} in ${scope}${tail}${unverified}${skipped}`;
}

/** Inputs found and not read (each said on stderr as it was skipped): the verdict does not cover them. */
function notReadNote(r: VerifyReport): string {
  const n = inputsNotRead(r);
  return n === 0 ? '' : `; ${plural(n, 'input')} found and not read (each named on stderr as skipped): not covered by this verdict`;
}

/**
 * Signatures and checkpoints left unchecked for want of a key: said in the verdict line, not only in --json (found
 * in review: a signed journal verified without keys said only "OK … every chain intact").
 */
function uncheckedNote(r: VerifyReport): string {
  let records = 0;
  let checkpoints = 0;
  for (const s of r.streams) {
    records += s.signatures.unchecked;
    checkpoints += s.checkpoints.unchecked;
  }
  const what = [records > 0 ? `${plural(records, 'record MAC/signature')} (--hmac-key-file, --pubkey)` : '', checkpoints > 0 ? `${plural(checkpoints, 'checkpoint')} (--pubkey)` : ''].filter((x) => x !== '');
  return what.length === 0 ? '' : `; not checked, no key given for them: ${what.join(', ')}`;
}

/**
 * Runs `verify` with the arguments that follow the subcommand name. `out` and `err` are raw writers (like
 * `process.stdout.write`): each call gets one line ending in '\n' — or, for `--json`, the document, in one
 * call or, when large, in pieces that each end in '\n' and together are one JSON document. Resolves to the
 * exit status; never rejects (an unexpected error is one line on `err` and exit status 2).
 */
export async function runVerifyCommand(
  argv: string[],
  write: (s: string) => void,
  writeErr: (s: string) => void,
): Promise<number> {
  const out = (line: string): void => write(`${printable(line)}\n`);
  const err = (line: string): void => writeErr(`${printable(line)}\n`);
  try {
    return await run(argv, write, out, err);
  } catch (e) {
    // Nothing may escape as a stack trace: whatever was missed is an I/O-class failure, on one line.
    err(`otel-audit verify: unexpected error: ${errorText(e)}`);
    return 2;
  }
}

async function run(argv: string[], write: (s: string) => void, out: (line: string) => void, err: (line: string) => void): Promise<number> {
  const args = parseArgs(argv);
  if ('help' in args) {
    out(VERIFY_USAGE);
    return 0;
  }
  const command = commandLine(['otel-audit', 'verify', ...hideKeyValues(argv)]);
  const cannotWrite =
    (page: string | undefined) =>
    (e: unknown): void =>
      err(`otel-audit verify: cannot write the report ${JSON.stringify(page)}: ${errorText(e)} (a page of that name, if there is one, is not this run's)`);
  if ('error' in args) {
    err(`otel-audit verify: ${args.error}`);
    err(VERIFY_USAGE);
    // A usage error is no verdict either: the page named must not stay an earlier run's (found in review: a key pasted
    // as an input, read as an unknown option since it starts with '-', left an INTACT page in place).
    const page = reportOfBadUsage(argv);
    if (page !== undefined) {
      await writeNoVerdictReportFile(page, { reason: `usage: ${args.error}`, inputs: [], command, generatedAt: new Date() }).catch(cannotWrite(page));
    }
    return 2;
  }
  /** Exit 2, no verdict: said on stderr and, with --report, on the page, which must not stay an earlier run's. */
  const noVerdict = async (message: string): Promise<number> => {
    err(`otel-audit verify: ${message}`);
    if (args.report !== undefined) {
      await writeNoVerdictReportFile(args.report, { reason: message, inputs: args.paths.map(hide), command, generatedAt: new Date() }).catch(cannotWrite(args.report));
    }
    return 2;
  };
  let pubkeys: VerifyingKey[];
  let hmacSecrets: string[];
  try {
    let warnings: string[];
    ({ pubkeys, hmacSecrets, warnings } = await loadKeyFiles(args.pubkeys, args.hmacKeyFiles));
    for (const w of warnings) err(`otel-audit verify: warning: ${w}`);
  } catch (e) {
    return noVerdict(errorText(e));
  }
  let report: VerifyReport;
  try {
    report = await verifyFiles(args.paths, {
      allowReorder: args.allowReorder,
      pubkeys,
      hmacSecrets,
      requireSignatures: args.requireSignatures,
      checkpointSources: args.checkpoints,
      jobs: args.jobs,
      onSkip: (path, reason) => err(`otel-audit verify: skipped ${path}: ${reason}`),
    });
  } catch (e) {
    return noVerdict(e instanceof VerifyInputError || e instanceof VerifyWorkerError ? e.message : `unexpected error: ${errorText(e)}`);
  }
  if (report.files === 0) {
    // Verifying nothing must not look like a pass.
    return noVerdict(`no *.jsonl or *.json files found in ${args.paths.join(', ')}`);
  }
  if (report.records === 0 && report.ok) {
    // Files that hold no audit record (all empty, say, or only other logs) prove nothing either. With a
    // malformed or torn line among them, the report stands: that is a finding (exit 1).
    const others = report.nonAudit > 0 ? ` (${plural(report.nonAudit, 'non-audit record')} ignored)` : '';
    return noVerdict(`no audit records in ${plural(report.files, 'file')}${others}: nothing was verified`);
  }
  if (args.json) {
    writeJsonReport(report, write);
  } else {
    for (const p of report.problems) out(problemLine(p));
    for (const s of unverifiedStreams(report)) out(unverifiedLine(s, args.requireSignatures));
    const checked = { signatures: pubkeys.length + hmacSecrets.length > 0 || args.requireSignatures, checkpoints: pubkeys.length > 0 };
    for (const s of report.streams) out(streamLine(s, checked));
    out(finalLine(report, args.requireSignatures));
  }
  // After the verdict is out: a report that cannot be written must not cost the user the verdict.
  if (args.report !== undefined) {
    try {
      await writeVerifyReportFile(args.report, { report, inputs: args.paths, command, generatedAt: new Date() });
    } catch (e) {
      cannotWrite(args.report)(e);
      return 2;
    }
  }
  return report.ok ? 0 : 1;
}
