/**
 * Stage 4, deliver: from sealed records to the collector and the journal, without silent loss and with
 * bounded memory (ARCHITECTURE.md §5).
 *
 * Invariant: every accepted record is at all times in memory, in the journal, or acknowledged.
 * `Delivery` coordinates the batcher (batch.ts), the journal (spool.ts), read-back and the export loop.
 * - `accept` (sync, from onEmit) queues a sealed record; with fsync `always` it is also written and fsynced
 *   before `accept` returns.
 * - A flush tick (setImmediate) cuts the queue into batches, writes them to the journal as OTLP/JSON lines
 *   (group commit: one write + one fsync for everything queued since the last one) and hands the same
 *   text to the exporter as the HTTP body.
 * - The export loop (export-loop.ts, shared with replay) sends one request at a time, in sequence order:
 *   from memory, or — for records evicted from memory because the collector was slow or down — read back
 *   from the journal (read-back.ts). A failed request is retried with capped exponential backoff, forever
 *   (an outage of any length only grows the journal).
 * - Memory holds at most `maxQueueSize` records that are already in the journal (older ones are evicted and
 *   re-read from disk later) and at most `maxPendingRecords` records in all; past that, the loss policy.
 */
import { diagLog } from '../core/diag-log.js';
import { existsSync } from 'node:fs';
import { ensureDirs, statePath } from '../sinks/files.js';
import type { SealedRecord } from '../chain/seal.js';
import type { EncodableRecord } from '../otlp/request.js';
import type { FsyncPolicy, SegmentInfo } from '../sinks/journal.js';
import { disown, listenAlive, type AliveSocket, newState, own, OWNER_HEARTBEAT_MS, writeState, writeStateAsync, type StreamState } from '../sinks/stream-state.js';
import { settleWithin } from '../core/deadline.js';
import type { StdoutSink } from '../sinks/stdout.js';
import { AuditLossError } from '../core/errors.js';
import { Batcher, concatRequests, journalLine, recordsOf, rejectReceipts, release, settle, settleEach, type Batch } from './batch.js';
import { BodyScratch } from './body-scratch.js';
import { Spool } from './spool.js';
import type { Deferred } from './deferred.js';
import { ExportLoop, type ExportRequest, type ExportSource } from './export-loop.js';
import type { LossEvent, LossReporter } from './loss.js';
import type { AuditMetrics } from './metrics.js';
import type { BatchSender } from './otlp-sender.js';
import { readBack, type ReadBackRequest } from './read-back.js';
import { filteredBody } from '../otlp/decode.js';
import type { ExportLogsServiceRequest } from '../otlp/types.js';
import type { AuditReceipt } from './receipt.js';
import { keepAside } from './set-aside.js';
import { OutageNotice } from './outage-notice.js';

/**
 * How long after an acknowledgement the acknowledged position is saved (state/<stream>.json). Each save is two
 * fsyncs on this thread (file, then directory); a stale position only means re-sending that much at the next
 * start (at-least-once), so saves are at most once a second.
 */
const STATE_SAVE_DELAY_MS = 1000;

export type FileMode = 'journal' | 'fallback' | 'off';

export interface DeliveryOptions {
  dir: string;
  streamId: string;
  file: FileMode;
  fsync: FsyncPolicy;
  /**
   * Journal every record before accept returns (fsynced after, by the policy), in `fallback` mode too: for a
   * processor in a worker thread, where nothing runs when the worker is terminated or the process exits (found in
   * review: what waited for the next tick was lost without a word).
   */
  writeThrough?: boolean;
  maxFileBytes: number;
  maxQueueSize: number;
  maxPendingRecords: number;
  /** Unacknowledged bytes the journal may hold (OTEL_AUDIT_MAX_FILES × OTEL_AUDIT_MAX_FILE_BYTES). */
  maxJournalBytes: number;
  maxExportBatchSize: number;
  sender: BatchSender;
  stdout: StdoutSink | undefined;
  loss: LossReporter;
  metrics: AuditMetrics;
  /** Backoff between failed export attempts: doubles from min to max. */
  retryMinMillis: number;
  retryMaxMillis: number;
  /** Called after each journal rotation (retention runs there). */
  onRotate?: (() => void) | undefined;
}

