/**
 * Stage 4, deliver: from sealed records to the collector and the journal, without silent loss and with
 * bounded memory (DESIGN §5).
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
import type { SealedRecord } from '../chain/seal.js';
import { filterRequest } from '../otlp/decode.js';
import { encodeRequest } from '../otlp/request.js';
import type { ExportLogsServiceRequest } from '../otlp/types.js';
import { readLines } from '../sinks/journal-reader.js';
import { JournalWriter, type FsyncPolicy, type SegmentInfo } from '../sinks/journal.js';
import { newState, writeState, type StreamState } from '../sinks/stream-state.js';
import type { StdoutSink } from '../sinks/stdout.js';
import { AuditLossError } from '../api/errors.js';
import type { Deferred } from './deferred.js';
import type { LossReporter } from './loss.js';
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

interface Batch {
  readonly records: SealedRecord[];
  readonly first: number;
  readonly last: number;
  /** OTLP/JSON text; built once, shared by the journal and the HTTP body. */
  line: string | undefined;
  /** Written to the journal (and synced, by policy). */
  onDisk: boolean;
  receipts: Map<number, Deferred<AuditReceipt>> | undefined;
}

/** Where the export loop stands when reading evicted records back from the journal. */
interface DiskCursor {
  segment: number;
  offset: number;
}

const lineOf = (b: Batch): string => (b.line ??= encodeRequest(b.records));

export class Delivery {
  private pending: SealedRecord[] = [];
  private pendingReceipts: Map<number, Deferred<AuditReceipt>> | undefined;
  private unsent: Batch[] = [];
  private memRecords = 0;
  private tickScheduled = false;
  private readonly journal: JournalWriter | undefined;
  private journalFailed = false;
  /** Fallback mode: the collector is failing, so every batch goes to the spool until it recovers. */
  private outage = false;
  private acked = 0;
  private accepted = 0;
  private cursor: DiskCursor = { segment: 0, offset: 0 };
  private exporting = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay: number;
  private stateTimer: NodeJS.Timeout | undefined;
  private readonly state: StreamState;
  private idleWaiters: (() => void)[] = [];
  private closed = false;
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

  /** Can one more record be accepted without loss? (Used to fail closed before sealing.) */
  canAccept(): boolean {
    return !this.closed && this.memRecords < this.o.maxPendingRecords;
  }

  /** Hot path. The record is sealed; from here on it is never dropped silently. */
  accept(rec: SealedRecord, receipt?: Deferred<AuditReceipt>): void {
    this.accepted = rec.seq;
    this.o.metrics.emittedOne();
    if (this.o.file === 'journal' && this.o.fsync === 'always' && !this.journalFailed) {
      // Durable before returning: one record, one line, write + fsync now.
      const batch: Batch = { records: [rec], first: rec.seq, last: rec.seq, line: undefined, onDisk: false, receipts: undefined };
      if (receipt !== undefined) batch.receipts = new Map([[rec.seq, receipt]]);
      this.writeBatchesSync([batch]);
      this.enqueue([batch]);
      return;
    }
    this.pending.push(rec);
    this.memRecords++;
    if (receipt !== undefined) (this.pendingReceipts ??= new Map()).set(rec.seq, receipt);
    if (!this.tickScheduled) {
      this.tickScheduled = true;
      setImmediate(this.tick);
    }
  }

  private readonly tick = (): void => {
    this.tickScheduled = false;
    this.flushPending();
  };

  /** Cuts pending records into batches, starts their journal write and queues them for export. */
  private flushPending(): void {
    this.o.metrics.publish();
    if (this.pending.length === 0) return;
    const recs = this.pending;
    const receipts = this.pendingReceipts;
    this.pending = [];
    this.pendingReceipts = undefined;
    this.memRecords -= recs.length;
    const batches: Batch[] = [];
    const size = this.o.maxExportBatchSize;
    for (let i = 0; i < recs.length; i += size) {
      const records = recs.length <= size ? recs : recs.slice(i, i + size);
      const b: Batch = {
        records,
        first: records[0]!.seq,
        last: records[records.length - 1]!.seq,
        line: undefined,
        onDisk: false,
        receipts: undefined,
      };
      if (receipts !== undefined) {
        for (const r of records) {
          const d = receipts.get(r.seq);
          if (d !== undefined) (b.receipts ??= new Map()).set(r.seq, d);
        }
      }
      batches.push(b);
    }
    if (this.o.stdout !== undefined) this.o.stdout.write(recs);
    if (this.journal !== undefined && (this.o.file === 'journal' || this.outage)) this.writeBatches(batches);
    this.enqueue(batches);
  }

