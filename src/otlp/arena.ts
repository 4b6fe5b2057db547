/**
 * The request builder's arenas, reused instead of left to the garbage collector. A cut request is a view of
 * its arena, read later by whoever holds it (the batch in memory until the collector acknowledges it or it is
 * evicted; a journal write until it has landed). Each holder takes a hold and gives it back once; an arena the
 * builder has moved past goes back to the pool when its last hold is given back, and the next arena is taken
 * from there.
 *
 * Why: a fresh 1 MiB arena per ~800 records lives until the batch is acknowledged, long enough for V8 to
 * promote its wrapper, so the arena's memory came back only with a full collection, which V8 starts after
 * about 64 MiB more of such external memory: that slack was most of the processor's peak RSS above the stock
 * pipeline's while the collector lagged (bench/README.md).
 */

export const ARENA_BYTES = 1 << 20;
/** Free arenas kept for reuse; beyond that they are left to the garbage collector. */
const MAX_FREE = 4;

export class Arena {
  /** Holders still reading requests cut from this arena. */
  private holds = 0;
  /** The builder has moved past it: it returns to the pool at its last release. */
  private retired = false;

  constructor(
    readonly bytes: Buffer,
    private readonly pool: ArenaPool | undefined,
  ) {}

  hold(): void {
    this.holds++;
  }

  /** Gives back one hold; the caller must have taken it and gives it back once. */
  release(): void {
    if (this.holds <= 0) throw new Error('Arena.release without a hold');
    if (--this.holds === 0 && this.retired) this.pool?.put(this);
  }

  /** Called by the builder when it moves to the next arena. */
  retire(): void {
    this.retired = true;
    if (this.holds === 0) this.pool?.put(this);
  }

  /** Back in use as the builder's arena (from the pool). */
  revive(): this {
    this.retired = false;
    return this;
  }
}

export class ArenaPool {
  private readonly free: Arena[] = [];

  /** An arena of at least `bytes`: a free one when it is the standard size, else a new one. */
  take(bytes: number): Arena {
    if (bytes <= ARENA_BYTES) return this.free.pop()?.revive() ?? new Arena(Buffer.allocUnsafe(ARENA_BYTES), this);
    // A record larger than an arena: its own buffer, not pooled.
    return new Arena(Buffer.allocUnsafe(bytes), undefined);
  }

  put(arena: Arena): void {
    if (this.free.length < MAX_FREE) this.free.push(arena);
  }

  /** Free arenas (tests). */
  get size(): number {
    return this.free.length;
  }
}
