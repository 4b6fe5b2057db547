/**
 * Chain verifier (ARCHITECTURE.md §7 `verify`; the algorithm is specified in docs/integrity.md §7): reads
 * OTLP/JSON lines files — the local journal (rotated sets too) or the Collector's output, where a stream may
 * be spread over many lines and files and repeated — groups the audit records by stream, checks each stream's
 * hash chain, per-record MACs/signatures and signed checkpoints, and links streams across restarts.
 *
 * Memory: files are streamed (safe-read.ts: lines of at most MAX_LINE_BYTES); per record only a fixed-size
 * tuple is kept, in typed arrays shared by all streams (seq, file, line, flags, signature status, row of the
 * stream's previous record, 32-byte hash, 16-byte UUID record id; previous hash and id only when they are not
 * those of that previous record): about 75 bytes, none of it JS objects. A stream adds its id and a Map
 * entry while reading, and its StreamSummary in the report: about 0.6 KB for a one-record stream in all,
 * measured at a million streams. Strings taken from the input are bounded (MAX_KEPT_STRING_CHARS).
 *
 * What the chain alone cannot prove: the content of the last record of a stream (ended or not) is not
 * covered by any successor's previous_hash, and removing the last records of an unended stream leaves a valid
 * shorter chain. Signatures and checkpoints (`bad_signature`, `truncated`) are for those cases.
 */
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { loadVerifyingKeys, type VerifyingKey } from '../integrity/keys.js';
import { checkStream, type CheckedStream } from './chain-check.js';
import { checkStreamLinks, readCheckpointSources, streamsOnlyInSources } from './cross-stream.js';
import { listInputs, VANISHED, vanished, VerifyInputError, type InputFile, type SkipListener } from './inputs.js';
import { errorText } from '../core/errors.js';
import type { IntegrityContext } from './integrity-check.js';
import { clip, ProblemList, type Problem } from './problems.js';
import { scanInWorkers, workerEntryInstalled } from './parallel-read.js';
import type { ReadItem } from './read-items.js';
import { scanRecords } from './read-records.js';
import { keep, RecordStore, streamKey } from './record-store.js';
import { highestBacked, isBacked, readJournalStates, requireRetentionAuth, type RetentionCut, type RetentionSigners, type StateView } from './retention-log.js';
import type { StreamSummary } from './summary.js';

export { listInputFiles, VerifyInputError } from './inputs.js';
export { VerifyWorkerError } from './parallel-read.js';
export type { SkipListener } from './inputs.js';
export { countProblems, MAX_LISTED_PROBLEMS } from './problems.js';
export type { Problem, ProblemKind, ProblemReason, Severity } from './problems.js';
export { MAX_KEPT_STRING_CHARS } from './record-store.js';
export type { CheckpointCounts, SignatureCounts, StreamSummary } from './summary.js';
export { seqSpan } from './summary.js';

export interface VerifyReport {
  /** No problem with severity `error`. */
  ok: boolean;
  /** Files read. */
  files: number;
  /** Audit records read, every copy counted. */
  records: number;
  /** Records without `audit.sequence.stream_id`, ignored. */
  nonAudit: number;
  streams: StreamSummary[];
  problems: Problem[];
  /**
   * Inputs found but not read (a symbolic link inside an input directory, a name that is not valid UTF-8, a FIFO,
   * a file that vanished), the first MAX_LISTED_SKIPS of them; absent when none. Their records are not in this
   * verdict: a report that did not say so would call a directory intact whose tampered file it never read (found in
   * review).
   */
  skipped?: Array<{ path: string; reason: string }>;
  /** How many inputs were skipped in all, when more than are listed. */
  skippedCount?: number;
}

/** Skipped inputs listed in a report; the rest are counted. */
export const MAX_LISTED_SKIPS = 100;

/** How many inputs the report's verdict does not cover: found and not read. */
export const inputsNotRead = (r: VerifyReport): number => r.skippedCount ?? r.skipped?.length ?? 0;

