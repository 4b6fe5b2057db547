/**
 * `otel-audit search [filters] [--json] [--limit N] <file|dir>...`: the audit records that match every
 * filter, over local journals (rotated sets, several streams) and collector copies (many batches and files,
 * repeated batches), each record once, with whether its stream's chain verifies up to it.
 *
 * How (src/audit-search/search.ts): the verifier runs over the inputs first; then the files are streamed
 * again in the verifier's reading order, copies of one (stream, seq) are folded to the first one read, the
 * filters applied, and matches printed as they are found. Matches come in reading order (files sorted by
 * name, then line), not sorted by time.
 *
 * Chain column / `chain` (src/audit-search/chain-status.ts): `verified` when no error problem the verifier
 * found in the record's stream has a sequence number <= the record's; otherwise `broken`, with the first such
 * problem (kind, seq). With `--pubkey`, `checkpoint` says whether a valid signed checkpoint covers the record.
 *
 * Exit status: 0 with matches, 1 with none, 2 on a usage or I/O error or when no audit record was searched (one line on stderr).
 */
import { AuditConfigError, errorText } from '../core/errors.js';
import { optionValue, walkArguments, quotedArgument } from './arguments.js';
import { OUTCOMES, STREAM_PREFIX_MIN, type Outcome, type SearchFilter } from '../audit-search/filters.js';
import { loadKeyFiles, type LoadedKeys } from '../verify/key-files.js';
import { matchJson, matchRow } from '../audit-search/match.js';
import { jsonLine, printable } from '../audit-search/printable.js';
import { InputReadError } from '../audit-search/read-files.js';
import { newSearchProgress, searchFiles, type SearchOptions } from '../audit-search/search.js';
import { summaryLine } from '../audit-search/summary.js';
import { MATCH_COLUMNS, TableWriter } from '../audit-search/table.js';
import { parseTimeArg } from '../audit-search/time.js';
import { VerifyInputError } from '../verify/verifier.js';

export const SEARCH_USAGE = `usage: otel-audit search [filters] [--json] [--limit N] [--pubkey FILE]... [--hmac-key-file FILE]... [--allow-reorder] <file|dir>...

Filters (all must match):
  --actor ID          audit.actor.id equals ID
  --action VERB       audit.action equals VERB
  --event PREFIX      event name equals PREFIX or starts with PREFIX.
  --target ID         audit.target.id equals ID
  --outcome O         audit.outcome is success, failure or unknown
  --stream ID         the stream id, or a prefix of at least 8 characters (the table's STREAM column)
  --since TIME        at or after TIME; --until TIME: at or before TIME. TIME is ISO 8601 (UTC unless it
  --until TIME        has an offset: 2026-11-28, 2026-11-28T10:00:00Z) or a duration ago: 30s, 30m, 2h, 7d, 2w
  --where KEY=VALUE   the attribute KEY (of the record, else of its resource) has the value VALUE, compared
                      as text (ints in decimal, bools true/false); repeatable

Options:
  --json              one JSON object per match and line, instead of the table
  --limit N           stop after the first N matches
  --pubkey FILE       trusted Ed25519 public key (repeatable), as verify takes it: signatures are checked and
                      each match says whether a valid signed checkpoint covers it
  --hmac-key-file F   trusted HMAC secret (repeatable), as verify takes it: record MACs are checked
  --allow-reorder     as verify: records out of order within a file are not a problem

Output: a table (TIME STREAM SEQ EVENT ACTOR ACTION TARGET OUTCOME CHAIN), or with --json one JSON object per
match and line. Each record is shown once (identical copies from at-least-once delivery folded; two copies that
differ are both shown, the one that is not the record verified BROKEN), in reading order.
CHAIN: "verified" when verify finds no problem in the record's stream at or before its seq, else
"BROKEN: <kind> at seq <n>" (the first one); with --pubkey, whether a valid checkpoint covers it.
Exit status: 0 matches found, 1 none, 2 usage or I/O error, or no audit record to search.`;

const ONE_LINE_USAGE = 'otel-audit search [filters] [--json] [--limit N] <file|dir>... (--help for more)';

interface SearchArgs {
  filter: SearchFilter;
  json: boolean;
  limit: number | undefined;
  pubkeys: string[];
  hmacKeyFiles: string[];
  allowReorder: boolean;
  paths: string[];
}

