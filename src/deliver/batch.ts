/**
 * Batches: records accepted since the last cut, encoded as they come into one OTLP/JSON request (the journal
 * line and the HTTP body at once), with the receipts waiting on them.
 */
import type { SealedRecord } from '../chain/seal.js';
import type { Arena } from '../otlp/arena.js';
import { RequestBuilder } from '../otlp/request-builder.js';
import type { JournalLine } from '../sinks/journal.js';
import type { Deferred } from './deferred.js';
import type { AuditReceipt } from './receipt.js';

/** A receipt waiting for its record to become durable, with what it will report. */
export interface PendingReceipt {
  d: Deferred<AuditReceipt>;
  recordId: string;
  hash: string;
}

/**
 * Records travel in batches after the flush tick. A batch keeps only its OTLP/JSON text (shared by the
 * journal line and the HTTP body) — not the records it was made of — so memory holds one copy of each.
 */
export interface Batch {
  readonly first: number;
  readonly last: number;
  readonly count: number;
  /** UTF-8 OTLP/JSON: encoded once, off the V8 heap, in a pooled arena (see `inMemory`). */
  readonly line: Buffer;
  /** The arena `line` is in. Memory holds it while the batch is queued; a journal write holds it until it lands. */
  readonly arena: Arena;
  /** Still queued in memory: the hold `release` gives back. */
  inMemory: boolean;
  /** Written to the journal (and synced, by policy). */
  onDisk: boolean;
  /** A journal write of it is queued or in flight (fallback mode must not write it twice). */
  journaling: boolean;
  receipts: Map<number, PendingReceipt> | undefined;
  /** Record ids, kept only where a loss report may need to name them (no journal to fall back on). */
  ids: string[] | undefined;
}

export const journalLine = (b: Batch): JournalLine => ({ bytes: b.line, first: b.first, last: b.last });

/**
 * The batch leaves memory (acknowledged, set aside or evicted): its arena hold is given back, once. Nothing may
 * read `line` from memory's side afterwards; a journal write still in flight has its own hold.
 */
export function release(b: Batch): void {
  if (!b.inMemory) return;
  b.inMemory = false;
  b.arena.release();
}

/** The records of batches with a sequence number above `after`, named for a loss report. */
export const recordsOf = (batches: readonly Batch[], after: number): { recordId: string | undefined; seq: number }[] =>
  batches.flatMap((b) => Array.from({ length: b.count }, (_, i) => ({ recordId: b.ids?.[i], seq: b.first + i })).filter((r) => r.seq > after));

/**
 * Settles the batch's receipts one by one: `how(seq, recordId)` says where that record is durable, rejects it (an
 * Error), or leaves it waiting (undefined).
 */
export function settleEach(b: Batch, streamId: string, how: (seq: number, recordId: string) => AuditReceipt['durability'] | Error | undefined): void {
  if (b.receipts === undefined) return;
  for (const [seq, r] of b.receipts) {
    const h = how(seq, r.recordId);
    if (h === undefined) continue;
    if (h instanceof Error) r.d.reject(h);
    else r.d.resolve({ recordId: r.recordId, streamId, sequence: seq, hash: r.hash, durability: h });
    b.receipts.delete(seq);
  }
  if (b.receipts.size === 0) b.receipts = undefined;
}

/** Resolves the batch's receipts: its records are durable `durability`. */
export const settle = (b: Batch, streamId: string, durability: AuditReceipt['durability']): void => settleEach(b, streamId, () => durability);

/** Rejects the batch's receipts with `error(recordId)`: its records are not durable by policy. */
export function rejectReceipts(b: Batch, error: (recordId: string) => Error): void {
  if (b.receipts === undefined) return;
  for (const r of b.receipts.values()) r.d.reject(error(r.recordId));
  b.receipts = undefined;
}

/** Bytes between `{"resourceLogs":[` and `]}` of a request line: lines merge into one body by concatenation. */
export const REQUEST_HEAD = Buffer.from('{"resourceLogs":[');
export const REQUEST_TAIL = Buffer.from(']}');
const COMMA = 0x2c;
export const innerOf = (line: Buffer): Buffer => line.subarray(REQUEST_HEAD.length, line.length - REQUEST_TAIL.length);

/**
 * Several request lines as one request: their resourceLogs lists joined, into a buffer from `alloc` (fresh by
 * default; the delivery's BodyScratch for a request body).
 */