export class Delivery {
  private readonly batcher: Batcher;
  private stdoutPending: EncodableRecord[] = [];
  /** Batches handed to the export loop and not yet settled, in sequence order (evicted ones are read back). */
  private unsent: Batch[] = [];
  /** Bytes of the `unsent` batches' lines, on disk or not (an upper bound for journalFull in fallback mode). */
  private unsentBytes = 0;
  /** The batches of the request in flight: never evicted. */
  private inflight: Batch[] = [];
  /** The last seq of the last request made from memory: a retry sends that request again, no more, no less. */
  private lastFromMemory = 0;
  private memRecords = 0;
  private tickScheduled = false;
  private readonly journal: Spool | undefined;
  /** Fallback mode: the collector is failing, so every batch goes to the spool until it recovers. */
  private outage = false;
  /** Says on stderr when the collector stops and starts taking records. */
  private readonly outageNotice: OutageNotice;
  private accepted = 0;
  private readonly loop: ExportLoop;
  /** The body of the request being sent, when it is assembled (concatenated or read back). */
  private scratch = new BodyScratch();
  /** The read-back of the request after the one being sent, and the buffer it reads into (readAhead). */
  private ahead: { from: number; read: Promise<{ request: ReadBackRequest | undefined; gaps: [number, number][] }> } | undefined;
  private aheadScratch = new BodyScratch();
  private stateTimer: NodeJS.Timeout | undefined;
  /** Rewrites the state file now and then, idle or not: the owner's sign of life to other hosts (OWNER_HEARTBEAT_MS). */
  private heartbeat: NodeJS.Timeout | undefined;
  /** The state file was written once: from then on the stream's segments may exist (see beforeSegment). */
  private stateWritten = false;
  /** The alive socket (stream-state.ts listenAlive) once the state is first written; null when it could not listen. */
  private alive: AliveSocket | null | undefined;
  /** Ranges the request in flight set aside: kept in rejected/, or not (reported lost). */
  private setAsideRanges: { first: number; last: number; kept: boolean }[] = [];
  /** A batch was kept in rejected/ since the state was last saved: the next progress saves it at once. */
  private keptAsideSinceSave = false;
  private readonly state: StreamState;
  private closed = false;
  /** close() wrote the stream's last state: nothing of this process writes it again (see `progressed`). */
  private stateFinal = false;
  /** State writes started; a background save is renamed into place only if none started after it. */
  private stateWrites = 0;
  private backgroundSave: Promise<void> | undefined;
  /** The acknowledged seq of the last state write that landed (on disk, renamed into place). */
  private durableAcked = 0;
  private saveAgain = false;
  /** Batches exitSync journaled or reported lost already. */
  private readonly exitHandled = new WeakSet<Batch>();
  lastError: string | undefined;
  /** Bytes of the largest record accepted: the estimate for records not sealed yet (journalFull). */
  private largestRecordBytes = 0;

  constructor(private readonly o: DeliveryOptions) {
    this.batcher = new Batcher(o.file === 'off', o.file === 'off' ? Infinity : o.maxFileBytes);
    this.journal =
      o.file === 'off'
        ? undefined
        : new Spool({
            dir: o.dir,
            streamId: o.streamId,
            maxFileBytes: o.maxFileBytes,
            fsync: o.fsync,
            metrics: o.metrics,
            failClosed: o.loss.policy === 'throw',
            onRotate: o.onRotate,
            onWritten: () => this.evict(),
            onError: (message) => (this.lastError = message),
            // A segment without the state file that names its live owner looks orphaned to another processor in
            // the directory, which would replay it and take it for its predecessor while this one still writes.
            beforeSegment: () => {
              // At rotation a stat: the directory may have been removed underneath and re-created for this segment.
              if (this.stateWritten && existsSync(statePath(o.dir, o.streamId))) return;
              const problem = this.saveState();
              if (problem !== undefined) throw new Error(`delivery state not written: ${problem}`);
            },
          });
    this.state = newState(o.streamId);
    // Until closed, a state file naming this pid is this live stream's, not an earlier process's (stream-state.ts).
    own(o.streamId);
    o.metrics.depth = () => this.memRecords;
    this.outageNotice = new OutageNotice(o.file, o.streamId);
    this.loop = new ExportLoop({
      sender: o.sender,
      streamId: o.streamId,
      retryMinMillis: o.retryMinMillis,
      retryMaxMillis: o.retryMaxMillis,
      source: this.source,
      hooks: {
        acked: (_last, n, whole) => {
          o.metrics.exportedN(n);
          if (!whole) return;
          this.outage = false;
          this.lastError = undefined;
          this.outageNotice.recovered();
        },
        setAside: (body, first, last, count, why) => this.setAside(body, first, last, count, why),
        progressed: () => {
          // After close() an export still in flight may yet be acknowledged: close() wrote the stream's final state,
          // and a replayer may own the stream by now (found in review: a late acknowledgement rewrote the state of a
          // stream another process had finished, and its retention cuts then read as deletions). The next replay
          // sends those records again (at-least-once).
          if (this.closed) return;
          if (this.keptAsideSinceSave) {
            // Records just kept in rejected/: the state says at once that the stream moved past them, or a crash
            // in the second before the next save had the replay set them aside a second time (found in re-review).
            this.keptAsideSinceSave = false;
            this.saveState();
          } else this.saveStateSoon();
          this.journal?.offerRetention(this.loop.acked);
        },
        failed: (r) => (this.lastError = `export: ${r.message}`),
        retrying: (r, count, delay) => {
          diagLog('warn', `otel-audit: export of ${count} records failed (${r.message}); retrying in ${delay} ms`);
          if (!this.closed) this.outageNotice.failed(r.message, true);
          // After close, close() itself spools what is left (and the journal may be closed already).
          if (o.file === 'fallback' && this.journal !== undefined && !this.closed) this.spoolUnsent();
        },
        timed: (seconds, ok) => o.metrics.exportDuration(seconds, ok),
        crashed: (e) => this.exportCrashed(e),
      },
    });
    // The transport's own retries (up to OTEL_EXPORTER_OTLP_TIMEOUT, on timers that keep no process alive) are the
    // first sign of an outage. Fallback mode: a failed attempt is the outage, and must not hold receipts, or an app
    // awaiting one ends there.
    o.sender.onRetry?.((detail) => {
      // The reason a shutdown gives for records not acknowledged: the transport's own, rather than "timeout" when
      // it was still retrying then (found in a new-user review: a wrong port said only "timeout").
      if (detail !== undefined) this.lastError = `export: ${detail}`;
      if (this.closed) return;
      this.outageNotice.failed(detail, false);
      if (o.file === 'fallback' && this.journal !== undefined) this.spoolUnsent();
    });
  }