type Parsed = SearchArgs | { help: true } | { error: string };

const SINGLE = ['--actor', '--action', '--event', '--target', '--outcome', '--stream', '--since', '--until', '--limit'] as const;
type Single = (typeof SINGLE)[number];
const REPEATED = ['--where', '--pubkey', '--hmac-key-file'] as const;
type Repeated = (typeof REPEATED)[number];

/** Parses the arguments after `search`. `now` anchors relative times (30m = now minus 30 minutes). */
export function parseSearchArgs(argv: readonly string[], now: Date): Parsed {
  const single = new Map<Single, string>();
  const repeated: Record<Repeated, string[]> = { '--where': [], '--pubkey': [], '--hmac-key-file': [] };
  const paths: string[] = [];
  let json = false;
  let allowReorder = false;
  const stop = walkArguments<{ help: true } | { error: string }>(argv, paths, (o) => {
    const { arg: a, name } = o;
    if (a === '--json') json = true;
    else if (a === '--allow-reorder') allowReorder = true;
    else if (a === '-h' || a === '--help') return { help: true };
    else {
      const isSingle = (SINGLE as readonly string[]).includes(name);
      if (!isSingle && !(REPEATED as readonly string[]).includes(name)) return { error: `unknown option ${quotedArgument(a)}` };
      // Not the next option (`--actor --json`): a value that starts with -- is given as --actor=--value. A key file
      // setting takes what follows as is: key material pasted there ("-----BEGIN…") is refused, value hidden, later.
      const keyFile = name === '--pubkey' || name === '--hmac-key-file';
      const value = keyFile ? o.value() : optionValue(o);
      if (value === undefined || value === '') return { error: `${name} needs a value${keyFile ? '' : ` (one that starts with -- as ${name}=VALUE)`}` };
      if (isSingle) {
        if (single.has(name as Single)) return { error: `${name} given twice` };
        single.set(name as Single, value);
      } else repeated[name as Repeated].push(value);
    }
    return undefined;
  });
  if (stop !== undefined) return stop;
  if (paths.length === 0) return { error: 'no file or directory given' };
  const filter: SearchFilter = { where: [] };
  const actor = single.get('--actor');
  if (actor !== undefined) filter.actor = actor;
  const action = single.get('--action');
  if (action !== undefined) filter.action = action;
  const event = single.get('--event');
  if (event !== undefined) filter.event = event;
  const target = single.get('--target');
  if (target !== undefined) filter.target = target;
  const stream = single.get('--stream');
  if (stream !== undefined) filter.stream = stream;
  const outcome = single.get('--outcome');
  if (outcome !== undefined) {
    if (!(OUTCOMES as readonly string[]).includes(outcome)) return { error: `--outcome ${quotedArgument(outcome)} is not one of ${OUTCOMES.join(', ')}` };
    filter.outcome = outcome as Outcome;
  }
  for (const name of ['--since', '--until'] as const) {
    const text = single.get(name);
    if (text === undefined) continue;
    const ns = parseTimeArg(text, now);
    if (ns === undefined) return { error: `${name} ${quotedArgument(text)} is not an ISO 8601 time (2026-11-28T10:00:00Z) or a duration ago (30m, 2h, 7d)` };
    if (name === '--since') filter.since = ns;
    else filter.until = ns;
  }
  const where: Array<{ key: string; value: string }> = [];
  for (const w of repeated['--where']) {
    const eq = w.indexOf('=');
    if (eq <= 0) return { error: `--where ${quotedArgument(w)} is not KEY=VALUE` };
    where.push({ key: w.slice(0, eq), value: w.slice(eq + 1) });
  }
  filter.where = where;
  if (filter.since !== undefined && filter.until !== undefined && filter.since > filter.until) {
    return { error: `--since ${JSON.stringify(single.get('--since'))} is after --until ${JSON.stringify(single.get('--until'))}: no record can match` };
  }
  let limit: number | undefined;
  const limitText = single.get('--limit');
  if (limitText !== undefined) {
    if (!/^[1-9][0-9]{0,15}$/.test(limitText) || !Number.isSafeInteger(Number(limitText))) return { error: `--limit ${quotedArgument(limitText)} is not a positive integer` };
    limit = Number(limitText);
  }
  return { filter, json, limit, pubkeys: repeated['--pubkey'], hmacKeyFiles: repeated['--hmac-key-file'], allowReorder, paths };
}

