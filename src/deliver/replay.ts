/**
 * Replay after a restart (ARCHITECTURE.md §5.2): streams left in the journal directory by processes that are gone are
 * re-sent to the collector, in sequence order, resuming after the last acknowledged record. Each orphaned
 * stream is claimed with a lock file first, so processes sharing the directory never replay it twice at once.
 */
import { diagLog } from '../core/diag-log.js';
import { canonicalFromOtlp } from '../chain/canonical.js';
import { hashCanonical } from '../chain/hash.js';
import { ATTR_SEQ_END, ATTR_SEQ_NUMBER, ATTR_SEQ_STREAM_ID } from '../core/attributes.js';
import { AuditConfigError, errorText } from '../core/errors.js';
import { sayLoudly } from '../core/say.js';
import { filterRequest, filteredBody, attribute, intAttribute, stringAttribute } from '../otlp/decode.js';
import type { ExportLogsServiceRequest, OtlpLogRecord } from '../otlp/types.js';
import { readLastLine, readLines, type LineRead } from '../sinks/journal-reader.js';
import { memberNames, refusedNames } from '../otlp/json-members.js';
import { recoverSegment, type TornTail } from '../sinks/recover.js';
import { hostname } from 'node:os';
import { aliveBySocket, removeDeadAliveFiles, claimHolder, claimReplay, elsewhere, isOwnerAlive, newState, OWNER_HEARTBEAT_MS, OWNER_LEASE_MS, readState, touchClaim, writeState, whereOwner, writtenAt, type StreamState } from '../sinks/stream-state.js';
import { listStreams, prepareAuditDir, stateDir, statePath } from '../sinks/files.js';
import { ExportLoop, type ExportRequest, type ExportSource } from './export-loop.js';
import type { AuditMetrics } from './metrics.js';
import type { BatchSender } from './otlp-sender.js';
import { keepAside } from './set-aside.js';

export interface ReplayOptions {
  dir: string;
  /** The live stream of this process: never replayed here. */
  ownStreamId: string;
  sender: BatchSender;
  maxExportBatchSize: number;
  retryMinMillis: number;
  retryMaxMillis: number;
  /**
   * A running processor looking again (its rescan, after start-up): only streams whose owner is gone and whose claim
   * is free are taken; one an owner or replayer on another host may still hold is left for the next look, unsaid
   * (start-up said it, and a rescan every minute would say it again and again).
   */
  rescan?: boolean;
  /** Streams not to look at (a rescan: those an earlier replay of this process ran to their end without finishing them). */
  skip?: ReadonlySet<string>;
  /** The processor's metrics: replayed records count as exported (or rejected) under their stream's id, each request's duration too. */
  metrics?: Pick<AuditMetrics, 'replayed' | 'exportDuration'>;
}

export interface ReplayReport {
  streams: string[];
  records: number;
  /** Records the collector refused for good, kept in rejected/. */
  rejected: number;
  torn: TornTail[];
  malformedLines: number;
  /** Streams whose replay failed (said loudly; their journal is kept for the next start). */
  failed: string[];
  /**
   * Streams claimed whose replay was stopped (by shutdown) before it ran to its end: what it did not deliver
   * stays in the journal for the next start.
   */
  unfinished: string[];
}

interface Claimed {
  streamId: string;
  paths: string[];
  state: StreamState;
  release: () => void;
  /** Its last segment's last line was checked, and set aside if torn (recoverTail). */
  tailChecked: boolean;
}

