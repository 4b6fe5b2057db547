/**
 * Stage 3, chain: the records accepted and not yet sealed, in sequence order (ARCHITECTURE.md §2.3).
 *
 * onEmit only reserves a record's sequence number, stamps the live record (chain/live-stamps.ts) and queues a
 * snapshot of it (chain/snapshot.ts) here; the queue is sealed in one go off the caller's path, on a setImmediate tick, like the BatchLogRecord
 * processor's export. It is sealed at once instead when the caller's policy needs the record durable before
 * emit returns (fsync `always`), when `maxLength` records wait, and on flush, shutdown and process exit, so no
 * exit path leaves a record only here. Sealing is in reservation order, so the chain has no gap and no swap.
 */
import type { HashChain } from './chain.js';
import type { RecordSealer, SealedRecord, SealOptions, SealSigner } from './seal.js';
import type { SealInput } from './snapshot.js';

/** A record the processor writes itself (checkpoint, stream end): built when sealed, from the chain's head then. */
export interface SystemRecord {
  record: SealInput;
  signer: SealSigner | undefined;
}

export interface SealEntry<T> {
  seq: number;
  /** An application record (its snapshot, chain/snapshot.ts), or the builder of a system record. */
  record: SealInput | (() => SystemRecord);
  validationError: string | undefined;
  /** The SDK's dropped-attributes count before the live stamps. */
  dropped: number;
  /** Handed back with the sealed record (the receipt, for the delivery stage). */
  ticket: T;
}

export interface SealQueueOptions<T> {
  chain: HashChain;
  sealer: RecordSealer;
  /** MAC/signature of application records, when a key is configured. */
  signer: SealSigner | undefined;
  /** Seal at once when this many records wait (bounds the records held here). */
  maxLength: number;
  onSealed(sealed: SealedRecord, ticket: T): void;
  /**
   * A record that could not be sealed (an exception from the record's own getters; never its content): the
   * record that takes its place in the chain, so that no sequence number is missing. The content is lost,
   * which the callee reports.
   */
  replacement(entry: SealEntry<T>, error: unknown): SealInput;
  /**
   * A record that could not be sealed even so (a bug, never record content): reported as lost. Sealing goes on
   * with the next record; the verifier then reports the gap.
   */
  lost(entry: SealEntry<T>, error: unknown): void;
}

export class SealQueue<T> {
  /** Slots [head, tail) wait; the array keeps its capacity from tick to tick (no regrowth per batch). */
  private readonly entries: (SealEntry<T> | undefined)[] = [];
  private head = 0;
  private tail = 0;
  private draining = false;
  private scheduled = false;
  private readonly tick = (): void => {
    this.scheduled = false;
    this.drain();
  };

  constructor(private readonly o: SealQueueOptions<T>) {}

  /** Records waiting to be sealed. */
  get length(): number {
    return this.tail - this.head;
  }

  /**
   * The process is exiting from inside a drain (process.exit() in an onLoss callback the sealing called): the
   * chain waits on the record being sealed, so what is still queued cannot be sealed any more. Takes it out, for
   * its loss to be reported; empty when no drain is running.
   */
  takeUnsealableOnExit(): SealEntry<T>[] {
    if (!this.draining) return [];
    const rest = this.entries.slice(this.head, this.tail) as SealEntry<T>[];
    this.entries.fill(undefined, this.head, this.tail);
    this.head = this.tail;
    return rest;
  }

  /** Queues a record whose sequence number was reserved in order; seals soon, or now when the queue is full. */
  push(entry: SealEntry<T>): void {
    this.entries[this.tail++] = entry;
    if (this.length >= this.o.maxLength) this.drain();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.tick);
    }
  }

  /**
   * Seals everything queued, in order. A record queued while sealing (emitted from a getter of a record being
   * sealed, or by a sealed record's consumer) is sealed by the same pass, after the ones before it.
   */
  drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.head < this.tail) {
        const e = this.entries[this.head]!;
        // Released as soon as it is sealed: the SDK record is garbage from here on.
        this.entries[this.head++] = undefined;
        try {
          this.sealEntry(e);
        } catch (err) {
          // Never out of a setImmediate tick: that would take the application down.
          this.o.lost(e, err);
        }
      }
      this.head = 0;
      this.tail = 0;
    } finally {
      this.draining = false;
    }
  }

  private sealEntry(e: SealEntry<T>): void {
    const { chain, sealer } = this.o;
    const next = chain.peek().seq;
    if (e.seq !== next) throw new Error(`seal queue: record ${e.seq} reached sealing when ${next} was next`);
    let sealed: SealedRecord;
    try {
      sealed = typeof e.record === 'function' ? this.sealSystem(e.record()) : sealer.seal(e.record, chain, this.options(e));
    } catch (err) {
      sealed = sealer.seal(this.o.replacement(e, err), chain, { signer: this.o.signer });
    }
    this.o.onSealed(sealed, e.ticket);
  }

  private sealSystem(s: SystemRecord): SealedRecord {
    return this.o.sealer.seal(s.record, this.o.chain, { signer: s.signer });
  }

  private options(e: SealEntry<T>): SealOptions {
    return { validationError: e.validationError, signer: this.o.signer, droppedAttributesCount: e.dropped };
  }
}
