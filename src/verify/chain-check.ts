/**
 * Per-stream chain checks (docs/integrity.md §7): one record per seq, order within a file, nothing after the
 * end record, gaps and broken links; then the stream's signatures and checkpoints (integrity-check.ts).
 */
import { basename, dirname } from 'node:path';
import { checkIntegrity, type ExternalCheckpoint, type IntegrityContext } from './integrity-check.js';
import { highestBacked, isBacked, notBackedWhy, type RetentionCut } from './retention-log.js';
import { streamProblems, type Problem, type ProblemList, type StreamProblems } from './problems.js';
import { F_CHECKPOINT, F_END, F_END_EVENT, F_HAS_PREV, F_OUT_OF_ORDER, F_PREV_HEX, F_REJECTED, F_RESEQUENCED, SIG_NONE, SIG_OK, SIG_UNCHECKED, type RecordStore, type StreamLink } from './record-store.js';
import type { StreamSummary } from './summary.js';

interface StreamContext {
  fileNames: readonly string[];
  allowReorder: boolean;
  retained: readonly RetentionCut[];
  integrity: IntegrityContext;
  /** Valid checkpoints of this stream found in `checkpointSources` (not in the inputs). */
  external: readonly ExternalCheckpoint[];
  /** Where the stream's problems go once checked; past its room they are only counted. */
  list: ProblemList;
  /** The seq and hash of a record of this stream that the next stream of its process recorded (its restart link). */
  certified?: { seq: number; hash: string } | undefined;
  /**
   * Is input file `f` (an index into fileNames, found in an input directory) gone from the input paths now, after it
   * was read? Asked only of a gap in the middle of the stream that backed retention cuts account for on both sides
   * (see `retainedWhileRead`); absent: never.
   */
  goneNow?: (f: number) => boolean;
}

/** What the cross-stream pass (restart links) needs of a checked stream. */
export interface CheckedStream {
  summary: StreamSummary;
  /** The problems listed (the report may hold no room for all of them). */
  problems: Problem[];
  /** Index of the chain record with this seq, if held. */
  at(seq: number): number | undefined;
  records: RecordStore;
  /** The restart link on the stream's seq-1 record, if any. */
  link?: StreamLink;
  /** The retention cut that accounts for the gaps around copies set aside in rejected/ (setAsideCut), if any. */
  asideCut?: RetentionCut;
  /** Why no such cut does, when copies set aside come first. */
  asideWhy?: string;
  /** Were the stream's records up to a seq read only from files gone now (chain-check.ts `goneThrough`)? When a file vanished. */
  goneThrough?: GoneThrough;
}

/** File indexes holding the rows, ascending. */
function filesOf(s: RecordStore, rows: Uint32Array): number[] {
  const out: number[] = [];
  let last = -1;
  for (const i of rows) {
    const f = s.file[i]!;
    // Files are read in index order, so rows list them ascending: only a repeat of the last one is possible.
    if (f !== last) out.push((last = f));
  }
  return out;
}

/** A stream's rows sorted by seq, in groups of equal seq: group g is order[starts[g] .. starts[g+1]). */
class SeqGroups {
  readonly order: Uint32Array;
  readonly starts: Uint32Array;
  readonly count: number;

  constructor(
    private readonly s: RecordStore,
    rows: Uint32Array,
  ) {
    const seq = s.seq;
    // Sort by seq; ties keep reading order, so "first seen" is deterministic.
    // Rows grow in reading order, so the row breaks ties in reading order.
    const order = rows.slice();
    order.sort((a, b) => seq[a]! - seq[b]! || a - b);
    const starts = new Uint32Array(order.length + 1);
    let groups = 0;
    for (let k = 0; k < order.length; k++) {
      if (k === 0 || seq[order[k]!] !== seq[order[k - 1]!]) starts[groups++] = k;
    }
    starts[groups] = order.length;
    this.order = order;
    this.starts = starts;
    this.count = groups;
  }

  seq(g: number): number {
    return this.s.seq[this.order[this.starts[g]!]!]!;
  }

  /** First copy of each distinct record (by hash) in group g, in reading order. */
  variants(g: number): number[] {
    const start = this.starts[g]!;
    const end = this.starts[g + 1]!;
    const vs: number[] = [this.order[start]!];
    if (end - start === 1) return vs;
    // By hash, not pairwise: thousands of versions of one seq (a hostile input) stay linear.
    const seen = new Set([this.s.hashHex(vs[0]!)]);
    for (let k = start + 1; k < end; k++) {
      const i = this.order[k]!;
      const h = this.s.hashHex(i);
      if (!seen.has(h)) {
        seen.add(h);
        vs.push(i);
      }
    }
    return vs;
  }
}

/** Checks stream `streamId`, whose records are `rows` of `s` (in reading order). */
export function checkStream(streamId: string, s: RecordStore, rows: Uint32Array, ctx: StreamContext): CheckedStream {
  const sp = streamProblems(streamId, s, ctx.fileNames, ctx.list);
  const { problems, seqOf } = sp;
  resequence(s, rows, sp);
  const { chain, reorderCandidates } = pickChain(s, new SeqGroups(s, rows), sp);
  if (!ctx.allowReorder) reportReordered(s, rows, reorderCandidates, sp);
  const { len, endPos } = cutAfterEnd(s, chain, sp);
  const setAside = (i: number): boolean => isSetAside(ctx.fileNames[s.file[i]!]!);
  // The first seq held outside rejected/ (Infinity: none), after resequencing took copies back to their seq.
  let firstHeld = Infinity;
  for (const i of rows) if (s.seq[i]! < firstHeld && !setAside(i)) firstHeld = s.seq[i]!;
  const at = chainLookup(chain, len, seqOf);
  const aside = setAsideCut(s, chain, len, endPos, ctx.retained, firstHeld, ctx.certified, at);
  const gone = ctx.goneNow === undefined ? undefined : goneThrough(s, rows, ctx.goneNow, setAside);
  checkLinks(s, chain, len, ctx.retained, sp, ctx.certified, firstHeld, aside, gone);
  const asideCut = aside?.cut;
  const lastHeld = len > 0 ? seqOf(chain[len - 1]!) : 0;
  if (asideCut !== undefined && firstHeld === Infinity && ctx.certified === undefined && lastHeld < asideCut.last) {
    // The state-file path: the cut reaches past the copies held, to where the stream was closed.
    reportAsideRetention(sp, chain[len - 1]!, lastHeld + 1, asideCut.last, asideCut, firstHeld, ctx.certified);
  }
  const integrity = checkIntegrity(s, rows, ctx.integrity, ctx.external, chain, len, at, sp);

  problems.sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0)); // stable: same-seq problems keep detection order
  const summary: StreamSummary = {
    streamId,
    first: seqOf(chain[0]!),
    last: seqOf(chain[len - 1]!),
    count: len,
    ended: endPos >= 0,
    files: filesOf(s, rows).map((f) => ctx.fileNames[f]!),
    ok: !sp.failed(),
    coveredThrough: integrity.coveredThrough,
    signatures: integrity.signatures,
    checkpoints: integrity.checkpoints,
  };
  const first = chain[0]!;
  const link = seqOf(first) === 1 ? s.links.get(first) : undefined;
  if (link !== undefined) summary.previousStreamId = link.previousStreamId;
  return { summary, problems, at, records: s, ...(gone === undefined ? {} : { goneThrough: gone }), ...(link === undefined ? {} : { link }), ...(asideCut === undefined ? {} : { asideCut }), ...(aside?.why === undefined ? {} : { asideWhy: aside.why }) };
}