/** Streams none of whose record signatures verified under the keys given (none without keys): verify's WARNING lines. */
export const unverifiedStreams = (r: VerifyReport): StreamSummary[] => r.streams.filter((s) => s.signatures.verified === false);

export interface VerifyOptions {
  /**
   * Do not report `reordered` (for inputs whose writer does not keep sequence order within a file). Order is
   * only ever checked within one file: across files it depends on how the files were named and rotated.
   */
  allowReorder?: boolean;
  /**
   * Trusted keys (loadVerifyingKeys): Ed25519 public keys verify EdDSA record signatures and checkpoints; HMAC
   * keys verify HMAC-SHA256 MACs. With at least one key, record signatures are checked; with an Ed25519 key,
   * checkpoints too.
   */
  pubkeys?: readonly VerifyingKey[];
  /** HMAC secrets, in the OTEL_AUDIT_HMAC_KEY notation (`base64:…`, `hex:…` or raw text, >= 32 bytes). */
  hmacSecrets?: readonly string[];
  /** Every record must carry a MAC/signature that verifies under a given key (unsigned or unknown key: error). */
  requireSignatures?: boolean;
  /**
   * More files or directories whose valid checkpoints count as evidence for the streams verified (e.g. the
   * collector's copy when verifying the local journal): their other records are not read or verified.
   * Needs an Ed25519 key in `pubkeys`.
   */
  checkpointSources?: readonly string[];
  /**
   * Told about each entry of an input directory that is not read: a symbolic link (never followed inside a
   * directory) or a `*.jsonl`/`*.json` entry that is not a regular file (a FIFO, socket or device), and a
   * `state/retention.log` that is not a regular file. Skipping is not a finding; the command prints a note.
   */
  onSkip?: SkipListener;
  /**
   * Worker threads that parse, canonicalize, hash and check signatures (parallel-read.ts); the main thread
   * still reads the files and runs every chain check, so the report is the same for any value. 1 (the
   * default): everything in this thread. 'auto' (`otel-audit verify` without --jobs): one per
   * os.availableParallelism() when the inputs hold more than AUTO_PARALLEL_BYTES and the worker entry is
   * installed (it is not when running from the sources), else 1.
   */
  jobs?: number | 'auto';
  /**
   * Given: called once the report is made, with the hash of the chain record each (stream, seq) was judged by.
   * search and tail bind their verdicts to it: a copy read again afterwards with other content (the file
   * changed between the two reads) is not the record verified (found in review: a record planted or replaced
   * meanwhile was shown `verified`). Keeps the records' hashes for as long as the callee keeps the function.
   */
  onChainHashes?: (hashAt: (streamId: string, seq: number) => string | undefined) => void;
}

/** Below this much input, starting worker threads costs more than it saves. */
const AUTO_PARALLEL_BYTES = 8 << 20;

function jobsFor(jobs: number | 'auto', inputs: readonly InputFile[]): number {
  if (jobs !== 'auto') return jobs;
  const bytes = inputs.reduce((n, f) => n + f.size, 0);
  return workerEntryInstalled() ? autoJobs(bytes, availableParallelism()) : 1;
}

/**
 * Workers by default: one per core for inputs over AUTO_PARALLEL_BYTES, at most AUTO_MAX_JOBS. Each worker costs
 * tens of MB; on a machine reporting 200 cores, 200 of them took 2 GB and were slower than a few.
 */
export const AUTO_MAX_JOBS = 8;
export function autoJobs(bytes: number, cores: number): number {
  return bytes > AUTO_PARALLEL_BYTES ? Math.max(1, Math.min(cores, AUTO_MAX_JOBS)) : 1;
}

