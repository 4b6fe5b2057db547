/**
 * `otel-audit tail [--follow] [-n N] [--json] <dir|file>`: the last N records (default 10, by record time) of a
 * journal directory — its segments `audit-<stream>-NNNNNN.jsonl`, every stream — or of one file (a collector
 * copy), in the search table; with `--follow`, then each new record as it is appended, across rotation to new
 * segments and new streams, until SIGINT or SIGTERM (exit status 0).
 *
 * Reading: the top-level *.jsonl / *.json files of the directory (not rejected/ or quarantine/), polled every
 * --interval ms (default 250: fs.watch misses events on some file systems and across renames; polling costs
 * one stat per file), each held open between polls (at most MAX_HELD, file-follower.ts), so that a file rotated by
 * rename is read to its end before the new one at its name. Memory: the N records shown, per stream its highest
 * record and seen ranges.
 *
 * Chain column: for the first N, the verifier's verdict over the same directory (as in search), bound to the content
 * it verified; a record it did not read is `unknown` without --follow; following, it and the records that arrive
 * later are checked link by link against their stream's previous record (src/audit-search/link-tracker.ts): a link
 * proves order and content after a verified record, not who wrote a new stream. Copies of one (stream, seq) are
 * shown once.
 *
 * Exit status: 0; 2 on a usage or I/O error (one line on stderr).
 */
import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { AuditRecord } from '../audit-search/audit-record.js';
import { ChainIndex, type ChainVerdict } from '../audit-search/chain-status.js';
import { FileFollower } from '../audit-search/file-follower.js';
import { LastRecords } from '../audit-search/last-records.js';
import { LinkTracker } from '../audit-search/link-tracker.js';
import { RetentionView } from '../audit-search/retention-cuts.js';
import { matchJson, matchRow, type Match } from '../audit-search/match.js';
import { newReadCounts, parseLine, type ReadCounts } from '../audit-search/parse-line.js';
import { jsonLine, printable } from '../audit-search/printable.js';
import { decodeLine } from '../audit-search/read-files.js';
import { SeenSequences } from '../audit-search/seen-sequences.js';
import { CopyCheck } from '../audit-search/copy-check.js';
import { refusedByVerifier, refusedLines, type RefusedLine } from '../audit-search/refused-lines.js';
import { MATCH_COLUMNS, TableWriter } from '../audit-search/table.js';
import { verifyFiles, VerifyInputError } from '../verify/verifier.js';
import type { CommandIo } from './search-command.js';
import { errorText } from '../core/errors.js';
import { shownInput } from '../integrity/keys.js';
import { isWholeLine } from '../sinks/journal-reader.js';
import { seenBefore, walkArguments, quotedArgument } from './arguments.js';

export const TAIL_USAGE = `usage: otel-audit tail [--follow|-f] [-n N] [--json] [--interval MS] <dir|file>

The last N records (default 10) of a journal directory (all its streams and segments) or of one file, by
record time, in the search table (--json: one JSON object per line). With --follow, then every record
appended after, across rotated segments and new streams, until interrupted (Ctrl-C / SIGTERM).
  --interval MS   how often --follow looks for new records (default 250)
Exit status: 0, or 2 on a usage or I/O error.`;

interface TailArgs {
  follow: boolean;
  n: number;
  json: boolean;
  intervalMs: number;
  target: string;
}

export function parseTailArgs(argv: readonly string[]): TailArgs | { help: true } | { error: string } {
  const args: TailArgs = { follow: false, n: 10, json: false, intervalMs: 250, target: '' };
  const paths: string[] = [];
  const again = seenBefore();
  const stop = walkArguments<{ help: true } | { error: string }>(argv, paths, (o) => {
    const a = o.arg;
    if (a === '-f' || a === '--follow') args.follow = true;
    else if (a === '--json') args.json = true;
    else if (a === '-h' || a === '--help') return { help: true };
    else {
      // -n N, -nN, -n=N, --lines N, --lines=N, --interval MS, --interval=MS
      const m = /^(-n|--lines|--interval)(?:=?(.+))?$/.exec(a);
      if (!m) return { error: `unknown option ${quotedArgument(a)}` };
      const name = m[1] === '--interval' ? '--interval' : '-n';
      if (again(name)) return { error: `${name === '-n' ? '-n/--lines' : name} given more than once` };
      const value = m[2] ?? o.next();
      if (value === undefined) return { error: `${m[1]} needs a value` };
      if (!/^\d{1,9}$/.test(value)) return { error: `${m[1]} ${quotedArgument(value)} is not a non-negative integer` };
      if (name === '-n') args.n = Number(value);
      else if (Number(value) < 10 || Number(value) > 60_000) return { error: `--interval ${value} is not between 10 and 60000 ms` };
      else args.intervalMs = Number(value);
    }
    return undefined;
  });
  if (stop !== undefined) return stop;
  if (paths.length !== 1) return { error: paths.length === 0 ? 'no directory or file given' : 'give one directory or file' };
  args.target = paths[0]!;
  return args;
}

