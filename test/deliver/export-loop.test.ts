/**
 * The export loop alone (src/deliver/export-loop.ts), with a scripted sender and a fake clock: no network, no
 * files, no real time. Each case drives one stream of batches through the loop and checks what was sent,
 * when, what was acknowledged or set aside, and in which order.
 */
import { describe, expect, it } from 'vitest';
import { ATTR_SEQ_NUMBER, ATTR_SEQ_STREAM_ID } from '../../src/core/attributes.js';
import { ExportLoop, type ExportClock, type ExportRequest, type ExportSource } from '../../src/deliver/export-loop.js';
import type { BatchSender, SendResult } from '../../src/deliver/otlp-sender.js';
import { PERMANENT_ATTEMPTS, REJECTED_ATTEMPTS } from '../../src/sinks/rejected.js';

const STREAM = 's-1';

/** A clock whose time moves only when told; timers fire in order of their due time. */
class FakeClock implements ExportClock {
  t = 0;
  private timers: { at: number; fn: () => void }[] = [];
  now(): number {
    return this.t;
  }
  schedule(fn: () => void, ms: number): () => void {
    const timer = { at: this.t + ms, fn };
    this.timers.push(timer);
    return () => (this.timers = this.timers.filter((x) => x !== timer));
  }
  get pending(): number {
    return this.timers.length;
  }
  /** Moves time forward by `ms`, firing due timers one by one and letting the loop run after each. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await drain();
      const due = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      this.timers = this.timers.filter((x) => x !== due);
      this.t = due.at;
      due.fn();
    }
    this.t = end;
    await drain();
  }
}

/** Lets every pending promise callback run (the loop is all microtasks between timers). */
async function drain(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}

const OK: SendResult = { ok: true, retryable: true, rejected: 0, message: 'ok' };
const status = (s: number): SendResult => ({ ok: false, retryable: s < 400 || s >= 500 || s === 408 || s === 429, rejected: 0, message: `HTTP ${s}`, status: s });
const partial = (n: number): SendResult => ({ ok: false, retryable: true, rejected: n, message: `collector rejected ${n} records (partial_success: bad)` });

/** OTLP/JSON of records `seqs` of the stream, as live delivery and replay send them. */
function bodyOf(seqs: readonly number[]): string {
  const logRecords = seqs.map((seq) => ({
    attributes: [
      { key: ATTR_SEQ_STREAM_ID, value: { stringValue: STREAM } },
      { key: ATTR_SEQ_NUMBER, value: { intValue: String(seq) } },
    ],
  }));
  return JSON.stringify({ resourceLogs: [{ resource: {}, scopeLogs: [{ scope: {}, logRecords }] }] });
}

function seqsOf(body: Uint8Array | string): number[] {
  const text = typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
  const req = JSON.parse(text) as { resourceLogs: { scopeLogs: { logRecords: { attributes: { key: string; value: { intValue?: string } }[] }[] }[] }[] };
  return req.resourceLogs.flatMap((rl) => rl.scopeLogs.flatMap((sl) => sl.logRecords.map((r) => Number(r.attributes.find((a) => a.key === ATTR_SEQ_NUMBER)!.value.intValue))));
}

/** Answers each request with `answer(seqs, attempt)`; with `hold`, answers only when released. */
class ScriptedSender implements BatchSender {
  sent: { seqs: number[]; at: number }[] = [];
  inFlight = 0;
  maxInFlight = 0;
  held: (() => void)[] = [];
  constructor(
    private readonly clock: FakeClock,
    private readonly answer: (seqs: number[], attempt: number) => SendResult,
    private readonly hold = false,
  ) {}
  async send(body: Uint8Array | string): Promise<SendResult> {
    const seqs = seqsOf(body);
    this.sent.push({ seqs, at: this.clock.now() });
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    if (this.hold) await new Promise<void>((r) => this.held.push(r));
    this.inFlight--;
    return this.answer(seqs, this.sent.length);
  }
  async shutdown(): Promise<void> {}
}

/** Batches of the stream, in order: the next request is the first batch not yet settled (as live delivery). */
class Batches implements ExportSource {
  constructor(private readonly batches: number[][]) {}
  next(acked: number): ExportRequest | undefined {
    const b = this.batches.find((x) => x[x.length - 1]! > acked);
    if (b === undefined) return undefined;
    const seqs = b.filter((s) => s > acked);
    return { body: bodyOf(seqs), count: seqs.length, last: seqs[seqs.length - 1]! };
  }
  finished(acked: number): boolean {
    return acked >= Math.max(...this.batches.flat());
  }
}

interface Case {
  name: string;
  batches: number[][];
  answer: (seqs: number[], attempt: number) => SendResult;
  /** Fake time to let pass. */
  millis: number;
  /** Each request sent, as its sequence numbers. */
  sent: number[][];
  /** When each request was sent (fake ms). */
  at?: number[];
  acked: number;
  setAside?: [number, number][];
  delays?: number[];
}

function harness(c: Pick<Case, 'batches' | 'answer'>, opts: { hold?: boolean; min?: number; max?: number } = {}) {
  const clock = new FakeClock();
  const sender = new ScriptedSender(clock, c.answer, opts.hold);
  const events: string[] = [];
  const setAside: [number, number][] = [];
  const delays: number[] = [];
  const loop = new ExportLoop({
    sender,
    streamId: STREAM,
    source: new Batches(c.batches),
    clock,
    retryMinMillis: opts.min ?? 100,
    retryMaxMillis: opts.max ?? 1000,
    hooks: {
      acked: (last, n, whole) => events.push(`acked ${last} (${n}${whole ? '' : ', part'})`),
      setAside: (body, first, last) => {
        expect(seqsOf(body)[0]).toBe(first);
        setAside.push([first, last]);
        events.push(`set aside ${first}-${last}`);
      },
      retrying: (_r, _n, delay) => delays.push(delay),
      crashed: (e) => events.push(`crashed ${String(e)}`),
    },
  });
  return { clock, sender, loop, events, setAside, delays };
}

const poisoned = (poison: number, refusal: SendResult) => (seqs: number[]) => (seqs.includes(poison) ? refusal : OK);

const CASES: Case[] = [
  { name: 'success: one request per batch, in order', batches: [[1, 2], [3], [4, 5, 6]], answer: () => OK, millis: 0, sent: [[1, 2], [3], [4, 5, 6]], at: [0, 0, 0], acked: 6 },
  {
    name: 'transient failures (503 twice), then success: retried after the backoff',
    batches: [[1, 2]],
    answer: (_s, n) => (n <= 2 ? status(503) : OK),
    millis: 1000,
    sent: [[1, 2], [1, 2], [1, 2]],
    at: [0, 100, 300],
    acked: 2,
    delays: [100, 200],
  },
  {
    name: 'backoff doubles up to retryMaxMillis, and starts again from retryMinMillis after a success',
    batches: [[1], [2]],
    answer: (s, n) => (n <= 6 || (s[0] === 2 && n === 8) ? status(503) : OK),
    millis: 10_000,
    sent: [[1], [1], [1], [1], [1], [1], [1], [2], [2]],
    at: [0, 100, 300, 700, 1500, 2500, 3500, 3500, 3600],
    acked: 2,
    delays: [100, 200, 400, 800, 1000, 1000, 100],
  },
  {
    name: 'HTTP 429 (Retry-After is the transport’s, inside one send): retried after the loop’s own backoff',
    batches: [[1]],
    answer: (_s, n) => (n === 1 ? status(429) : OK),
    millis: 1000,
    sent: [[1], [1]],
    at: [0, 100],
    acked: 1,
  },
  {
    name: 'HTTP 429 with a Retry-After longer than the export timeout (passed on by the sender): waited out, then retried',
    batches: [[1]],
    answer: (_s, n) => (n === 1 ? { ...status(429), retryAfterMillis: 30_000 } : OK),
    millis: 60_000,
    sent: [[1], [1]],
    at: [0, 30_000],
    acked: 1,
    delays: [30_000],
  },
  {
    name: `HTTP 400 on a single record: set aside after ${PERMANENT_ATTEMPTS} attempts, the stream moves on`,
    batches: [[1], [2]],
    answer: poisoned(1, status(400)),
    millis: 10_000,
    sent: [[1], [1], [1], [2]],
    acked: 2,
    setAside: [[1, 1]],
  },
  {
    name: 'HTTP 400 twice, then accepted: a transient client error is retried, nothing set aside',
    batches: [[1]],
    answer: (_s, n) => (n <= 2 ? status(400) : OK),
    millis: 10_000,
    sent: [[1], [1], [1]],
    acked: 1,
  },
  {
    name: 'an outage (503 twice), then HTTP 400 twice, then accepted: only refusals in a row count, nothing set aside',
    batches: [[1, 2]],
    answer: (_s, n) => (n <= 2 ? status(503) : n <= 4 ? status(400) : OK),
    millis: 10_000,
    sent: [[1, 2], [1, 2], [1, 2], [1, 2], [1, 2]],
    acked: 2,
  },
  {
    name: 'partial_success, a 503, then partial_success 4 times, then accepted: the 503 starts the count again',
    batches: [[1]],
    answer: (_s, n) => (n === 2 ? status(503) : n <= 6 ? partial(1) : OK),
    millis: 10_000,
    sent: [[1], [1], [1], [1], [1], [1], [1]],
    acked: 1,
  },
  {
    name: 'partial_success twice, then accepted: retried, nothing set aside',
    batches: [[1, 2]],
    answer: (_s, n) => (n <= 2 ? partial(1) : OK),
    millis: 10_000,
    sent: [[1, 2], [1, 2], [1, 2]],
    acked: 2,
  },
  {
    name: `partial_success on every attempt at a single record: set aside after ${REJECTED_ATTEMPTS} attempts`,
    batches: [[1], [2]],
    answer: poisoned(1, partial(1)),
    millis: 10_000,
    sent: [[1], [1], [1], [1], [1], [2]],
    acked: 2,
    setAside: [[1, 1]],
  },
  {
    name: 'a refused batch is bisected: only the refused record is set aside, its neighbours delivered in order',
    batches: [[1, 2, 3, 4, 5], [6]],
    answer: poisoned(4, status(400)),
    millis: 10_000,
    // 3 attempts at the whole, then halves: [1,2] ok, [3,4,5] refused → [3] ok, [4,5] refused → [4] refused
    // (set aside), [5] ok.
    sent: [[1, 2, 3, 4, 5], [1, 2, 3, 4, 5], [1, 2, 3, 4, 5], [1, 2], [3, 4, 5], [3], [4, 5], [4], [5], [6]],
    acked: 6,
    setAside: [[4, 4]],
  },
  {
    // Found in review: the backoff kept doubling across records set aside, so a collector refusing everything was
    // asked more and more slowly. A set-aside is progress, as an acknowledgement is.
    name: 'records set aside one after another: each one starts again from retryMinMillis',
    batches: [[1], [2], [3]],
    answer: () => status(400),
    millis: 10_000,
    sent: [[1], [1], [1], [2], [2], [2], [3], [3], [3]],
    at: [0, 100, 300, 300, 400, 600, 600, 700, 900],
    acked: 3,
    setAside: [[1, 1], [2, 2], [3, 3]],
    delays: [100, 200, 100, 200, 100, 200],
  },
];

describe('export loop (fake sender, fake clock)', () => {
  it.each(CASES)('$name', async (c) => {
    const h = harness(c);
    const done = h.loop.run();
    await h.clock.advance(c.millis);
    expect(await done).toBe('idle');
    expect(h.sender.sent.map((s) => s.seqs)).toEqual(c.sent);
    if (c.at !== undefined) expect(h.sender.sent.map((s) => s.at)).toEqual(c.at);
    expect(h.loop.acked).toBe(c.acked);
    expect(h.setAside).toEqual(c.setAside ?? []);
    if (c.delays !== undefined) expect(h.delays).toEqual(c.delays);
    expect(h.sender.maxInFlight).toBe(1);
  });

  it('acknowledgements and set-asides come in sequence order, bisection parts included', async () => {
    const h = harness({ batches: [[1, 2, 3, 4], [5, 6]], answer: poisoned(2, status(400)) });
    const done = h.loop.run();
    await h.clock.advance(10_000);
    await done;
    expect(h.events).toEqual(['acked 1 (1, part)', 'set aside 2-2', 'acked 4 (2, part)', 'acked 6 (2)']);
  });

  it('a retryable failure during a bisection sends the whole batch again after the backoff', async () => {
    // Refused for good 3 times, then the first half meets a 503, then everything is accepted.
    const h = harness({ batches: [[1, 2, 3, 4]], answer: (_s, n) => (n <= 3 ? status(400) : n === 4 ? status(503) : OK) });
    const done = h.loop.run();
    await h.clock.advance(10_000);
    await done;
    expect(h.sender.sent.map((s) => s.seqs)).toEqual([[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4], [1, 2], [1, 2, 3, 4]]);
    expect(h.setAside).toEqual([]);
    expect(h.loop.acked).toBe(4);
  });

  it('stop while a request is in flight: it runs to its end (acknowledged), then nothing more is sent', async () => {
    const h = harness({ batches: [[1], [2]], answer: () => OK }, { hold: true });
    const done = h.loop.run();
    await drain();
    expect(h.sender.sent).toHaveLength(1);
    h.loop.stop();
    let result: string | undefined;
    void done.then((r) => (result = r));
    await drain();
    expect(result).toBeUndefined(); // still waiting for the request in flight
    h.sender.held.shift()!();
    await h.loop.inflight;
    await drain();
    expect(result).toBe('stopped');
    expect(h.loop.acked).toBe(1);
    expect(h.sender.sent).toHaveLength(1);
  });

  it('stop during the backoff: no further attempt, no timer left', async () => {
    const h = harness({ batches: [[1]], answer: () => status(503) });
    const done = h.loop.run();
    await drain();
    expect(h.clock.pending).toBe(1);
    h.loop.stop();
    expect(await done).toBe('stopped');
    expect(h.clock.pending).toBe(0);
    await h.clock.advance(10_000);
    expect(h.sender.sent).toHaveLength(1);
  });

  it('retryNow ends the backoff: the next kick sends at once', async () => {
    const h = harness({ batches: [[1]], answer: (_s, n) => (n <= 3 ? status(503) : OK) }, { min: 100, max: 100_000 });
    void h.loop.run();
    await h.clock.advance(400); // attempts at 0, 100, 300; the next one due at 700
    h.loop.retryNow();
    h.loop.kick();
    await drain();
    expect(h.sender.sent.map((s) => s.at)).toEqual([0, 100, 300, 400]);
    expect(h.loop.acked).toBe(1);
  });

  // Found in re-review: a Retry-After answered in the middle of a bisection was dropped, and the retry went out at
  // the shortest backoff.
  it('a Retry-After that stops a bisection is kept: the retry waits for it', async () => {
    let asked = false;
    const h = harness({
      batches: [[1, 2, 3, 4, 5]],
      answer: (seqs) => {
        if (seqs.length === 3 && !asked) {
          asked = true;
          return { ...status(503), retryAfterMillis: 3000 };
        }
        return seqs.includes(4) ? status(400) : OK;
      },
    });
    void h.loop.run();
    await h.clock.advance(10_000);
    const at = h.sender.sent.map((s) => `${s.seqs.join(',')}@${s.at}`);
    // Three refusals of the whole (0, 100, 300), then [1,2] taken and [3,4,5] answered 503 with Retry-After: 3 s.
    expect(at.slice(0, 5)).toEqual(['1,2,3,4,5@0', '1,2,3,4,5@100', '1,2,3,4,5@300', '1,2@300', '3,4,5@300']);
    expect(at[5]).toBe('3,4,5@3300');
    expect(h.loop.acked).toBe(5);
  });

  // Found in re-review: an app flushing after every request sent one request per flush to a collector that was down.
  it('retryNow sooner than retryMinMillis after the last attempt: the attempt comes then, not at once', async () => {
    const h = harness({ batches: [[1]], answer: () => status(503) }, { min: 500, max: 100_000 });
    void h.loop.run();
    await h.clock.advance(1600); // attempts at 0, 500, 1500; the next one due at 3500
    for (let t = 0; t < 20; t++) {
      h.loop.retryNow(); // a flush every 50 ms
      h.loop.kick();
      await h.clock.advance(50);
    }
    // 20 flushes in 1000 ms: at most one attempt per retryMinMillis, the first 500 ms after the last one (1500).
    const during = h.sender.sent.map((s) => s.at).filter((t) => t > 1500);
    expect(during.length).toBeLessThanOrEqual(2);
    for (let i = 1; i < during.length; i++) expect(during[i]! - during[i - 1]!).toBeGreaterThanOrEqual(500);
    expect(during[0]).toBe(2000);
  });

  // Found in re-review: a shutdown during a bisection did not stop it; parts went on being sent and set aside after
  // close(), and a record's loss was reported twice.
  it('stop during a bisection: no further part is sent', async () => {
    let loop: ExportLoop | undefined;
    const h = harness({
      batches: [[1, 2, 3, 4, 5, 6, 7, 8]],
      answer: (seqs) => {
        if (seqs.length === 4 && seqs[0] === 5) loop!.stop(); // the shutdown comes while this part is sent
        return seqs.includes(6) ? status(400) : OK;
      },
    });
    loop = h.loop;
    const done = h.loop.run();
    await h.clock.advance(10_000);
    expect(await done).toBe('stopped');
    // Three refusals of the whole, [1..4] taken, [5..8] refused as the stop came: nothing after it.
    expect(h.sender.sent.map((s) => s.seqs.join(','))).toEqual(['1,2,3,4,5,6,7,8', '1,2,3,4,5,6,7,8', '1,2,3,4,5,6,7,8', '1,2,3,4', '5,6,7,8']);
    expect(h.setAside).toEqual([]);
    expect(h.loop.acked).toBe(4);
  });

  // Found in re-review: the minimum counted from when a send began, and one send (the transport's own retries) often
  // lasts longer, so a flush after a failure retried at once.
  it('retryMinMillis counts from the end of the last attempt', async () => {
    const h = harness({ batches: [[1]], answer: (_s, n) => (n === 1 ? status(503) : OK) }, { hold: true, min: 500 });
    void h.loop.run();
    await drain();
    await h.clock.advance(800); // the first send lasts 800 ms
    h.sender.held.shift()!();
    await drain();
    await h.clock.advance(100);
    h.loop.retryNow();
    h.loop.kick();
    await drain();
    expect(h.sender.sent.map((s) => s.at)).toEqual([0]);
    await h.clock.advance(400);
    expect(h.sender.sent.map((s) => s.at)).toEqual([0, 1300]);
    h.sender.held.shift()!();
    await drain();
    expect(h.loop.acked).toBe(1);
  });

  // Found in re-review: a flush that began while a short Retry-After ran waited out the whole backoff.
  it('a flush that begins inside a short Retry-After: the attempt comes when the collector\'s wait is over', async () => {
    const h = harness({ batches: [[1]], answer: (_s, n) => (n === 1 ? { ...status(503), retryAfterMillis: 1000 } : OK) }, { min: 5000 });
    void h.loop.run();
    await h.clock.advance(300);
    h.loop.hurry(3000);
    h.loop.retryNow();
    h.loop.kick();
    await h.clock.advance(1000);
    expect(h.sender.sent.map((s) => s.at)).toEqual([0, 1000]);
    expect(h.loop.acked).toBe(1);
  });

  // Found in review: a flush re-sent at once a request the collector had asked to hold back for seconds.
  it('retryNow keeps a wait the collector asked for (Retry-After): the next attempt goes out when it is over', async () => {
    const h = harness({ batches: [[1]], answer: (_s, n) => (n === 1 ? { ...status(429), retryAfterMillis: 5000 } : OK) }, { min: 100 });
    void h.loop.run();
    await drain();
    h.loop.retryNow();
    h.loop.kick();
    await drain();
    expect(h.sender.sent.map((s) => s.at)).toEqual([0]);
    await h.clock.advance(5000);
    expect(h.sender.sent.map((s) => s.at)).toEqual([0, 5000]);
    expect(h.loop.acked).toBe(1);
  });

  // Found in review: a shutdown after an outage tried once, then waited out a 16 s backoff past its own 15 s bound.
  it('while a flush waits (hurry), a backoff is at most half its time left: attempts keep coming until its deadline', async () => {
    const h = harness({ batches: [[1]], answer: (_s, n) => (n <= 6 ? status(503) : OK) }, { min: 500, max: 16_000 });
    void h.loop.run();
    await h.clock.advance(15_000); // 0, 500, 1500, 3500, 7500: the backoff is 8 s now, then 16 s
    expect(h.sender.sent.map((s) => s.at)).toEqual([0, 500, 1500, 3500, 7500]);
    const end = h.loop.hurry(15_000);
    h.loop.retryNow();
    h.loop.kick();
    await h.clock.advance(15_000);
    // 15000 (fails: a backoff of min(16 s, 7.5 s)), 22500 (taken).
    expect(h.sender.sent.map((s) => s.at).slice(5)).toEqual([15_000, 22_500]);
    expect(h.loop.acked).toBe(1);
    end();
  });

  it('a Retry-After shorter than the backoff: a flush tries again once the collector\'s wait is over, not after the backoff', async () => {
    const h = harness({ batches: [[1]], answer: (_s, n) => (n === 1 ? { ...status(503), retryAfterMillis: 1000 } : OK) }, { min: 5000 });
    void h.loop.run();
    await h.clock.advance(1500);
    expect(h.sender.sent.map((s) => s.at)).toEqual([0]);
    h.loop.hurry(3000);
    h.loop.retryNow();
    h.loop.kick();
    await drain();
    expect(h.sender.sent.map((s) => s.at)).toEqual([0, 1500]);
    expect(h.loop.acked).toBe(1);
  });

  it('hurry keeps a wait the collector asked for (Retry-After)', async () => {
    const h = harness({ batches: [[1]], answer: (_s, n) => (n === 1 ? { ...status(429), retryAfterMillis: 9000 } : OK) }, { min: 100 });
    h.loop.hurry(10_000);
    void h.loop.run();
    await h.clock.advance(8999);
    expect(h.sender.sent.map((s) => s.at)).toEqual([0]);
    await h.clock.advance(1);
    expect(h.sender.sent.map((s) => s.at)).toEqual([0, 9000]);
  });

  it('an error thrown by the source is reported and retried after the backoff', async () => {
    const clock = new FakeClock();
    const sender = new ScriptedSender(clock, () => OK);
    const crashes: string[] = [];
    let calls = 0;
    const loop = new ExportLoop({
      sender,
      streamId: STREAM,
      clock,
      retryMinMillis: 100,
      retryMaxMillis: 1000,
      source: {
        next: () => {
          if (++calls === 1) throw new Error('unreadable line');
          return { body: bodyOf([1]), count: 1, last: 1 };
        },
        finished: (acked) => acked >= 1,
      },
      hooks: { acked: () => undefined, setAside: () => undefined, crashed: (e) => crashes.push((e as Error).message) },
    });
    const done = loop.run();
    await clock.advance(100);
    expect(await done).toBe('idle');
    expect(crashes).toEqual(['unreadable line']);
    expect(sender.sent.map((s) => s.at)).toEqual([100]);
  });

  it('a request is asked for again after a failure, with `retrying` set; done() tells each outcome', async () => {
    const clock = new FakeClock();
    const outcomes: string[] = [];
    const retrying: boolean[] = [];
    const loop = new ExportLoop({
      sender: new ScriptedSender(clock, (_s, n) => (n === 1 ? status(503) : OK)),
      streamId: STREAM,
      clock,
      retryMinMillis: 100,
      retryMaxMillis: 1000,
      source: {
        next: (_acked, r) => {
          retrying.push(r);
          return { body: bodyOf([1, 2]), count: 2, last: 2, done: (o) => outcomes.push(o) };
        },
        finished: (acked) => acked >= 2,
      },
      hooks: { acked: () => undefined, setAside: () => undefined, crashed: () => undefined },
    });
    const done = loop.run();
    await clock.advance(100);
    await done;
    expect(retrying).toEqual([false, true]);
    expect(outcomes).toEqual(['failed', 'acked']);
  });
});