/** Reads every input, in this thread or with worker threads; `take` gets each item in file and line order. */
async function readInputs(
  inputs: readonly InputFile[],
  keys: readonly VerifyingKey[],
  checkSignatures: boolean,
  jobs: number,
  take: (fileIndex: number, item: ReadItem) => void,
  onSkip: SkipListener,
): Promise<void> {
  if (jobs > 1 && inputs.length > 0) return scanInWorkers(inputs, keys, checkSignatures, jobs, take, onSkip);
  for (let f = 0; f < inputs.length; f++) {
    const input = inputs[f]!;
    try {
      await scanRecords(input.path, { keys, checkSignatures, followSymlinks: input.follow }, (item) => take(f, item));
    } catch (e) {
      // ENOENT comes only from the open: a file read from an open descriptor does not vanish.
      if (vanished(e, input)) onSkip(input.path, VANISHED);
      else throw new VerifyInputError(`${input.path}: ${errorText(e)}`, { cause: e });
    }
  }
}

/**
 * The stream's state file says the producer closed it at a seq the chain held does not reach: its tail may have
 * been cut. Info only: the file is not authenticated, and records whose journal write failed are missing from a
 * journal although the producer accepted them (docs/integrity.md §7.4).
 */
function stateSaysMore(summary: StreamSummary, state: StateView | undefined): Problem | undefined {
  // Whether an end record was read does not matter: one made up after a cut (unsigned, or a checkpoint claim not
  // checked without the public key) would otherwise hide the cut.
  if (state === undefined || !state.ended || state.last === undefined || summary.last >= state.last) return undefined;
  return {
    kind: 'truncated',
    severity: 'info',
    stream: summary.streamId,
    seq: summary.last + 1,
    ...(state.last === summary.last + 1 ? {} : { through: state.last }),
    reason: 'state_file',
    file: state.file,
    message: `the stream's state file says the producer closed it at seq ${state.last}, but the records held end at seq ${summary.last}${summary.ended ? ', with an end record there' : ' without the end record'}: its tail may have been cut${summary.ended ? ' and an end record made up' : ''} (or its journal writes failed; compare the collector's copy). The state file is not authenticated`,
  };
}

/**
 * The record of a stream whose seq and hash the next stream of its process recorded (docs/integrity.md §6), by
 * stream; a stream two links name differently is left out (nothing tells which is right).
 */
function certifiedByRestartLinks(store: RecordStore): Map<string, { seq: number; hash: string } | undefined> {
  const out = new Map<string, { seq: number; hash: string } | undefined>();
  for (const l of store.links.values()) {
    if (l.previousStreamLast === undefined || l.previousStreamHash === undefined) continue;
    const key = streamKey(l.previousStreamId);
    const c = { seq: l.previousStreamLast, hash: l.previousStreamHash };
    const had = out.get(key);
    out.set(key, !out.has(key) || (had !== undefined && had.seq === c.seq && had.hash === c.hash) ? c : undefined);
  }
  return out;
}

/**
 * docs/integrity.md §7.4 step 3, for a stream of which no record is among the inputs while its state file in an
 * input directory says the producer wrote records the collector had not acknowledged: those are kept in the
 * journal in every mode (the spool, with OTEL_AUDIT_FILE=fallback) until acknowledged, so its files were deleted.
 * Retention removes only acknowledged records, so it accounts for none of them: a retention.log entry past the
 * state's acknowledged seq is a claim not taken, as in a stream's own check (chain-check.ts). Acknowledged
 * records prove nothing either way (a fallback journal never holds them; the collector's copy does). Info, as for
 * a cut tail: the state file is not authenticated.
 */