  get streamId(): string {
    return this.o.streamId;
  }

  get ackedSeq(): number {
    return this.loop.acked;
  }

  get acceptedSeq(): number {
    return this.accepted;
  }

  /** Records accepted but not yet acknowledged by the collector. */
  get undelivered(): number {
    return this.accepted - this.loop.acked;
  }

  /** Records neither acknowledged nor in the journal: memory is all that holds them. */
  get memoryOnly(): number {
    const acked = this.loop.acked;
    return recordsOf(this.unsent.filter((b) => !b.onDisk && b.last > acked), acked).length + this.batcher.count;
  }

  get queueDepth(): number {
    return this.memRecords;
  }

  journalSegments(): readonly SegmentInfo[] {
    return this.journal?.segments ?? [];
  }

  /** Retention deleted this segment of the journal. */
  forgetSegment(path: string): void {
    this.journal?.writer.forget(path);
  }

  journalFiles(): string[] {
    return this.journal?.segments.map((s) => s.path) ?? [];
  }

  /**
   * Can one more record be accepted without loss? False when closed, when memory holds `maxPendingRecords`,
   * or when the journal holds `maxJournalBytes` of unacknowledged records (retention may not delete them, so
   * the disk bound of OTEL_AUDIT_MAX_FILES × OTEL_AUDIT_MAX_FILE_BYTES is reached): the loss policy applies.
   */
  canAccept(): boolean {
    return this.refusal() === undefined;
  }

  /** Why a record cannot be accepted now, or undefined when it can. */
  refusal(): string | undefined {
    if (this.closed) return 'the processor is shut down';
    if (this.memRecords >= this.o.maxPendingRecords) return `${this.memRecords} records in memory (maxPendingRecords) and neither journal nor collector takes more`;
    if (this.journalFull(0)) return `the journal holds ${this.o.maxJournalBytes} bytes not yet acknowledged by the collector (OTEL_AUDIT_MAX_FILES × OTEL_AUDIT_MAX_FILE_BYTES)`;
    return undefined;
  }

  /**
   * Is there room for `unsealed` more records, counted at the size of the largest one so far (journalFull)? True
   * means refusal() would say nothing now; false, that the caller should seal them and ask refusal() on exact counts.
   */
  hasRoomFor(unsealed: number): boolean {
    return !this.closed && this.memRecords + unsealed < this.o.maxPendingRecords && !this.journalFull(unsealed);
  }

  /**
   * Would the journal reach its bound with `records` more records (not sealed yet, estimated at the size of the
   * largest one accepted, and taken to reach it while none was: the caller then seals them and asks again with 0)?
   * The batches not yet handed to it count (a burst of records emitted in one go is journaled only at the next
   * tick). In fallback mode so does every batch memory holds that is not on disk: all of it goes to the journal at
   * the next failed export (spoolUnsent) or past maxQueueSize, with no bound checked then (found in review: 20,000
   * records emitted before the first export failed went into an 8 KiB journal).
   */
  journalFull(records: number): boolean {
    if (this.journal === undefined) return false;
    if (records > 0 && this.largestRecordBytes === 0) return true;
    const acked = this.loop.acked;
    const max = this.o.maxJournalBytes;
    const ahead = this.batcher.bytes + records * this.largestRecordBytes;
    if (this.o.file !== 'fallback') return this.journal.full(acked, max, ahead);
    // Every line in memory first (those on disk twice: an upper bound), the exact bytes only near the bound.
    if (!this.journal.full(acked, max, ahead + this.unsentBytes)) return false;
    let memory = 0;
    for (const b of this.unsent) if (!b.onDisk && !b.journaling && b.last > acked) memory += b.line.length + 1;
    return this.journal.full(acked, max, ahead + memory);
  }

