/**
 * Replay of several orphaned streams when one of them fails (a segment removed between the claim and the read; any
 * I/O error there): the others are still replayed and every claim is released. Replayer.run used to reject at the
 * first failure, leaving the later streams unreplayed and claimed by this live process, with only a diag line.
 */
import { readdirSync, rmSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Replayer } from '../../src/deliver/replay.js';
import { claimReplay, readState } from '../../src/sinks/stream-state.js';
import type { BatchSender } from '../../src/deliver/otlp-sender.js';
import { tempDir } from '../helpers/tmp.js';
import { capturingSender, lineOf, orphanStream } from '../helpers/orphan.js';

const A = '00000000-0000-4000-8000-00000000000a';
const B = '00000000-0000-4000-8000-00000000000b';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

describe('replay of several orphaned streams', () => {
  it('an error in one stream does not abandon the others (nor keep their claims)', async () => {
    const t = await tempDir('rev-multi-');
    cleanups.push(t.cleanup);
    // A: two segments (older); B: one segment (newer).
    const big = lineOf(A, [1]).length + 1;
    await orphanStream(t.dir, A, [[1], [2]], undefined, big);
    await orphanStream(t.dir, B, [[1, 2, 3]]);
    const segs = readdirSync(t.dir).filter((n) => n.endsWith('.jsonl')).sort();
    for (const n of segs) utimesSync(join(t.dir, n), new Date(), new Date(n.includes(A) ? 1_000_000 : 2_000_000));
    const { sender, got } = capturingSender();
    const r = new Replayer({ dir: t.dir, ownStreamId: 'none', sender, maxExportBatchSize: 100, retryMinMillis: 1, retryMaxMillis: 2 });
    // A's first segment disappears between the claim and the read (an operator, a disk error: any I/O error here).
    rmSync(join(t.dir, segs.find((n) => n.includes(A) && n.endsWith('000001.jsonl'))!));
    const report = await r.run();
    expect(report.failed).toEqual([A]);
    expect(report.streams).toContain(B);
    expect(got.some((g) => g.length === 3)).toBe(true); // B's three records
    expect(claimReplay(t.dir, B)).not.toBeUndefined(); // B's claim was released: another claimant gets it
  });
});

// Found by review (the demo, 6 runs in 7): a shutdown that stopped the replay just after its last request was
// acknowledged said it stopped it "before its end", and left the stream not done, to be replayed again.
describe('a replay stopped right after its last acknowledgement', () => {
  it('is complete: not unfinished, and its stream done', async () => {
    const t = await tempDir('rev-stop-at-end-');
    cleanups.push(t.cleanup);
    await orphanStream(t.dir, A, [[1, 2, 3]]);
    const { sender: acking, got } = capturingSender();
    let r: Replayer | undefined;
    const sender = {
      ...acking,
      send: (body: Uint8Array | string, count: number) => {
        r!.stop(); // the shutdown, while the last request is in flight; the collector still acknowledges it
        return acking.send(body, count);
      },
    } as BatchSender;
    r = new Replayer({ dir: t.dir, ownStreamId: 'none', sender, maxExportBatchSize: 100, retryMinMillis: 1, retryMaxMillis: 2 });
    const report = await r.run();
    expect(got.flat()).toEqual([1, 2, 3]);
    expect(report.unfinished).toEqual([]);
    expect(readState(t.dir, A)?.done).toBe(true);
  });
});