export const concatRequests = (lines: readonly Buffer[], alloc?: (bytes: number) => Buffer): Buffer => concatInner(lines.map(innerOf), alloc);

export function concatInner(inners: readonly Buffer[], alloc: (bytes: number) => Buffer = Buffer.allocUnsafe): Buffer {
  let size = REQUEST_HEAD.length + REQUEST_TAIL.length + Math.max(0, inners.length - 1);
  for (const p of inners) size += p.length;
  const out = alloc(size);
  let at = REQUEST_HEAD.copy(out, 0);
  for (let i = 0; i < inners.length; i++) {
    if (i > 0) out[at++] = COMMA;
    at += inners[i]!.copy(out, at);
  }
  REQUEST_TAIL.copy(out, at);
  return out.subarray(0, size);
}

/** The open batch: records accepted since the last cut, encoded into the builder as they came. */
export class Batcher {
  private readonly builder = new RequestBuilder();
  private openFirst = 0;
  private openLast = 0;
  private openReceipts: Map<number, PendingReceipt> | undefined;
  private openIds: string[] | undefined;
  /** Batches cut (full) but not yet handed to journal and export, which happens in the flush tick. */
  ready: Batch[] = [];
  /** Bytes of the `ready` batches' lines. */
  private readyBytes = 0;

  /**
   * `keepIds`: no journal to fall back on, so a loss report must be able to name each record. `maxLineBytes`: a
   * batch is cut before a record would take its line past this (OTEL_AUDIT_MAX_FILE_BYTES: a journal segment
   * rotates between lines, so a longer line would make a segment longer than the bound); a record longer than it
   * is a line alone.
   */
  constructor(
    private readonly keepIds: boolean,
    private readonly maxLineBytes = Infinity,
  ) {}

  /** Records in the open batch. */
  get count(): number {
    return this.builder.count;
  }

  /** Bytes of the batches here, cut and open: what the journal is yet to be given. */
  get bytes(): number {
    return this.readyBytes + this.builder.bytes;
  }

  /** Hot path: into the open batch. */
  add(rec: SealedRecord, receipt: Deferred<AuditReceipt> | undefined): void {
    // + 1: the line's newline in the journal.
    if (this.builder.count > 0 && this.builder.closedBytesWith(rec.bytes.length, rec.group) + 1 > this.maxLineBytes) this.cutReady();
    if (this.builder.count === 0) this.openFirst = rec.seq;
    if (!this.builder.add(rec.bytes, rec.group)) {
      // The arena is full: close the open batch there and open the next one in a fresh arena.
      this.cutReady();
      this.openFirst = rec.seq;
      this.builder.add(rec.bytes, rec.group);
    }
    this.openLast = rec.seq;
    if (receipt !== undefined) (this.openReceipts ??= new Map()).set(rec.seq, { d: receipt, recordId: rec.recordId, hash: rec.hash });
    if (this.keepIds) (this.openIds ??= []).push(rec.recordId);
  }

  /** Closes the open batch (which must hold a record). */
  cut(): Batch {
    const { line, arena } = this.builder.cut()!;
    const b: Batch = {
      first: this.openFirst,
      last: this.openLast,
      count: this.openLast - this.openFirst + 1,
      line,
      arena,
      inMemory: true,
      onDisk: false,
      journaling: false,
      receipts: this.openReceipts,
      ids: this.openIds,
    };
    this.openReceipts = undefined;
    this.openIds = undefined;
    return b;
  }

  /** Cuts the open batch (which must hold a record) into `ready`. */
  cutReady(): void {
    const b = this.cut();
    this.readyBytes += b.line.length;
    this.ready.push(b);
  }

  /** Cuts the open batch (if any) into `ready`; returns `ready`. */
  cutOpen(): readonly Batch[] {
    if (this.builder.count > 0) this.cutReady();
    return this.ready;
  }

  /** Everything cut or open, as batches (the open one is cut), taken out. */
  takeAll(): Batch[] {
    this.cutOpen();
    const batches = this.ready;
    this.ready = [];
    this.readyBytes = 0;
    return batches;
  }

  /** First sequence number still here (open or waiting for the tick), if any. */
  get firstQueued(): number | undefined {
    return this.ready[0]?.first ?? (this.builder.count > 0 ? this.openFirst : undefined);
  }
}
