/**
 * The journal directory removed underneath a live stream (an operator, a tmp cleaner): the segment created in the
 * re-created directory gets the stream's state file first (ARCHITECTURE.md §5.2), so another process starting there
 * does not take the live stream for an orphan, replay it and mark it done. It used to be written before the first
 * segment only. Real files.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { LossEvent } from '../../src/deliver/loss.js';
import type { BatchSender } from '../../src/deliver/otlp-sender.js';
import { Replayer } from '../../src/deliver/replay.js';
import { statePath } from '../../src/sinks/files.js';
import { startDelivery } from '../helpers/delivery.js';
import { sealedInStream } from '../helpers/sealed.js';
import { tempDir } from '../helpers/tmp.js';

const STREAM = '00000000-0000-4000-8000-0000000000d1';
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('directory removed underneath', () => {
  it('the re-created directory gets the state file before the new segment: the live stream is not an orphan', async () => {
    const t = await tempDir('rev-rmdir-');
    cleanups.push(t.cleanup);
    const down = { send: () => new Promise(() => undefined), shutdown: () => Promise.resolve() } as unknown as BatchSender; // collector down
    const losses: LossEvent[] = [];
    const d = startDelivery(t.dir, STREAM, down, losses);
    for (let s = 1; s <= 3; s++) d.accept(sealedInStream(s, STREAM));
    await tick();
    await d['journal']!.writes;
    rmSync(t.dir, { recursive: true, force: true }); // an operator, a tmp cleaner
    for (let s = 4; s <= 6; s++) d.accept(sealedInStream(s, STREAM));
    await tick();
    await d['journal']!.writes;
    const segs = readdirSync(t.dir).filter((n) => n.endsWith('.jsonl'));
    // Another process starting now (ownStreamId differs):
    const other = new Replayer({ dir: t.dir, ownStreamId: 'other', sender: down, maxExportBatchSize: 10, retryMinMillis: 1, retryMaxMillis: 1 });
    expect({ segments: segs.length, stateFile: existsSync(statePath(t.dir, STREAM)), orphans: other.orphans }).toEqual({ segments: 1, stateFile: true, orphans: [] });
  });
});