/** Seq and hash of the highest record of `streamId` on the last whole line of its segments. */
function lastRecordOf(streamId: string, paths: readonly string[]): { lastSeq?: number; lastHash?: string } {
  try {
    // A segment without a whole line (created at rotation just before a crash or a full disk: empty, or only a
    // torn first line) holds no record: the last one is in the segment before it.
    let line: string | undefined;
    for (let k = paths.length - 1; k >= 0 && line === undefined; k--) line = readLastLine(paths[k]!);
    if (line === undefined) return {};
    const req = JSON.parse(line) as ExportLogsServiceRequest;
    let best: { seq: number; rec: OtlpLogRecord } | undefined;
    for (const rl of req.resourceLogs ?? [])
      for (const sl of rl.scopeLogs ?? [])
        for (const r of sl.logRecords ?? []) {
          const seq = intAttribute(r, ATTR_SEQ_NUMBER);
          if (stringAttribute(r, ATTR_SEQ_STREAM_ID) === streamId && seq !== undefined && (best === undefined || seq > best.seq)) best = { seq, rec: r };
        }
    return best === undefined ? {} : { lastSeq: best.seq, lastHash: hashCanonical(canonicalFromOtlp(best.rec)) };
  } catch {
    return {}; // unreadable tail: link by stream id only
  }
}

/** This process, as a replayer that wrote a stream's state: host and pid (for people reading the file). */
const replayer = (): string => `${hostname()}:${process.pid}`;

/**
 * Is the stream's first owner alive (`written`: when its state file was written)? Not once a replayer took the
 * stream over: it was judged gone then.
 */
const ownerAlive = (streamId: string, state: StreamState, written: number | undefined): boolean =>
  state.replayedBy === undefined && isOwnerAlive(state, streamId, written);

/** The state of a stream whose state file is missing or unreadable: no owner known. */
function unknownOwner(streamId: string): StreamState {
  const { procStart: _ours, pidNs: _ns, ...state } = newState(streamId);
  return { ...state, pid: 0, startedAt: '' };
}

/** A stream of an owner on another host that looked alive at start: judged again once its lease would run out. */
interface Deferred {
  streamId: string;
  paths: string[];
  written: number;
}

export class Replayer {
  private stopped = false;
  /** Wakes `run()` from its wait for a lease to run out (stop). */
  private wake: (() => void) | undefined;
  private readonly deferred: Deferred[] = [];
  /** Claims held right now: their leases are renewed while the replay runs. */
  private readonly held = new Set<string>();
  /** Streams of owners on other hosts that were still renewing their lease when looked at again: not replayed. */
  readonly aliveElsewhere: string[] = [];
  /** Streams whose owner lives (its pid on this host, or its socket: a neighbour in the pod): it delivers them; not replayed. */
  readonly aliveHere: string[] = [];
  /** Streams another replayer on this host holds the claim of: replayed by it, not by this one. */
  readonly heldHere: string[] = [];
  /** The export loop of the stream being replayed. */
  private loop: ExportLoop | undefined;
  private readonly claimed: Claimed[];
  /** Every stream it found to replay (not done, owner gone or stream closed), claimed by it or by another replayer. */
  readonly orphans: string[] = [];
  readonly report: ReplayReport = { streams: [], records: 0, rejected: 0, torn: [], malformedLines: 0, failed: [], unfinished: [] };
  /** Claimed streams whose replay ran to its end (delivered, set aside, or failed and said). */
  private readonly settled = new Set<string>();
  /** Deferred streams not judged again yet (stop() may come first: they are then unfinished too). */
  private readonly waiting = new Set<string>();