/**
 * 0. A record whose sequence number alone was changed still stands where it was written: the seq it had is
 *    missing, the next seq names its record id as the predecessor, and its previous_hash links to the seq
 *    before. It is taken back to that seq and reported once, as modified, rather than as a deletion, an
 *    insertion (or a second claim on another seq) and the reordering of every record after it in its file.
 *    Its hash changed with it (the seq is hashed), so the link to its successor is broken: that is this same
 *    change, not another one (checkLinks). Nothing is accepted that would not fail otherwise: it only names.
 */
function resequence(s: RecordStore, rows: Uint32Array, sp: StreamProblems): void {
  const seq = s.seq;
  // The usual stream, read in order with no gap, has nothing to look at: one pass over a typed array.
  let k = 1;
  while (k < rows.length && seq[rows[k]!] === seq[rows[k - 1]!]! + 1) k++;
  if (k >= rows.length) return;
  // seq → its rows in reading order (built only here, off the usual path); kept as records are taken back.
  const bySeq = rowsBy(rows, (i) => seq[i]!);
  let byId: Map<string, number[]> | undefined; // built only when a gap has a named predecessor: the rare path
  for (const q of rows) {
    const n = seq[q]! - 1;
    if (n < 1 || bySeq.has(n) || !s.has(q, F_HAS_PREV)) continue;
    const named = s.prevRecordId(q);
    if (named === undefined || named === '') continue;
    byId ??= rowsBy(rows, (i) => s.recordId(i));
    const copies = byId.get(named);
    if (copies === undefined) continue;
    const r = copies[0]!;
    const m = seq[r]!;
    if (copies.some((i) => seq[i] !== m || !s.sameHash(i, r))) continue;
    const before = bySeq.get(n - 1)?.[0];
    const links = n === 1 ? !s.has(r, F_HAS_PREV) : before !== undefined && s.linked(before, r);
    if (!links) continue;
    takeBack(s, bySeq, copies, m, n, true);
    sp.report(
      'modified',
      r,
      `its audit.sequence.number reads ${m}, but it is seq ${n}: seq ${n + 1} names it as its predecessor and ${n === 1 ? 'it has no previous_hash, as the first record' : `its previous_hash links to seq ${n - 1}`}; it was changed after it was written: its sequence number, and perhaps more`,
    );
  }
  resequenceByOwnLinks(s, rows, bySeq, byId, sp);
}

/**
 * 0b. The same change seen from the record's own links, where no successor names it: the stream's last record, or
 *    a copy of a record that is also held unchanged (the journal and the collector's copy, one of them edited). A
 *    record whose previous_record_id and previous_hash are those of the held record at seq k was written as seq
 *    k+1, whatever its audit.sequence.number reads (the producer never skips a seq). It is taken back to k+1 when
 *    that seq is missing (reported here, unless seq k+2 names another record) or held by the same record id (an
 *    edited copy: step 1 reports it as a modified version); never over a different record, which stays a
 *    conflict for step 1. Looked at only after a gap or where one seq has different versions: the rare path.
 */
function resequenceByOwnLinks(s: RecordStore, rows: Uint32Array, bySeq: Map<number, number[]>, built: Map<string, number[]> | undefined, sp: StreamProblems): void {
  const seq = s.seq;
  let byId = built; // step 0's index by record id, when it made one; else made here on first need
  const candidates: number[] = [];
  for (const [m, at] of bySeq) {
    const before = m > 1 ? bySeq.get(m - 1) : undefined;
    const gapBefore = m > 1 && before === undefined;
    const versions = at.length > 1 && at.some((i) => !s.sameHash(i, at[0]!));
    if (gapBefore || versions) for (const i of at) candidates.push(i);
    else if (before !== undefined) {
      // A copy that links to no copy of the seq before it (the last record, raised by one in one of two copies).
      const linksBack = linksToOneOf(s, before);
      for (const i of at) if (s.has(i, F_HAS_PREV) && !linksBack(i)) candidates.push(i);
    }
  }
  // Identical copies are one record: each is judged, and taken back with its copies, once.
  const judged = new Set<string>();
  for (const q of candidates) {
    const m = seq[q]!;
    const h = s.hashHex(q);
    if (judged.has(h)) continue;
    judged.add(h);
    if (!s.has(q, F_HAS_PREV)) {
      // A first record (no previous_hash, no previous_record_id) read as seq m, while seq 1 is held by its record
      // id: a copy of seq 1 with its seq changed. It joins them, and step 1 names it a modified version.
      const id = s.recordId(q);
      const first = bySeq.get(1);
      if (m > 1 && id !== '' && s.prevRecordId(q) === undefined && first !== undefined && first.every((i) => s.recordId(i) === id)) {
        takeBack(s, bySeq, (bySeq.get(m) ?? []).filter((i) => s.sameHash(i, q)), m, 1, false);
      }
      continue;
    }
    const named = s.prevRecordId(q);
    if (named === undefined || named === '') continue;
    byId ??= rowsBy(rows, (i) => s.recordId(i));
    const p = byId.get(named)?.find((i) => i !== q && s.linked(i, q));
    if (p === undefined) continue;
    const n = seq[p]! + 1;
    if (n === m) continue;
    const id = s.recordId(q);
    const held = bySeq.get(n);
    if (held !== undefined) {
      if (!held.every((i) => s.recordId(i) === id)) continue; // another record holds seq n: a conflict, not this
    } else {
      // Not q itself (or a copy of it): a last record raised by exactly one reads n+1, and names its own predecessor.
      const next = bySeq.get(n + 1)?.find((i) => s.has(i, F_HAS_PREV) && !s.sameHash(i, q));
      if (next !== undefined && s.prevRecordId(next) !== id) continue; // seq n+1 names another record as seq n
    }
    takeBack(s, bySeq, (bySeq.get(m) ?? []).filter((i) => s.sameHash(i, q)), m, n, held === undefined);
    if (held === undefined) {
      sp.report(
        'modified',
        q,
        `its audit.sequence.number reads ${m}, but it is seq ${n}: its previous_record_id and previous_hash link to seq ${n - 1}${bySeq.has(n + 1) ? ` and seq ${n + 1} names it as its predecessor` : ''}, and seq ${n} is missing; it was changed after it was written: its sequence number, and perhaps more`,
      );
    }
  }
}