export interface TailOptions {
  /** Ends `--follow` (default: SIGINT or SIGTERM). */
  signal?: AbortSignal;
  /** @internal For the tests: runs after the verifier's pass and before the first read (a writer appending then). */
  afterVerify?: () => void;
}

/** Runs `tail` with the arguments after the subcommand name; never rejects. */
export async function runTailCommand(argv: string[], io: CommandIo, options: TailOptions = {}): Promise<number> {
  const err = (line: string): void => io.err(`otel-audit tail: ${printable(line)}\n`);
  try {
    return await run(argv, io, err, options);
  } catch (e) {
    err(e instanceof VerifyInputError ? e.message : `unexpected error: ${errorText(e)}`);
    return 2;
  }
}

const INPUT = /\.(jsonl|json)$/;

const byName = (a: Dirent, b: Dirent): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** The files to read now: the directory's top-level regular *.jsonl/*.json files by name, or the one file. */
async function currentFiles(target: string, isDir: boolean): Promise<string[]> {
  if (!isDir) return [target];
  const entries = await readdir(target, { withFileTypes: true });
  // Dirent types come from lstat: symbolic links are not followed, FIFOs never opened.
  // A name that is not valid UTF-8 reads back with U+FFFD, a path that does not exist: left out (the verifier's
  // listing says so once).
  return entries.filter((e) => e.isFile() && INPUT.test(e.name) && !e.name.includes('\uFFFD')).sort(byName).map((e) => join(target, e.name));
}

