import { describe, expect, it } from 'vitest';
import { uuidV4 } from '../../src/chain/uuid.js';

describe('uuidV4', () => {
  it('is RFC 9562 version 4, variant 10, and never repeats across pool refills', async () => {
    const seen = new Set<string>();
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 5000; i++) {
        const u = uuidV4();
        expect(u).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        seen.add(u);
      }
      await new Promise((r) => setImmediate(r)); // lets the background refill land
    }
    expect(seen.size).toBe(20000);
  });

  it('has unbiased random bits (each hex digit of the random part near 1/16)', () => {
    const counts = new Array<number>(16).fill(0);
    for (let i = 0; i < 20000; i++) for (const ch of uuidV4().slice(0, 8)) counts[parseInt(ch, 16)]!++;
    const expected = (20000 * 8) / 16;
    for (const c of counts) expect(Math.abs(c - expected) / expected).toBeLessThan(0.05);
  });
});
