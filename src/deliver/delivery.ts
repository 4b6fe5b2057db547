/**
 * Stage 4, deliver: from sealed records to the collector and the journal, without silent loss and with
 * bounded memory (ARCHITECTURE.md §5).
 *
 * Invariant: every accepted record is at all times in memory, in the journal, or acknowledged.
 * - `accept` (sync, from onEmit) queues a sealed record; with fsync `always` it is also written and fsynced
 *   before `accept` returns.
 * - A flush tick (setImmediate) cuts the queue into batches, writes them to the journal as OTLP/JSON lines
 *   (group commit: one write + one fsync for everything queued since the last one) and hands the same
 *   text to the exporter as the HTTP body.
 * - The export loop sends one batch at a time, in sequence order: from memory, or — for records evicted
 *   from memory because the collector was slow or down — read back from the journal. A failed batch is
 *   retried with capped exponential backoff, forever (an outage of any length only grows the journal).
 * - Memory holds at most `maxQueueSize` records that are already in the journal (older ones are evicted and
 *   re-read from disk later) and at most `maxPendingRecords` records in all; past that, the loss policy.
 */
import { diag } from '@opentelemetry/api';
import { keepRejected, refusedForGood } from '../sinks/rejected.js';
import type { SealedRecord } from '../chain/seal.js';
import { filterRequest } from '../otlp/decode.js';
import { RequestBuilder } from '../otlp/request-builder.js';
import type { EncodableRecord } from '../otlp/request.js';
import type { ExportLogsServiceRequest } from '../otlp/types.js';
import { readRange } from '../sinks/journal-reader.js';
import { JournalWriter, type FsyncPolicy, type JournalLine, type SegmentInfo } from '../sinks/journal.js';
import { newState, writeState, type StreamState } from '../sinks/stream-state.js';
import type { StdoutSink } from '../sinks/stdout.js';
import { AuditLossError } from '../core/errors.js';
import type { Deferred } from './deferred.js';
import { bisectRefused } from './bisect.js';
import type { LossEvent, LossReporter } from './loss.js';
import type { AuditMetrics } from './metrics.js';
import type { BatchSender } from './otlp-sender.js';
import type { AuditReceipt } from './receipt.js';

export type FileMode = 'journal' | 'fallback' | 'off';

export interface DeliveryOptions {
  dir: string;
  streamId: string;
  file: FileMode;
  fsync: FsyncPolicy;
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

/** A receipt waiting for its record to become durable, with what it will report. */
interface PendingReceipt {
  d: Deferred<AuditReceipt>;
  recordId: string;
  hash: string;
}

/**
 * Records travel in batches after the flush tick. A batch keeps only its OTLP/JSON text (shared by the
 * journal line and the HTTP body) — not the records it was made of — so memory holds one copy of each.
 */
interface Batch {
  readonly first: number;
  readonly last: number;
  readonly count: number;
  /** UTF-8 OTLP/JSON: encoded once, off the V8 heap. */
  readonly line: Buffer;
  /** Written to the journal (and synced, by policy). */
  onDisk: boolean;
  receipts: Map<number, PendingReceipt> | undefined;
  /** Record ids, kept only where a loss report may need to name them (no journal to fall back on). */
  ids: string[] | undefined;
}

const journalLine = (b: Batch): JournalLine => ({ bytes: b.line, first: b.first, last: b.last });

/** Bytes between `{"resourceLogs":[` and `]}` of a request line: lines merge into one body by concatenation. */
const REQUEST_HEAD = Buffer.from('{"resourceLogs":[');
const REQUEST_TAIL = Buffer.from(']}');
const COMMA = Buffer.from(',');
const innerOf = (line: Buffer): Buffer => line.subarray(REQUEST_HEAD.length, line.length - REQUEST_TAIL.length);

/** Several request lines as one request: their resourceLogs lists joined. */
const concatRequests = (lines: readonly Buffer[]): Buffer => concatInner(lines.map(innerOf));

function concatInner(inners: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [REQUEST_HEAD];
  for (let i = 0; i < inners.length; i++) {
    if (i > 0) parts.push(COMMA);
    parts.push(inners[i]!);
  }
  parts.push(REQUEST_TAIL);
  return Buffer.concat(parts);
}

export class Delivery {
  /** The open batch: records accepted since the last cut, encoded into the builder as they came. */
  private readonly builder = new RequestBuilder();
  private openFirst = 0;
  private openLast = 0;
  private openReceipts: Map<number, PendingReceipt> | undefined;
  private openIds: string[] | undefined;
  /** Batches cut (full) but not yet handed to journal and export, which happens in the flush tick. */
  private ready: Batch[] = [];
  private stdoutPending: EncodableRecord[] = [];
  private unsent: Batch[] = [];
  private memRecords = 0;
  private tickScheduled = false;
  private readonly journal: JournalWriter | undefined;
  private journalFailed = false;
  /** Records the journal could not take since writes started failing (reported when they recover). */
  private unjournaledSinceFailure = 0;
  /** Fallback mode: the collector is failing, so every batch goes to the spool until it recovers. */
  private outage = false;
  private acked = 0;
  private accepted = 0;
  private exporting = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay: number;
  /** Consecutive failed attempts at the batch now at the head of the stream. */
  private failedAttempts = 0;
  private stateTimer: NodeJS.Timeout | undefined;
  private readonly state: StreamState;
  private idleWaiters: (() => void)[] = [];
  private closed = false;
  private exited = false;
  private writes: Promise<void> = Promise.resolve();
  lastError: string | undefined;

