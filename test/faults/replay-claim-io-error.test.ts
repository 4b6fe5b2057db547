/**
 * A full or read-only journal directory is not a reason to refuse start-up (README "Disk errors"): live records go
 * to the collector from memory. With an orphaned stream in it, the replay claim is the first write, and its
 * errno used to escape the processor's constructor: the application could not start, exactly when a restart after
 * a disk-full crash leaves an orphan. The disk is real; only the claim file's creation fails, as EROFS makes it.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loginEvent, makePipeline, type TestPipeline } from '../helpers/pipeline.js';
import { orphanStream } from '../helpers/orphan.js';
import { saidOnStderr } from '../helpers/stderr.js';
import { tempDir } from '../helpers/tmp.js';

const fault = { code: undefined as string | undefined };
vi.mock('node:fs', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs')>();
  const openSync = ((path: import('node:fs').PathLike, ...rest: unknown[]): number => {
    // The journal's claim only (under state/): the test collector takes a lock of the same shape for its --out.
    if (fault.code !== undefined && /\/state\/[^/]+\.lock\.\d+\.[0-9a-f]+\.tmp$/.test(String(path))) {
      throw Object.assign(new Error(`${fault.code}: simulated, open '${String(path)}'`), { code: fault.code });
    }
    return (actual.openSync as (...a: unknown[]) => number)(path, ...rest);
  }) as typeof actual.openSync;
  return { ...actual, default: { ...actual, openSync }, openSync };
});

const ORPHAN = '00000000-0000-4000-8000-0000000000aa';

describe('an orphaned stream whose replay claim cannot be written', () => {
  let p: TestPipeline | undefined;
  afterEach(async () => {
    fault.code = undefined;
    await p?.dispose();
    p = undefined;
  });

  it.each(['EROFS', 'ENOSPC'])('%s: start-up succeeds, the replay is skipped and said, live records are delivered', async (code) => {
    const t = await tempDir('otel-audit-claim-');
    await orphanStream(t.dir, ORPHAN, [[1, 2, 3]]);
    fault.code = code;
    const { result, said } = await saidOnStderr(() => makePipeline({}, { auditDir: t.dir }));
    p = result;
    expect(said).toMatch(new RegExp(`replay of stream ${ORPHAN} from .* skipped: its claim could not be written \\(${code}`));
    fault.code = undefined;
    // Durable wherever it got first: the journal's fsync or the collector's acknowledgement may win.
    const receipt = await p.audit.record(loginEvent(1));
    expect(['journal', 'collector']).toContain(receipt.durability);
    await p.processor.forceFlush();
    expect(p.processor.stats().acked).toBeGreaterThanOrEqual(1);
    await t.cleanup();
  });
});