  /** Hot path. The record is sealed; from here on it is never dropped silently. */
  accept(rec: SealedRecord, receipt?: Deferred<AuditReceipt>): void {
    this.accepted = rec.seq;
    if (rec.bytes.length > this.largestRecordBytes) this.largestRecordBytes = rec.bytes.length;
    this.memRecords++;
    this.o.metrics.emittedOne();
    this.batcher.add(rec, receipt);
    // A copy: rec.bytes is reused by the next seal (RecordSealer).
    if (this.o.stdout !== undefined) this.stdoutPending.push({ bytes: Buffer.from(rec.bytes), group: rec.group });
    const always = this.o.fsync === 'always' && this.o.file === 'journal';
    if ((always || (this.o.writeThrough === true && this.o.file !== 'off')) && this.journal!.canWriteSync) {
      // Written before returning (and fsynced now under `always`, soon under `batch`), with whatever older batches
      // still wait for the tick first (they queued while writes went through group commits, after a failed write),
      // so the journal stays in order.
      this.flushStdout();
      const batches = this.batcher.takeAll();
      this.journal!.writeSync(batches, always);
      this.enqueue(batches);
      return;
    }
    if (this.batcher.count >= this.o.maxExportBatchSize) this.batcher.cutReady();
    if (!this.tickScheduled) {
      this.tickScheduled = true;
      setImmediate(this.tick);
    }
  }

  private readonly tick = (): void => {
    this.tickScheduled = false;
    this.flushPending();
  };

  private flushStdout(): void {
    if (this.o.stdout === undefined || this.stdoutPending.length === 0) return;
    this.o.stdout.write(this.stdoutPending);
    this.stdoutPending = [];
  }

  /** Cuts the open batch, starts the journal write of what was cut and queues it for export. */
  private flushPending(): void {
    const batches = this.batcher.takeAll();
    if (batches.length === 0) return;
    this.flushStdout();
    if (this.journal !== undefined && (this.o.file === 'journal' || this.outage)) this.journal.write(batches);
    this.enqueue(batches);
  }

  private enqueue(batches: Batch[]): void {
    for (const b of batches) {
      this.unsent.push(b);
      this.unsentBytes += b.line.length;
    }
    // Fallback mode: a collector slower than the producer is an outage for the spool (ARCHITECTURE.md §5.4, the journal
    // absorbs a slow or dead collector): past maxQueueSize, what memory holds goes to the spool, so it can be
    // evicted (once written) instead of filling memory up to maxPendingRecords and the loss policy.
    if (this.o.file === 'fallback' && this.journal !== undefined && this.memRecords > this.o.maxQueueSize) this.spoolMemory();
    this.evict();
    this.loop.kick();
  }

  /**
   * Drops from memory the oldest batches that are safe in the journal, beyond `maxQueueSize`. Any journaled
   * batch but the one in flight may go: the export loop reads whatever lies before the next batch in memory
   * back from the journal.
   */
  private evict(): void {
    const max = this.o.maxQueueSize;
    if (this.memRecords <= max) return;
    // Oldest first, down to an eighth below the bound (at most 1024 records): with a batch per record (fsync always,
    // write-through) a walk over all of them for each record past the bound made it quadratic (found in review).
    const target = max - Math.min(max >> 3, 1024);
    let evicted = 0;
    let k = 0;
    const u = this.unsent;
    for (; k < u.length && this.memRecords > target; k++) {
      const b = u[k]!;
      if (b.onDisk && !this.inflight.includes(b)) {
        this.memRecords -= b.count;
        this.unsentBytes -= b.line.length;
        release(b);
        evicted++;
      } else if (evicted > 0) u[k - evicted] = b;
    }
    if (evicted === 0) return;
    for (; k < u.length; k++) u[k - evicted] = u[k]!;
    u.length -= evicted;
  }

  /** Fallback mode: the collector failed, so what memory holds goes to the spool, and so will new batches. */
  private spoolUnsent(): void {
    this.outage = true;
    this.spoolMemory(this.loop.acked);
  }

  /**
   * Fallback mode: writes the batches in memory that are neither on disk nor being written, with records after
   * `after` and after everything the spool has sequenced, to the spool. Past maxQueueSize (`after` 0: all of them), so that they can be evicted; new batches
   * stay in memory.
   */
  private spoolMemory(after = 0): void {
    // A batch whose spool write failed stays in memory: written now, it would land after newer ones (JournalWriter).
    const from = Math.max(after, this.journal!.writer.sequencedUpTo);
    const toWrite = this.unsent.filter((b) => !b.onDisk && !b.journaling && b.first > from);
    if (toWrite.length > 0) this.journal!.write(toWrite);
  }

  // ---- what the export loop sends ----------------------------------------------------------------

  private readonly source: ExportSource = {
    next: (acked, retrying) => this.nextRequest(acked, retrying),
    finished: (acked) => acked >= this.accepted,
  };