/**
 * Takes `rows` (copies read as seq m) back to seq n: their seq, the by-seq index (after the rows seq n already has),
 * and, when `resequenced`, the mark that their broken link to seq n+1 is this same change (checkLinks).
 */
function takeBack(s: RecordStore, bySeq: Map<number, number[]>, rows: readonly number[], m: number, n: number, resequenced: boolean): void {
  for (const i of rows) {
    if (!s.readAs.has(i)) s.readAs.set(i, m);
    s.seq[i] = n;
    if (resequenced) s.flags[i]! |= F_RESEQUENCED;
  }
  bySeq.set(n, [...(bySeq.get(n) ?? []), ...rows]);
  const rest = (bySeq.get(m) ?? []).filter((i) => s.seq[i] === m);
  if (rest.length === 0) bySeq.delete(m);
  else bySeq.set(m, rest);
}

/** The rows by a key of theirs, each key's rows in reading order. */
function rowsBy<K>(rows: Uint32Array, key: (i: number) => K): Map<K, number[]> {
  const out = new Map<K, number[]>();
  for (const i of rows) {
    const k = key(i);
    const list = out.get(k);
    if (list === undefined) out.set(k, [i]);
    else list.push(i);
  }
  return out;
}

/**
 * 1. One record per seq: duplicates are info; of different records claiming one seq, the one the chain
 *    links through is genuine, the others are inserted (or modified copies, when they carry its record id).
 *    Returns the chain (one row per seq, ascending) and the rows whose order is to be judged.
 */
function pickChain(s: RecordStore, grp: SeqGroups, sp: StreamProblems): { chain: Uint32Array; reorderCandidates: number[] } {
  const { where, report } = sp;
  const { order, starts, count: groups } = grp;
  const chain = new Uint32Array(groups);
  // Order is judged once the records that lost a same-seq conflict are known (step 1b).
  const reorderCandidates: number[] = [];
  const reorderedCheck = (i: number): void => void reorderCandidates.push(i);
  // From the last seq down, so that a version of seq n is judged by the record chosen for seq n+1 (when that
  // choice was not a tie) rather than by any version of it: a forged branch of two records, the second linking to
  // the first, must not make the genuine record of seq n and the forged one tie.
  let decided = true;
  for (let g = groups - 1; g >= 0; g--) {
    const lo = starts[g]!;
    const hi = starts[g + 1]!;
    const nextDecided = decided;
    decided = true;
    if (hi - lo === 1) {
      chain[g] = order[lo]!;
      reorderedCheck(order[lo]!);
      continue;
    }
    const nextChosen = nextDecided && g + 1 < groups && grp.seq(g + 1) === grp.seq(g) + 1 ? chain[g + 1] : undefined;
    const n = grp.seq(g);
    const vs = grp.variants(g);
    const copies = new Map<number, number>();
    for (let k = lo; k < hi; k++) {
      const i = order[k]!;
      const v = vs.find((x) => s.sameHash(x, i))!;
      copies.set(v, (copies.get(v) ?? 0) + 1);
      if (v !== i) report('duplicate', i, `identical copy of seq ${n} first seen at ${where(v)} (at-least-once delivery)`);
    }
    const genuine = vs.length === 1 ? vs[0]! : chooseGenuine(s, grp, g, n, vs, nextChosen, sp);
    if (genuine < 0) decided = false;
    chain[g] = genuine < 0 ? ~genuine : genuine;
    // An identical copy elsewhere explains an out-of-order position (a redelivery), so only singles count.
    for (const v of vs) if (copies.get(v) === 1) reorderedCheck(v);
  }
  reorderCandidates.reverse(); // reading order within a seq, ascending seqs: as reported before
  return { chain, reorderCandidates };
}

/**
 * "Row v's previous_hash is the hash of one of `rows`", by hash rather than pairwise: thousands of copies of two
 * seqs (a hostile input) stay linear.
 */
function linksToOneOf(s: RecordStore, rows: readonly number[]): (v: number) => boolean {
  const hashes = new Set(rows.map((r) => s.hashHex(r)));
  return (v) => s.has(v, F_PREV_HEX) && hashes.has(s.prevHashHex(v));
}

/** `seq a–b were` / `seq a was`. */
const seqRange = (a: number, b: number): string => (a === b ? `seq ${a} was` : `seq ${a}–${b} were`);

/**
 * Seq from–to removed by retention around copies set aside in rejected/ (setAsideCut found cut `c`): info at
 * record i, the message saying what binds the cut.
 */
function reportAsideRetention(sp: StreamProblems, i: number, from: number, to: number, c: RetentionCut, firstHeld: number, certified: { seq: number; hash: string } | undefined): void {
  const acked = `${c.stateFile} records seq ${c.state!.acked} acknowledged`;
  const binding =
    firstHeld !== Infinity
      ? `bound to the previous_hash of seq ${firstHeld}, and ${acked}`
      : certified !== undefined
        ? `bound to the hash the next stream of the process recorded, and ${acked}`
        : `the stream's furthest, where ${c.stateFile} says it was closed, with seq ${c.state!.acked} acknowledged (no hash binds it: the state file and retention.log are not authenticated)`;
  sp.report('deleted', i, `${seqRange(from, to)} removed by retention after the collector acknowledged them: ${c.log} has the cut through seq ${c.last} (${c.file}, ${c.deletedAt}), ${binding}. The records held ${firstHeld === Infinity ? 'of this stream' : `before seq ${firstHeld}`} are copies set aside in rejected/ (refused by the collector for good, kept for ever), each vouched for by its signature or by the record after it`, {
    seq: from,
    through: to, // dropped by report when it equals seq
    severity: 'info',
  });
}

/** A valid record signature or checkpoint signature (checked only with keys): the producer wrote it. */
const signedByProducer = (s: RecordStore, v: number): boolean => (s.has(v, F_CHECKPOINT) ? s.claims.get(v)!.status === 'valid' : s.sig[v] === SIG_OK);

/** Where tied versions are: the first three, then how many more (each is reported at its own place anyway). */
function placesOf(tied: ReadonlySet<number>, where: (v: number) => string): string {
  const all = [...tied];
  const shown = all.slice(0, 3).map(where).join(' and ');
  return all.length > 3 ? `${shown} and ${all.length - 3} more` : shown;
}

/**
 * Of different records claiming seq `n` (group g), the genuine one; the others are reported and marked rejected.
 * `nextChosen`: the record chosen for seq n+1 when that was not a tie; then only its previous_hash counts as a
 * reference from seq n+1. Returns the genuine row, or its bitwise complement when it was a tie (a choice).
 */
