/**
 * OTEL_AUDIT_STDOUT with a reader that stalls: the copy to stdout must not grow the heap without bound (the
 * journal and the collector are the delivery; stdout is a convenience copy). Before: every line was queued in the
 * stream, 185 MB after 100,000 records with nobody reading.
 */
import { Writable } from 'node:stream';
import { expect, it } from 'vitest';
import { StdoutSink } from '../../src/sinks/stdout.js';
import { sealed, seqsOf } from '../helpers/sealed.js';
import { saidOnStderr } from '../helpers/stderr.js';

/** A stdout whose reader is stalled until `release()`: writes are held, as a full pipe holds them. */
function stalledStdout(): { out: Writable; written: () => string; release: () => void } {
  const held: (() => void)[] = [];
  let stalled = true;
  const chunks: Buffer[] = [];
  const out = new Writable({
    highWaterMark: 1024,
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      if (stalled) held.push(cb);
      else cb();
    },
  });
  return {
    out,
    written: () => Buffer.concat(chunks).toString('utf8'),
    release: () => {
      stalled = false;
      for (const cb of held.splice(0)) cb();
    },
  };
}

it('past its bound stdout gets no more copies until it drains, and how many it missed is said; the bound holds', async () => {
  const { result: missed, said } = await saidOnStderr(async () => {
    const s = stalledStdout();
    const sink = new StdoutSink(s.out, 64 * 1024);
    let seq = 0;
    for (let i = 0; i < 2000; i++) sink.write([sealed(++seq), sealed(++seq)]);
    // Queued bytes stop near the bound (one batch past it at most), not at 4000 records' worth.
    expect(s.out.writableLength).toBeLessThan(64 * 1024 + 1024);
    const copied = new Set(seqsOf(s.written()));
    expect(copied.size).toBeLessThan(4000);
    s.release();
    await new Promise((r) => setImmediate(r));
    const missed = 4000 - new Set(seqsOf(s.written())).size;
    // Drained: copies resume, each record a line of its own.
    sink.write([sealed(++seq)]);
    await new Promise((r) => setImmediate(r));
    expect(seqsOf(s.written()).at(-1)).toBe(seq);
    return missed;
  });
  expect(said).toMatch(/stdout is not being read .* records are not copied to it until it drains/);
  expect(said).toContain(`stdout drained; ${missed} audit record(s) were not copied to it meanwhile`);
});
