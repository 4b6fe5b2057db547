/**
 * The journal as live delivery writes it (ARCHITECTURE.md §5.1, §5.7): batches go to the journal writer
 * (sinks/journal.ts), synchronously under fsync `always`, else in group commits; once written their receipts
 * settle as durable in the journal. A failed write leaves the records in memory (delivered from there) and is
 * reported once, with a count when writes recover. Rotation and fully acknowledged segments are offered to
 * retention.
 */
import { AuditLossError } from '../core/errors.js';
import { sayLoudly } from '../core/say.js';
import { JournalWriter, type JournalOptions, type SegmentInfo } from '../sinks/journal.js';
import { journalLine, rejectReceipts, settle, type Batch } from './batch.js';
import type { AuditMetrics } from './metrics.js';

export interface SpoolOptions extends JournalOptions {
  metrics: AuditMetrics;
  /** `throw`: receipts of records the journal could not write are rejected at once (fail closed). */
  failClosed: boolean;
  /** After each journal rotation, and when a closed segment is fully acknowledged (retention runs there). */
  onRotate: (() => void) | undefined;
  /** Batches were written: memory may drop them now. */
  onWritten(): void;
  /** A write failed: `journal: <code>`. */
  onError(message: string): void;
}

export class Spool {
  readonly writer: JournalWriter;
  /** The last write failed (fsync `always` then falls back to group commits until one succeeds). */
  failed = false;
  /** Records the journal could not take since writes started failing (reported when they recover). */
  private unjournaledSinceFailure = 0;
  /** Every write started so far, settled. */
  writes: Promise<void> = Promise.resolve();
  /** The segment written to last (a new one: the journal rotated). */
  private lastPath: string | undefined;
  /** Last sequence number of the last closed segment offered to retention. */
  private offeredUpTo = 0;

  constructor(private readonly o: SpoolOptions) {
    this.writer = new JournalWriter(o); // SpoolOptions are JournalOptions and more
  }

  get segments(): readonly SegmentInfo[] {
    return this.writer.segments;
  }

  /**
   * Would the journal hold `maxBytes` of records the collector has not acknowledged, with `pending` more bytes on
   * their way to it (lines not handed to the writer yet; the writer's own queued ones are added here)? The lines
   * after the last acknowledged record count, in the segment where it is by its line index, then whole segments:
   * a walk over the few segments of this stream.
   */
  full(acked: number, maxBytes: number, pending: number): boolean {
    const segs = this.writer.segments;
    // An upper bound first, whole segments that hold an unacknowledged record and every queued line: the usual
    // answer (far below the bound) without a walk of the line index or the writer's queue (this runs for each
    // record). Fully acknowledged segments are left out: retention keeps up to maxFiles of them.
    let all = pending + this.writer.unwrittenBytes;
    for (let i = 0; i < segs.length; i++) if (segs[i]!.last > acked) all += segs[i]!.bytes;
    if (all < maxBytes) return false;
    let bytes = pending + this.writer.unwrittenAfter(acked);
    for (const seg of segs) {
      if (seg.last <= acked) continue;
      if (seg.first > acked) bytes += seg.bytes;
      else {
        const i = seg.lines.find(acked + 1);
        if (i < seg.lines.length) bytes += seg.bytes - seg.lines.start(i);
      }
    }
    return bytes >= maxBytes;
  }

  /**
   * Can a write be synchronous now? Not after a failed write (group commits until one succeeds), nor while group
   * commits are queued or in flight: a synchronous line would land before older ones.
   */
  get canWriteSync(): boolean {
    return !this.failed && this.writer.idle;
  }

  /**
   * Writes now. With `fsyncNow` false (write-through under fsync `batch`), the fsync follows off the thread, shared
   * by the writes made meanwhile, and their receipts settle once it has run.
   */
  writeSync(batches: Batch[], fsyncNow = true): void {
    try {
      this.writer.writeSync(batches.map(journalLine), fsyncNow);
    } catch (e) {
      this.onWriteFailed(batches, e as Error);
      return;
    }
    const durable = fsyncNow || this.o.fsync === 'off';
    this.onWritten(batches, durable);
    if (!durable) this.fsyncSoon(batches);
  }

  /** Batches written, waiting for the fsync that `fsyncSoon` started. */
  private unsynced: Batch[] = [];

  private fsyncSoon(batches: Batch[]): void {
    const first = this.unsynced.length === 0;
    for (const b of batches) this.unsynced.push(b);
    if (!first) return;
    const p = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => {
        const done = this.unsynced;
        this.unsynced = [];
        return this.writer.fsyncAsync().then(
          () => {
            for (const b of done) settle(b, this.o.streamId, 'journal');
          },
          (e: Error) => this.onWriteFailed(done, e),
        );
      });
    this.writes = this.writes.then(() => p);
  }

  write(batches: Batch[]): void {
    // The write reads the lines after this returns: it holds their arenas until it has landed.
    for (const b of batches) {
      b.arena.hold();
      b.journaling = true;
    }
    const p = this.writer.write(batches.map(journalLine))
      .then(
        () => this.onWritten(batches),
        (e: Error) => this.onWriteFailed(batches, e),
      )
      .finally(() => {
        for (const b of batches) {
          b.journaling = false;
          b.arena.release();
        }
      });
    this.writes = this.writes.then(() => p);
  }

  /** `durable`: by the fsync policy, so their receipts settle now. */
  private onWritten(batches: Batch[], durable = true): void {
    let n = 0;
    for (const b of batches) {
      b.onDisk = true;
      n += b.count;
      if (durable) settle(b, this.o.streamId, 'journal');
    }
    this.o.metrics.spooledN(n);
    if (this.failed) {
      this.failed = false;
      const msg = `otel-audit: journal writes recovered; ${this.unjournaledSinceFailure} record(s) could not be written meanwhile (memory holds them until the collector acknowledges them; the local copy has a gap there)`;
      this.unjournaledSinceFailure = 0;
      sayLoudly(msg, 'warn');
    }
    this.o.onWritten();
    const cur = this.writer.current?.path;
    if (cur !== this.lastPath) {
      if (this.lastPath !== undefined) this.o.onRotate?.();
      this.lastPath = cur;
    }
  }

  private onWriteFailed(batches: Batch[], e: Error): void {
    // The records stay in memory; they settle when the collector acknowledges them.
    const code = (e as NodeJS.ErrnoException).code ?? e.message;
    let n = 0;
    for (const b of batches) n += b.count;
    this.o.metrics.unjournaledN(n);
    this.unjournaledSinceFailure += n;
    if (!this.failed) {
      const msg = `otel-audit: journal write failed (${code}); records stay in memory until the collector acknowledges them`;
      sayLoudly(msg);
    }
    this.failed = true;
    this.o.onError(`journal: ${code}`);
    // Fail closed: these records are not durable by the configured policy. They are still delivered if
    // the collector takes them, but their receipts say now that the journal could not keep them.
    if (this.o.failClosed) for (const b of batches) rejectReceipts(b, (id) => new AuditLossError(`journal write failed (${code})`, [id]));
  }

  /** Once the collector acknowledged all of a closed segment, retention may delete it: give it the chance. */
  offerRetention(acked: number): void {
    const segs = this.writer.segments;
    let offer = false;
    for (let i = 0; i < segs.length - 1; i++) {
      const last = segs[i]!.last;
      if (last > acked) break;
      if (last > this.offeredUpTo) {
        this.offeredUpTo = last;
        offer = true;
      }
    }
    if (offer) this.o.onRotate?.();
  }
}
