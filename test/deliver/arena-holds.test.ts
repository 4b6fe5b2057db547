/**
 * The holds on a batch's arena (src/otlp/arena.ts) in delivery: memory gives its hold back when the batch
 * leaves memory, and a journal write keeps its own until the write has landed — so a batch acknowledged (or
 * evicted) while its group commit still waits in the journal's queue is written with its own bytes, not with
 * whatever a later batch put into a reused arena. Real journal writer, real files.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Batcher, release, type Batch } from '../../src/deliver/batch.js';
import { sealed } from '../helpers/sealed.js';
import { testSpool } from '../helpers/spool.js';
import { tempDir } from '../helpers/tmp.js';

const STREAM = '0e836d36-3527-453f-bea7-97e683dddc36';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await tempDir()));
afterEach(async () => cleanup());

describe('arena holds in delivery', () => {
  it('a batch released from memory while its journal write is queued is journaled with its own bytes', async () => {
    const spool = testSpool(dir, STREAM);
    const batcher = new Batcher(false);
    batcher.add(sealed(1, 'first'), undefined);
    const a = batcher.cut();
    batcher.add(sealed(2, 'second'), undefined);
    const b = batcher.cut();
    expect(b.arena).toBe(a.arena);
    const expected = [Buffer.from(a.line).toString('utf8'), Buffer.from(b.line).toString('utf8')];
    // A's write starts; B's waits in the writer's queue until A's has landed (this test does not yield).
    spool.write([a]);
    spool.write([b]);
    // Both leave memory (say the collector acknowledged them), then the builder moves on through fresh
    // arenas: without the journal's hold, theirs would be reused and overwritten right here.
    release(a);
    release(b);
    const filler = 'x'.repeat(100_000);
    const seen = new Set<unknown>();
    let reused = 0;
    const leave = (x: Batch): void => {
      if (seen.has(x.arena)) reused++;
      seen.add(x.arena);
      release(x);
    };
    for (let seq = 3; seq < 60; seq++) {
      batcher.add(sealed(seq, filler), undefined);
      // Batches cut when an arena fills, and every fifth record: each leaves memory at once.
      for (const done of batcher.ready.splice(0)) leave(done);
      if (seq % 5 === 0) leave(batcher.cut());
    }
    expect(reused, 'arenas were reused meanwhile').toBeGreaterThan(0);
    await spool.writes;
    await spool.writer.close();
    const [file] = readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith('.jsonl'));
    expect(readFileSync(join(dir, file!), 'utf8').split('\n').filter(Boolean)).toEqual(expected);
  });
});
