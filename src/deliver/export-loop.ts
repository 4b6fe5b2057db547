/**
 * The export loop (ARCHITECTURE.md §5.2), shared by live delivery (delivery.ts) and replay (replay.ts): one
 * request in flight per stream, in sequence order. A failed request is retried with exponential backoff from
 * `retryMinMillis`, doubling up to `retryMaxMillis`, forever (an outage of any length only grows the journal).
 * Retry-After is the transport's business within one `send` (otlp-sender.ts); one longer than the export timeout
 * has left comes back in the result, and the loop waits that long (up to RETRY_AFTER_MAX_MS) before trying again.
 *
 * A request the collector refuses for good (a permanent status after PERMANENT_ATTEMPTS, records rejected in
 * partial_success after REJECTED_ATTEMPTS: sinks/rejected.ts) is bisected (bisect.ts) so that only the
 * records it refuses are set aside; a single record is set aside at once.
 *
 * What differs between live delivery and replay is passed in: where the next request comes from
 * (ExportSource), what an acknowledgement, a set-aside or a failure means to the caller (ExportHooks), and the
 * clock its backoff timers run on (ExportClock: fake in the unit tests).
 */
import { diagLog } from '../core/diag-log.js';
import { refusedForGood } from '../sinks/rejected.js';
import { bisectRefused } from './bisect.js';
import type { BatchSender, SendResult } from './otlp-sender.js';
import { errorText } from '../core/errors.js';

/** How a request ended: acknowledged whole, acknowledged through bisection, or (partly) set aside. */
export type Settled = 'acked' | 'acked-in-parts' | 'set-aside';

/** One request to export: OTLP/JSON of records up to `last` (all after the loop's acknowledged position). */
export interface ExportRequest {
  readonly body: Uint8Array | string;
  readonly count: number;
  readonly last: number;
  /** Told once the attempt is over ('failed': it will be asked for again). */
  done?(outcome: Settled | 'failed'): void;
}

export interface ExportSource {
  /**
   * The next request after `acked`; undefined when nothing is sendable now (the loop waits for `kick`);
   * 'skipped' when the source moved the position itself (`ExportLoop.skipTo`) without a request.
   * `retrying`: the last attempt at the head of the stream failed.
   */
  next(acked: number, retrying: boolean): ExportRequest | 'skipped' | undefined | Promise<ExportRequest | 'skipped' | undefined>;
  /** Nothing is left to export after `acked` (the loop is idle). */
  finished(acked: number): boolean;
}

export interface ExportHooks {
  /** Records up to `last` were acknowledged: a whole request (`whole`) or a part of a bisected one. */
  acked(last: number, count: number, whole: boolean): void;
  /** Records first..last were refused for good: keep them aside and say so. A throw stops the move past them. */
  setAside(body: Uint8Array | string, first: number, last: number, count: number, why: string): void;
  /** The acknowledged position moved (ack, set-aside, end of a bisection). */
  progressed?(): void;
  /** A whole request failed (before the refused-for-good decision). */
  failed?(result: SendResult): void;
  /** The loop backs off `delayMillis` before trying the request again. */
  retrying?(result: SendResult, count: number, delayMillis: number): void;
  /** Duration of one export attempt of a whole request, in seconds. */
  timed?(seconds: number, ok: boolean): void;
  /** An unexpected error in an attempt (e.g. an unreadable journal line); the loop backs off and retries. */
  crashed(e: unknown): void;
}

/** Time for the backoff; timers it sets must not keep the process alive. */
export interface ExportClock {
  now(): number;
  /** Calls `fn` after `ms`; returns what cancels it. */
  schedule(fn: () => void, ms: number): () => void;
}

/** The longest Retry-After the loop honours: a collector's answer must not park the stream for hours. */
export const RETRY_AFTER_MAX_MS = 300_000;