function stateOfAbsentStream(streamId: string, state: StateView, cuts: readonly RetentionCut[]): Problem | undefined {
  const last = state.last ?? 0;
  // A cut backed by the state file of its own directory (another input directory may hold a newer one) shows
  // those records acknowledged too.
  const from = Math.max(state.acked, highestBacked(cuts)?.last ?? 0) + 1;
  if (from > last) return undefined;
  const range = from === last ? `seq ${last}` : `seq ${from}–${last}`;
  const claimed = cuts.filter((c) => c.last >= from && !isBacked(c)).sort((a, b) => b.last - a.last)[0];
  const claim =
    claimed === undefined
      ? ''
      : `; ${claimed.log} claims seq 1–${claimed.last} were removed by retention, but retention removes only acknowledged records: the claim is not taken`;
  return {
    kind: 'truncated',
    severity: 'info',
    stream: streamId,
    seq: from,
    ...(from === last ? {} : { through: last }),
    reason: 'state_file',
    file: state.file,
    message: `no record of this stream is among the inputs, but its state file says the producer ${state.ended ? 'closed it' : 'was'} at seq ${last} and the collector had acknowledged ${state.acked === 0 ? 'none' : `seq 1–${state.acked}`}: ${range}, kept in the journal until acknowledged, ${from === last ? 'is' : 'are'} missing — its journal files may have been deleted (compare the collector's copy)${claim}. The state file is not authenticated`,
  };
}

/**
 * A stream of which no record is among the inputs because retention removed them, as state/retention.log says
 * and the state file beside it backs (it records them acknowledged): said as info, as a head removed by
 * retention is in a stream's own check, so that the stream is not passed over in silence.
 */
function retiredByRetention(streamId: string, state: StateView, cuts: readonly RetentionCut[]): Problem | undefined {
  const c = highestBacked(cuts);
  if (c === undefined || c.last === 0) return undefined;
  // Acknowledged records after the cut that no input holds: expected of a fallback journal, said all the same.
  const rest = Math.min(state.last ?? 0, Math.max(state.acked, c.state!.acked));
  const tail = rest <= c.last ? '' : `; ${rest === c.last + 1 ? `seq ${rest}` : `seq ${c.last + 1}–${rest}`}, acknowledged too, ${rest === c.last + 1 ? 'is' : 'are'} neither among the inputs nor in retention.log (a fallback journal never holds acknowledged records)`;
  return {
    kind: 'deleted',
    severity: 'info',
    stream: streamId,
    seq: 1,
    ...(c.last === 1 ? {} : { through: c.last }),
    file: c.log,
    message: `no record of this stream is among the inputs: ${c.last === 1 ? 'seq 1 was' : `seq 1–${c.last} were`} removed by retention (${c.file}, ${c.deletedAt}) after the collector acknowledged them; ${c.stateFile} records seq ${c.state!.acked} acknowledged${tail}. Not verified here: the collector's copy holds them`,
  };
}

/**
 * Which inputs read from a directory are gone from the input paths now, asked after every input and retention.log
 * were read: a segment retention deleted right after the verifier read it (chain-check.ts `retainedWhileRead`).
 * Undefined — nothing counts as gone — unless a listed file vanished before it was opened: the race that rule is
 * for always deletes one (the segment after the one read). Nothing counts as gone either when the paths cannot be
 * listed again, as when a file the caller named is gone (named files never count).
 *
 * A file is still there when the listing has its path with the same device and inode; or when a file under another
 * path has them and holds a record read from it (same stream, seq and hash): a segment renamed, or kept under a
 * second name (a hard link), still holds its records (found in review: judged by name, a segment renamed after it
 * was read counted as deleted). The inode alone does not say it: retention deletes segments while the producer
 * creates new ones, which reuse the freed inodes (found by a stress run: 27 of 100 verify runs on a live directory).
 */