  constructor(private readonly o: DeliveryOptions) {
    this.retryDelay = o.retryMinMillis;
    this.journal =
      o.file === 'off'
        ? undefined
        : new JournalWriter({ dir: o.dir, streamId: o.streamId, maxFileBytes: o.maxFileBytes, fsync: o.fsync });
    this.state = newState(o.streamId);
    o.metrics.depth = () => this.memRecords;
  }

  get streamId(): string {
    return this.o.streamId;
  }

  get ackedSeq(): number {
    return this.acked;
  }

  get acceptedSeq(): number {
    return this.accepted;
  }

  /** Records accepted but not yet acknowledged by the collector. */
  get undelivered(): number {
    return this.accepted - this.acked;
  }

  get queueDepth(): number {
    return this.memRecords;
  }

  journalSegments(): readonly SegmentInfo[] {
    return this.journal?.segments ?? [];
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
    if (this.journalFull()) return `the journal holds ${this.o.maxJournalBytes} bytes not yet acknowledged by the collector (OTEL_AUDIT_MAX_FILES × OTEL_AUDIT_MAX_FILE_BYTES)`;
    return undefined;
  }

  /** Unacknowledged journal bytes at the disk bound? (A walk over the few segments of this stream.) */
  private journalFull(): boolean {
    const segs = this.journal?.segments;
    if (segs === undefined || segs.length < 2) return false;
    let bytes = 0;
    for (const seg of segs) if (seg.last > this.acked) bytes += seg.bytes;
    return bytes >= this.o.maxJournalBytes;
  }

  /** Hot path. The record is sealed; from here on it is never dropped silently. */
  accept(rec: SealedRecord, receipt?: Deferred<AuditReceipt>): void {
    this.accepted = rec.seq;
    this.memRecords++;
    this.o.metrics.emittedOne();
    if (this.builder.count === 0) this.openFirst = rec.seq;
    if (!this.builder.add(rec.bytes, rec.group)) {
      // The arena is full: close the open batch there and open the next one in a fresh arena.
      this.ready.push(this.cut());
      this.openFirst = rec.seq;
      this.builder.add(rec.bytes, rec.group);
    }
    this.openLast = rec.seq;
    if (receipt !== undefined) (this.openReceipts ??= new Map()).set(rec.seq, { d: receipt, recordId: rec.recordId, hash: rec.hash });
    if (this.o.file === 'off') (this.openIds ??= []).push(rec.recordId);
    // A copy: rec.bytes is reused by the next sealRecord.
    if (this.o.stdout !== undefined) this.stdoutPending.push({ bytes: Buffer.from(rec.bytes), group: rec.group });
    if (this.o.file === 'journal' && this.o.fsync === 'always' && !this.journalFailed) {
      // Durable before returning: one record, one line, write + fsync now.
      this.flushStdout();
      const batch = this.cut();
      this.writeBatchesSync([batch]);
      this.enqueue([batch]);
      return;
    }
    if (this.builder.count >= this.o.maxExportBatchSize) this.ready.push(this.cut());
    if (!this.tickScheduled) {
      this.tickScheduled = true;
      setImmediate(this.tick);
    }
  }