export const systemClock: ExportClock = {
  now: () => performance.now(),
  schedule(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
};

export interface ExportLoopOptions {
  sender: BatchSender;
  streamId: string;
  source: ExportSource;
  hooks: ExportHooks;
  retryMinMillis: number;
  retryMaxMillis: number;
  /** Acknowledged position to start from (the stream's state after a restart; 0 for a new stream). */
  acked?: number;
  clock?: ExportClock;
}

export class ExportLoop {
  /** Highest sequence number acknowledged by the collector or set aside: everything up to it is settled. */
  private position: number;
  private busy = false;
  private stopped = false;
  private cancelRetry: (() => void) | undefined;
  /**
   * Clock time before which no retry is made, a flush's included: the end of the wait the collector asked for
   * (Retry-After) after the last failed attempt, or without one, of the shortest backoff after it.
   */
  private notBefore = 0;
  /** When the backoff timer fires (valid while `cancelRetry` is set). */
  private retryAt = 0;
  /** Deadlines of the flushes waiting now (`hurry`): the backoff leaves room for another attempt before them. */
  private readonly hurries = new Set<{ until: number }>();
  private delay: number;
  /** Consecutive failed attempts at the request now at the head of the stream. */
  private failedAttempts = 0;
  /**
   * Of those, the last ones in a row that refused for good (a permanent status), or that had records rejected
   * (partial_success): what makes the request refused for good (sinks/rejected.ts), not an outage before them.
   */
  private refusedInARow = 0;
  private rejectedInARow = 0;
  private idleWaiters: (() => void)[] = [];
  private ackWaiters: { seq: number; resolve: () => void }[] = [];
  private stopWaiters: (() => void)[] = [];
  private readonly clock: ExportClock;
  /** The attempt in flight (resolved when none is). */
  inflight: Promise<void> = Promise.resolve();

  constructor(private readonly o: ExportLoopOptions) {
    this.position = o.acked ?? 0;
    this.delay = o.retryMinMillis;
    this.clock = o.clock ?? systemClock;
  }

  get acked(): number {
    return this.position;
  }

  /** Resolves once every record up to `seq` is acknowledged (or accounted for: set aside, reported missing). */
  whenAcked(seq: number): Promise<void> {
    if (this.position >= seq) return Promise.resolve();
    return new Promise((resolve) => this.ackWaiters.push({ seq, resolve }));
  }

  /** Moves the position (every change of it goes through here) and wakes whoever waits for it to reach theirs. */
  private advance(position: number): void {
    // Only forward: an acknowledgement of records already passed says nothing new (and must not move it back).
    if (position <= this.position) return;
    this.position = position;
    if (this.ackWaiters.length === 0) return;
    const waiting: typeof this.ackWaiters = [];
    for (const w of this.ackWaiters) {
      if (this.position >= w.seq) w.resolve();
      else waiting.push(w);
    }
    this.ackWaiters = waiting;
  }

  /** Records up to `seq` are accounted for by the source itself (reported missing): move past them. */
  skipTo(seq: number): void {
    this.advance(seq);
  }

  /** Starts an attempt unless one is in flight, a backoff is running, or the loop is stopped. */
  kick(): void {
    if (this.busy || this.cancelRetry !== undefined || this.stopped) return;
    if (this.o.source.finished(this.position)) return this.notify('idle');
    this.busy = true;
    this.inflight = this.attempt()
      .catch((e: unknown) => {
        this.o.hooks.crashed(e);
        this.scheduleRetry();
        return false;
      })
      .then((progressed) => {
        this.busy = false;
        if (this.stopped) return this.notify('stopped');
        // Only loop on progress: with nothing sendable yet (records still waiting for the flush tick), looping
        // here would spin in microtasks and starve the very tick that makes them sendable; `kick` comes then.
        if (progressed) this.kick();
        else if (this.o.source.finished(this.position)) this.notify('idle');
      });
  }

  /**
   * Ends the backoff now (a flush is a reason to try again rather than wait); `kick` starts the attempt. Not a wait
   * the collector asked for (Retry-After): the OTLP spec has the client honour it, and a flush re-sent a request
   * the collector had just said to hold back for seconds (found in review). Without one, not sooner than
   * retryMinMillis after the last attempt: an app that flushes after every request sent one request per flush to a
   * collector that was down (found in re-review). Within either, the attempt is brought forward to its end, not left
   * at the backoff's.
   */
  retryNow(): void {
    const now = this.clock.now();
    if (now >= this.notBefore) return this.cancelWait();
    if (this.cancelRetry !== undefined && this.retryAt > this.notBefore) {
      this.cancelWait();
      this.wake(this.notBefore - now);
    }
  }

  /**
   * A flush waits `forMillis` from now (on this loop's clock): while it does, a backoff is at most half the time left to it (not below
   * retryMinMillis, nor shorter than a wait the collector asked for), so that the flush's time is spent trying
   * rather than waiting out one long backoff (a shutdown after an outage waited 15 s for nothing; found in review).
   * Returns the function that ends it.
   */
  hurry(forMillis: number): () => void {
    const h = { until: this.clock.now() + forMillis };
    this.hurries.add(h);
    return () => void this.hurries.delete(h);
  }

  private cancelWait(): void {
    this.cancelRetry?.();
    this.cancelRetry = undefined;
  }

  /** The next attempt after `wait` (the backoff timer). */
  private wake(wait: number): void {
    this.retryAt = this.clock.now() + wait;
    this.cancelRetry = this.clock.schedule(() => {
      this.cancelRetry = undefined;
      this.kick();
    }, wait);
  }

  /** No attempt starts from now on; the one in flight (`inflight`) runs to its end. */
  stop(): void {
    this.stopped = true;
    this.cancelWait();
    if (!this.busy) this.notify('stopped');
  }

  /** Exports until the source is finished ('idle'), or the loop is stopped and its last attempt is over. */
  run(): Promise<'idle' | 'stopped'> {
    const r = new Promise<'idle' | 'stopped'>((resolve) => {
      this.idleWaiters.push(() => resolve('idle'));
      this.stopWaiters.push(() => resolve('stopped'));
    });
    if (this.stopped && !this.busy) this.notify('stopped');
    else this.kick();
    return r;
  }

  private notify(what: 'idle' | 'stopped'): void {
    const w = what === 'idle' ? this.idleWaiters : this.stopWaiters;
    if (w.length === 0) return;
    if (what === 'idle') this.idleWaiters = [];
    else this.stopWaiters = [];
    for (const f of w) f();
  }

  /** The request at the head of the stream is a new one (or settled): its failures start counting again. */
  private resetAttempts(): void {
    this.failedAttempts = 0;
    this.refusedInARow = this.rejectedInARow = 0;
  }

  /**
   * The wait after a retryable failure, called when the attempt has ended; notes `notBefore`: what the collector
   * asked for (`retryAfterMillis`), not the backoff it may fall within, so that a flush tries again once that is over
   * (found in re-review: a short Retry-After kept a flush from trying for the whole backoff); without it, the shortest
   * backoff from the end of the attempt (one send may outlast it: the transport's own retries).
   */
  private retryAfter(retryAfterMillis: number | undefined): number {
    const asked = retryAfterMillis === undefined ? this.o.retryMinMillis : Math.min(Math.max(retryAfterMillis, 0), RETRY_AFTER_MAX_MS);
    this.notBefore = this.clock.now() + asked;
    return this.retryWait(retryAfterMillis);
  }

  /** The next backoff: `this.delay`, or longer when the collector asked for it (Retry-After, up to RETRY_AFTER_MAX_MS). */
  private retryWait(retryAfterMillis = 0): number {
    return Math.max(this.delay, Math.min(retryAfterMillis, RETRY_AFTER_MAX_MS));
  }

  /** Tries again after `wait` (default: the backoff), then doubles the backoff up to retryMaxMillis. */
  private scheduleRetry(wait = this.retryWait()): void {
    if (this.cancelRetry !== undefined || this.stopped) return;
    const now = this.clock.now();
    let until = 0;
    for (const h of this.hurries) until = Math.max(until, h.until);
    if (until > now) wait = Math.max(Math.min(wait, Math.max(this.o.retryMinMillis, (until - now) / 2)), this.notBefore - now);
    this.wake(wait);
    this.delay = Math.min(this.delay * 2, this.o.retryMaxMillis);
  }

  /** One attempt at the head of the stream. Resolves true when it made one (whatever its outcome). */
  private async attempt(): Promise<boolean> {
    const req = await this.o.source.next(this.position, this.failedAttempts > 0);
    if (req === undefined) return false;
    if (req === 'skipped') return true;
    const outcome = await this.send(req);
    req.done?.(outcome);
    return true;
  }

  /** The sender, each request timed (`hooks.timed`): whole requests and the parts of a bisection alike. */
  private readonly timed: BatchSender = {
    send: async (body, count) => {
      const t0 = this.clock.now();
      const r = await this.o.sender.send(body, count);
      this.o.hooks.timed?.((this.clock.now() - t0) / 1000, r.ok);
      return r;
    },
    shutdown: () => this.o.sender.shutdown(),
  };

  /** Sends a whole request: acknowledged, failed (retried after the backoff), or refused for good. */
  private async send(req: ExportRequest): Promise<Settled | 'failed'> {
    const h = this.o.hooks;
    const r = await this.timed.send(req.body, req.count);
    if (r.ok) {
      this.advance(req.last);
      this.delay = this.o.retryMinMillis;
      this.resetAttempts();
      h.acked(req.last, req.count, true);
      h.progressed?.();
      return 'acked';
    }
    h.failed?.(r);
    // A collector that keeps refusing the same request for good (HTTP 4xx, or rejecting records in
    // partial_success) would block the stream forever: after a few attempts it is set aside.
    this.failedAttempts++;
    this.refusedInARow = r.retryable ? 0 : this.refusedInARow + 1;
    this.rejectedInARow = r.retryable && r.rejected > 0 ? this.rejectedInARow + 1 : 0;
    if (refusedForGood(r, r.retryable ? this.rejectedInARow : this.refusedInARow)) {
      if (req.count > 1) return this.bisect(req, r.message);
      this.setAside(req.body, this.position + 1, req.last, req.count, r.message);
      return 'set-aside';
    }
    const wait = this.retryAfter(r.retryAfterMillis);
    h.retrying?.(r, req.count, wait);
    this.scheduleRetry(wait);
    return 'failed';
  }

  /**
   * The request was refused for good: only the records the collector refuses are set aside (bisect.ts). A
   * retryable failure meanwhile sends the whole request again after the backoff (at-least-once).
   */
  private async bisect(req: ExportRequest, why: string): Promise<Settled | 'failed'> {
    this.resetAttempts();
    let setAside = 0;
    let retryAfterMillis: number | undefined;
    const outcome = await bisectRefused({
      sender: this.timed,
      streamId: this.o.streamId,
      body: req.body,
      onAcked: (partLast, n) => {
        this.advance(partLast);
        this.o.hooks.acked(partLast, n, false);
      },
      onRefused: (part, first, partLast, n, message) => {
        setAside++;
        this.setAside(part, first, partLast, n, message);
      },
      onRetryAfter: (ms) => (retryAfterMillis = ms),
      // A shutdown stops it between parts: after close() nothing more is sent or set aside (found in re-review).
      stopped: () => this.stopped,
    }).catch((e: unknown) => {
      diagLog('error', `otel-audit: could not split a refused batch (${errorText(e)}); setting it aside whole`);
      return 'whole' as const;
    });
    if (outcome === 'whole') {
      this.setAside(req.body, this.position + 1, req.last, req.count, why);
      return 'set-aside';
    }
    if (outcome === 'failed') {
      // A wait the collector asked for in the middle of the bisection is kept (found in re-review: the retry went
      // out at the shortest backoff, a set-aside having just reset it).
      this.scheduleRetry(this.retryAfter(retryAfterMillis));
      return 'failed';
    }
    this.advance(Math.max(this.position, req.last));
    this.o.hooks.progressed?.();
    return setAside > 0 ? 'set-aside' : 'acked-in-parts';
  }

  private setAside(body: Uint8Array | string, first: number, last: number, count: number, why: string): void {
    this.resetAttempts();
    // The stream moved on, as after an acknowledgement: the next request starts from the shortest backoff (a
    // collector refusing everything otherwise slowed down with every record set aside; found in review).
    this.delay = this.o.retryMinMillis;
    this.o.hooks.setAside(body, first, last, count, why);
    this.advance(last);
    this.o.hooks.progressed?.();
  }
}