  /**
   * Claims, synchronously, the streams left unacknowledged by processes that are gone (so the new stream can
   * name its predecessor on its very first record); `run()` then replays them in the background. Throws
   * AuditConfigError when the directory is not safe to use (prepareAuditDir).
   */
  constructor(private readonly o: ReplayOptions) {
    this.claimed = [];
    // Before any file in the directory is read, locked or written: refuse (AuditConfigError) a directory
    // others can write, and any link, FIFO or foreign file planted where a segment or state file should be.
    prepareAuditDir(o.dir);
    removeDeadAliveFiles(stateDir(o.dir));
    for (const [streamId, paths] of listStreams(o.dir)) {
      if (streamId === o.ownStreamId || o.skip?.has(streamId) === true) continue;
      const state = readState(o.dir, streamId);
      if (state?.done === true) continue;
      // A live owner is still delivering; but a stream it closed (ended) is final and can be replayed now.
      if (state !== undefined && !state.ended) {
        const written = writtenAt(statePath(o.dir, streamId));
        if (ownerAlive(streamId, state, written)) {
          // On another host (a container restarted under a new host name, say), the owner's lease is all there is
          // to go by: the stream is looked at again once it would have run out, and said, never left silently.
          // One seen alive by its socket (a neighbour in the pod) is as certain as a live pid here: left to it.
          if (elsewhere(state) && written !== undefined && aliveBySocket(state, streamId) !== true) {
            if (o.rescan !== true) this.defer(streamId, paths, written, `a process ${whereOwner(state)}, which wrote its state`);
          } else this.aliveHere.push(streamId);
          continue;
        }
      }
      const got = this.claim(streamId, paths);
      // Its owner is gone and the claim is ours: a torn last line is set aside now, before this process writes its
      // first record, not when the replay reaches it. A short-lived process (a CLI) that shuts down before its
      // replay ends left it in place, and verify called the untampered journal TORN (found in review).
      if (got === 'claimed') this.recoverTail(this.claimed[this.claimed.length - 1]!);
      if (got !== 'held') continue;
      // Held by a replayer on another host: it may have died with it (a restarted container); its lease says.
      const holder = this.foreignHolder(streamId);
      if (holder === undefined) this.heldHere.push(streamId);
      else if (o.rescan !== true) this.defer(streamId, paths, holder.written, `a replayer ${whereOwner(holder)}, which renewed its claim`);
    }
  }

  /** The holder of the stream's claim when it is a replayer on another host, whose lease alone says it lives. */
  private foreignHolder(streamId: string): { host: string; pidNs?: string; written: number } | undefined {
    const holder = claimHolder(this.o.dir, streamId);
    return holder !== undefined && elsewhere(holder) ? holder : undefined;
  }

  /** A stream to judge again once the lease of `whose` (written at `written`) would have run out; said now. */
  private defer(streamId: string, paths: string[], written: number, whose: string): void {
    this.deferred.push({ streamId, paths, written });
    this.waiting.add(streamId);
    if (!this.orphans.includes(streamId)) this.orphans.push(streamId);
    sayLoudly(
      `otel-audit: stream ${streamId} in ${this.o.dir} is held by ${whose} ${Math.round((Date.now() - written) / 1000)} s ago: it is replayed once ${OWNER_LEASE_MS / 1000} s pass without a sign of it (a running one renews it every ${OWNER_HEARTBEAT_MS / 1000} s)`,
      'warn',
    );
  }

  /**
   * Claims an orphaned stream for `run()`: 'claimed', or why not — 'held' by another live replayer, 'done'
   * meanwhile, or an I/O 'error' (said).
   */
  private claim(streamId: string, paths: string[]): 'claimed' | 'held' | 'done' | 'error' {
    const o = this.o;
    if (!this.orphans.includes(streamId)) this.orphans.push(streamId);
    let release: (() => void) | undefined;
    try {
      release = claimReplay(o.dir, streamId);
    } catch (e) {
      if (e instanceof AuditConfigError) throw e; // something planted: refused, as prepareAuditDir refuses
      // A full disk, or one that turned read-only after start-up's check (files.ts prepareAuditDir), is not a
      // reason to refuse start-up: live records still go to the collector. The stream stays in the journal, replayed by a later start.
      sayLoudly(`otel-audit: replay of stream ${streamId} from ${o.dir} skipped: its claim could not be written (${errorText(e)}); it stays in the journal for a later start`);
      return 'error';
    }
    if (release === undefined) return 'held';
    // Read again under the claim: another replayer may have finished the stream (done) or acknowledged more of
    // it before dying, between the read above and this claim. The first read alone replays it twice.
    const claimedState = readState(o.dir, streamId);
    if (claimedState?.done === true) {
      release();
      return 'done';
    }
    this.held.add(streamId);
    const done = release;
    this.claimed.push({
      streamId,
      paths,
      state: claimedState ?? unknownOwner(streamId),
      tailChecked: false,
      release: () => {
        this.held.delete(streamId);
        done();
      },
    });
    return 'claimed';
  }