  private readonly tick = (): void => {
    this.tickScheduled = false;
    this.flushPending();
  };

  /** Closes the open batch. */
  private cut(): Batch {
    const b: Batch = {
      first: this.openFirst,
      last: this.openLast,
      count: this.openLast - this.openFirst + 1,
      line: this.builder.cut()!,
      onDisk: false,
      receipts: this.openReceipts,
      ids: this.openIds,
    };
    this.openReceipts = undefined;
    this.openIds = undefined;
    return b;
  }

  private flushStdout(): void {
    if (this.o.stdout === undefined || this.stdoutPending.length === 0) return;
    this.o.stdout.write(this.stdoutPending);
    this.stdoutPending = [];
  }

  /** First sequence number not yet in `unsent` (still open or waiting for the tick). */
  private get firstQueued(): number | undefined {
    return this.ready[0]?.first ?? (this.builder.count > 0 ? this.openFirst : undefined);
  }

  /** Cuts the open batch, starts the journal write of what was cut and queues it for export. */
  private flushPending(): void {
    if (this.builder.count > 0) this.ready.push(this.cut());
    if (this.ready.length === 0) return;
    const batches = this.ready;
    this.ready = [];
    this.flushStdout();
    if (this.journal !== undefined && (this.o.file === 'journal' || this.outage)) this.writeBatches(batches);
    this.enqueue(batches);
  }

  private enqueue(batches: Batch[]): void {
    for (const b of batches) this.unsent.push(b);
    this.evict();
    this.pump();
  }

  /**
   * Drops from memory the oldest batches that are safe in the journal, beyond `maxQueueSize`. Any journaled
   * batch but the one in flight may go: the export loop reads whatever lies before the next batch in memory
   * back from the journal.
   */
  private evict(): void {
    if (this.memRecords <= this.o.maxQueueSize) return;
    const keep: Batch[] = [];
    for (const b of this.unsent) {
      if (this.memRecords > this.o.maxQueueSize && b.onDisk && !this.inflight.includes(b)) this.memRecords -= b.count;
      else keep.push(b);
    }
    this.unsent = keep;
  }

  private writeBatchesSync(batches: Batch[]): void {
    try {
      this.journal!.writeSync(batches.map(journalLine));
      this.onWritten(batches);
    } catch (e) {
      this.onWriteFailed(batches, e as Error);
    }
  }

  private writeBatches(batches: Batch[]): void {
    const p = this.journal!.write(batches.map(journalLine)).then(
      () => this.onWritten(batches),
      (e: Error) => this.onWriteFailed(batches, e),
    );
    this.writes = this.writes.then(() => p);
  }

  private onWritten(batches: Batch[]): void {
    let n = 0;
    for (const b of batches) {
      b.onDisk = true;
      n += b.count;
      this.settle(b, 'journal');
    }
    this.o.metrics.spooledN(n);
    if (this.journalFailed) {
      this.journalFailed = false;
      const msg = `otel-audit: journal writes recovered; ${this.unjournaledSinceFailure} record(s) could not be written meanwhile (delivered from memory; the local copy has a gap there)`;
      this.unjournaledSinceFailure = 0;
      diag.warn(msg);
      process.stderr.write(msg + '\n');
    }
    this.evict();
    this.maybeRotated();
  }

  private lastSegments = 0;
  private retentionOffered = 0;
  private maybeRotated(): void {
    const n = this.journal?.segments.length ?? 0;
    if (n > this.lastSegments) {
      if (this.lastSegments > 0) this.o.onRotate?.();
      this.lastSegments = n;
    }
  }

  /** Once the collector acknowledged all of a closed segment, retention may delete it: give it the chance. */
  private offerRetention(): void {
    const segs = this.journal?.segments;
    if (segs === undefined) return;
    let offer = false;
    while (this.retentionOffered < segs.length - 1 && segs[this.retentionOffered]!.last <= this.acked) {
      this.retentionOffered++;
      offer = true;
    }
    if (offer) this.o.onRotate?.();
  }

