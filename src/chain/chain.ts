/**
 * The hash chain of one stream (ARCHITECTURE.md §3): sequence numbers 1, 2, 3, … with no gaps, each record carrying the
 * SHA-256 of its predecessor's canonical form and its predecessor's record id.
 *
 * `reserve()` gives a record its sequence number when it is accepted (onEmit), before it is sealed; records
 * are sealed in that order. `peek()` gives the link the next record to seal must carry; `commit()` advances
 * only after that record was hashed.
 */
import { randomUUID } from 'node:crypto';

export interface ChainLink {
  streamId: string;
  seq: number;
  previousHash: string | undefined;
  previousRecordId: string | undefined;
  /**
   * Only on seq 1: the restart link — the stream this one follows and, when known, the seq and hash of the
   * last record of it found at start-up (docs/integrity.md §6).
   */
  restart: Readonly<Record<string, string | number>> | undefined;
}

export class HashChain {
  readonly streamId: string;
  private _last = 0;
  private _lastHash: string | undefined;
  private _lastId: string | undefined;
  private _reserved = 0;

  constructor(
    streamId: string = randomUUID(),
    private readonly restart?: Readonly<Record<string, string | number>>,
  ) {
    this.streamId = streamId;
  }

  /** Sequence number of the last committed record (0 before the first). */
  get last(): number {
    return this._last;
  }

  get lastHash(): string | undefined {
    return this._lastHash;
  }

  /** Highest sequence number given out by `reserve` (or committed), 0 before the first. */
  get reserved(): number {
    return this._reserved;
  }

  /** The sequence number of the next record accepted; it must be sealed after every one reserved before it. */
  reserve(): number {
    return ++this._reserved;
  }

  peek(): ChainLink {
    return {
      streamId: this.streamId,
      seq: this._last + 1,
      previousHash: this._lastHash,
      previousRecordId: this._lastId,
      restart: this._last === 0 ? this.restart : undefined,
    };
  }

  commit(seq: number, hash: string, recordId: string): void {
    if (seq !== this._last + 1) throw new Error(`chain: commit of seq ${seq} after ${this._last}`);
    this._last = seq;
    if (seq > this._reserved) this._reserved = seq;
    this._lastHash = hash;
    this._lastId = recordId;
  }
}