  /**
   * The most recently started of the claimed streams — what this process's stream follows — with the seq and
   * hash of its last whole record in the journal, so a verifier can prove a crashed stream was not cut later.
   */
  get predecessor(): { streamId: string; lastSeq?: number; lastHash?: string } | undefined {
    let best: Claimed | undefined;
    for (const c of this.claimed) if (best === undefined || c.state.startedAt > best.state.startedAt) best = c;
    if (best === undefined) return undefined;
    return { streamId: best.streamId, ...lastRecordOf(best.streamId, best.paths) };
  }

  /** The journal directory it replays from. */
  get dir(): string {
    return this.o.dir;
  }

  /**
   * Replays the claimed streams, oldest first, releasing each claim when done (or stopped). A stream whose replay
   * fails (a segment gone, an I/O error) is said loudly and left in the journal for the next start; the others are
   * still replayed, and every claim is released.
   */
  async run(): Promise<ReplayReport> {
    // The claims' leases, renewed while they are held: a replay against a collector that is down may take hours.
    const lease = setInterval(() => {
      for (const id of this.held) touchClaim(this.o.dir, id);
    }, OWNER_HEARTBEAT_MS);
    lease.unref();
    try {
      for (let k = 0; k < this.claimed.length; k++) await this.replayClaimed(this.claimed[k]!);
      for (const d of this.deferred) {
        if (this.stopped) break;
        await this.afterLease(d.written);
        if (this.stopped) break;
        this.waiting.delete(d.streamId);
        const state = readState(this.o.dir, d.streamId);
        if (state?.done === true) continue;
        if (state !== undefined && !state.ended && ownerAlive(d.streamId, state, writtenAt(statePath(this.o.dir, d.streamId)))) {
          this.aliveElsewhere.push(d.streamId);
          continue;
        }
        const got = this.claim(d.streamId, d.paths);
        if (got === 'claimed') await this.replayClaimed(this.claimed[this.claimed.length - 1]!);
        // Its claim renewed by a live replayer on another host all along: that one delivers it. (One on this host
        // is another process of this host replaying it: still undelivered, as far as this one knows.)
        else if (got === 'held' && this.foreignHolder(d.streamId) !== undefined) this.aliveElsewhere.push(d.streamId);
      }
    } finally {
      clearInterval(lease);
    }
    this.report.unfinished = this.unfinished;
    return this.report;
  }

  private async replayClaimed(c: Claimed): Promise<void> {
    try {
      if (!this.stopped && (await this.replayStream(c))) this.settled.add(c.streamId);
    } catch (e) {
      this.settled.add(c.streamId);
      this.report.failed.push(c.streamId);
      sayLoudly(`otel-audit: replay of stream ${c.streamId} from ${this.o.dir} failed (${errorText(e)}); what it did not deliver stays in the journal for the next start`);
    } finally {
      c.release();
    }
  }