async function goneSinceListed(paths: readonly string[], inputs: readonly InputFile[], store: RecordStore, vanishedSeen: boolean): Promise<((f: number) => boolean) | undefined> {
  if (!vanishedSeen) return undefined;
  /** Device and inode → the path listed now (the listing takes one per inode). */
  const now = new Map<string, string>();
  try {
    for (const f of await listInputs(paths, () => undefined)) now.set(f.id, f.path);
  } catch {
    return undefined;
  }
  const gone = new Uint8Array(inputs.length);
  /** Inputs whose inode is now under another path: that path, to be read. */
  const elsewhere = new Map<number, string>();
  inputs.forEach((input, f) => {
    if (input.follow) return;
    const there = now.get(input.id);
    if (there === undefined) gone[f] = 1;
    else if (there !== input.path) elsewhere.set(f, there);
  });
  if (elsewhere.size > 0) {
    const key = (streamId: string, seq: number, hash: string): string => `${streamId}\n${seq}\n${hash}`;
    const readFrom = new Map<number, Set<string>>();
    for (const [streamId, k] of store.streams) {
      for (const i of store.rowsOf(k)) {
        const f = store.file[i]!;
        if (!elsewhere.has(f)) continue;
        let set = readFrom.get(f);
        if (set === undefined) readFrom.set(f, (set = new Set()));
        set.add(key(streamId, store.seq[i]!, store.hashHex(i)));
      }
    }
    for (const [f, there] of elsewhere) {
      const wanted = readFrom.get(f);
      if (wanted === undefined) continue; // no record was read from it: nothing to miss
      let holds = false;
      try {
        await scanRecords(there, { checkSignatures: false, followSymlinks: false }, (item) => {
          if (item.kind === 'record' && wanted.has(key(streamKey(item.streamId), item.seq, item.hash))) holds = true;
        });
      } catch (e) {
        // Gone meanwhile (a new segment retention deleted too): it holds nothing. Unreadable: not taken as gone.
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') holds = true;
      }
      if (!holds) gone[f] = 1;
    }
  }
  return (f) => gone[f] === 1;
}

/** The keys each stream's and each journal directory's records verified under, for requireRetentionAuth. */
function retentionSigners(store: RecordStore, files: readonly string[], keys: readonly VerifyingKey[], requireSignatures: boolean): RetentionSigners {
  let byDir: Map<string, Set<string>> | undefined;
  return {
    keys,
    requireSignatures,
    streamSigners(streamId) {
      const out = new Set<string>();
      const k = store.streams.get(streamId);
      if (k !== undefined) for (const i of store.rowsOf(k)) {
        const f = store.signerOf(i);
        if (f !== undefined) out.add(f);
      }
      return out;
    },
    dirSigners(dir) {
      if (byDir === undefined) {
        byDir = new Map();
        const dirOf = files.map((f) => dirname(resolve(f)));
        // Each file's directory and every directory above it: a segment in rejected/ belongs to its journal too.
        for (let i = 0; i < store.length; i++) {
          const f = store.signerOf(i);
          if (f === undefined) continue;
          for (let d = dirOf[store.file[i]!]!, up = ''; d !== up; up = d, d = dirname(d)) {
            let set = byDir.get(d);
            if (set === undefined) byDir.set(d, (set = new Set()));
            if (set.has(f)) break;
            set.add(f);
          }
        }
      }
      return byDir.get(resolve(dir)) ?? new Set();
    },
  };
}

/**
 * Verifies the hash chains in `paths` (files or directories). Throws `VerifyInputError` only for a path that
 * cannot be read; everything wrong with the content is a `Problem` in the report.
 */