  /** The next request in sequence: from memory, or read back from the journal when it was evicted. */
  private nextRequest(acked: number, retrying: boolean): ExportRequest | Promise<ExportRequest | 'skipped'> | undefined {
    const next = acked + 1;
    const head = this.unsent[0];
    if (head !== undefined && head.first <= next) return this.fromMemory(acked, retrying);
    const until = this.evictedUntil();
    if (this.journal === undefined || next >= until) return undefined; // nothing sendable until the next tick
    return this.fromJournal(next, until);
  }

  /** Records before this one were evicted from memory: they are in the journal. */
  private evictedUntil(): number {
    return this.unsent[0]?.first ?? this.batcher.firstQueued ?? this.accepted + 1;
  }

  /**
   * Records from `next` read back from the journal: taken from the read-ahead when it starts there, and the
   * read-ahead of the request after this one started (it is sent while the journal is read).
   */
  private async fromJournal(next: number, until: number): Promise<ExportRequest | 'skipped'> {
    let ahead = this.ahead;
    this.ahead = undefined;
    if (ahead !== undefined && ahead.from > next) {
      // The request before it is being retried: the read-ahead is still the one after it.
      this.ahead = ahead;
      ahead = undefined;
    } else if (ahead !== undefined && ahead.from < next) {
      // Moved past (set aside, or a gap): its buffer is free once its read has ended.
      await ahead.read.catch(() => undefined);
      ahead = undefined;
    }
    let r: ReadBackRequest | undefined;
    if (ahead === undefined) r = await readBack(this.journal!.segments, this.o.streamId, next, until, this.o.maxExportBatchSize, this.reportGap, this.scratch.get);
    else {
      const read = await ahead.read;
      // The read-ahead's buffer now holds the body in flight; the other one is free for the next read-ahead.
      [this.scratch, this.aheadScratch] = [this.aheadScratch, this.scratch];
      // Gaps it found are reported now, in order, as if it had been read now.
      for (const [from, to] of read.gaps) this.reportGap(from, to);
      r = read.request;
    }
    if (r === undefined) return 'skipped';
    this.readAhead(r.last + 1);
    return r;
  }

  /**
   * Starts reading the request that starts at `from` back from the journal, into the spare buffer, while the
   * current one is sent: otherwise the collector idles during the read, and on a busy producer's event loop each
   * step of a read waits for a turn. Gaps it finds are kept for when it is used (`fromJournal`): reported now, their
   * skip would move the position while the request before them may still fail and be sent again. Both buffers are
   * kept for the next requests (BodyScratch: up to 16 MiB each).
   */
  private readAhead(from: number): void {
    const until = this.evictedUntil();
    if (this.closed || this.ahead !== undefined || this.journal === undefined || from >= until) return;
    const gaps: [number, number][] = [];
    const read = readBack(this.journal.segments, this.o.streamId, from, until, this.o.maxExportBatchSize, (a, b) => void gaps.push([a, b]), this.aheadScratch.get).then((request) => ({ request, gaps }));
    read.catch(() => undefined); // a failed read-ahead is read again when its turn comes (fromJournal)
    this.ahead = { from, read };
  }

  /**
   * The batches at the head of memory as one request. Consecutive batches are coalesced up to the export
   * batch size: when the collector is slower than the producer, one request then carries many small batches
   * instead of one round trip each. A retry is the failed request again, the batches that queued up behind it
   * meanwhile left for the next one: its refusals must add up to the bisection that sets aside only the records
   * refused (export-loop.ts). A smaller retry (its head batch, as before) was taken, reset the count, and the
   * stream went on one batch per backoff while the joined request was refused again each time (found in review).
   */
  private fromMemory(acked: number, retrying: boolean): ExportRequest {
    const head = this.unsent[0]!;
    let n = 1;
    let count = head.count;
    while (n < this.unsent.length) {
      const b = this.unsent[n]!;
      if (b.first !== this.unsent[n - 1]!.last + 1) break;
      if (retrying ? b.last > this.lastFromMemory : count + b.count > this.o.maxExportBatchSize) break;
      count += b.count;
      n++;
    }
    const group = this.unsent.slice(0, n);
    // A bisection acknowledged or set aside the start of the request, then failed: only the rest is sent again, and
    // the request keeps its batches, so that settling it settles those it already passed (found in review: a head
    // batch acknowledged whole was sent again, the position went back, a refused record was set aside twice).
    if (head.first <= acked) return this.restOf(group, acked);
    return this.memoryRequest(group, n === 1 ? head.line : concatRequests(group.map((b) => b.line), this.scratch.get), count);
  }

  /**
   * The records of the batches of `group` after `acked`, parsed out of their lines (rare: after a bisection that
   * failed part-way). Resending them whole would send acknowledged records again and set aside the refused ones a
   * second time.
   */
  private restOf(group: Batch[], acked: number): ExportRequest {
    const lines = group.map((b) => b.line);
    const all = lines.length === 1 ? lines[0]! : concatRequests(lines);
    const rest = filteredBody(JSON.parse(Buffer.from(all).toString('utf8')) as ExportLogsServiceRequest, this.o.streamId, (seq) => seq > acked);
    const count = group.reduce((n, b) => n + b.count, 0);
    return rest === undefined ? this.memoryRequest(group, all, count) : this.memoryRequest(group, rest.body, rest.count);
  }