  private onWriteFailed(batches: Batch[], e: Error): void {
    // The records stay in memory; they settle when the collector acknowledges them.
    const code = (e as NodeJS.ErrnoException).code ?? e.message;
    let n = 0;
    for (const b of batches) n += b.count;
    this.o.metrics.unjournaledN(n);
    this.unjournaledSinceFailure += n;
    if (!this.journalFailed) {
      const msg = `otel-audit: journal write failed (${code}); records stay in memory until the collector acknowledges them`;
      diag.error(msg);
      process.stderr.write(msg + '\n');
    }
    this.journalFailed = true;
    this.lastError = `journal: ${code}`;
    if (this.o.loss.policy === 'throw') {
      // Fail closed: these records are not durable by the configured policy. They are still delivered if
      // the collector takes them, but their receipts say now that the journal could not keep them.
      for (const b of batches) {
        if (b.receipts === undefined) continue;
        for (const r of b.receipts.values()) r.d.reject(new AuditLossError(`journal write failed (${code})`, [r.recordId]));
        b.receipts = undefined;
      }
    }
  }

  private settle(b: Batch, durability: AuditReceipt['durability']): void {
    if (b.receipts === undefined) return;
    for (const [seq, r] of b.receipts) r.d.resolve({ recordId: r.recordId, streamId: this.o.streamId, sequence: seq, hash: r.hash, durability });
    b.receipts = undefined;
  }

  // ---- export loop -------------------------------------------------------------------------------

  private inflight: Batch[] = [];

  private pump(): void {
    if (this.exporting || this.retryTimer !== undefined || this.closedForExport) return;
    if (this.acked >= this.accepted) return this.notifyIdle();
    this.exporting = true;
    this.exportDone = this.exportNext()
      .catch((e: unknown) => {
        this.exportCrashed(e);
        return false;
      })
      .then((progressed) => {
        this.exporting = false;
        this.inflight = [];
        // Only loop on progress: with nothing sendable yet (records still in the pending tick), looping here
        // would spin in microtasks and starve the very tick that makes them sendable. enqueue() pumps again.
        if (progressed) this.pump();
      });
  }

  private exportDone: Promise<void> = Promise.resolve();

