/**
 * The refusal budget of a bisection (src/deliver/bisect.ts): a collector that refuses everything costs at most
 * 2·⌈log2 n⌉ + 2 refusals (README), and every record is still set aside, once. The budget used to be checked only on
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
  it.each([2, 3, 7, 100, 1000, 2048])('n=%i: at most 2·⌈log2 n⌉ + 2 refusals, every record set aside once, in order', async (n) => {
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
    expect(refusals).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(n)) + 2);
    const seqs = setAside.flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, k) => a + k));
    expect(seqs).toEqual(Array.from({ length: n }, (_, k) => k + 1));
  });
});
