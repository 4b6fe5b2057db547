/** A real pipeline for tests: a loopback collector, a processor journaling to a temp dir, a LoggerProvider. */
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { join } from 'node:path';
import { getAuditLogger, type AuditLogger } from '../../src/api/audit-logger.js';
import type { CollectorHandle } from '../../src/collector/index.js';
import type { AuditProcessorOptions } from '../../src/config/options.js';
import { AuditLogRecordProcessor } from '../../src/processor.js';
import { startTestCollector } from './ports.js';
import { tempDir } from './tmp.js';

export interface TestPipeline {
  dir: string;
  auditDir: string;
  collectorFile: string;
  collector: CollectorHandle;
  processor: AuditLogRecordProcessor;
  provider: LoggerProvider;
  audit: AuditLogger;
  /** Shuts the provider down (if not yet), closes the collector, removes the temp dir. */
  dispose(): Promise<void>;
}

/** Fast retries so outage tests finish quickly; everything else as in production. */
export const FAST: AuditProcessorOptions = { retryMinMillis: 50, retryMaxMillis: 250, exportTimeoutMillis: 10_000 };

export interface PipelineExtras {
  /** Journal directory (default: `audit/` in the pipeline's temp dir). */
  auditDir?: string;
  /** Receives the collector's diagnostic lines (fault applications, restarts). */
  collectorLog?: (line: string) => void;
  /** Export timeout when the options name none (default 2000 ms). */
  defaultTimeoutMillis?: number;
}

export async function makePipeline(options: AuditProcessorOptions = {}, extras: PipelineExtras = {}): Promise<TestPipeline> {
  const { dir, cleanup } = await tempDir();
  const collectorFile = join(dir, 'collector', 'logs.jsonl');
  const collector = await startTestCollector({ outFile: collectorFile, ...(extras.collectorLog ? { log: extras.collectorLog } : {}) });
  const auditDir = extras.auditDir ?? join(dir, 'audit');
  const processor = new AuditLogRecordProcessor({
    dir: auditDir,
    ...FAST,
    ...options,
    exporter: { url: collector.endpoint, timeoutMillis: extras.defaultTimeoutMillis ?? 2000, ...options.exporter },
  });
  const provider = new LoggerProvider({ processors: [processor] });
  const audit = getAuditLogger({ processor, loggerProvider: provider });
  let disposed = false;
  return {
    dir,
    auditDir,
    collectorFile,
    collector,
    processor,
    provider,
    audit,
    async dispose() {
      if (disposed) return;
      disposed = true;
      // A test may leave the collector stopped or faulty: heal it so shutdown can deliver and end quickly.
      collector.setFault({ mode: 'ok' });
      await collector.start().catch(() => undefined);
      await provider.shutdown().catch(() => undefined);
      await collector.close().catch(() => undefined);
      await cleanup();
    },
  };
}

export const loginEvent = (i: number) => ({
  action: 'LOGIN',
  outcome: 'success' as const,
  actor: { id: `user-${i}`, type: 'user' as const },
  source: { address: '192.0.2.1' },
  details: { attempt: i },
});

export interface CollectorDir {
  dir: string;
  auditDir: string;
  collectorFile: string;
  collector: CollectorHandle;
}

/**
 * A temp dir with a loopback collector writing into it, for tests that run the package in child processes.
 * Registers its cleanups on `cleanups` (run them in afterEach).
 */
export async function collectorDir(cleanups: (() => Promise<unknown>)[]): Promise<CollectorDir> {
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  const collectorFile = join(dir, 'collector', 'logs.jsonl');
  const collector = await startTestCollector({ outFile: collectorFile });
  cleanups.push(() => collector.close());
  return { dir, auditDir: join(dir, 'audit'), collectorFile, collector };
}
