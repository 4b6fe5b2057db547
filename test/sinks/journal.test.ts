/**
 * JournalWriter on a real file system: lines gathered with writev(2) land whole, each with its newline, in
 * order, split across segments at the size bound, and indexed where they are.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { JournalWriter, rest, type JournalLine } from '../../src/sinks/journal.js';
import { tempDir } from '../helpers/tmp.js';

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

const line = (seq: number, pad = 0): JournalLine => ({
  bytes: Buffer.from(JSON.stringify({ seq, pad: 'x'.repeat(pad) }), 'utf8'),
  first: seq,
  last: seq,
});

async function journal(maxFileBytes: number): Promise<JournalWriter> {
  const t = await tempDir();
  cleanup = t.cleanup;
  return new JournalWriter({ dir: t.dir, streamId: '00000000-0000-4000-8000-000000000001', maxFileBytes, fsync: 'batch' });
}

/** Every segment's lines, and a check that the index points at exactly them. */
function readBack(j: JournalWriter): number[] {
  const seqs: number[] = [];
  for (const seg of j.segments) {
    const text = readFileSync(seg.path);
    expect(text.length).toBe(seg.bytes);
    for (let i = 0; i < seg.lines.length; i++) {
      const l = text.subarray(seg.lines.start(i), seg.lines.end(i));
      expect(l[l.length - 1]).toBe(0x0a);
      const { seq } = JSON.parse(l.subarray(0, -1).toString('utf8')) as { seq: number };
      expect([seg.lines.first(i), seg.lines.last(i)]).toEqual([seq, seq]);
      seqs.push(seq);
    }
  }
  return seqs;
}

describe('JournalWriter', () => {
  it.each(['write', 'writeSync'] as const)('%s: 2000 lines in one call (several writev runs), whole and in order', async (how) => {
    const j = await journal(1 << 30);
    const lines = Array.from({ length: 2000 }, (_, i) => line(i + 1, i % 7));
    if (how === 'write') await j.write(lines);
    else j.writeSync(lines);
    await j.close();
    expect(readBack(j)).toEqual(lines.map((l) => l.first));
  });

  it('rotates at the size bound without splitting a line; a line larger than a segment gets one alone', async () => {
    const j = await journal(4096);
    const lines = [...Array.from({ length: 40 }, (_, i) => line(i + 1, 300)), line(41, 10_000), line(42, 10)];
    await Promise.all([j.write(lines.slice(0, 20)), j.write(lines.slice(20))]);
    await j.close();
    expect(readBack(j)).toEqual(lines.map((l) => l.first));
    expect(j.segments.length).toBeGreaterThan(3);
    for (const seg of j.segments) expect(seg.bytes <= 4096 || seg.lines.length === 1).toBe(true);
  });
});

describe('rest: what a short writev leaves', () => {
  const parts = [Buffer.from('abc'), Buffer.from('\n'), Buffer.from('defg'), Buffer.from('\n')];
  it.each([
    [0, 'abc\ndefg\n'],
    [1, 'bc\ndefg\n'],
    [3, '\ndefg\n'],
    [4, 'defg\n'],
    [6, 'fg\n'],
    [8, '\n'],
    [9, ''],
  ])('after %i bytes: %j', (skip, left) => {
    expect(Buffer.concat(rest(parts, skip)).toString()).toBe(left);
  });
});

describe('JournalWriter.writeSync', () => {
  it('refuses to append while queued writes are pending (its line would land before theirs); appends once they landed', async () => {
    const j = await journal(1 << 20);
    const pending = j.write([line(1), line(2)]);
    expect(j.idle).toBe(false);
    expect(() => j.writeSync([line(3)])).toThrow(/reorder/);
    await pending;
    expect(j.idle).toBe(true);
    j.writeSync([line(3)]);
    expect(readBack(j)).toEqual([1, 2, 3]);
    await j.close();
  });
});