function chooseGenuine(s: RecordStore, grp: SeqGroups, g: number, n: number, vs: number[], nextChosen: number | undefined, sp: StreamProblems): number {
  const { where, report } = sp;
  const groups = grp.count;
  const prevVs = g > 0 && grp.seq(g - 1) === n - 1 ? grp.variants(g - 1) : [];
  const nextVs = nextChosen !== undefined ? [nextChosen] : g + 1 < groups && grp.seq(g + 1) === n + 1 ? grp.variants(g + 1) : [];
  // Links by hash, each version's score once: thousands of versions of neighbouring seqs stay linear.
  const referenced = new Set<string>();
  for (const w of nextVs) if (s.has(w, F_PREV_HEX)) referenced.add(s.prevHashHex(w));
  const linksBack = linksToOneOf(s, prevVs);
  const fwd = (v: number): boolean => referenced.has(s.hashHex(v));
  const bwd = (v: number): boolean => (n === 1 ? !s.has(v, F_HAS_PREV) : linksBack(v));
  const signed = (v: number): boolean => signedByProducer(s, v);
  // Last, to break what would be a tie: a copy taken back to seq n (step 0) reads another seq, which the genuine
  // record of seq n never does (the seq is hashed and signed).
  const readsOwn = (v: number): boolean => !s.readAs.has(v);
  const scores = new Map(vs.map((v) => [v, (signed(v) ? 8 : 0) + (fwd(v) ? 4 : 0) + (bwd(v) ? 2 : 0) + (readsOwn(v) ? 1 : 0)]));
  const score = (v: number): number => scores.get(v)!;
  // The first read of the top score (strictly greater replaces). A tie for it: nothing tells the versions apart;
  // the chain goes on through the first read (a choice, not a finding), and the report names them all as
  // conflicting versions without blaming one.
  let genuine = vs[0]!;
  for (const v of vs) if (score(v) > score(genuine)) genuine = v;
  const tied = new Set(vs.filter((v) => score(v) === score(genuine)));
  const basis = (v: number): string =>
    [
      signed(v) ? 'carries a valid signature' : '',
      fwd(v) ? `is referenced by seq ${n + 1}'s previous_hash` : '',
      bwd(v) ? `links to seq ${n - 1}` : '',
    ]
      .filter((x) => x !== '')
      .join(' and ');
  const why = basis(genuine);
  const shared = why === '' ? 'nothing links to any of them' : `each ${why}`;
  for (const v of vs) {
    if (v === genuine) continue;
    s.flags[v]! |= F_REJECTED;
    if (tied.size > 1 && tied.has(v)) {
      const places = placesOf(tied, where);
      if (s.recordId(v) === s.recordId(genuine)) {
        report('modified', v, `conflicting versions of record seq ${n} (same record id) at ${places}: ${shared}, so which one was changed cannot be told; the chain is checked through the one read first`);
      } else {
        report('inserted', v, `different records claim seq ${n}, at ${places}: ${shared}, so which one was added cannot be told; the chain is checked through the one read first`);
      }
      continue;
    }
    const read = s.readAs.get(v);
    const own = `${read === undefined ? '' : `its audit.sequence.number reads ${read}, and `}${bwd(v) ? 'this one links to its predecessor but no record of the chain links to it' : 'this one does not link into the chain'}`;
    if (s.recordId(v) === s.recordId(genuine)) {
      report('modified', v, `a different version of record seq ${n} (same record id); the one at ${where(genuine)} ${why || 'reads its own seq'}, so this copy was changed (${own})`);
    } else {
      report('inserted', v, `a second, different record claims seq ${n}; the one at ${where(genuine)} ${why}, so this one was added (${own})`);
    }
  }
  return tied.size > 1 ? ~genuine : genuine;
}

/**
 * 1b. Out of order: per file, the records of the stream (those that lost a same-seq conflict aside) outside a
 *     longest run of them in ascending seq, read in order; of several, the one keeping the most only-copies, then
 *     the one whose records stand nearest the places their seqs give them, then the one keeping records read
 *     earlier (docs/integrity.md §7.2 step 3).
 *     So one record moved is the one named, not every record it now stands before or after. A record
 *     that lost a same-seq conflict (an inserted one) is blamed for itself, not for moving the others.
 */
function reportReordered(s: RecordStore, rows: Uint32Array, reorderCandidates: readonly number[], sp: StreamProblems): void {
  const { seqOf, report } = sp;
  /** Seqs of the nearest records kept in order before and after each out-of-order one (rare: a Map). */
  const around = new Map<number, [number | undefined, number | undefined]>();
  /** The rows that are the only copy of their variant: the ones a report can name (rare: built on need). */
  let only: ReadonlySet<number> | undefined;
  for (let a = 0; a < rows.length; ) {
    const f = s.file[rows[a]!]!;
    let b = a;
    let sorted = true;
    let last = -1;
    for (; b < rows.length && s.file[rows[b]!] === f; b++) {
      const i = rows[b]!;
      if (s.has(i, F_REJECTED)) continue;
      if (seqOf(i) < last) sorted = false;
      else last = seqOf(i);
    }
    // The usual file, in order: nothing to build (markOutOfOrder's arrays are for the rare one that is not).
    if (sorted) for (let k = a; k < b; k++) s.flags[rows[k]!]! &= ~F_OUT_OF_ORDER;
    else {
      const kept: number[] = [];
      for (let k = a; k < b; k++) if (!s.has(rows[k]!, F_REJECTED)) kept.push(rows[k]!);
      only ??= new Set(reorderCandidates);
      markOutOfOrder(s, kept, seqOf, only, around);
    }
    a = b;
  }
  for (const i of reorderCandidates) {
    if (!s.has(i, F_OUT_OF_ORDER) || s.has(i, F_REJECTED)) continue;
    const [before, after] = around.get(i)!;
    const pos = before === undefined ? `before seq ${after}` : after === undefined ? `after seq ${before}` : `after seq ${before} and before seq ${after}`;
    report('reordered', i, `out of sequence order in its file: read ${pos}; the file's records of this stream are otherwise in ascending order`);
  }
}

/**
 * Sets F_OUT_OF_ORDER on the rows of one file (reading order, not in order) outside the run kept, clears it on the
 * others. `only`: the rows that are the only copy of their variant (the others are duplicates, never reported).
 */