/** Where the output goes. `out`/`err` write raw text; `drain` (optional) resolves once `out` can take more. */
export interface CommandIo {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Resolves once `out` can take more, or when `signal` aborts. */
  drain?: (signal?: AbortSignal) => Promise<void>;
  /** The user interrupted (tail --follow): output the reader has not taken is dropped. */
  abandon?: () => void;
}

/**
 * Runs `search` with the arguments after the subcommand name. Resolves to the exit status; never rejects
 * (an unexpected error is one line on `err` and status 2).
 */
export async function runSearchCommand(argv: string[], io: CommandIo, options: Pick<SearchOptions, 'afterVerify'> = {}): Promise<number> {
  const err = (line: string): void => io.err(`otel-audit search: ${printable(line)}\n`);
  try {
    return await run(argv, io, err, options);
  } catch (e) {
    err(`unexpected error: ${errorText(e)}`);
    return 2;
  }
}

async function run(argv: string[], io: CommandIo, err: (line: string) => void, options: Pick<SearchOptions, 'afterVerify'>): Promise<number> {
  const args = parseSearchArgs(argv, new Date());
  if ('help' in args) {
    io.out(`${SEARCH_USAGE}\n`);
    return 0;
  }
  if ('error' in args) {
    err(`${args.error}; usage: ${ONE_LINE_USAGE}`);
    return 2;
  }
  let keys: LoadedKeys;
  try {
    keys = await loadKeyFiles(args.pubkeys, args.hmacKeyFiles);
    for (const w of keys.warnings) err(`warning: ${w}`);
  } catch (e) {
    if (e instanceof AuditConfigError) {
      err(e.message);
      return 2;
    }
    throw e;
  }
  const progress = newSearchProgress();
  const table = args.json ? undefined : new TableWriter(MATCH_COLUMNS, io.out);
  try {
    const matches = searchFiles(
      args.paths,
      {
        filter: args.filter,
        ...(args.limit !== undefined ? { limit: args.limit } : {}),
        keys,
        allowReorder: args.allowReorder,
        onSkip: (path, reason) => err(`skipped ${path}: ${reason}`),
        ...(options.afterVerify === undefined ? {} : { afterVerify: options.afterVerify }),
      },
      progress,
    );
    for await (const batch of matches) {
      if (table !== undefined) for (const m of batch) table.add(matchRow(m));
      else io.out(batch.map((m) => jsonLine(matchJson(m))).join(''));
      await io.drain?.();
    }
  } catch (e) {
    if (e instanceof VerifyInputError || e instanceof InputReadError) {
      err(e.message);
      return 2;
    }
    throw e;
  }
  table?.flush();
  const report = progress.report!;
  if (report.files === 0) {
    // Searching nothing must not look like "no match".
    err(`no *.jsonl or *.json files found in ${args.paths.join(', ')}`);
    return 2;
  }
  if (report.records === 0) {
    // As verify: files with no audit record (empty, only other logs, or only lines that do not read) were not
    // searched, which is not "no match" (found in review: exit 1 and "every chain verifies" for a file of garbage).
    const unread = report.problems.filter((p) => p.severity === 'error' && p.stream === undefined).length;
    const why = unread === 0 ? '' : ` (${unread === 1 ? '1 line' : `${unread} lines`} malformed or torn: see otel-audit verify)`;
    err(`no audit records in ${report.files === 1 ? '1 file' : `${report.files} files`}${why}: nothing was searched`);
    return 2;
  }
  err(summaryLine(progress.matches, args.limit, report, progress.counts, progress.changed, progress.unknown));
  const prefix = args.filter.stream;
  if (progress.matches === 0 && prefix !== undefined && prefix.length < STREAM_PREFIX_MIN) {
    err(`--stream ${JSON.stringify(prefix)} matched only as a whole stream id: a prefix needs at least ${STREAM_PREFIX_MIN} characters`);
  }
  return progress.matches > 0 ? 0 : 1;
}