export async function verifyFiles(paths: readonly string[], options: VerifyOptions = {}): Promise<VerifyReport> {
  const keys = [...(options.pubkeys ?? []), ...loadVerifyingKeys([], options.hmacSecrets ?? [])];
  const ic: IntegrityContext = {
    keys,
    checkSignatures: keys.length > 0 || options.requireSignatures === true,
    checkCheckpoints: keys.some((k) => k.algorithm === 'EdDSA'),
    requireSignatures: options.requireSignatures === true,
  };
  const skipped: Array<{ path: string; reason: string }> = [];
  let skippedCount = 0;
  let vanishedSeen = false;
  const onSkip: SkipListener = (path, reason) => {
    if (reason === VANISHED) vanishedSeen = true;
    if (++skippedCount <= MAX_LISTED_SKIPS) skipped.push({ path: keep(path), reason: keep(reason) });
    options.onSkip?.(path, reason);
  };
  const inputs = await listInputs(paths, onSkip);
  const files = inputs.map((f) => f.path);
  const store = new RecordStore();
  const problems = new ProblemList();
  let records = 0;
  let nonAudit = 0;
  const take = (f: number, item: ReadItem): void => {
    if (item.kind === 'record') {
      records++;
      store.push(item, f);
    } else if (item.kind === 'nonAudit') {
      nonAudit++;
    } else {
      problems.add({ kind: item.kind, severity: 'error', file: files[f]!, line: item.line, message: clip(item.message) });
    }
  };
  await readInputs(inputs, keys, ic.checkSignatures, jobsFor(options.jobs ?? 1, inputs), take, onSkip);
  // Problems across streams and files are listed after every stream's own (docs/integrity.md §7.5).
  const across = new ProblemList();
  const external = await readCheckpointSources(options.checkpointSources ?? [], inputs, store.streams, ic, across, onSkip);
  const { retained, states } = await readJournalStates(paths, store.streams, onSkip);
  // In a signed stream a retention line must be signed too (docs/integrity.md §4.4): otherwise one line appended by
  // hand passes off a head deletion as retention.
  if (retained.size > 0) requireRetentionAuth(retained, retentionSigners(store, files, keys, ic.requireSignatures));
  const summaries: StreamSummary[] = [];
  // Only streams in a restart link are needed after their own check; the others are dropped as checked.
  const linked = new Set<string>();
  for (const l of store.links.values()) linked.add(l.previousStreamId);
  const checked = new Map<string, CheckedStream>();
  const chainAt = options.onChainHashes === undefined ? undefined : new Map<string, CheckedStream['at']>();
  const certified = certifiedByRestartLinks(store);
  const goneNow = await goneSinceListed(paths, inputs, store, vanishedSeen);
  for (const [streamId, k] of store.streams) {
    const r = checkStream(streamId, store, store.rowsOf(k), {
      fileNames: files,
      allowReorder: options.allowReorder === true,
      retained: retained.get(streamId) ?? [],
      integrity: ic,
      external: external.get(streamId) ?? [],
      list: problems,
      certified: certified.get(streamId),
      goneNow,
    });
    if (r.link !== undefined || linked.has(streamId)) checked.set(streamId, r);
    chainAt?.set(streamId, r.at);
    summaries.push(r.summary);
    for (const p of r.problems) problems.add(p); // not push(...): could be up to MAX_LISTED_PROBLEMS
    // Copies set aside, and the cut that reaches where the state file says the stream was closed: retention, said.
    const cut = r.asideCut !== undefined && r.asideCut.last >= (states.get(streamId)?.last ?? Infinity) ? undefined : stateSaysMore(r.summary, states.get(streamId));
    if (cut !== undefined) across.add(cut);
  }
  problems.absorb(across);
  for (const p of checkStreamLinks(checked, files, retained)) problems.add(p);
  // The verified key ids take a pass over every record: only when a checkpoint source gave streams to judge.
  if (external.size > 0) for (const p of streamsOnlyInSources(external, store.streams, store.verifiedKeyIds())) problems.add(p);
  for (const [streamId, state] of states) {
    if (store.streams.has(streamId) || external.has(streamId)) continue;
    const cuts = retained.get(streamId) ?? [];
    const retired = retiredByRetention(streamId, state, cuts);
    if (retired !== undefined) problems.add(retired);
    const cut = stateOfAbsentStream(streamId, state, cuts);
    if (cut !== undefined) problems.add(cut);
  }
  if (chainAt !== undefined) {
    options.onChainHashes!((streamId, seq) => {
      const i = chainAt.get(streamId)?.(seq);
      return i === undefined ? undefined : store.hashHex(i);
    });
  }
  const listed = problems.finish();
  // Errors found outside a stream's own check (a checkpoint source, a restart link, its state file) name it too.
  for (const summary of summaries) if (problems.errorStreams.has(summary.streamId)) summary.ok = false;
  return {
    ok: !listed.some((p) => p.severity === 'error'),
    files: files.length,
    records,
    nonAudit,
    streams: summaries,
    problems: listed,
    ...(skippedCount === 0 ? {} : { skipped, ...(skippedCount > skipped.length ? { skippedCount } : {}) }),
  };
}
