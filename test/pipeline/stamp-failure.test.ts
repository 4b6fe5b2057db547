/**
 * onEmit reserves a sequence number before stamping the live record and taking its snapshot. When either threw
 * (a processor before this one locked the record's attributes, so the SDK's setAttribute throws in strict mode; or
 * gave them a getter that throws), the reserved number was never queued: every later record then failed at sealing
 * ("record N reached sealing when M was next") and the whole stream was lost. Now a locked record is sealed with
 * every stamp (only the live record lacks them), and a record that cannot be copied takes its place as an
 * unsealable mark, reported lost.
 */
import { LoggerProvider, type LogRecordProcessor, type ReadWriteLogRecord } from '@opentelemetry/sdk-logs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { getAuditLogger } from '../../src/api/audit-logger.js';
import { startCollector, type CollectorHandle } from '../../src/collector/index.js';
import { AuditLogRecordProcessor } from '../../src/processor.js';
import { FAST, loginEvent } from '../helpers/pipeline.js';
import { recordsOfFile } from '../helpers/records.js';
import { tempDir } from '../helpers/tmp.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

it.each(['freeze', 'trap'] as const)('%s: one record whose stamping or copy throws does not take every later record down with it', async (how) => {
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  const out = join(dir, 'collector.jsonl');
  const collector: CollectorHandle = await startCollector({ port: 0, outFile: out });
  cleanups.push(() => collector.close());
  let lockNext: 'freeze' | 'trap' | undefined;
  // A processor before the audit one that locks the attributes of one record (e.g. so nothing after it edits them).
  const locker: LogRecordProcessor = {
    onEmit(r: ReadWriteLogRecord) {
      if (lockNext === 'freeze') Object.preventExtensions(r.attributes);
      if (lockNext === 'trap')
        Object.defineProperty(r.attributes, 'trap', {
          enumerable: true,
          get: () => {
            throw new Error('trap');
          },
        });
      lockNext = undefined;
    },
    forceFlush: async () => undefined,
    shutdown: async () => undefined,
  };
  const losses: unknown[] = [];
  const processor = new AuditLogRecordProcessor({ dir: join(dir, 'audit'), ...FAST, onLoss: (e) => void losses.push(e), exporter: { url: collector.endpoint } });
  const provider = new LoggerProvider({ processors: [locker, processor] });
  cleanups.push(() => provider.shutdown());
  const audit = getAuditLogger({ processor, loggerProvider: provider });

  await audit.record(loginEvent(1));
  lockNext = how;
  const second = await audit.record(loginEvent(2)).then(
    () => 'fulfilled',
    () => 'rejected',
  );
  const later = await Promise.allSettled([audit.record(loginEvent(3)), audit.record(loginEvent(4))]);
  await provider.shutdown();

  // The records after it must not be lost.
  expect(later.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
  const actors = recordsOfFile(out).map((r) => r.attributes?.find((a) => a.key === 'audit.actor.id')?.value?.stringValue);
  expect(actors).toContain('user-3');
  expect(actors).toContain('user-4');
  // Locked: sealed and shipped with its stamps. Not copyable: reported lost, its place an unsealable mark.
  expect(second).toBe(how === 'freeze' ? 'fulfilled' : 'rejected');
  expect(actors.includes('user-2')).toBe(how === 'freeze');
  expect(losses.length).toBe(how === 'freeze' ? 0 : 1);
});
