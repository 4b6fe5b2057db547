/**
 * Shared helpers of the fault tests (test/faults): a pipeline whose collector logs each request with a timestamp
 * and stderr capture; the accounting of what reached the collector, child processes run through any command
 * (e.g. `setpriv`) and mounts that are always undone come from test/faults/scenarios/, which `npm run faults`
 * shares.
 */
import { vi } from 'vitest';
import type { AuditProcessorOptions } from '../../src/config/options.js';
import { makePipeline, type TestPipeline } from '../helpers/pipeline.js';

/**
 * Collects what is written to stderr (the processor reports there), for assertions; undone by
 * vi.restoreAllMocks(). Chunks matching `swallow` are expected noise and kept off the terminal (all of them by
 * default; `null`: none).
 */
export function captureStderr(swallow: RegExp | null = /^/): string[] {
  const lines: string[] = [];
  const write = process.stderr.write.bind(process.stderr) as (c: string | Uint8Array, ...r: unknown[]) => boolean;
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
    lines.push(String(chunk));
    return swallow !== null && swallow.test(String(chunk)) ? true : write(chunk, ...rest);
  });
  return lines;
}

// ---- accounting and the real components, shared with `npm run faults` (test/faults/scenarios/) -------

export * from './scenarios/accounting.js';
export {
  bindReadOnly,
  canDropDacOverride,
  canMount,
  emitter,
  EMITTER,
  killAll as killSpawned,
  mountTmpfs,
  NO_DAC_OVERRIDE,
  sleep,
  spawnJson,
  unmount,
  unmountAll,
  type Proc,
} from './scenarios/system.js';

// ---- an in-process pipeline whose collector logs every request ------------------------------------

export interface FaultPipeline extends TestPipeline {
  /** Collector diagnostic lines with the time they were logged (fault applications, restarts). */
  log: { t: number; line: string }[];
}

export async function faultPipeline(options: AuditProcessorOptions = {}, auditDir?: string): Promise<FaultPipeline> {
  const log: { t: number; line: string }[] = [];
  const t = await makePipeline(options, {
    ...(auditDir !== undefined ? { auditDir } : {}),
    collectorLog: (line) => log.push({ t: performance.now(), line }),
    defaultTimeoutMillis: 500,
  });
  return Object.assign(t, { log });
}