  /**
   * Until the lease of a file written at `written` would have run out (a second more, for the clocks), or stop().
   * The wait does not keep the process alive: a process that ends first leaves the stream to the next start.
   */
  private afterLease(written: number): Promise<void> {
    const ms = written + OWNER_LEASE_MS + 1000 - Date.now();
    if (ms <= 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      t.unref();
      this.wake = () => {
        clearTimeout(t);
        this.wake = undefined;
        resolve();
      };
    });
  }

  /** Streams it claimed (to replay). */
  get claimedCount(): number {
    return this.claimed.length;
  }

  /** Claimed streams whose replay has not run to its end (yet, or ever: stopped), and deferred ones not judged yet. */
  get unfinished(): string[] {
    return [...this.claimed.filter((c) => !this.settled.has(c.streamId)).map((c) => c.streamId), ...this.waiting];
  }

  /** The report of what the replay did so far (shutdown stopped it): a copy. */
  reportSoFar(): ReplayReport {
    const r = this.report;
    return { ...r, streams: [...r.streams], torn: [...r.torn], failed: [...r.failed], unfinished: this.unfinished };
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
    this.loop?.stop();
  }

  /** After shutdown: a replay export still in flight no longer keeps the process alive (BatchSender.shutdown). */
  release(): void {
    this.o.sender.shutdown().catch(() => undefined);
  }

  /**
   * Sets aside the torn last line of a claimed stream's last segment (sinks/recover.ts), once. An I/O error is
   * thrown when `must`, as the replay's own failure; at start-up it is said, and the replay tries again.
   */
  private recoverTail(c: Claimed, must = false): void {
    if (c.tailChecked) return;
    try {
      const torn = recoverSegment(this.o.dir, c.paths[c.paths.length - 1]!);
      c.tailChecked = true;
      if (torn === undefined) return;
      this.report.torn.push(torn);
      sayLoudly(`otel-audit: torn last line in ${torn.file} (${torn.bytes} bytes at offset ${torn.offset}) set aside to ${torn.quarantinedTo}`);
    } catch (e) {
      if (must) throw e;
      sayLoudly(`otel-audit: the last line of stream ${c.streamId} in ${this.o.dir} could not be checked at start-up (${errorText(e)}); its replay tries again`);
    }
  }

  /** Replays one stream; false when it was stopped before its end. */
  private async replayStream(c: Claimed): Promise<boolean> {
    const { streamId, paths, state } = c;
    this.recoverTail(c, true);
    this.report.streams.push(streamId);
    // Marked as a replayer's write: the first owner was judged gone, and this write is no sign of its life (on
    // another host its time would renew that owner's lease). Who is on the stream now, the claim's lock says.
    const saved = (acked: number, extra: Partial<StreamState> = {}): void =>
      writeState(this.o.dir, { ...state, replayedBy: replayer(), acked, last: Math.max(state.last, acked), ...extra });
    const source = new StreamRequests(paths, streamId, this.o.maxExportBatchSize, state.ended, this.report, (last) => saved(last));
    let failure: { error: unknown } | undefined;
    const loop = new ExportLoop({
      sender: this.o.sender,
      streamId,
      source,
      acked: state.acked,
      retryMinMillis: this.o.retryMinMillis,
      retryMaxMillis: this.o.retryMaxMillis,
      hooks: {
        acked: (_last, n) => {
          this.report.records += n;
          this.o.metrics?.replayed('exported', n, streamId);
        },
        setAside: (body, first, last, count, why) => {
          keepAside(this.o.dir, streamId, first, last, body, why, 'replayed records');
          this.report.rejected += count;
          this.o.metrics?.replayed('rejected', count, streamId);
        },
        timed: (seconds, ok) => this.o.metrics?.exportDuration(seconds, ok, streamId),
        retrying: (r, _count, delay) => diagLog('warn', `otel-audit: replay export failed (${r.message}); retrying in ${delay} ms`),
        crashed: (error) => {
          // Not retried: the replay of this stream ends with the error (its claim is released, run() rejects).
          failure = { error };
          loop.stop();
        },
      },
    });
    this.loop = loop;
    try {
      if (this.stopped) return false;
      if ((await loop.run()) === 'stopped') {
        if (failure !== undefined) throw failure.error;
        // Stopped (a shutdown) maybe right after its last acknowledgement, before the loop looked for more: the
        // stream is complete when nothing is left to send. Else it was said as unfinished, and left not done.
        if (!(await source.drained(loop.acked))) return false;
      }
    } finally {
      this.loop = undefined;
      await source.close();
    }
    // The owner is gone: nothing more will be appended, so the stream is complete once all is acknowledged —
    // unless a line could not be read: its records were not delivered, so the stream stays not done and
    // retention keeps its files (the evidence `otel-audit verify` names), and the next start says so again.
    saved(loop.acked, { ended: source.ended, done: source.malformed === 0 });
    return true;
  }
}

/**
 * The requests of one orphaned stream for the export loop: its segments' lines in order, the records after
 * the acknowledged position, up to `maxCount` records a request (whole lines). A request is offered again
 * until it is settled; then `onSettled` saves the position.
 */
