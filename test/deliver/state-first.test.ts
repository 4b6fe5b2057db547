/**
 * A stream's state file (which names its live owner) exists before any of its journal segments: a segment
 * without one looks orphaned to another processor sharing the directory, which would claim and replay it, and
 * take it for its predecessor, while its owner is still writing it. The state write is made to fail by a
 * directory planted at its path (as a full disk would fail it), then made possible again.
 */
import { mkdirSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { BatchSender } from '../../src/deliver/otlp-sender.js';
import { Replayer } from '../../src/deliver/replay.js';
import { statePath } from '../../src/sinks/files.js';
import { captureStderr } from '../faults/_lib.js';
import { makePipeline, type TestPipeline } from '../helpers/pipeline.js';
import { recordsOfFile, streamOf } from '../helpers/records.js';

let p: TestPipeline | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await p?.dispose();
  p = undefined;
});

const segments = (dir: string): string[] => readdirSync(dir).filter((n) => n.endsWith('.jsonl'));
/** What another processor starting in the directory would take over. */
const orphansSeenBy = (dir: string): string[] => {
  const sender = { send: () => Promise.reject(new Error('not reached')) } as unknown as BatchSender;
  return new Replayer({ dir, ownStreamId: 'another', sender, maxExportBatchSize: 10, retryMinMillis: 1, retryMaxMillis: 1 }).orphans;
};

describe('the state file comes before the first segment', () => {
  it('while the state cannot be written no segment is created (records go from memory); once it can, both are there', async () => {
    p = await makePipeline();
    const { auditDir, processor, audit, collectorFile } = p;
    const stderr = captureStderr();
    const blocker = statePath(auditDir, processor.streamId);
    mkdirSync(blocker, { recursive: true }); // the state write now fails
    for (let i = 0; i < 3; i++) void audit.record({ action: 'READ', outcome: 'success', actor: { id: `u${i}`, type: 'user' } }).catch(() => undefined);
    await processor.forceFlush();
    expect(segments(auditDir)).toEqual([]);
    expect(stderr.join('')).toMatch(/journal write failed \(delivery state not written: /);
    rmSync(blocker, { recursive: true });
    expect(orphansSeenBy(auditDir)).toEqual([]);

    for (let i = 3; i < 5; i++) await audit.record({ action: 'READ', outcome: 'success', actor: { id: `u${i}`, type: 'user' } });
    await processor.forceFlush();
    expect(existsSync(statePath(auditDir, processor.streamId))).toBe(true);
    expect(segments(auditDir)).toHaveLength(1);
    expect(orphansSeenBy(auditDir)).toEqual([]); // its state names this live process
    expect(recordsOfFile(collectorFile).filter((r) => streamOf(r) === processor.streamId)).toHaveLength(5);
  });
});
