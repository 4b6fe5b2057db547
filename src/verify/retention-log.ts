/**
 * Reading the `state/` of journal directories: `state/retention.log` (the heads removed by retention, which are
 * not tampering) and the `state/<stream>.state` files (what the producer says it acknowledged). A retention entry
 * counts only when the state file beside it agrees that the records it removed were acknowledged, and, in a stream
 * whose records verify under the keys given (or with `--require-signatures`), when its own MAC/signature verifies
 * (docs/integrity.md §4.4, §7.2 step 5). The state file is not authenticated.
 */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { keyFingerprint, type VerifyingKey } from '../integrity/keys.js';
import { verifyRetention, verifyRetentionBy, type RetentionAuth, type RetentionClaim } from '../integrity/retention-signature.js';
import type { RetentionEntry } from '../sinks/retention.js';
import type { SkipListener } from './inputs.js';
import { HEX64, keep, own, streamKey } from './record-store.js';
import { FileTooLargeError, NotRegularFileError, openRegularFile, readSmallRegularFile, splitLines } from './safe-read.js';

/** A retention.log line is a few hundred bytes; a longer one is not an entry. */
const MAX_RETENTION_LINE_BYTES = 64 * 1024;
/** A state file is one short JSON line; a larger one is not a state file of ours. */
const MAX_STATE_BYTES = 64 * 1024;

/** What a `state/<stream>.state` file says (sinks/stream-state.ts), as far as the verifier uses it. */
export interface StateView {
  /** `state/<stream>.state`, as found under the input path. */
  file: string;
  /** Highest seq the collector acknowledged. */
  acked: number;
  /** Highest seq the producer had accepted when it last saved the state, when recorded. */
  last: number | undefined;
  /** The producer closed the stream (shutdown). */
  ended: boolean;
  /** Everything up to `last` was delivered and the stream is finished (a replay sets it, with `ended` false). */
  done: boolean;
}

/** Where the cuts of one stream in one journal directory were read: shared by all of them. */
interface CutSource {
  /** The input directory whose state/retention.log holds the lines. */
  dir: string;
  /** `<dir>/state/retention.log`. */
  log: string;
  /** Path the stream's state file would have in that directory. */
  stateFile: string;
  state: StateView | undefined;
}

/**
 * One line of retention.log as read (sinks/retention.ts), its stream by key. Kept lean because a long-lived
 * directory's log holds a line per deleted segment and verify keeps every line of the streams it weighs: the kept
 * fields only, what the producer signed rebuilt from them when asked (stored apart only when a field was
 * shortened), and the `integrity` member as its JSON text, parsed when the line is weighed. Holding each line's
 * parsed objects took ~1.4 KB a line (a 35 MB log of one stream: 215 MB of heap).
 */
export class RetentionLine {
  constructor(
    readonly streamId: string,
    readonly file: string,
    readonly last: number,
    readonly lastHash: string,
    readonly deletedAt: string,
    /** What the producer signed, when it differs from the kept fields (a field past MAX_KEPT_STRING_CHARS). */
    readonly claim: RetentionClaim | undefined,
    /** The line's `integrity` member as JSON text; undefined when absent. */
    readonly integrityJson: string | undefined,
  ) {}

  /** The signed fields as the line has them. */
  get signed(): RetentionClaim {
    return this.claim ?? { streamId: this.streamId, file: this.file, last: this.last, lastHash: this.lastHash, deletedAt: this.deletedAt };
  }

  /** The line's `integrity` member as read (unchecked). */
  get integrity(): unknown {
    return this.integrityJson === undefined ? undefined : (JSON.parse(this.integrityJson) as unknown);
  }
}

/** A retention entry, with the state file of its stream in the same journal directory (undefined: none readable). */
export class RetentionCut extends RetentionLine {
  /** Set by `requireRetentionAuth`: the line counts only if its MAC/signature verifies under these keys. */
  authKeys?: readonly VerifyingKey[];
  /** Why it is required: the stream is signed, or `--require-signatures`. */
  authRequiredBy?: 'signed' | 'flag';
  /** `verifyRetention`'s outcome, once asked. */
  auth?: RetentionAuth;

  constructor(
    line: RetentionLine,
    streamId: string,
    private readonly source: CutSource,
  ) {
    super(streamId, line.file, line.last, line.lastHash, line.deletedAt, line.claim, line.integrityJson);
  }

  /** Where the entry was read: `<dir>/state/retention.log`. */
  get log(): string {
    return this.source.log;
  }
  /** Path the stream's state file would have in that directory. */
  get stateFile(): string {
    return this.source.stateFile;
  }
  get state(): StateView | undefined {
    return this.source.state;
  }
  /** The input directory whose state/retention.log holds the line. */
  get dir(): string {
    return this.source.dir;
  }
}

/** Which keys may sign a stream's retention lines, and why they must (`requireRetentionAuth`). */
export interface RetentionSigners {
  keys: readonly VerifyingKey[];
  /** `--require-signatures`: every line must verify, in every stream. */
  requireSignatures: boolean;
  /** keyFingerprint of the given keys the stream's records or checkpoints verified under (empty: none, or absent). */
  streamSigners(streamId: string): ReadonlySet<string>;
  /** keyFingerprint of the given keys records in that journal directory verified under. */
  dirSigners(dir: string): ReadonlySet<string>;
}

