/**
 * Problems a verification finds (docs/integrity.md §7.4 for the sub-kinds), the report's capped problem list,
 * and the per-stream reporter the chain and integrity checks share.
 */
import type { RecordStore } from './record-store.js';

export type ProblemKind =
  | 'modified'
  | 'deleted'
  | 'inserted'
  | 'reordered'
  | 'duplicate'
  | 'malformed'
  | 'torn'
  | 'truncated'
  | 'bad_signature'
  | 'restart';

/**
 * Finer classification of `bad_signature`, `truncated` and `restart` problems (docs/integrity.md §7.4):
 * - bad_signature: `invalid` (a record MAC/signature does not verify, or its audit.integrity.* attributes are
 *   malformed), `unknown_key` (signed with a key not given: info when the whole stream names that one key,
 *   error with --require-signatures or when the stream's other records verify or name another key),
 *   `unsigned` (no signature, with --require-signatures or where the rest of the stream is signed),
 *   `checkpoint_invalid` (forged or malformed checkpoint), `checkpoint_unknown_key` (checkpoint signed by a key
 *   not given), `key_changed` (records or checkpoints of one stream that verify under different given keys);
 * - truncated: `records_missing` (a valid checkpoint proves records beyond the last one held),
 *   `head_mismatch` (a valid checkpoint certifies another hash for a record held: the chain was rewritten),
 *   `checkpoint_missing` (an ordinary record where the declared checkpoint interval requires a checkpoint),
 *   `previous_stream` (the next stream of the process saw records of this one that are not held),
 *   `state_file` (info: the stream's state file in an input directory says it was closed at a seq the records
 *   held do not reach);
 * - restart: `previous_missing` (the stream's predecessor is not among the inputs), `previous_unended` (it
 *   ends without an end record: the process stopped without shutting down), `link_doubted` (the restart link
 *   contradicts the predecessor's records, but the record carrying it was itself changed: not taken as evidence).
 */
export type ProblemReason =
  | 'invalid'
  | 'unknown_key'
  | 'unsigned'
  | 'checkpoint_invalid'
  | 'checkpoint_unknown_key'
  | 'key_changed'
  | 'records_missing'
  | 'head_mismatch'
  | 'checkpoint_missing'
  | 'previous_stream'
  | 'state_file'
  | 'previous_missing'
  | 'previous_unended'
  | 'link_doubted'
  /** `modified`: both the record's links are broken, so the record before it may have been changed as well. */
  | 'both_links'
  /** `modified`: an `audit.integrity.*` attribute the producer never writes (outside the hash) was added. */
  | 'unhashed_attribute';

/** `info` does not fail verification (an identical duplicate is what at-least-once delivery produces). */
export type Severity = 'error' | 'info';

export interface Problem {
  kind: ProblemKind;
  severity: Severity;
  /** The stream id, bounded like StreamSummary.streamId (so are record ids). */
  stream?: string;
  /** For `deleted` and `truncated`, the first missing sequence number. */
  seq?: number;
  /** For a problem about a run of records (seq … through), the last sequence number. */
  through?: number;
  recordId?: string;
  /** Where the evidence is; for `deleted`, the record after the gap. */
  file?: string;
  /** 1-based line number in `file`. */
  line?: number;
  /** Machine-readable sub-kind for bad_signature, truncated and restart. */
  reason?: ProblemReason;
  message: string;
  /**
   * On the closing problem of a kind past the listing limit (MAX_LISTED_PROBLEMS): how many problems of that kind it
   * stands for, and how many of them are errors.
   */
  omitted?: { count: number; errors: number };
}

/**
 * Problems counted: errors, and per kind (`kind` or `kind (info)`), each closing problem counted as the problems it
 * stands for (found in review: past the limit, each counted as one, so the verdict's counts were wrong).
 */
export function countProblems(problems: readonly Problem[]): { errors: number; byKind: Map<string, number> } {
  const byKind = new Map<string, number>();
  let errors = 0;
  const add = (key: string, n: number): void => {
    if (n > 0) byKind.set(key, (byKind.get(key) ?? 0) + n);
  };
  for (const p of problems) {
    const errs = p.omitted === undefined ? (p.severity === 'error' ? 1 : 0) : p.omitted.errors;
    const infos = p.omitted === undefined ? 1 - errs : p.omitted.count - p.omitted.errors;
    errors += errs;
    add(p.kind, errs);
    add(`${p.kind} (info)`, infos);
  }
  return { errors, byKind };
}


