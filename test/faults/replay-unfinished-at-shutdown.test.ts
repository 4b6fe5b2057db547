/**
 * Shutdown while replaying an earlier process's stream: the replay stops, its records stay in the journal for the
 * next start, and shutdown says so. Before, ShutdownReport said `undelivered: 0`, nothing was written to stderr and
 * replayed() resolved as if the replay were complete.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readState } from '../../src/sinks/stream-state.js';
import { orphanStream } from '../helpers/orphan.js';
import { makePipeline, type TestPipeline } from '../helpers/pipeline.js';
import { saidOnStderr } from '../helpers/stderr.js';
import { tempDir } from '../helpers/tmp.js';

const ORPHAN = '00000000-0000-4000-8000-0000000000bb';

describe('shutdown during a replay', () => {
  let p: TestPipeline | undefined;
  afterEach(async () => {
    await p?.dispose();
    p = undefined;
  });

  it('reports the earlier stream whose replay it stopped, on stderr and in ShutdownReport; the stream stays to replay', async () => {
    const t = await tempDir('otel-audit-replay-stop-');
    const lines = Array.from({ length: 10 }, (_, k) => Array.from({ length: 10 }, (_, i) => k * 10 + i + 1));
    await orphanStream(t.dir, ORPHAN, lines);
    p = await makePipeline({ maxExportBatchSize: 10, exportTimeoutMillis: 300 }, { auditDir: t.dir });
    p.collector.setFault({ mode: 'delay', delayMs: 1000 }); // before the replay's first request (a tick later)
    const { result: report, said } = await saidOnStderr(() => p!.processor.shutdownWithReport());
    expect(report.replayUnfinished).toEqual([ORPHAN]);
    expect(said).toContain(`shutdown stopped the replay of 1 earlier stream(s) before its end (${ORPHAN})`);
    const replayed = await p.processor.replayed();
    expect(replayed?.unfinished).toEqual([ORPHAN]);
    expect(readState(t.dir, ORPHAN)?.done).not.toBe(true); // the next start replays it
    await t.cleanup();
  });

  it('a replay that ran to its end is not reported as stopped', async () => {
    const t = await tempDir('otel-audit-replay-done-');
    await orphanStream(t.dir, ORPHAN, [[1, 2, 3], [4, 5]]);
    p = await makePipeline({ maxExportBatchSize: 10 }, { auditDir: t.dir });
    const replayed = await p.processor.replayed();
    expect(replayed?.unfinished).toEqual([]);
    expect(replayed?.records).toBe(5);
    const { result: report, said } = await saidOnStderr(() => p!.processor.shutdownWithReport());
    expect(report.replayUnfinished).toEqual([]);
    expect(said).not.toContain('stopped the replay');
    await t.cleanup();
  });
});
