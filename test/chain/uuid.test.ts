import { describe, expect, it } from 'vitest';
import { uuidV4 } from '../../src/core/uuid.js';

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

  it('has unbiased random bits in every fully random hex digit (each value near 1/16 at each position)', () => {
    const n = 20000;
    const counts = Array.from({ length: 32 }, () => new Array<number>(16).fill(0));
    for (let i = 0; i < n; i++) {
      const hex = uuidV4().replaceAll('-', '');
      for (let pos = 0; pos < 32; pos++) counts[pos]![parseInt(hex[pos]!, 16)]!++;
    }
    // Position 12 is the version digit (always 4) and 16 the variant digit (8-b): not fully random.
    for (let pos = 0; pos < 32; pos++) {
      if (pos === 12 || pos === 16) continue;
      for (const c of counts[pos]!) expect(Math.abs(c - n / 16) / (n / 16), `hex digit ${pos}`).toBeLessThan(0.15); // > 5 sigma
    }
    expect(counts[16]!.slice(8, 12).reduce((a, b) => a + b, 0)).toBe(n);
  });
});