  private enqueue(batches: Batch[]): void {
    for (const b of batches) {
      this.unsent.push(b);
      this.memRecords += b.records.length;
    }
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
      if (this.memRecords > this.o.maxQueueSize && b.onDisk && b !== this.inflight) this.memRecords -= b.records.length;
      else keep.push(b);
    }
    this.unsent = keep;
  }

  private writeBatchesSync(batches: Batch[]): void {
    const j = this.journal!;
    const text = batches.map((b) => lineOf(b) + '\n').join('');
    try {
      j.writeSync(text, batches[0]!.first, batches[batches.length - 1]!.last);
      this.onWritten(batches);
    } catch (e) {
      this.onWriteFailed(batches, e as Error);
    }
  }

  private writeBatches(batches: Batch[]): void {
    const j = this.journal!;
    const text = batches.map((b) => lineOf(b) + '\n').join('');
    const p = j.write(text, batches[0]!.first, batches[batches.length - 1]!.last).then(
      () => this.onWritten(batches),
      (e: Error) => this.onWriteFailed(batches, e),
    );
    this.writes = this.writes.then(() => p);
  }

  private onWritten(batches: Batch[]): void {
    let n = 0;
    for (const b of batches) {
      b.onDisk = true;
      n += b.records.length;
      this.settle(b, 'journal');
    }
    this.o.metrics.spooledN(n);
    if (this.journalFailed) {
      this.journalFailed = false;
      diag.info('otel-audit: journal writes recovered');
    }
    this.evict();
    this.maybeRotated();
  }

  private lastSegments = 0;
  private maybeRotated(): void {
    const n = this.journal?.segments.length ?? 0;
    if (n > this.lastSegments) {
      if (this.lastSegments > 0) this.o.onRotate?.();
      this.lastSegments = n;
    }
  }

  private onWriteFailed(batches: Batch[], e: Error): void {
    // The records stay in memory; they settle when the collector acknowledges them.
    const code = (e as NodeJS.ErrnoException).code ?? e.message;
    if (!this.journalFailed) {
      const msg = `otel-audit: journal write failed (${code}); records stay in memory until the collector acknowledges them`;
      diag.error(msg);
      process.stderr.write(msg + '\n');
    }
    this.journalFailed = true;
    this.lastError = `journal: ${code}`;
    void batches;
  }

  private settle(b: Batch, durability: AuditReceipt['durability']): void {
    if (b.receipts === undefined) return;
    for (const r of b.records) {
      const d = b.receipts.get(r.seq);
      if (d !== undefined) d.resolve({ recordId: r.recordId, streamId: this.o.streamId, sequence: r.seq, hash: r.hash, durability });
    }
    b.receipts = undefined;
  }

  // ---- export loop -------------------------------------------------------------------------------

  private inflight: Batch | undefined;

  private pump(): void {
    if (this.exporting || this.retryTimer !== undefined || this.closedForExport) return;
    if (this.acked >= this.accepted && this.pending.length === 0) return this.notifyIdle();
    this.exporting = true;
    this.exportDone = this.exportNext()
      .catch((e: unknown) => this.exportCrashed(e))
      .finally(() => {
        this.exporting = false;
        this.inflight = undefined;
        this.pump();
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

  private async exportNext(): Promise<void> {
    const next = this.acked + 1;
    const head = this.unsent[0];
    if (head !== undefined && head.first <= next) {
      this.inflight = head;
      const ok = await this.send(lineOf(head), head.records.length, head.last);
      if (ok) {
        this.unsent.shift();
        this.memRecords -= head.records.length;
            this.settle(head, 'collector');
      }
      return;
    }
    // Records before the head of memory were evicted: they are in the journal.
    const until = head?.first ?? this.pending[0]?.seq ?? this.accepted + 1;
    if (this.journal === undefined || next >= until) {
      // Nothing sendable right now (records still in the pending tick).
      return;
    }
    await this.sendFromDisk(next, until);
  }

  /** Sends one batch of records [from, until) read back from the journal. */
  private async sendFromDisk(from: number, until: number): Promise<void> {
    const segs = this.journal!.segments;
    const requests: ExportLogsServiceRequest[] = [];
    let count = 0;
    let last = 0;
    let cur: DiskCursor = { ...this.cursor };
    outer: for (; cur.segment < segs.length; cur = { segment: cur.segment + 1, offset: 0 }) {
      const seg = segs[cur.segment]!;
      if (seg.last !== 0 && seg.last < from) continue;
      for await (const line of readLines(seg.path, cur.offset, seg.bytes)) {
        const f = filterRequest(JSON.parse(line.text) as ExportLogsServiceRequest, this.o.streamId, (s) => s >= from && s < until);
        if (f !== undefined) {
          requests.push(f.request);
          count += f.count;
          last = Math.max(last, f.last);
        }
        cur = { segment: cur.segment, offset: line.end };
        if (count >= this.o.maxExportBatchSize || last >= until - 1) break outer;
      }
    }
    if (count === 0) {
      this.cursor = cur;
      this.reportGap(from, until);
      return;
    }
    const body = JSON.stringify({ resourceLogs: requests.flatMap((r) => r.resourceLogs ?? []) });
    if (await this.send(body, count, last)) this.cursor = cur;
  }

  /** Records that should be in the journal are not: never silent (this is a bug or outside interference). */
  private reportGap(from: number, until: number): void {
    const records = [];
    for (let s = from; s < until; s++) records.push({ recordId: undefined, seq: s });
    this.o.loss.report({ records, reason: 'records missing from the journal when replaying', streamId: this.o.streamId });
    this.acked = until - 1;
  }

  private async send(body: string, count: number, last: number): Promise<boolean> {
    const t0 = performance.now();
    const r = await this.o.sender.send(body, count);
    this.o.metrics.exportDuration((performance.now() - t0) / 1000, r.ok);
    if (r.ok) {
      this.acked = last;
      this.o.metrics.exportedN(count);
      this.retryDelay = this.o.retryMinMillis;
      if (this.outage && this.unsent.every((b) => b.onDisk === false || b.first > last)) this.outage = false;
      this.lastError = undefined;
      this.saveStateSoon();
      return true;
    }
    this.lastError = `export: ${r.message}`;
    diag.warn(`otel-audit: export of ${count} records failed (${r.message}); retrying in ${this.retryDelay} ms`);
    if (this.o.file === 'fallback' && this.journal !== undefined) this.spoolUnsent();
    this.scheduleRetry();
    return false;
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
      writeState(this.o.dir, this.state);
    } catch (e) {
      diag.error(`otel-audit: could not write delivery state (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
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
  async close(timeoutMillis = 5000): Promise<{ undelivered: number; lostInMemory: number }> {
    const bounded = (p: Promise<unknown>): Promise<unknown> => {
      let t: NodeJS.Timeout | undefined;
      return Promise.race([p, new Promise((r) => (t = setTimeout(r, timeoutMillis)))]).finally(() => clearTimeout(t));
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
    const lost = notOnDisk.flatMap((b) => b.records.filter((r) => r.seq > this.acked));
    if (lost.length > 0) {
      this.o.loss.report({
        records: lost.map((r) => ({ recordId: r.recordId, seq: r.seq })),
        reason: this.o.file === 'off' ? 'not acknowledged by the collector at shutdown and OTEL_AUDIT_FILE=off' : 'not acknowledged at shutdown and the journal could not be written',
        streamId: this.o.streamId,
      });
      for (const b of notOnDisk) {
        if (b.receipts === undefined) continue;
        for (const d of b.receipts.values()) d.reject(new AuditLossError('record lost at shutdown'));
      }
    }
    const undelivered = this.accepted - this.acked - lost.length;
    this.saveState({ ended: true, done: this.acked >= this.accepted });
    await this.journal?.close();
    await bounded(this.o.sender.shutdown());
    return { undelivered, lostInMemory: lost.length };
  }
}