function markOutOfOrder(
  s: RecordStore,
  kept: readonly number[],
  seqOf: (i: number) => number,
  only: ReadonlySet<number>,
  around: Map<number, [number | undefined, number | undefined]>,
): void {
  const m = kept.length;
  // A longest run of increasing seqs to keep, the rest named. Strictly increasing: a seq read twice counts once. Of
  // the longest runs, the one keeping the most only-copies (an extra copy, a redelivery, is a duplicate and never
  // named: a run that keeps it instead of a record that never moved blames that record, found by a mutation fuzz and
  // a test vector), then the one whose records stand nearest where their seqs put them (a file holds consecutive
  // seqs: record p is expected at seq base + p, base the lower median of seq − p over the only-copies), then the one
  // keeping records read earlier. By reading order alone, a record of seq 205 moved just before seq 90, the file's
  // last record, tied with it and seq 90 was named. Length comes first: counting only-copies first let duplicates
  // standing between hide a record moved (found in review).
  // For each position p, from the end: the best run starting there (its count of only-copies, length, sum of
  // |seq − p − base|) and where it goes on (next[p]). A Fenwick tree over the seqs' ranks, greatest first, gives
  // the best run after p with a greater seq in O(log m); each measure is a sum along the run, so the best run from
  // p is p followed by that one.
  const seqs = new Float64Array(m);
  const weight = new Uint8Array(m);
  for (let p = 0; p < m; p++) {
    seqs[p] = seqOf(kept[p]!);
    weight[p] = only.has(kept[p]!) ? 1 : 0;
  }
  const offsets: number[] = [];
  for (let p = 0; p < m; p++) if (weight[p] === 1) offsets.push(seqs[p]! - p);
  if (offsets.length === 0) for (let p = 0; p < m; p++) offsets.push(seqs[p]! - p);
  offsets.sort((x, y) => x - y);
  const base = offsets[(offsets.length - 1) >>> 1]!;
  const distinct = Float64Array.from(new Set(seqs)).sort();
  const d = distinct.length;
  /** Fenwick index of a seq: 1 for the greatest, d for the smallest. */
  const slot = (x: number): number => {
    let lo = 0;
    let hi = d - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (distinct[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return d - lo;
  };
  const singles = new Int32Array(m);
  const len = new Int32Array(m);
  const cost = new Float64Array(m);
  const next = new Int32Array(m);
  /** The best run in each Fenwick node: its start position, -1 for none. */
  const tree = new Int32Array(d + 1).fill(-1);
  // Is the run starting at q better than the one at r (longer, more only-copies, nearer its places, read earlier)?
  const better = (q: number, r: number): boolean => {
    if (r < 0) return true;
    if (len[q] !== len[r]) return len[q]! > len[r]!;
    if (singles[q] !== singles[r]) return singles[q]! > singles[r]!;
    if (cost[q] !== cost[r]) return cost[q]! < cost[r]!;
    return q < r;
  };
  for (let p = m - 1; p >= 0; p--) {
    const x = seqs[p]!;
    const at = slot(x);
    let best = -1;
    for (let k = at - 1; k > 0; k -= k & -k) if (tree[k]! >= 0 && better(tree[k]!, best)) best = tree[k]!;
    singles[p] = weight[p]! + (best < 0 ? 0 : singles[best]!);
    len[p] = best < 0 ? 1 : len[best]! + 1;
    cost[p] = Math.abs(x - p - base) + (best < 0 ? 0 : cost[best]!);
    next[p] = best;
    for (let k = at; k <= d; k += k & -k) if (better(p, tree[k]!)) tree[k] = p;
  }
  let start = 0;
  for (let p = 1; p < m; p++) if (better(p, start)) start = p;
  const inOrder = new Uint8Array(m);
  for (let p = start; p >= 0; p = next[p]!) inOrder[p] = 1;
  // The in-order record after each position, in one backward pass (a reversed file must stay linear).
  const after: (number | undefined)[] = new Array<number | undefined>(m);
  for (let p = m - 1, a: number | undefined; p >= 0; p--) {
    after[p] = a;
    if (inOrder[p] === 1) a = seqOf(kept[p]!);
  }
  let before: number | undefined;
  for (let p = 0; p < m; p++) {
    const i = kept[p]!;
    if (inOrder[p] === 1) {
      s.flags[i]! &= ~F_OUT_OF_ORDER;
      before = seqOf(i);
    } else {
      s.flags[i]! |= F_OUT_OF_ORDER;
      around.set(i, [before, after[p]]);
    }
  }
}

/**
 * 2. Nothing may follow the end record. `len`: the chain's length up to its end record; `endPos`: -1 if none.
 *    An end record followed by the next seq that carries a previous_hash but does not link to it was itself
 *    changed (audit.sequence.end added, say): it is not the end, and the broken link reports it as modified
 *    (checkLinks) — unless its own signature is valid, which proves it is the producer's end record.
 */
function cutAfterEnd(s: RecordStore, chain: Uint32Array, sp: StreamProblems): { len: number; endPos: number } {
  const { seqOf, where, report } = sp;
  let len = chain.length;
  let endPos = -1;
  for (let p = 0; p < len && endPos < 0; p++) {
    const e = chain[p]!;
    if (!s.has(e, F_END)) continue;
    const next = p + 1 < len ? chain[p + 1]! : undefined;
    // A next record that links to the end record's own predecessor is a second successor of that record, made
    // up after the end (a copy of the end record relabelled, say): the end record is not what was changed.
    const sibling = next !== undefined && p > 0 && s.linked(chain[p - 1]!, next);
    // The processor's end event is not what an attacker alters to end a stream early (an ordinary record given the
    // marker is): a record after it that does not link to it was appended.
    // ...unless the next record names it as its predecessor (its record id): then it was written after the end
    // record, which changed since (its event name is as editable as its marker).
    const appendedAfterEvent = next !== undefined && s.has(e, F_END_EVENT) && s.prevRecordId(next) !== s.recordId(e);
    const altered = next !== undefined && seqOf(next) === seqOf(e) + 1 && s.has(next, F_HAS_PREV) && !s.linked(e, next) && !sibling && !signedByProducer(s, e) && !appendedAfterEvent;
    if (!altered) endPos = p;
  }
  if (endPos >= 0 && endPos < len - 1) {
    const e = chain[endPos]!;
    for (let p = endPos + 1; p < len; p++) {
      const i = chain[p]!;
      let msg = `follows the end record (seq ${seqOf(e)} at ${where(e)}); a stream has no records after its end`;
      if (p === endPos + 1) {
        const before = endPos > 0 ? chain[endPos - 1]! : undefined;
        msg += s.linked(e, i)
          ? ', and this one links to it, so it was forged with the chain recomputed'
          : before !== undefined && s.linked(before, i)
            ? `, and this one links to seq ${seqOf(before)} as the end record does: a second successor of that record, appended`
            : ', and this one does not link to it: it was appended, or the end record was altered to carry audit.sequence.end';
      }
      if (s.has(i, F_END)) msg += ' (a second end record)';
      report('inserted', i, msg);
    }
    len = endPos + 1;
  }
  return { len, endPos };
}

/** Was the record read from a `rejected/` file (records the collector refused for good, kept for ever)? */
export const isSetAside = (file: string): boolean => basename(dirname(file)) === 'rejected';

/**
 * The retention cut that removed seq 1–`last` of a stream, bound to the hash of seq `last` (carried as previous_hash
 * by the record after it, or recorded by the next stream's restart link) and backed by the stream's state file
 * (docs/integrity.md §7.2 step 5): the only evidence a gap is retention.
 */
function boundCut(retained: readonly RetentionCut[], last: number, lastHash: string): RetentionCut | undefined {
  return retained.find((e) => e.last === last && e.lastHash === lastHash && isBacked(e));
}

/**
 * Why a gap after records read only from rejected/ may be harmless, and why it is not taken for retention here
 * (`why`, from `setAsideCut`), when a cut the state file backs reaches `through` ('' when none reaches).
 */
export function setAsideHint(retained: readonly RetentionCut[], through: number, why: string): string {
  const cut = highestBacked(retained.filter((e) => e.last >= through));
  if (cut === undefined) return '';
  return `; the records held before it are copies set aside in rejected/, and ${cut.log} says retention removed this stream's segments through seq ${cut.last} (${cut.stateFile} records seq ${cut.state!.acked} acknowledged): if the collector refused those records for good, retention leaves such a gap, but ${why}; verify the collector's copy together with this directory to tell (neither rejected/ nor retention.log is authenticated)`;
}

/** What `setAsideCut` found: the cut that accounts for the gaps, or why there is none. */
export type AsideVerdict = { cut: RetentionCut; why?: undefined } | { cut?: undefined; why: string };

/**
 * Records the collector refused for good stay in rejected/ for ever, while retention deletes the stream's
 * acknowledged segments around them, oldest first: an untouched directory then holds a few copies, gaps, and the
 * journal from some seq h on (`firstHeld`). The gaps before h are retention when:
 * - a retention cut through h−1, bound to the previous_hash of the record at h and backed by the state file, says so
 *   — the evidence a plain head cut needs (`boundCut`); with no record held outside rejected/, the cut is bound to
 *   the hash the next stream's restart link recorded, or, with no link, it is the stream's furthest cut and its
 *   state file says the producer closed the stream (or a replay finished it) there: no hash binds that one, and so
 *   the stream's tail rests on those unauthenticated files alone, as a stream deleted whole does;
 * - and every copy before h is vouched for: by its valid signature, or by the next seq's record, itself vouched
 *   for, linking to it (the record at h, and the record the link names, are). A copy nothing vouches for could be
 *   made up: found in review of the first version, which took such copies (added to rejected/, shown `verified`
 *   by search).
 * Undefined when no copy precedes h.
 */
function setAsideCut(
  s: RecordStore,
  chain: Uint32Array,
  len: number,
  endPos: number,
  retained: readonly RetentionCut[],
  firstHeld: number,
  certified: { seq: number; hash: string } | undefined,
  at: (n: number) => number | undefined,
): AsideVerdict | undefined {
  if (len === 0 || s.seq[chain[0]!]! >= firstHeld) return undefined;
  let cut: RetentionCut | undefined;
  let before = len; // chain positions [0, before) are the copies before h
  if (firstHeld === Infinity) {
    const last = s.seq[chain[len - 1]!]!;
    if (certified !== undefined) {
      if (last > certified.seq) return { why: `a copy (seq ${last}) comes after seq ${certified.seq}, where the next stream of the process found the stream` };
      cut = boundCut(retained, certified.seq, certified.hash);
      if (cut === undefined) return { why: `no cut of it the state file backs is bound to the hash the next stream of the process recorded for seq ${certified.seq}` };
      // The link vouches for the record it names, when held.
      if (last === certified.seq && s.hashHex(chain[len - 1]!) === certified.hash) before = len - 1;
    } else {
      let furthest = 0;
      for (const r of retained) if (r.last > furthest) furthest = r.last; // not Math.max(...): a long log overflows the stack
      cut = retained.find((e) => e.last === furthest && e.last >= last && isBacked(e) && (e.state!.ended || e.state!.done) && e.state!.last === e.last);
      if (cut === undefined) return { why: "no restart link names the stream's end, and its state file does not say it was closed where its furthest cut ends" };
    }
    // An end record before the seq the stream reached contradicts it.
    if (endPos >= 0 && s.seq[chain[endPos]!]! !== cut.last) return { why: `an end record (seq ${s.seq[chain[endPos]!]}) comes before seq ${cut.last}` };
  } else {
    const anchor = at(firstHeld);
    if (anchor === undefined || !s.has(anchor, F_PREV_HEX)) return { why: `seq ${firstHeld} carries no previous_hash to bind a cut to` };
    cut = boundCut(retained, firstHeld - 1, s.prevHashHex(anchor));
    if (cut === undefined) return { why: `no cut the state file backs ends at seq ${firstHeld - 1} with the hash seq ${firstHeld} records as its previous_hash` };
    before = 0;
    while (before < len && s.seq[chain[before]!]! < firstHeld) before++;
  }
  // From the copy nearest h down: each is vouched for by its signature, or by a vouched successor linking to it.
  let next = before < len ? chain[before] : undefined;
  let vouched = next !== undefined;
  for (let k = before - 1; k >= 0; k--) {
    const i = chain[k]!;
    vouched = signedByProducer(s, i) || (vouched && next !== undefined && s.seq[next]! === s.seq[i]! + 1 && s.linked(i, next));
    if (!vouched) return { why: `the copy of seq ${s.seq[i]} is vouched for by nothing: ${unvouchedWhy(s, i)}` };
    next = i;
  }
  return { cut };
}

/** Why a copy's own signature does not vouch for it. */
function unvouchedWhy(s: RecordStore, i: number): string {
  const claim = s.has(i, F_CHECKPOINT);
  switch (s.sig[i]) {
    case SIG_UNCHECKED:
    case undefined:
      return claim ? 'no record held links to it, and its checkpoint signature was not checked: verify with the producer\'s public key (--pubkey)' : 'no record held links to it, and no key was given to check its signature: verify with the producer\'s key (--hmac-key-file, --pubkey)';
    case SIG_NONE:
      return 'no record held links to it, and it carries no signature';
    default:
      return 'no record held links to it, and its signature does not verify under the keys given';
  }
}

/**
 * `(prevN, hash)`: were the stream's records up to `prevN` read from segments gone now? The record at `prevN` with
 * that hash was read from a file gone from the input paths, and no record of the stream up to `prevN` (any copy) is
 * in a file still there — copies set aside in rejected/ aside: the collector's refusals stay there for ever while
 * retention deletes the segments around them (`setAsideCut`), so they are no copy of a segment kept.
 */
export type GoneThrough = (prevN: number, hash: string) => boolean;

function goneThrough(s: RecordStore, rows: Uint32Array, goneNow: (f: number) => boolean, setAside: (i: number) => boolean): GoneThrough {
  const kept = (i: number): boolean => !setAside(i);
  let lowest: number | undefined; // the lowest seq held in a file still there, outside rejected/ (Infinity: none)
  return (prevN, hash) => {
    if (lowest === undefined) {
      lowest = Infinity;
      for (const i of rows) if (s.seq[i]! < lowest && kept(i) && !goneNow(s.file[i]!)) lowest = s.seq[i]!;
    }
    if (lowest <= prevN) return false;
    for (const i of rows) if (s.seq[i] === prevN && kept(i) && goneNow(s.file[i]!) && s.hashHex(i) === hash) return true;
    return false;
  };
}

/**
 * A gap in the middle of the stream, seq `prevN`+1 .. n−1, that retention made while the directory was read: the
 * verifier read the records up to `prevN` from segments retention deleted right after (from an open descriptor), and
 * the segments after them were deleted before it opened them ("deleted after it was listed"). Verify run again would
 * find the records from seq n on after a head cut; it takes the gap as that head cut (`deleted`, info) when:
 * - a cut backed by the state file (and signed where required, `isBacked`) ends at n−1 with the hash record n carries
 *   as its previous_hash — the evidence a head cut needs;
 * - and `readBeforeRetention` holds for the record read at `prevN`.
 * Returns the cut through n−1, or undefined.
 */
function retainedWhileRead(
  s: RecordStore,
  retained: readonly RetentionCut[],
  before: number,
  i: number,
  n: number,
  prevN: number,
  gone: GoneThrough | undefined,
): RetentionCut | undefined {
  if (gone === undefined || !s.has(i, F_PREV_HEX)) return undefined;
  const cut = boundCut(retained, n - 1, s.prevHashHex(i));
  return cut !== undefined && readBeforeRetention(s, retained, before, prevN, gone) ? cut : undefined;
}

/**
 * The records of a stream up to `prevN` (the last of them row `before`) were read from segments retention deleted
 * right after: another backed cut ends at `prevN` with the hash of the record read there, and `gone` (`goneThrough`,
 * from `goneNow`: only when a listed file vanished in this run, verifier.ts `goneSinceListed`) says that record was
 * read from a file gone now and no copy up to `prevN` is in a file still there, outside rejected/. As for a head cut,
 * the earlier records are gone: a segment deleted from the middle of a stream whose earlier segments are still
 * there, with a line appended to retention.log, stays a deletion.
 */
function readBeforeRetention(s: RecordStore, retained: readonly RetentionCut[], before: number, prevN: number, gone: GoneThrough): boolean {
  const hash = s.hashHex(before);
  return boundCut(retained, prevN, hash) !== undefined && gone(prevN, hash);
}

/**
 * The same race at a stream's end (cross-stream.ts): the next stream of the process found stream `a` at seq `last`
 * with hash `lastHash` (its restart link), while the records read of `a` end at `aLast`, because retention deleted
 * every segment of the finished stream as the directory was read. Taken as retention (the stream deleted whole,
 * which verify run again says) when a backed cut ends at `last` bound to that hash, and `readBeforeRetention` holds
 * for the record read at `aLast`. Returns that cut, or undefined.
 */
export function retainedAtEndWhileRead(a: CheckedStream, retained: readonly RetentionCut[], last: number, lastHash: string | undefined, aLast: number): RetentionCut | undefined {
  const j = a.at(aLast);
  if (a.goneThrough === undefined || lastHash === undefined || j === undefined) return undefined;
  const cut = boundCut(retained, last, lastHash);
  return cut !== undefined && readBeforeRetention(a.records, retained, j, aLast, a.goneThrough) ? cut : undefined;
}

/** 3. Gaps, then broken links, over chain[0 .. len). */
function checkLinks(
  s: RecordStore,
  chain: Uint32Array,
  len: number,
  retained: readonly RetentionCut[],
  sp: StreamProblems,
  certified: { seq: number; hash: string } | undefined,
  firstHeld: number,
  aside: AsideVerdict | undefined,
  gone: GoneThrough | undefined,
): void {
  const { seqOf, where, report } = sp;
  const asideCut = aside?.cut;
  /**
   * What proves record i's content, and so its hash, besides the chain: undefined when nothing does. A restart
   * link is no signature (anyone can write one): it counts only for the link to the stream's last record (`last`),
   * a record appended after the one it certifies; a record that a later one still links to was not changed.
   */
  const proof = (i: number, last: boolean): string | undefined =>
    signedByProducer(s, i) ? 'whose signature is valid' : last && certified !== undefined && seqOf(i) === certified.seq && s.hashHex(i) === certified.hash ? 'whose hash the next stream of the process recorded' : undefined;
  // broken[k]: chain[k-1] → chain[k] are adjacent seqs and do not link.
  const broken = new Uint8Array(len + 1);
  const explained = new Uint8Array(len + 1);
  for (let k = 0; k < len; k++) {
    const i = chain[k]!;
    const n = seqOf(i);
    let prevN = k === 0 ? 0 : seqOf(chain[k - 1]!);
    let claim = '';
    // What comes before the gap, for its message: set here when it is an earlier retention cut.
    let context = prevN === 0 ? `(the stream starts at seq ${n})` : `(seq ${prevN} is at ${where(chain[k - 1]!)})`;
    if (n > prevN + 1 && asideCut !== undefined && n <= firstHeld) {
      reportAsideRetention(sp, i, prevN + 1, n - 1, asideCut, firstHeld, certified);
      continue;
    }
    if (n > prevN + 1 && prevN === 0 && s.has(i, F_PREV_HEX)) {
      // A head removed by retention is accounted for in state/retention.log, bound to the hash of its last
      // record — which this record carries as previous_hash. Reported, but not as tampering — when the stream's
      // state file in the same directory agrees that the collector acknowledged those records: retention
      // deletes nothing else, and neither file is authenticated, so one line written by hand proves nothing.
      const prevHex = s.prevHashHex(i);
      const cuts = retained.filter((e) => e.last === n - 1 && e.lastHash === prevHex);
      const cut = cuts.find(isBacked);
      if (cut !== undefined) {
        report('deleted', i, `seq 1–${n - 1} were removed by retention (${cut.file}, ${cut.deletedAt}) after the collector acknowledged them; the cut matches state/retention.log, and ${cut.stateFile} records seq ${cut.state!.acked} acknowledged`, {
          seq: 1,
          through: n - 1,
          severity: 'info',
        });
        continue;
      }
      // A cut the state file backs that ends before this gap does: it accounts for its records, not for the
      // ones between it and this record, which are the deletion. Its hash cannot be checked: the record after it,
      // which carries that hash, is among the missing.
      const earlier = highestBacked(retained.filter((e) => e.last < n - 1));
      if (cuts.length === 0 && earlier !== undefined) {
        report('deleted', i, `seq 1–${earlier.last} were removed by retention (${earlier.file}, ${earlier.deletedAt}) after the collector acknowledged them; ${earlier.stateFile} records seq ${earlier.state!.acked} acknowledged; not checked against a record: seq ${earlier.last + 1}, which carries the hash of seq ${earlier.last}, is missing too`, {
          seq: 1,
          through: earlier.last,
          severity: 'info',
        });
        prevN = earlier.last;
        context = `(seq 1–${earlier.last} were removed by retention)`;
      }
      const c = cuts[0];
      if (c !== undefined) {
        claim =
          `; ${c.log} claims seq 1–${c.last} were removed by retention (${c.file}, ${c.deletedAt}) after the collector acknowledged them, but ${notBackedWhy(c)}`;
      }
    }
    if (n > prevN + 1 && k > 0) {
      const cut = retainedWhileRead(s, retained, chain[k - 1]!, i, n, prevN, gone);
      if (cut !== undefined) {
        report('deleted', i, `${seqRange(prevN + 1, n - 1)} removed by retention (${cut.file}, ${cut.deletedAt}) after the collector acknowledged them, while this run read the directory: seq ${prevN} and the records before it were read from segments retention deleted too (state/retention.log has their cut through seq ${prevN}, with its hash), and none of them is in the directory any more; the cut matches state/retention.log, and ${cut.stateFile} records seq ${cut.state!.acked} acknowledged`, {
          seq: prevN + 1,
          through: n - 1,
          severity: 'info',
        });
        continue;
      }
    }
    if (n > prevN + 1 && k > 0 && n <= firstHeld && claim === '' && aside?.why !== undefined) claim = setAsideHint(retained, n - 1, aside.why);
    if (n > prevN + 1) {
      const missing = n - 1 - prevN;
      const prevId = s.prevRecordId(i);
      const named = missing === 1 && prevId !== undefined && prevId !== '' ? prevId : undefined;
      const range = missing === 1 ? `seq ${prevN + 1} is` : `seq ${prevN + 1}–${n - 1} (${missing} records) are`;
      report('deleted', i, `${range} missing before seq ${n} at ${where(i)} ${context}${named === undefined ? '' : `; seq ${n} names ${JSON.stringify(named)} as its predecessor`}${claim}`, {
        seq: prevN + 1,
        through: n - 1,
        ...(named === undefined ? {} : { recordId: named }),
      });
    } else if (k > 0) {
      broken[k] = s.linked(chain[k - 1]!, i) ? 0 : 1;
    }
  }
  // A misplaced previous_hash marks its record changed; that explains its incoming and outgoing links.
  for (let k = 0; k < len; k++) {
    const i = chain[k]!;
    const first = seqOf(i) === 1;
    if (first === s.has(i, F_HAS_PREV)) {
      report('modified', i, first
        ? 'seq 1 carries audit.sequence.previous_hash, which the first record of a stream never has'
        : 'audit.sequence.previous_hash is missing; every record after the first carries it');
      explained[k] = 1;
      explained[k + 1] = 1;
    }
  }
  // Each broken link is one changed record: the predecessor (its hash changed) — or, when the next link is
  // broken too, the record between them (changed including its previous_hash), the single explanation.
  for (let k = 1; k < len; k++) {
    if (broken[k] === 0 || explained[k] === 1) continue;
    const p = chain[k - 1]!;
    const q = chain[k]!;
    // q's link to its own successor is broken too (and not explained yet).
    const nextBroken = k + 1 < len && broken[k + 1] === 1 && explained[k + 1] === 0;
    // Its edited seq is hashed: the broken link is the change already reported (resequence).
    if (s.has(p, F_RESEQUENCED) && !nextBroken) {
      explained[k] = 1;
      continue;
    }
    const pProof = proof(p, k === len - 1);
    if (nextBroken) {
      const r = chain[k + 1]!;
      report('modified', q, `its previous_hash does not match the hash of seq ${seqOf(p)} (${where(p)}) and its own hash does not match the previous_hash recorded by seq ${seqOf(r)} (${where(r)}): this record was changed, chain attributes included (seq ${seqOf(p)} may have been changed as well)`, {
        seq: seqOf(q),
        recordId: s.recordId(q),
        reason: 'both_links',
      });
      explained[k + 1] = 1;
    } else if (pProof !== undefined && proof(q, false) === undefined) {
      // p's content is proven (its valid signature, or the next stream's restart link), so its hash is the genuine
      // one: q's previous_hash is what is wrong. Naming another predecessor too, q was made up (appended after a
      // record, say); naming p, q was changed.
      const prevId = s.prevRecordId(q);
      const forged = prevId !== s.recordId(p);
      report(
        forged ? 'inserted' : 'modified',
        q,
        `its previous_hash does not match the hash of seq ${seqOf(p)} (${where(p)}), ${pProof}: ` +
          (forged ? `and it names ${JSON.stringify(prevId ?? '')} as the previous record id, not ${JSON.stringify(s.recordId(p))}: this record was added` : 'this record was changed, chain attributes included'),
      );
    } else {
      const prevId = s.prevRecordId(q);
      const idNote =
        prevId === s.recordId(p)
          ? ''
          : `; seq ${seqOf(q)} also names ${JSON.stringify(prevId ?? '')} as the previous record id, not ${JSON.stringify(s.recordId(p))}: this record was replaced — or the record seq ${seqOf(q)} names was deleted and the sequence numbers after it changed to close the gap`;
      const endNote = s.has(p, F_END) ? `; it carries audit.sequence.end although seq ${seqOf(q)} follows it: the end marker was added, or it was changed otherwise` : '';
      // Of the stream's last record nothing else vouches for the previous_hash: either of the two may be the change.
      const lastNote =
        k === len - 1 && proof(q, true) === undefined ? ` — or seq ${seqOf(q)}'s previous_hash was changed: it is the stream's last record, which nothing after it vouches for` : '';
      report('modified', p, `its hash no longer matches the previous_hash recorded by seq ${seqOf(q)} at ${where(q)}: its content was changed after it was written${lastNote}${idNote}${endNote}`);
    }
    explained[k] = 1;
  }
}

/** The chain record with seq n, if held (binary search over chain[0 .. len)). */
function chainLookup(chain: Uint32Array, len: number, seqOf: (i: number) => number): (n: number) => number | undefined {
  /** Chain position (index into `chain`) of the record with seq n, if held. */
  const posOf = (n: number): number | undefined => {
    let lo = 0;
    let hi = len - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const m = seqOf(chain[mid]!);
      if (m === n) return mid;
      if (m < n) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  };
  return (n: number): number | undefined => {
    const p = posOf(n);
    return p === undefined ? undefined : chain[p];
  };
}
