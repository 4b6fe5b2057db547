/**
 * splitLines (src/verify/safe-read.ts), the line splitter under verify, search and tail: every line comes out
 * with exactly its bytes, number and terminator, whatever the chunk boundaries, although the chunk buffers and
 * the buffer that joins a line read in several chunks are reused from line to line. Files on the real file
 * system, lines of random lengths around the chunk size, checked against a plain split of the whole file.
 */
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHUNK_BYTES, splitLines } from '../../src/verify/safe-read.js';
import { prng } from '../helpers/prng.js';
import { tempDir } from '../helpers/tmp.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await tempDir('otel-audit-split-')));
afterAll(async () => cleanup());

/** Lengths that put line ends on, just before and just after chunk boundaries, and lines of several chunks. */
const LENGTHS = [0, 1, 37, 4095, CHUNK_BYTES - 1, CHUNK_BYTES, CHUNK_BYTES + 1, (CHUNK_BYTES * 5) >> 1, (CHUNK_BYTES * 16) / 5];

/** A line whose every byte depends on its number, so that a byte from another line or a stale buffer shows. */
function lineBytes(n: number, length: number, rand: (k: number) => number): Buffer {
  const b = Buffer.allocUnsafe(length);
  const salt = rand(251);
  for (let i = 0; i < length; i++) b[i] = 0x20 + ((n * 31 + i * 7 + salt) % 90); // printable, never '\n'
  return b;
}

interface Got {
  bytes: Buffer | undefined;
  line: number;
  terminated: boolean;
}

async function split(file: string, maxLineBytes?: number): Promise<Got[]> {
  const got: Got[] = [];
  const fh = await open(file, 'r');
  try {
    // `bytes` is valid only during the call: copied, as every caller does with what it keeps.
    for await (const _ of splitLines(fh, (bytes, line, terminated) => void got.push({ bytes: bytes && Buffer.from(bytes), line, terminated }), maxLineBytes));
  } finally {
    await fh.close();
  }
  return got;
}

describe('splitLines', () => {
  it.each([1, 2, 3, 4, 5, 6, 7, 8])('random lines around the 1 MiB chunk size come out exact (seed %i)', async (seed) => {
    const rand = prng(seed * 7919);
    const lines: Buffer[] = [];
    let total = 0;
    while (total < 6 * CHUNK_BYTES) {
      const l = lineBytes(lines.length + 1, LENGTHS[rand(LENGTHS.length)]! + (rand(3) === 0 ? rand(64) : 0), rand);
      lines.push(l);
      total += l.length + 1;
    }
    const terminatedLast = seed % 2 === 0;
    const file = join(dir, `lines-${seed}.txt`);
    const parts: Buffer[] = [];
    for (let i = 0; i < lines.length; i++) parts.push(lines[i]!, ...(i < lines.length - 1 || terminatedLast ? [Buffer.from('\n')] : []));
    await writeFile(file, Buffer.concat(parts));
    // A limit between the lengths: some lines are dropped as too long, and the lines after them still come out.
    const limit = seed > 4 ? (CHUNK_BYTES * 3) >> 1 : undefined;

    const got = await split(file, limit);
    // A final empty line without '\n' is no line at all.
    const expected = !terminatedLast && lines.at(-1)!.length === 0 ? lines.slice(0, -1) : lines;
    expect(got.length).toBe(expected.length);
    for (let i = 0; i < expected.length; i++) {
      const g = got[i]!;
      expect(g.line).toBe(i + 1);
      expect(g.terminated).toBe(i < lines.length - 1 || terminatedLast);
      if (limit !== undefined && expected[i]!.length > limit) expect(g.bytes, `line ${i + 1}`).toBeUndefined();
      else expect(g.bytes?.equals(expected[i]!), `line ${i + 1} (${expected[i]!.length} bytes)`).toBe(true);
    }
  }, 60_000);
});
