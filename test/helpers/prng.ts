/** Seeded PRNG (mulberry32): reproducible randomness for property tests, without a dependency. Returns [0, 1). */
export function prngFloat(seed: number): () => number {
  let a = seed >>> 0;
  return (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The same sequence as whole numbers: returns 0…n-1. */
export function prng(seed: number): (n: number) => number {
  const next = prngFloat(seed);
  return (n: number): number => Math.floor(next() * n);
}