class StreamRequests implements ExportSource {
  private readonly lines: AsyncGenerator<LineRead>;
  private pending: ExportRequest | undefined;
  /** What `pending` was built from, and the acknowledged position then (see resumed). */
  private pendingRequest: ExportLogsServiceRequest | undefined;
  private pendingAfter = 0;
  private exhausted = false;
  /** Lines of this stream's segments that are not JSON: their records were not sent. */
  malformed = 0;

  constructor(
    paths: readonly string[],
    private readonly streamId: string,
    private readonly maxCount: number,
    /** The stream's end marker was seen (or its state said so). */
    public ended: boolean,
    private readonly report: ReplayReport,
    private readonly onSettled: (last: number) => void,
  ) {
    this.lines = linesOf(paths);
  }

  finished(): boolean {
    return this.exhausted && this.pending === undefined;
  }

  /** Nothing is left to send after `acked` (reads on to the end of the stream's lines to tell). */
  async drained(acked: number): Promise<boolean> {
    if (this.pending !== undefined) return false;
    return (await this.next(acked)) === undefined && this.finished();
  }

  async next(acked: number): Promise<ExportRequest | undefined> {
    if (this.pending !== undefined) return this.resumed(acked);
    const requests: ExportLogsServiceRequest[] = [];
    let count = 0;
    let last = acked;
    while (count < this.maxCount) {
      const line = await this.lines.next();
      if (line.done === true) {
        this.exhausted = true;
        break;
      }
      let f: ReturnType<typeof filterRequest>;
      try {
        // A line the verifier refuses (a member name twice, escaped, or in its protobuf spelling) means one thing to
        // JSON.parse and another to the collector: not sent (found in review), left for verify to name.
        if (refusedNames(memberNames(line.value.text))) throw new Error('member names');
        // JSON that is no OTLP request (`null`, `{"resourceLogs":5}`) is malformed too (found in review: it threw
        // out of the stream, which then sent nothing, on every run).
        f = filterRequest(JSON.parse(line.value.text) as ExportLogsServiceRequest, this.streamId, (s) => s > acked);
      } catch {
        this.report.malformedLines++;
        this.malformed++;
        continue; // left in place: `otel-audit verify` reports it as malformed
      }
      if (f === undefined) continue;
      if (hasEndMarker(f.request)) this.ended = true;
      requests.push(f.request);
      count += f.count;
      last = Math.max(last, f.last);
    }
    if (count === 0) return undefined;
    const merged: ExportLogsServiceRequest = { resourceLogs: requests.flatMap((r) => r.resourceLogs ?? []) };
    this.pendingRequest = merged;
    this.pendingAfter = acked;
    return (this.pending = {
      body: JSON.stringify(merged),
      count,
      last,
      done: (outcome) => {
        if (outcome === 'failed') return;
        this.pending = undefined;
        this.onSettled(last);
      },
    });
  }

  /**
   * The pending request again, or, when a bisection settled its start before a retryable failure stopped it, the
   * records after `acked` (resending all of it would send acknowledged records twice and set refused ones aside
   * again).
   */
  private resumed(acked: number): ExportRequest {
    const p = this.pending!;
    if (acked <= this.pendingAfter) return p;
    const rest = filteredBody(this.pendingRequest!, this.streamId, (s) => s > acked);
    if (rest === undefined) return p;
    this.pendingAfter = acked;
    return (this.pending = { ...p, body: rest.body, count: rest.count });
  }

  /** Closes the segment being read (when the replay stopped before its end). */
  async close(): Promise<void> {
    await this.lines.return(undefined);
  }
}

async function* linesOf(paths: readonly string[]): AsyncGenerator<LineRead> {
  for (const path of paths) yield* readLines(path);
}

function hasEndMarker(req: ExportLogsServiceRequest): boolean {
  for (const rl of req.resourceLogs ?? [])
    for (const sl of rl.scopeLogs ?? []) for (const r of sl.logRecords ?? []) if (attribute(r, ATTR_SEQ_END)?.boolValue === true) return true;
  return false;
}