async function run(argv: string[], io: CommandIo, err: (line: string) => void, options: TailOptions): Promise<number> {
  const args = parseTailArgs(argv);
  if ('help' in args) {
    io.out(`${TAIL_USAGE}\n`);
    return 0;
  }
  if ('error' in args) {
    err(`${args.error}; usage: otel-audit tail [--follow] [-n N] [--json] <dir|file> (--help for more)`);
    return 2;
  }
  // Listened for from the start when following, so that an interrupt while the reader does not read is not kept
  // waiting (found in review: SIGINT and SIGTERM did nothing while stdout was full). Until the first rows are out,
  // an interrupt acts as it would without a listener (found in review: the first read of a big directory ran to its
  // end first).
  let following = false;
  const stop = args.follow ? (options.signal ?? signalOnInterrupt(() => following)) : undefined;
  let isDir: boolean;
  try {
    const st = await stat(args.target);
    if (!st.isDirectory() && !st.isFile()) throw new Error('not a regular file or directory');
    isDir = st.isDirectory();
  } catch (e) {
    err(`${shownInput(args.target)}: ${(e as NodeJS.ErrnoException).code ?? errorText(e)}`);
    return 2;
  }
  const counts: ReadCounts = newReadCounts();
  const seen = new SeenSequences();
  // A segment created and deleted by retention between two polls leaves a gap its retention.log line accounts for.
  const retention = isDir && args.follow ? new RetentionView(args.target) : undefined;
  /** The directory's files at the last listing. */
  let listing: ReadonlySet<string> = new Set();
  const tracker = new LinkTracker(
    retention === undefined
      ? {}
      : {
          retention: {
            cuts: retention,
            listed: (file) => listing.has(file),
            onRetained: (streamId, from, to) =>
              err(`stream ${printable(streamId)}: seq ${from === to ? from : `${from}-${to}`} deleted by retention before tail read ${from === to ? 'it' : 'them'} (state/retention.log; acknowledged by the collector): the chain from there is unknown to tail (run otel-audit verify ${args.target})`),
          },
        },
  );
  /** After a listing: the retention cuts written before it, and the files it no longer has. */
  const listed = async (files: readonly string[]): Promise<void> => {
    if (retention === undefined) return;
    listing = new Set(files);
    await retention.refresh();
    tracker.pruneFiles();
  };
  const followers = new Map<string, FileFollower>();
  const failing = new Set<string>();

  const copies = new CopyCheck();
  /**
   * Reads what is new in every file; `onRecord` gets each record not seen before, `onCopy` each later copy of one,
   * of lines `refused` lets through. `finish`: an unfinished last line is read as a line — `all` (reading once: the
   * writer may be done), `whole` only when it is a whole JSON line (the first read of --follow: verify and search read
   * it so, found in review), or not at all (a writer mid-line).
   */
  const pollAll = async (onRecord: (r: AuditRecord) => void, finish: 'all' | 'whole' | 'none', refused: RefusedLine, onCopy?: (r: AuditRecord) => void): Promise<void> => {
    let files: string[];
    try {
      files = await currentFiles(args.target, isDir);
      failing.delete(args.target);
    } catch (e) {
      // The directory renamed away or removed (found in review: "unexpected error", exit 2). Said once; what the held
      // files still have is read below, and the directory is listed again at every poll (it may come back).
      if (!failing.has(args.target)) err(`${args.target}: ${(e as NodeJS.ErrnoException).code ?? errorText(e)}`);
      failing.add(args.target);
      files = [];
    }
    // Read after the listing: retention writes a segment's line before it deletes the segment, so every segment
    // missing from the listing has its line read here.
    await listed(files);
    const present = new Set(files);
    // Files whose name left the listing (deleted by retention, renamed away by rotation) first: what their held
    // file still has comes before what follows it under other names.
    const gone = [...followers.keys()].filter((path) => !present.has(path));
    // Then the files already followed, then new ones: a file rotated to a new name is read to its end (and handed
    // off) by its old name's follower before that name's new follower starts.
    const known = files.filter((path) => followers.has(path));
    const fresh = files.filter((path) => !followers.has(path));
    const onParsed = (r: AuditRecord): void => {
      if (seen.add(r.streamId, r.sequence)) return onRecord(r);
      tracker.noteCopy(r); // a copy under another name still holds the stream's earlier records (retention cuts)
      onCopy?.(r);
    };
    for (const path of [...gone, ...known, ...fresh]) {
      let f = followers.get(path);
      if (f === undefined) followers.set(path, (f = new FileFollower(path, !isDir, !isDir)));
      const onLine = (bytes: Buffer | undefined, line: number): void => {
        const text = bytes === undefined ? undefined : decodeLine(bytes);
        const refusal = text === undefined || refused(path, line, text);
        if (refusal === true) counts.unreadable++;
        else parseLine(text!, path, line, counts, onParsed, refusal === false ? undefined : refusal);
      };
      try {
        const there = await f.poll(onLine);
        const missed = f.takeMissed();
        if (missed === 'gone') {
          err(`skipped ${path}: deleted before tail could read it all (retention of a live journal directory); records may be missing (run otel-audit verify ${args.target})`);
          // Deleted after the listing: its line is written by now, and the older segments retention deleted first are gone.
          if (isDir) await listed(await currentFiles(args.target, isDir).catch(() => [...listing]));
        }
        if (missed === 'rotated') err(`${path}: replaced (rotated) while tail was not holding it open; what the old file got after tail last read it is not shown (run otel-audit verify ${args.target})`);
        // A directory's file gone from its listing is dropped; the one file named stays followed (it may come back).
        if (isDir && (!there || !present.has(path))) {
          await f.close();
          followers.delete(path);
        } else if (there && finish === 'all') f.finish(onLine);
        else if (there && finish === 'whole') f.finish(onLine, isWholeLine);
        failing.delete(path);
      } catch (e) {
        // Reported once per file; it may come back (permissions fixed), so it is tried again.
        if (!failing.has(path)) err(`${path}: ${(e as NodeJS.ErrnoException).code ?? errorText(e)}`);
        failing.add(path);
      }
    }
  };
  // Files held open by the followers are closed however the command ends.
  try {
    // The verifier first: the lines it refuses are not read (their records would hide the genuine copies). A record
    // appended after it ran is checked against its predecessor (link-tracker.ts), as records that come later are.
    // Nothing to show, and nothing will come without --follow: said, as search says it (its own files only, not a
    // subdirectory's: a journal directory's segments are its own files).
    if (!args.follow && isDir && (await currentFiles(args.target, isDir)).length === 0) {
      err(`${args.target}: no *.jsonl or *.json files in it (tail reads a journal directory's own files, not its subdirectories)`);
      return 2;
    }
    let hashAt: ((streamId: string, seq: number) => string | undefined) | undefined;
    const report = await verifyFiles([args.target], { onSkip: (path, reason) => err(`skipped ${path}: ${reason}`), onChainHashes: (f) => (hashAt = f) });
    options.afterVerify?.();
    // The files are read again: a verdict holds only for the very record verified (ChainIndex, hashAt).
    const index = new ChainIndex(report, 'off', hashAt);
    const last = new LastRecords(args.n);
    /** Verdicts of records appended after the verifier ran, checked link by link from its last record. */
    const appended = new WeakMap<AuditRecord, ChainVerdict>();
    const verdictOf = (r: AuditRecord): ChainVerdict => appended.get(r) ?? index.verdict(r.streamId, r.sequence, r);
    let recovered = 0;
    await pollAll(
      (r) => {
        last.add(r);
        // Its place only: the content of the records shown is bound to what was verified when they are shown (hashing
        // every record read cost a second verify: found in re-review).
        const v = index.verdict(r.streamId, r.sequence, { file: r.file, line: r.line, recordId: r.recordId });
        // Past what the verifier read (a writer appending meanwhile): following, checked against its predecessor, as
        // records that arrive later are, instead of `unknown` for the whole session; reading once, `unknown`, as
        // search says (found in re-review: planted records were shown verified by their links alone).
        if (v.chain !== 'unknown') tracker.seed(r, v);
        else if (args.follow) appended.set(r, tracker.check(r));
      },
      args.follow ? 'whole' : 'all',
      refusedLines(report, () => void recovered++),
    );
    const broken = report.streams.filter((s) => !s.ok).length;
    if (broken > 0) err(`${broken} stream${broken === 1 ? '' : 's'} with integrity problems (run otel-audit verify ${args.target})`);
    // Problems of no stream (a malformed or torn line) hide records: said too, as search says them.
    const lineProblems = report.problems.filter((p) => p.stream === undefined && p.severity === 'error').length - recovered;
    if (lineProblems > 0) err(`${lineProblems} malformed or torn line${lineProblems === 1 ? '' : 's'}: their records are not shown (run otel-audit verify ${args.target})`);
    let unreadable = counts.unreadable;

    const table = args.json ? undefined : new TableWriter(MATCH_COLUMNS, io.out);
    const print = (m: Match): void => (table !== undefined ? table.add(matchRow(m)) : io.out(jsonLine(matchJson(m))));
    let unknown = 0;
    for (const r of last.sorted()) {
      if (args.follow) copies.remember(r);
      const v = verdictOf(r);
      if (v.chain === 'unknown') unknown++;
      print({ record: r, verdict: v });
    }
    table?.flush(args.follow);
    // Said, not only shown (found in re-review: against a busy journal every row could read `unknown`, silently).
    if (unknown > 0) err(`${unknown} record${unknown === 1 ? '' : 's'} shown ${unknown === 1 ? 'was' : 'were'} written after the verifier read the files: chain unknown (run tail again, or otel-audit verify ${args.target})`);
    const changed = index.changed;
    if (changed > 0) err(`${changed} record${changed === 1 ? '' : 's'} shown ${changed === 1 ? 'is' : 'are'} not the record${changed === 1 ? '' : 's'} verified: the files changed since the verifier read them (run otel-audit verify ${args.target})`);
    if (stop === undefined) {
      await io.drain?.();
      return 0;
    }
    following = true;
    const drained = (): Promise<void> => io.drain?.(stop) ?? Promise.resolve();
    await drained();
    // The verifier's record hashes are not needed any more: not kept for the whole session (found in re-review).
    index.releaseHashes();

    let uncompared = 0;
    let firstUncompared: string | undefined;
    while (!stop.aborted) {
      await sleep(args.intervalMs, stop);
      if (stop.aborted) break;
      await pollAll(
        (r) => {
          copies.remember(r);
          print({ record: r, verdict: tracker.check(r) });
        },
        'none',
        refusedByVerifier,
        (r) => {
          // An identical copy is at-least-once delivery; another version of a record shown is the tampering to show.
          const c = copies.compare(r);
          const what = `seq ${r.sequence} of stream ${r.streamId} (${r.file}:${r.line})`;
          if (c === 'different') {
            err(`a different version of ${what}, a record already read: run otel-audit verify ${args.target}`);
            print({ record: r, verdict: { chain: 'broken', problem: { kind: 'modified', seq: r.sequence } } });
          } else if (c === 'unknown') {
            uncompared++;
            firstUncompared ??= what;
          }
        },
      );
      // Said once a poll, not once a record (found in review: a copied or rotated file gave a line per record).
      if (uncompared > 0) {
        const more = uncompared === 1 ? '' : ` and ${uncompared - 1} more`;
        err(`another copy of ${firstUncompared}${more}: record${uncompared === 1 ? '' : 's'} read before following began, not compared (a file copied or rotated?): run otel-audit verify ${args.target}`);
        uncompared = 0;
        firstUncompared = undefined;
      }
      if (counts.unreadable > unreadable) {
        const n = counts.unreadable - unreadable;
        err(`${n} unreadable line${n === 1 ? '' : 's'} or record${n === 1 ? '' : 's'} skipped (malformed, torn or not OTLP/JSON)`);
        unreadable = counts.unreadable;
      }
      await drained();
    }
    // Interrupted: what the reader has not taken is dropped, or it would hold the process (an unread pipe).
    io.abandon?.();
    return 0;
  } finally {
    for (const f of followers.values()) await f.close().catch(() => undefined);
    await retention?.close().catch(() => undefined);
  }
}

/**
 * Aborted by the first SIGINT or SIGTERM once `following()`; before that, the signal is raised again with the
 * handlers removed, ending the process as it would without them. The handlers are removed at the first signal,
 * so a second one acts as usual.
 */
function signalOnInterrupt(following: () => boolean): AbortSignal {
  const ac = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (following()) ac.abort();
    else process.kill(process.pid, sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return ac.signal;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
