/**
 * Pooled arenas (src/otlp/arena.ts): an arena returns to the pool only once it is retired and every hold on it
 * is given back, so a request line that anyone still holds is never overwritten by a later request.
 */
import { describe, expect, it } from 'vitest';
import type { RecordGroup } from '../../src/chain/group.js';
import { ARENA_BYTES, ArenaPool } from '../../src/otlp/arena.js';
import { RequestBuilder, type CutRequest } from '../../src/otlp/request-builder.js';
import { prng } from '../helpers/prng.js';

const group: RecordGroup = { prefix: '{"scopeLogs":[{"scope":{"name":"audit"},"logRecords":[', suffix: ']}]}' };

describe('ArenaPool', () => {
  it('an arena is reused only when retired and released, whichever comes last', () => {
    const pool = new ArenaPool();
    const a = pool.take(0);
    a.hold();
    a.hold();
    a.retire();
    a.release();
    expect(pool.size).toBe(0); // one hold left
    a.release();
    expect(pool.size).toBe(1);
    expect(pool.take(10)).toBe(a);
    // Released first, retired later: back to the pool at retirement.
    const b = pool.take(0);
    b.hold();
    b.release();
    expect(pool.size).toBe(0); // still the builder's
    b.retire();
    expect(pool.take(0)).toBe(b);
  });

  it('a release without a hold throws instead of freeing an arena someone reads', () => {
    const a = new ArenaPool().take(0);
    expect(() => a.release()).toThrow(/without a hold/);
  });

  it('an arena larger than the standard size is never pooled; the pool keeps at most 4', () => {
    const pool = new ArenaPool();
    const big = pool.take(ARENA_BYTES + 1);
    expect(big.bytes.length).toBe(ARENA_BYTES + 1);
    big.retire();
    expect(pool.size).toBe(0);
    const arenas = Array.from({ length: 6 }, () => pool.take(0));
    for (const x of arenas) x.retire();
    expect(pool.size).toBe(4);
  });
});

describe('RequestBuilder with pooled arenas', () => {
  it('property: a held line keeps its bytes whatever is built after it; released arenas are reused', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const r = prng(seed);
      const b = new RequestBuilder();
      const held: { cut: CutRequest; copy: Buffer }[] = [];
      /** A cut request is whole JSON when cut; from then on, its bytes must not change (checked at every step). */
      const hold = (cut: CutRequest): void => {
        expect(() => JSON.parse(cut.line.toString('utf8')) as unknown).not.toThrow();
        held.push({ cut, copy: Buffer.from(cut.line) });
      };
      const buffers = new Set<ArrayBufferLike>();
      let written = 0;
      for (let step = 0; step < 400; step++) {
        const op = r(10);
        if (op < 6) {
          // Records of 0.1–200 KB, so that arenas fill within a few steps.
          const rec = Buffer.from(`{"body":{"stringValue":"${String(step).repeat(1 + r(40_000))}"}}`);
          if (!b.add(rec, group)) {
            hold(b.cut()!);
            expect(b.add(rec, group)).toBe(true);
          }
          written += rec.length;
        } else if (op < 8) {
          const cut = b.cut();
          if (cut !== undefined) hold(cut);
        } else if (held.length > 0) {
          // Release a random holder: its line may be overwritten from now on.
          const [gone] = held.splice(r(held.length), 1);
          gone!.cut.arena.release();
        }
        for (const h of held) {
          buffers.add(h.cut.line.buffer);
          expect(h.cut.line.equals(h.copy), `seed ${seed} step ${step}`).toBe(true);
        }
      }
      // The pool did its job: far fewer distinct arenas than the bytes written would need.
      expect(buffers.size, `seed ${seed}`).toBeLessThan((0.75 * written) / ARENA_BYTES);
    }
  });
});