/**
 * Most problems one report lists. Past it, problems are counted by kind and each kind with omitted ones gets
 * one closing problem saying how many ("… more malformed problems not listed"), with the severity of the
 * worst omitted one, so `ok` and the exit status stay exact. Without a bound, a 10 MB file of junk lines
 * (five million `malformed`) needed more than 1 GiB.
 */
export const MAX_LISTED_PROBLEMS = 100_000;

/** The report's problems, listed up to MAX_LISTED_PROBLEMS and counted beyond. */
export class ProblemList {
  readonly listed: Problem[] = [];
  private readonly omitted = new Map<ProblemKind, { count: number; errors: number }>();
  /** Streams named by an error, listed or not: their summary is not ok, whichever check found it. */
  readonly errorStreams = new Set<string>();

  /** How many more can be listed. */
  room(): number {
    return MAX_LISTED_PROBLEMS - this.listed.length;
  }

  add(p: Problem): void {
    if (p.severity === 'error' && p.stream !== undefined) this.errorStreams.add(p.stream);
    if (this.listed.length < MAX_LISTED_PROBLEMS) this.listed.push(p);
    else this.omit(p);
  }

  /** Adds what `other` listed and counted, after this list's own (problems found earlier, to be listed later). */
  absorb(other: ProblemList): void {
    for (const p of other.listed) this.add(p);
    for (const [kind, o] of other.omitted) {
      const mine = this.omitted.get(kind) ?? { count: 0, errors: 0 };
      this.omitted.set(kind, { count: mine.count + o.count, errors: mine.errors + o.errors });
    }
    for (const s of other.errorStreams) this.errorStreams.add(s);
  }

  omit(p: Problem): void {
    let o = this.omitted.get(p.kind);
    if (o === undefined) this.omitted.set(p.kind, (o = { count: 0, errors: 0 }));
    o.count++;
    if (p.severity === 'error') o.errors++;
  }

  /** The listed problems, then one per kind that had problems omitted. */
  finish(): Problem[] {
    for (const [kind, o] of this.omitted) {
      this.listed.push({
        kind,
        severity: o.errors > 0 ? 'error' : 'info',
        message: `${o.count} more ${kind} problem${o.count === 1 ? '' : 's'} not listed (a report lists at most ${MAX_LISTED_PROBLEMS})`,
        omitted: { count: o.count, errors: o.errors },
      });
    }
    return this.listed;
  }
}

/** A message quoting input stays one short line, whatever the input. */
export const clip = (text: string): string => (text.length <= 300 ? text : `${text.slice(0, 300)}…`);

/** Reports a problem about record row `i` of a stream; `over` replaces what is taken from the row. */
export type Report = (
  kind: ProblemKind,
  i: number,
  message: string,
  over?: { seq: number; recordId?: string; severity?: Severity; reason?: ProblemReason; through?: number },
) => void;

/** One stream's problems while it is checked, and the helpers every check of it uses. */
export interface StreamProblems {
  /** The problems listed (the report may hold no room for all of them). */
  readonly problems: Problem[];
  /** Some problem of severity `error` was reported, listed or not. */
  failed(): boolean;
  seqOf(i: number): number;
  /** `file:line` of row `i`. */
  where(i: number): string;
  report: Report;
}

/** The reporter for stream `streamId`, whose records are rows of `s`; past `list`'s room problems are only counted. */
export function streamProblems(streamId: string, s: RecordStore, fileNames: readonly string[], list: ProblemList): StreamProblems {
  const problems: Problem[] = [];
  let anyError = false;
  const seqOf = (i: number): number => s.seq[i]!;
  const where = (i: number): string => `${fileNames[s.file[i]!]}:${s.line[i]}`;
  const report: Report = (kind, i, message, over) => {
    const recordId = over === undefined ? s.recordId(i) : over.recordId;
    const severity = over?.severity ?? (kind === 'duplicate' || kind === 'restart' ? 'info' : 'error');
    if (severity === 'error') anyError = true;
    // Beyond the report's room only counted: a stream of a million copies of one record is not a million objects.
    if (problems.length >= list.room()) return list.omit({ kind, severity, message: '' });
    problems.push({
      kind,
      severity,
      stream: streamId,
      seq: over?.seq ?? seqOf(i),
      ...(over?.through === undefined || over.through === over.seq ? {} : { through: over.through }),
      ...(recordId === undefined || recordId === '' ? {} : { recordId }),
      file: fileNames[s.file[i]!]!,
      line: s.line[i]!,
      ...(over?.reason === undefined ? {} : { reason: over.reason }),
      message,
    });
  };
  return { problems, failed: () => anyError, seqOf, where, report };
}