  /** A request of whole batches at the head of memory; settled (their receipts, memory) when the attempt is over. */
  private memoryRequest(group: Batch[], body: Uint8Array | string, count: number): ExportRequest {
    this.inflight = group;
    const last = group[group.length - 1]!.last;
    this.lastFromMemory = last;
    return {
      body,
      count,
      last,
      done: (outcome) => {
        this.inflight = [];
        // Kept across failed attempts: a bisection may have set records aside before the attempt failed.
        if (outcome === 'failed') return;
        const ranges = this.setAsideRanges;
        this.setAsideRanges = [];
        this.unsent.splice(0, group.length);
        for (const b of group) {
          this.memRecords -= b.count;
          this.unsentBytes -= b.line.length;
          if (ranges.length > 0) settleEach(b, this.o.streamId, (seq, id) => this.settledAs(ranges, seq, id) ?? 'collector');
          else settle(b, this.o.streamId, 'collector');
          release(b);
        }
      },
    };
  }

  /**
   * Where a record a bisection set aside is: kept in rejected/ (`journal`), or lost (fail closed: an Error);
   * undefined for a record outside `ranges`.
   */
  private settledAs(ranges: readonly { first: number; last: number; kept: boolean }[], seq: number, id: string): 'journal' | Error | undefined {
    const r = ranges.find((x) => x.first <= seq && seq <= x.last);
    if (r === undefined) return undefined;
    return r.kept ? 'journal' : new AuditLossError('record refused for good by the collector and not kept (no journal directory, or rejected/ could not be written)', [id]);
  }

  /** Records that should be in the journal are not: never silent (this is a bug or outside interference). */
  private readonly reportGap = (from: number, until: number): void => {
    const records = [];
    for (let s = from; s < until; s++) records.push({ recordId: undefined, seq: s });
    this.o.loss.report({ records, reason: 'records missing from the journal when replaying', streamId: this.o.streamId });
    this.loop.skipTo(until - 1);
  };

  /** An unexpected error in the loop (e.g. an unreadable journal line): report, back off, never crash the app. */
  private exportCrashed(e: unknown): void {
    this.inflight = [];
    const msg = `otel-audit: export loop error: ${e instanceof Error ? e.message.slice(0, 200) : String(e)}`;
    this.lastError = msg;
    diagLog('error', msg);
  }

