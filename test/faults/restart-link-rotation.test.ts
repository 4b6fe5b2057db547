/**
 * The restart link after a crash at rotation: the crashed stream's last segment is empty, or holds only a torn first
 * line. The link (Replayer.predecessor) still names its last whole record, from the segment before, so verify's
 * cross-stream check can detect a later cut of the crashed stream's tail. It used to read the last segment only and
 * link by stream id alone. Real files.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { BatchSender } from '../../src/deliver/otlp-sender.js';
import { Replayer } from '../../src/deliver/replay.js';
import { segmentName } from '../../src/sinks/files.js';
import { tempDir } from '../helpers/tmp.js';
import { orphanStream } from '../helpers/orphan.js';

const S = '00000000-0000-4000-8000-0000000000c1';
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});
const sender = { send: () => new Promise(() => undefined), shutdown: () => Promise.resolve() } as unknown as BatchSender;

describe('restart link after a crash at rotation', () => {
  it.each([
    ['empty', ''],
    ['only a torn first line', '{"resourceLogs":[{"scopeLogs":[{"scope":{"na'],
  ])('last segment %s: the link still names the last whole record (seq 5)', async (_what, content) => {
    const t = await tempDir('rev-pred-');
    cleanups.push(t.cleanup);
    await orphanStream(t.dir, S, [[1, 2, 3, 4, 5]]);
    const seg2 = join(t.dir, segmentName(S, 2));
    writeFileSync(seg2, '', { mode: 0o600 });
    if (content !== '') appendFileSync(seg2, content);
    const r = new Replayer({ dir: t.dir, ownStreamId: 'new', sender, maxExportBatchSize: 10, retryMinMillis: 1, retryMaxMillis: 1 });
    expect(r.predecessor).toMatchObject({ streamId: S, lastSeq: 5, lastHash: expect.any(String) });
  });
});
