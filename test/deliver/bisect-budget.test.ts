/**
 * The refusal budget of a bisection (src/deliver/bisect.ts): a collector that refuses everything costs at most
 * 8·⌈log2 n⌉ + 8 refusals (README), and every record is still set aside, once. The budget used to be checked only on
 * entering a level, so the halves pending above were still sent and refused after it was spent (n=1000: 30 > 22).
 */
import { describe, expect, it } from 'vitest';
import { ATTR_SEQ_NUMBER, ATTR_SEQ_STREAM_ID } from '../../src/core/attributes.js';
import { bisectRefused } from '../../src/deliver/bisect.js';

const body = (n: number): string =>
  JSON.stringify({
    resourceLogs: [{ scopeLogs: [{ logRecords: Array.from({ length: n }, (_, i) => ({ attributes: [{ key: ATTR_SEQ_STREAM_ID, value: { stringValue: 's' } }, { key: ATTR_SEQ_NUMBER, value: { intValue: String(i + 1) } }] })) }] }],
  });

describe('bisection of a request refused everywhere', () => {
  it.each([2, 3, 7, 100, 1000, 2048])('n=%i: at most 8·⌈log2 n⌉ + 8 refusals, every record set aside once, in order', async (n) => {
    let refusals = 0;
    const setAside: [number, number][] = [];
    const outcome = await bisectRefused({
      sender: { send: () => (refusals++, Promise.resolve({ ok: false, retryable: false, rejected: 0, message: 'HTTP 400' })), shutdown: () => Promise.resolve() },
      streamId: 's',
      body: body(n),
      onAcked: () => undefined,
      onRefused: (_b, first, last) => void setAside.push([first, last]),
    });
    expect(outcome).toBe('done');
    expect(refusals).toBeLessThanOrEqual(8 * Math.ceil(Math.log2(n)) + 8);
    const seqs = setAside.flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, k) => a + k));
    expect(seqs).toEqual(Array.from({ length: n }, (_, k) => k + 1));
  });
});

// Found in review: with a budget of 2·⌈log2 n⌉ + 2, three refused records of 1,000 sent 374 good ones to rejected/,
// and the message named them all as refused.
describe('bisection of a request with a few refused records', () => {
  it.each([[[500]], [[100, 400, 700]], [[100, 350, 600, 900]], [[1, 2, 3, 4, 5, 6, 998, 1000]]])('bad %j of 1000: only they are set aside', async (bad) => {
    const setAside: number[] = [];
    let acked = 0;
    const outcome = await bisectRefused({
      sender: {
        send: (b) => {
          const seqs = (JSON.parse(String(b)) as { resourceLogs: { scopeLogs: { logRecords: { attributes: { value: { intValue?: string } }[] }[] }[] }[] }).resourceLogs[0]!.scopeLogs[0]!.logRecords.map((r) => Number(r.attributes[1]!.value.intValue));
          return Promise.resolve(seqs.some((q) => bad.includes(q)) ? { ok: false, retryable: false, rejected: 0, message: 'HTTP 400' } : { ok: true, retryable: true, rejected: 0, message: 'ok' });
        },
        shutdown: () => Promise.resolve(),
      },
      streamId: 's',
      body: body(1000),
      onAcked: (_last, count) => void (acked += count),
      onRefused: (_b, first, last, _count, why) => {
        for (let q = first; q <= last; q++) setAside.push(q);
        expect(why).not.toMatch(/budget/);
      },
    });
    expect(outcome).toBe('done');
    expect(setAside).toEqual(bad);
    expect(acked).toBe(1000 - bad.length);
  });
});