  /**
   * Keeps records the collector refuses for good in `rejected/` (set-aside.ts); without a journal directory,
   * or when that fails, they are reported lost.
   */
  private setAside(body: Uint8Array | string, first: number, last: number, count: number, why: string): void {
    let where: string | undefined;
    if (this.o.file !== 'off') {
      try {
        where = keepAside(this.o.dir, this.o.streamId, first, last, body, why, 'records');
        this.keptAsideSinceSave = true;
        this.o.metrics.rejectedN(count);
      } catch (e) {
        diagLog('error', `otel-audit: could not keep a rejected batch (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    }
    // For the receipts of the batches in memory being sent (read-back records have none left to settle).
    if (this.inflight.length > 0) this.setAsideRanges.push({ first, last, kept: where !== undefined });
    if (where === undefined) {
      const records = [];
      for (let s = first; s <= last; s++) records.push({ recordId: undefined, seq: s });
      this.o.loss.report({ records, reason: `the collector refused them for good (${why})`, streamId: this.o.streamId });
    }
    this.lastError = `rejected: ${why}`;
  }

  // ---- state, flush, shutdown -------------------------------------------------------------------

  private saveStateSoon(): void {
    if (this.stateTimer !== undefined || this.o.file === 'off') return;
    this.stateTimer = setTimeout(() => {
      this.stateTimer = undefined;
      this.saveStateInBackground();
    }, STATE_SAVE_DELAY_MS);
    this.stateTimer.unref();
  }

  /**
   * The periodic saves (progress, the lease's heartbeat). Under fsync `batch` their writes and fsyncs run off the
   * thread: on a busy disk an fsync takes tens of milliseconds, which the app's thread would wait for, each second
   * (found in a profile under load). The saves that order other writes (the first, before a segment, before
   * retention deletes one, at close) and every save under `always` stay synchronous; a background save whose
   * content a later write has overtaken is not renamed into place.
   */
  private saveStateInBackground(): void {
    if (this.o.fsync !== 'batch' || this.alive === undefined || this.closed) {
      this.saveState();
      return;
    }
    if (this.stateFinal) return;
    if (this.backgroundSave !== undefined) {
      this.saveAgain = true;
      return;
    }
    Object.assign(this.state, { acked: this.loop.acked, last: this.accepted });
    const mine = ++this.stateWrites;
    const snapshot = { ...this.state };
    this.backgroundSave = writeStateAsync(this.o.dir, snapshot, () => mine === this.stateWrites && !this.stateFinal)
      .then(
        (made) => {
          if (!made) return;
          this.stateWritten = true;
          this.durableAcked = Math.max(this.durableAcked, snapshot.acked);
        },
        (e: unknown) => void stateNotWritten(e),
      )
      .finally(() => {
        this.backgroundSave = undefined;
        if (!this.saveAgain) return;
        this.saveAgain = false;
        this.saveStateInBackground();
      });
  }

  /** Writes the state file; returns what went wrong (also logged), or undefined once it is written. */
  saveState(extra: Partial<StreamState> = {}): string | undefined {
    if (this.o.file === 'off') return undefined;
    // Closed: the final state backs a retention cut up to what it records acknowledged (a replay's retention may run
    // after close(), found in review); beyond that it is not written again (see `progressed`).
    if (this.stateFinal) return this.loop.acked <= this.state.acked ? undefined : 'the stream is closed: its state file was written for the last time';
    Object.assign(this.state, { acked: this.loop.acked, last: this.accepted }, extra);
    try {
      if (this.alive === undefined && !this.closed) {
        // Before the state first names this process: from then on, a process in another PID namespace of this
        // network namespace (the pod's other containers) sees by this socket that the stream's owner lives.
        ensureDirs(this.o.dir);
        this.alive = listenAlive(this.o.dir, this.o.streamId) ?? null;
        if (this.alive !== null) this.state.aliveSocket = this.alive.inode;
      }
      // Durable (fsynced, renamed, directory fsynced) unless the fsync policy is off.
      this.stateWrites++;
      writeState(this.o.dir, this.state, { sync: this.o.fsync !== 'off' });
      this.stateWritten = true;
      this.durableAcked = this.state.acked;
      return undefined;
    } catch (e) {
      return stateNotWritten(e);
    }
  }

  /** Opens the journal and records ownership of the stream; called once before the first record. */
  start(previousStreamId?: string): void {
    if (this.o.file === 'off') return;
    this.saveState(previousStreamId !== undefined ? { previousStreamId } : {});
    this.heartbeat = setInterval(() => this.saveStateInBackground(), OWNER_HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /**
   * Flushes queued records to the journal and waits until the collector acknowledged every record accepted
   * so far, or until `timeoutMillis`. Records accepted after the call are not waited for: under steady traffic
   * the stream is never idle, and a flush that waited for that timed out with its own records long delivered.
   * Resolves with how many of the records accepted before the call are not acknowledged (0: all of them are).
   */
  async flush(timeoutMillis: number): Promise<number> {
    // The deadline runs from the call, journal writes included. The SDK races this flush against a timer of its
    // own, started just after this call and as long by default (30 s): started first, this one fires first, and
    // the caller learns what is left (AuditFlushTimeoutError) instead of a plain TimeoutError.
    const startedAt = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMillis);
    });
    const target = this.accepted;
    const left = (): number => Math.max(0, target - this.loop.acked);
    let endHurry: (() => void) | undefined;
    try {
      this.flushPending();
      const written = (): Promise<boolean> => Promise.race([(this.journal?.writes ?? Promise.resolve()).then(() => true), expired]);
      if (!(await written())) return left();
      // A flush is a reason to try again now rather than after the backoff, and again while it waits.
      endHurry = this.loop.hurry(Math.max(0, timeoutMillis - (performance.now() - startedAt)));
      this.loop.retryNow();
      // At once, even with nothing of its own left: retryNow may have ended a backoff another record waits on.
      this.loop.kick();
      if (left() === 0) return 0;
      const acked = this.loop.whenAcked(target).then(() => true);
      if ((await Promise.race([acked, expired])) && (await written())) return 0;
      // Fallback mode spools only during an outage: a collector that is merely slow leaves them in memory, where
      // the caller, told they are on disk, would lose them to a crash. Spooled now, they are (or the count says not).
      if (this.o.file === 'fallback' && this.journal !== undefined && !this.closed && left() > 0) {
        this.spoolMemory(this.loop.acked);
        await this.journal.writes;
      }
      return left();
    } finally {
      clearTimeout(timer);
      endHurry?.();
    }
  }

  /**
   * The process is exiting without a shutdown (process.exit(), an uncaught exception, an unhandled rejection,
   * or the event loop ending first): no callback will run again, so every accepted record that is neither
   * acknowledged nor in the journal is written and fsynced now, synchronously (ARCHITECTURE.md §5.6). The
   * next start replays it. Returns how many records that journaled, and how many could not be (no journal,
   * OTEL_AUDIT_FILE=off, or a write error: `reason`). Idempotent: a later call takes only records accepted since.
   */
  exitSync(): { journaled: number; lost: LossEvent['records']; reason?: string } {
    // Called again for records accepted after the first call (made in the app's own exit handler, which runs after
    // this one): each batch is accounted for once.
    const acked = this.loop.acked;
    // The acknowledged position is saved up to a second after it moves: on the way out it is saved now, or the next
    // start replays what the collector already has (found in review: process.exit() right after every record was
    // acknowledged re-sent all of them).
    // Compared with what a write that landed says: a background save in flight has set state.acked already, and its
    // write may never land (found in review of the first fix). Saved again, the later write wins.
    if (acked > this.durableAcked && !this.closed) this.saveState();
    const pending = [...this.unsent, ...this.batcher.cutOpen()]
      .filter((b) => !b.onDisk && b.last > acked && !this.exitHandled.has(b))
      .sort((a, b) => a.first - b.first);
    for (const b of pending) this.exitHandled.add(b);
    const records = recordsOf(pending, acked);
    if (records.length === 0) return { journaled: 0, lost: [] };
    if (this.journal === undefined) return { journaled: 0, lost: records, reason: 'OTEL_AUDIT_FILE=off' };
    if (this.journal.writer.isClosed) return { journaled: 0, lost: [] }; // close() finished: it journaled or reported them
    try {
      const lines = pending.map(journalLine);
      const missed = new Set(this.journal.writer.writeOnExit(lines));
      const lostBatches: Batch[] = [];
      pending.forEach((b, i) => (missed.has(lines[i]!) ? lostBatches.push(b) : (b.onDisk = true)));
      const lost = recordsOf(lostBatches, acked);
      if (lost.length === 0) return { journaled: records.length, lost: [] };
      return { journaled: records.length - lost.length, lost, reason: 'their journal write had failed earlier and later records are in the journal after them (it keeps sequence order)' };
    } catch (e) {
      return { journaled: 0, lost: records, reason: `the journal could not be written (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` };
    }
  }

  /** Stops exporting and closes the journal; what is undelivered stays in the journal for the next start. */
  async close(timeoutMillis = 5000): Promise<{ undelivered: number; lostInMemory: number }> {
    const deadline = Date.now() + timeoutMillis;
    const bounded = (p: Promise<unknown>): Promise<unknown> => settleWithin(p, deadline - Date.now());
    this.closed = true;
    this.loop.stop();
    this.outageNotice.stop();
    if (this.stateTimer !== undefined) clearTimeout(this.stateTimer);
    clearInterval(this.heartbeat);
    this.flushPending();
    await this.journal?.writes;
    // An export still in flight (collector hanging) must not hold shutdown beyond its timeout.
    await bounded(this.loop.inflight);
    // Fallback mode: what the collector has not acknowledged goes to the spool now, for the next start.
    if (this.o.file === 'fallback' && this.journal !== undefined && this.undelivered > 0) {
      this.spoolUnsent();
      await this.journal.writes;
    }
    // Whatever is neither acknowledged nor on disk is lost now: in `off` mode, or after journal failures.
    const acked = this.loop.acked;
    // A batch may be acknowledged in part (bisection, then a retryable failure): those receipts settle now.
    // A bisection stopped part-way (its request failed) may have set records aside: those settle as set aside,
    // not as acknowledged (found in re-review: a record refused and not kept was said delivered to the collector).
    const ranges = this.setAsideRanges;
    for (const b of this.unsent) settleEach(b, this.o.streamId, (seq, id) => this.settledAs(ranges, seq, id) ?? (seq <= acked ? 'collector' : undefined));
    const notOnDisk = this.unsent.filter((b) => !b.onDisk && b.last > acked);
    const lost = recordsOf(notOnDisk, acked);
    if (lost.length > 0) {
      this.o.loss.report({
        records: lost,
        reason: this.o.file === 'off' ? 'not acknowledged by the collector at shutdown and OTEL_AUDIT_FILE=off' : 'not acknowledged at shutdown and the journal could not be written',
        streamId: this.o.streamId,
      });
      for (const b of notOnDisk) rejectReceipts(b, (id) => new AuditLossError('record lost at shutdown', [id]));
      // Reported once: a process.exit() before shutdown() returns (from the app's handling of these rejections, say)
      // must not report them again on the way out (found in review).
      for (const b of notOnDisk) this.exitHandled.add(b);
    }
    const undelivered = this.accepted - acked - lost.length;
    // Nothing waits in memory any more: each record is acknowledged, in the journal, or reported lost.
    this.memRecords = 0;
    // A background save still running is overtaken by the final one (not renamed); waited for, to leave no temp file.
    await bounded(this.backgroundSave ?? Promise.resolve());
    this.saveState({ ended: true, done: acked >= this.accepted });
    this.stateFinal = true;
    await this.journal?.writer.close();
    disown(this.o.streamId);
    // The stream is closed (its state says ended): no longer anyone's to keep alive.
    this.alive?.server.close();
    await bounded(this.o.sender.shutdown());
    return { undelivered, lostInMemory: lost.length };
  }
}

/**
 * A state write that failed, logged; returns what went wrong: an errno code, or the message of a refusal
 * (AuditConfigError: something planted, named with its path).
 */
function stateNotWritten(e: unknown): string {
  const problem = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
  diagLog('error', `otel-audit: could not write delivery state (${problem})`);
  return problem;
}