  /** An unexpected error in the loop (e.g. an unreadable journal line): report, back off, never crash the app. */
  private exportCrashed(e: unknown): void {
    const msg = `otel-audit: export loop error: ${e instanceof Error ? e.message.slice(0, 200) : String(e)}`;
    this.lastError = msg;
    diag.error(msg);
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.retryTimer !== undefined) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.pump();
    }, this.retryDelay);
    this.retryTimer.unref();
    this.retryDelay = Math.min(this.retryDelay * 2, this.o.retryMaxMillis);
  }

  private closedForExport = false;

  /** Sends the next batch in sequence. Resolves true when an attempt was made (success or not). */
  private async exportNext(): Promise<boolean> {
    const next = this.acked + 1;
    const head = this.unsent[0];
    if (head !== undefined && head.first <= next) {
      // Coalesce consecutive batches up to the export batch size: when the collector is slower than the
      // producer, one request then carries many small batches instead of one round trip each. Not while
      // retrying a failed request: should the collector refuse it for good, only the head batch is set aside,
      // not every batch that queued up behind it meanwhile.
      let n = 1;
      let count = head.count;
      while (n < this.unsent.length && this.failedAttempts === 0) {
        const b = this.unsent[n]!;
        if (b.first !== this.unsent[n - 1]!.last + 1 || count + b.count > this.o.maxExportBatchSize) break;
        count += b.count;
        n++;
      }
      const group = this.unsent.slice(0, n);
      this.inflight = group;
      const body = n === 1 ? head.line : concatRequests(group.map((b) => b.line));
      const outcome = await this.send(body, count, group[n - 1]!.last);
      if (outcome !== 'failed') {
        this.unsent.splice(0, n);
        this.memRecords -= count;
        for (const b of group) this.settle(b, outcome === 'acked' ? 'collector' : 'journal');
      }
      return true;
    }
    // Records before the head of memory were evicted: they are in the journal.
    const until = head?.first ?? this.firstQueued ?? this.accepted + 1;
    if (this.journal === undefined || next >= until) return false; // nothing sendable until the next tick
    await this.sendFromDisk(next, until);
    return true;
  }

  /**
   * Sends one batch of records [from, until) read back from the journal: whole lines located through the
   * line index and merged as text; only a line that straddles `from` or `until` is parsed and filtered.
   */
  private async sendFromDisk(from: number, until: number): Promise<void> {
    const segs = this.journal!.segments;
    let si = segs.findIndex((s) => s.lines.length > 0 && s.lines.last(s.lines.length - 1) >= from);
    if (si === -1) return this.reportGap(from, until);
    const seg = segs[si]!;
    const idx = seg.lines;
    const l0 = idx.find(from);
    if (idx.first(l0) >= until) return this.reportGap(from, until);
    // Whole lines from l0 while the batch has room and they stay below `until`.
    let l1 = l0;
    let count = 0;
    while (l1 < idx.length && idx.first(l1) < until) {
      const n = Math.min(idx.last(l1), until - 1) - Math.max(idx.first(l1), from) + 1;
      if (l1 > l0 && count + n > this.o.maxExportBatchSize) break;
      count += n;
      l1++;
    }
    const start = idx.start(l0);
    let text: Buffer;
    try {
      text = await readRange(seg.path, start, idx.end(l1 - 1) - start);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e; // transient: the loop backs off and retries
      // The segment was deleted underneath us: what it held (and memory no longer has) is gone. Say so.
      return this.reportGap(from, Math.min(until, idx.last(l1 - 1) + 1));
    }
    const parts: Buffer[] = [];
    let last = 0;
    let pos = 0;
    for (let l = l0; l < l1; l++) {
      const len = idx.end(l) - idx.start(l);
      const line = text.subarray(pos, pos + len - 1);
      pos += len;
      let inner: Buffer;
      if (idx.first(l) >= from && idx.last(l) < until) {
        inner = innerOf(line);
        last = idx.last(l);
      } else {
        const f = filterRequest(JSON.parse(line.toString('utf8')) as ExportLogsServiceRequest, this.o.streamId, (s) => s >= from && s < until);
        if (f === undefined) continue;
        inner = innerOf(Buffer.from(JSON.stringify(f.request), 'utf8'));
        last = Math.max(last, f.last);
      }
      parts.push(inner);
    }
    if (parts.length === 0 || last < from) return this.reportGap(from, until);
    if (idx.first(l0) > from) this.reportGap(from, idx.first(l0));
    await this.send(concatInner(parts), count, last);
  }

  /** Records that should be in the journal are not: never silent (this is a bug or outside interference). */
  private reportGap(from: number, until: number): void {
    const records = [];
    for (let s = from; s < until; s++) records.push({ recordId: undefined, seq: s });
    this.o.loss.report({ records, reason: 'records missing from the journal when replaying', streamId: this.o.streamId });
    this.acked = until - 1;
  }

  /** One export attempt: acknowledged, failed (retry later), or set aside for good (see setAside). */
  private async send(body: Buffer, count: number, last: number): Promise<'acked' | 'failed' | 'set-aside'> {
    const t0 = performance.now();
    const r = await this.o.sender.send(body, count);
    this.o.metrics.exportDuration((performance.now() - t0) / 1000, r.ok);
    if (r.ok) {
      this.acked = last;
      this.o.metrics.exportedN(count);
      this.retryDelay = this.o.retryMinMillis;
      this.outage = false;
      this.failedAttempts = 0;
      this.lastError = undefined;
      this.saveStateSoon();
      this.offerRetention();
      return 'acked';
    }
    this.lastError = `export: ${r.message}`;
    // A collector that keeps refusing the same batch for good (HTTP 4xx, or rejecting records in
    // partial_success) would block the stream forever: after a few attempts the batch is set aside.
    this.failedAttempts++;
    if (refusedForGood(r, this.failedAttempts)) {
      if (count > 1) return this.bisect(body, count, last, r.message);
      this.setAside(body, this.acked + 1, last, count, r.message);
      return 'set-aside';
    }
    diag.warn(`otel-audit: export of ${count} records failed (${r.message}); retrying in ${this.retryDelay} ms`);
    if (this.o.file === 'fallback' && this.journal !== undefined) this.spoolUnsent();
    this.scheduleRetry();
    return 'failed';
  }

  /** The batch was refused for good: only the records the collector refuses are set aside (deliver/bisect.ts). */
  private async bisect(body: Buffer, count: number, last: number, why: string): Promise<'acked' | 'failed' | 'set-aside'> {
    this.failedAttempts = 0;
    let setAside = 0;
    const outcome = await bisectRefused({
      sender: this.o.sender,
      streamId: this.o.streamId,
      body,
      onAcked: (partLast, n) => {
        this.acked = partLast;
        this.o.metrics.exportedN(n);
      },
      onRefused: (part, first, partLast, n, message) => {
        setAside++;
        this.setAside(Buffer.from(part, 'utf8'), first, partLast, n, message);
      },
    }).catch((e: unknown) => {
      diag.error(`otel-audit: could not split a refused batch (${e instanceof Error ? e.message : String(e)}); setting it aside whole`);
      return 'whole' as const;
    });
    if (outcome === 'whole') {
      this.setAside(body, this.acked + 1, last, count, why);
      return 'set-aside';
    }
    if (outcome === 'failed') {
      this.scheduleRetry();
      return 'failed';
    }
    this.saveStateSoon();
    this.offerRetention();
    return setAside > 0 ? 'set-aside' : 'acked';
  }

  /**
   * Keeps a batch the collector refuses for good in `rejected/` (never deleted by otel-audit), reports it,
   * and moves on, so the rest of the stream is delivered. The collector's copy then lacks these records and
   * `verify` reports them deleted there; the local journal and `rejected/` still hold them.
   */
  private setAside(body: Buffer, first: number, last: number, count: number, why: string): void {
    this.failedAttempts = 0;
    let where: string | undefined;
    if (this.o.file !== 'off') {
      try {
        where = keepRejected(this.o.dir, this.o.streamId, first, last, body);
      } catch (e) {
        where = undefined;
        diag.error(`otel-audit: could not keep a rejected batch (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    }
    if (where === undefined) {
      const records = [];
      for (let s = first; s <= last; s++) records.push({ recordId: undefined, seq: s });
      this.o.loss.report({ records, reason: `the collector refused them for good (${why})`, streamId: this.o.streamId });
    } else {
      this.o.metrics.rejectedN(count);
      const msg = `otel-audit: the collector refused records ${first}–${last} of stream ${this.o.streamId} for good (${why}); kept in ${where}`;
      diag.error(msg);
      process.stderr.write(msg + '\n');
    }
    this.acked = last;
    this.lastError = `rejected: ${why}`;
    this.saveStateSoon();
  }

  /** Fallback mode: the collector failed, so what memory holds goes to the spool, and so will new batches. */
  private spoolUnsent(): void {
    this.outage = true;
    const toWrite = this.unsent.filter((b) => !b.onDisk);
    if (toWrite.length > 0) this.writeBatches(toWrite);
  }

  // ---- state, flush, shutdown -------------------------------------------------------------------

  private saveStateSoon(): void {
    if (this.stateTimer !== undefined || this.o.file === 'off') return;
    this.stateTimer = setTimeout(() => {
      this.stateTimer = undefined;
      this.saveState();
    }, 200);
    this.stateTimer.unref();
  }

  saveState(extra: Partial<StreamState> = {}): void {
    if (this.o.file === 'off') return;
    Object.assign(this.state, { acked: this.acked, last: this.accepted }, extra);
    try {
      // Durable (fsynced, renamed, directory fsynced) unless the fsync policy is off.
      writeState(this.o.dir, this.state, { sync: this.o.fsync !== 'off' });
    } catch (e) {
      // An errno code, or the message of a refusal (AuditConfigError: something planted, named with its path).
      diag.error(`otel-audit: could not write delivery state (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }

  /** Opens the journal and records ownership of the stream; called once before the first record. */
  start(previousStreamId?: string): void {
    if (this.o.file !== 'off') this.saveState(previousStreamId !== undefined ? { previousStreamId } : {});
  }

  private notifyIdle(): void {
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }

  /**
   * Flushes queued records to the journal and waits until the collector acknowledged everything accepted
   * so far, or until `timeoutMillis`. Resolves true when nothing is left undelivered.
   */
  async flush(timeoutMillis: number): Promise<boolean> {
    this.flushPending();
    await this.writes;
    if (this.retryTimer !== undefined) {
      // A flush is a reason to try again now rather than after the backoff.
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
    if (this.acked >= this.accepted) return true;
    let timer: NodeJS.Timeout | undefined;
    const done = new Promise<boolean>((resolve) => {
      this.idleWaiters.push(() => resolve(true));
      timer = setTimeout(() => resolve(false), timeoutMillis);
    });
    this.pump();
    const ok = await done;
    clearTimeout(timer);
    await this.writes;
    return ok || this.acked >= this.accepted;
  }

  /** Stops exporting and closes the journal; what is undelivered stays in the journal for the next start. */
  /**
   * The process is exiting without a shutdown (process.exit(), an uncaught exception, an unhandled rejection,
   * or the event loop ending first): no callback will run again, so every accepted record that is neither
   * acknowledged nor in the journal is written and fsynced now, synchronously (ARCHITECTURE.md §5.6). The
   * next start replays it. Returns how many records that journaled, and how many could not be (no journal,
   * OTEL_AUDIT_FILE=off, or a write error: `reason`). Idempotent.
   */
  exitSync(): { journaled: number; lost: LossEvent['records']; reason?: string } {
    if (this.exited) return { journaled: 0, lost: [] };
    this.exited = true;
    if (this.builder.count > 0) this.ready.push(this.cut());
    const pending = [...this.unsent, ...this.ready].filter((b) => !b.onDisk && b.last > this.acked).sort((a, b) => a.first - b.first);
    const records = pending.flatMap((b) =>
      Array.from({ length: b.count }, (_, i) => ({ recordId: b.ids?.[i], seq: b.first + i })).filter((r) => r.seq > this.acked),
    );
    if (records.length === 0) return { journaled: 0, lost: [] };
    if (this.journal === undefined) return { journaled: 0, lost: records, reason: 'OTEL_AUDIT_FILE=off' };
    if (this.journal.isClosed) return { journaled: 0, lost: [] }; // close() finished: it journaled or reported them
    try {
      this.journal.writeOnExit(pending.map(journalLine));
      for (const b of pending) b.onDisk = true;
      return { journaled: records.length, lost: [] };
    } catch (e) {
      return { journaled: 0, lost: records, reason: `the journal could not be written (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` };
    }
  }

  async close(timeoutMillis = 5000): Promise<{ undelivered: number; lostInMemory: number }> {
    const deadline = Date.now() + timeoutMillis;
    const bounded = (p: Promise<unknown>): Promise<unknown> => {
      let t: NodeJS.Timeout | undefined;
      return Promise.race([p, new Promise((r) => (t = setTimeout(r, Math.max(0, deadline - Date.now()))))]).finally(() => clearTimeout(t));
    };
    this.closed = true;
    this.closedForExport = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    if (this.stateTimer !== undefined) clearTimeout(this.stateTimer);
    this.flushPending();
    await this.writes;
    // An export still in flight (collector hanging) must not hold shutdown beyond its timeout.
    await bounded(this.exportDone);
    // Whatever is neither acknowledged nor on disk is lost now: in `off` mode, or after journal failures.
    const notOnDisk = this.unsent.filter((b) => !b.onDisk && b.first > this.acked);
    const lost = notOnDisk.flatMap((b) =>
      Array.from({ length: b.count }, (_, i) => ({ recordId: b.ids?.[i], seq: b.first + i })).filter((r) => r.seq > this.acked),
    );
    if (lost.length > 0) {
      this.o.loss.report({
        records: lost,
        reason: this.o.file === 'off' ? 'not acknowledged by the collector at shutdown and OTEL_AUDIT_FILE=off' : 'not acknowledged at shutdown and the journal could not be written',
        streamId: this.o.streamId,
      });
      for (const b of notOnDisk) {
        if (b.receipts === undefined) continue;
        for (const r of b.receipts.values()) r.d.reject(new AuditLossError('record lost at shutdown', [r.recordId]));
      }
    }
    const undelivered = this.accepted - this.acked - lost.length;
    this.saveState({ ended: true, done: this.acked >= this.accepted });
    await this.journal?.close();
    await bounded(this.o.sender.shutdown());
    return { undelivered, lostInMemory: lost.length };
  }
}