/**
 * Requires retention lines to be signed (docs/integrity.md §4.4) in each stream that is signed — one of its records
 * or checkpoints verifies under a given key, or, its records stripped of their signatures or deleted whole, one of
 * its retention lines does — and in every stream with `--require-signatures`. A line then counts only under a key
 * that verified the stream's own records, or records in the same journal directory (retention run by a later
 * process, after a key rotation): not under any key given, whose holder (another producer, a retired key) could
 * otherwise sign a cut for this stream. Checked when a cut is first weighed, not for every line of a long log.
 */
export function requireRetentionAuth(retained: ReadonlyMap<string, readonly RetentionCut[]>, o: RetentionSigners): void {
  if (o.keys.length === 0 && !o.requireSignatures) return;
  for (const [streamId, cuts] of retained) {
    const own = o.streamSigners(streamId);
    const signed = own.size > 0 || cuts.some((c) => typeof verifyRetentionBy(c.signed, c.integrity, o.keys) !== 'string');
    if (!signed && !o.requireSignatures) continue;
    for (const c of cuts) {
      const here = o.dirSigners(c.dir);
      c.authKeys = o.keys.filter((k) => own.has(keyFingerprint(k)) || here.has(keyFingerprint(k)));
      c.authRequiredBy = signed ? 'signed' : 'flag';
    }
  }
}

/** Undefined when the cut's MAC/signature is not required or verifies; otherwise why it does not. */
function authProblem(c: RetentionCut): string | undefined {
  if (c.authKeys === undefined) return undefined;
  c.auth ??= verifyRetention(c.signed, c.integrity, c.authKeys);
  if (c.auth === 'ok') return undefined;
  const required = c.authRequiredBy === 'flag' ? '--require-signatures requires one' : 'the stream is signed';
  switch (c.auth) {
    case 'absent':
      return `the line carries no MAC/signature, while ${required}`;
    case 'unchecked':
      return `no key verified any record of this stream or directory, to check the line's MAC/signature with, while ${required}`;
    case 'bad':
      return "the line's MAC/signature does not verify under the key of the stream's records";
    default:
      return "the line is not signed by the key of the stream's records (nor of its directory's): a stream does not change keys (after a key rotation, a later process whose records are no longer in this directory may have signed it: verify together with the collector's copy, which holds the records)";
  }
}

/**
 * A cut the state file of its own directory backs: it records the removed records acknowledged. Retention deletes
 * nothing else, so only such a cut accounts for missing records (docs/integrity.md §7.2 step 5, §7.4 step 3). Where
 * its MAC/signature is required, it must verify too (§4.4).
 */
export const isBacked = (c: RetentionCut): boolean => c.state !== undefined && c.state.acked >= c.last && authProblem(c) === undefined;

const UNACKNOWLEDGED = 'retention deletes only acknowledged records, so the claim is not taken (the state file is unauthenticated)';

/** Why a cut is not backed, and so not taken, for a message: "but …". */
export function notBackedWhy(c: RetentionCut): string {
  if (c.state === undefined) return `the stream has no readable state file ${c.stateFile}: ${UNACKNOWLEDGED}`;
  if (c.state.acked < c.last) return `${c.state.file} records only seq ${c.state.acked === 0 ? '0 (none)' : c.state.acked} acknowledged: ${UNACKNOWLEDGED}`;
  return `${authProblem(c) ?? 'it is backed'}: a line anyone can append proves nothing, so the claim is not taken`;
}

/** Of the backed cuts, the one that reaches furthest (the first of those that reach as far). */
export function highestBacked(cuts: readonly RetentionCut[]): RetentionCut | undefined {
  let best: RetentionCut | undefined;
  for (const c of cuts) if (isBacked(c) && (best === undefined || c.last > best.last)) best = c;
  return best;
}

/**
 * A line of retention.log (sinks/retention.ts), or undefined when it is none: not JSON (a torn last line, whose cut is
 * then reported as an ordinary deletion), too long, or without a stream id, a seq >= 1 and a SHA-256 hex hash.
 */
