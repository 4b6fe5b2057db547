/** Retention of the stream's own segments: the state file records the cut acknowledged before a segment goes. */
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { segmentName } from '../../src/sinks/files.js';
import { enforceRetention } from '../../src/sinks/retention.js';
import { newState, writeState } from '../../src/sinks/stream-state.js';
import { verifyFiles } from '../../src/verify/index.js';
import { makeChain, testStreamId, toLines } from '../helpers/make-chain.js';
import { tempDir } from '../helpers/tmp.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('otel-audit-retention-'));
  chmodSync(dir, 0o700);
});
afterAll(async () => cleanup());

/** A 9-record stream in three segments of 3 records in `at`. */
function threeSegments(at: string): { streamId: string; segments: { path: string; last: number }[] } {
  const streamId = testStreamId();
  const lines = toLines(makeChain(9, { streamId }), 1);
  const segments = [0, 1, 2].map((k) => {
    const path = join(at, segmentName(streamId, k + 1));
    writeFileSync(path, lines.slice(k * 3, k * 3 + 3).join('\n') + '\n', { mode: 0o600 });
    return { path, last: k * 3 + 3 };
  });
  return { streamId, segments };
}

it('saves the stream state (acked) before deleting its first segment, so that verify takes the cut as retention', async () => {
  const { streamId, segments } = threeSegments(dir);
  // As the processor runs: the state on disk lags behind what the collector acknowledged (saved a second later).
  writeState(dir, newState(streamId));
  const calls: boolean[] = [];
  enforceRetention(dir, 1, {
    streamId,
    acked: 6,
    segments,
    saveAcked: () => {
      calls.push(existsSync(segments[0]!.path));
      writeState(dir, { ...newState(streamId), acked: 6, last: 9 });
      return true;
    },
  });
  expect(calls).toEqual([true]); // once, before anything was deleted
  expect(segments.map((s) => existsSync(s.path))).toEqual([false, false, true]);
  const r = await verifyFiles([dir]);
  expect(r.ok).toBe(true);
  expect(r.problems).toEqual([expect.objectContaining({ kind: 'deleted', severity: 'info', seq: 1 })]);
});

// Before: the outcome of the save was ignored, and on a full disk (or an immutable state file) the segments went
// while the state file still said acked=0: verify then reported the collector's acknowledged records as DELETED.
it('keeps every segment of the stream when its state cannot be saved, and verify stays clean', async () => {
  const sub = join(dir, 'save-fails');
  mkdirSync(sub, { mode: 0o700 });
  const { streamId, segments } = threeSegments(sub);
  writeState(sub, newState(streamId));
  let calls = 0;
  enforceRetention(sub, 1, { streamId, acked: 6, segments, saveAcked: () => (calls++, false) });
  expect(calls).toBe(1); // tried once, not once per segment
  expect(segments.map((s) => existsSync(s.path))).toEqual([true, true, true]);
  expect(existsSync(join(sub, 'state', 'retention.log'))).toBe(false);
  const r = await verifyFiles([sub]);
  expect(r.ok).toBe(true);
  expect(r.problems).toEqual([]);
});