export function parseRetentionLine(bytes: Buffer): RetentionLine | undefined {
  if (bytes.length > MAX_RETENTION_LINE_BYTES) return undefined;
  try {
    const e = JSON.parse(bytes.toString('utf8')) as Partial<Record<keyof RetentionEntry, unknown>>;
    if (typeof e.streamId !== 'string' || !isCount(e.last) || e.last < 1 || typeof e.lastHash !== 'string' || !HEX64.test(e.lastHash)) return undefined;
    // What the producer signed: its fields as written (the kept copies may be shortened).
    const signed = { streamId: e.streamId, file: String(e.file), last: e.last, lastHash: e.lastHash, deletedAt: String(e.deletedAt) };
    const streamId = streamKey(signed.streamId);
    const file = keep(signed.file);
    const deletedAt = keep(signed.deletedAt);
    const same = streamId === signed.streamId && file === signed.file && deletedAt === signed.deletedAt;
    return new RetentionLine(streamId, file, e.last, own(e.lastHash), deletedAt, same ? undefined : signed, e.integrity === undefined ? undefined : JSON.stringify(e.integrity));
  } catch {
    return undefined;
  }
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * The bytes of a small regular file, never through a link; undefined when it is anything else (said through
 * `onSkip`), too large (not ours: skipped silently) or unreadable.
 */
async function readSmallFile(path: string, max: number, onSkip: SkipListener): Promise<Buffer | undefined> {
  try {
    return await readSmallRegularFile(path, max, false);
  } catch (e) {
    if (e instanceof NotRegularFileError && !(e instanceof FileTooLargeError)) onSkip(path, e.message.replace(/^is an? /, ''));
    return undefined;
  }
}

/** The state files in `stateDir`, by stream key. */
async function readStates(stateDir: string, onSkip: SkipListener): Promise<Map<string, StateView>> {
  const out = new Map<string, StateView>();
  let names: string[];
  try {
    names = await readdir(stateDir);
  } catch {
    return out;
  }
  for (const name of names) {
    if (!name.endsWith('.state')) continue;
    const id = name.slice(0, -'.state'.length);
    const view = await readStateFile(stateDir, id, onSkip);
    if (view !== undefined) out.set(streamKey(id), view);
  }
  return out;
}

/**
 * `<stateDir>/<id>.state`, the state file of stream `id` (sinks/stream-state.ts), as far as it is one: a regular file,
 * not a link, naming that stream. `id` must be a name in `stateDir` (a directory entry, or checked by the caller).
 */
export async function readStateFile(stateDir: string, id: string, onSkip: SkipListener): Promise<StateView | undefined> {
  const file = join(stateDir, `${id}.state`);
  const bytes = await readSmallFile(file, MAX_STATE_BYTES, onSkip);
  if (bytes === undefined) return undefined;
  try {
    const s = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
    if (s['version'] !== 1 || s['streamId'] !== id || !isCount(s['acked'])) return undefined;
    return { file, acked: s['acked'], last: isCount(s['last']) ? s['last'] : undefined, ended: s['ended'] === true, done: s['done'] === true };
  } catch {
    return undefined; /* not a state file of ours: as if absent */
  }
}

/**
 * What the input directories that are journal directories say of their streams: the state file of each (the
 * first found) — of the streams `known` and of those with no record among the inputs too (a stream deleted whole
 * leaves its state file) — and the retention entries (sinks/retention.ts) of each, with the stream's state file
 * in the same directory. `state/` must be a directory and `state/retention.log` and the state files regular
 * files, none a link: anything else is skipped (`onSkip`), and the cuts it would have explained are reported
 * as deletions.
 */
export async function readJournalStates(
  paths: readonly string[],
  known: ReadonlyMap<string, number>,
  onSkip: SkipListener,
): Promise<{ retained: Map<string, RetentionCut[]>; states: Map<string, StateView> }> {
  const retained = new Map<string, RetentionCut[]>();
  const states = new Map<string, StateView>();
  for (const p of paths) {
    const stateDir = join(p, 'state');
    const path = join(stateDir, 'retention.log');
    try {
      const st = await lstat(stateDir);
      if (!st.isDirectory()) {
        if (st.isSymbolicLink()) onSkip(stateDir, 'symbolic link inside an input directory, not followed');
        continue;
      }
    } catch {
      continue; // not a journal directory
    }
    // First: a stream known only by its state file is one whose retention entries matter too.
    const here = await readStates(stateDir, onSkip);
    // By stream key: where its cuts were read, shared by all of them, and one string for its id.
    const sources = new Map<string, CutSource & { streamId: string }>();
    let opened: Awaited<ReturnType<typeof openRegularFile>> | undefined;
    try {
      opened = await openRegularFile(path, false);
    } catch (e) {
      if (e instanceof NotRegularFileError) onSkip(path, e.message.replace(/^is an? /, ''));
      opened = undefined; // nothing was ever deleted
    }
    const onLine = (bytes: Buffer | undefined): void => {
      const e = bytes === undefined ? undefined : parseRetentionLine(bytes);
      if (e === undefined || !(known.has(e.streamId) || here.has(e.streamId))) return;
      let src = sources.get(e.streamId);
      if (src === undefined) sources.set(e.streamId, (src = { streamId: e.streamId, dir: p, log: path, stateFile: join(stateDir, `${e.streamId}.state`), state: here.get(e.streamId) }));
      let l = retained.get(src.streamId);
      if (l === undefined) retained.set(src.streamId, (l = []));
      l.push(new RetentionCut(e, src.streamId, src));
    };
    if (opened !== undefined) {
      try {
        for await (const _ of splitLines(opened.fh, onLine, MAX_RETENTION_LINE_BYTES));
      } catch {
        /* unreadable: as if absent */
      } finally {
        await opened.fh.close();
      }
    }
    for (const [k, v] of here) if (!states.has(k)) states.set(k, v);
  }
  return { retained, states };
}
