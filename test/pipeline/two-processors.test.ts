/**
 * Two AuditLogRecordProcessors on one LoggerProvider (two journals, two collectors): the second sees the first one's
 * live stamps (stream id, sequence number) on the record. Found by review: it took them for names a caller forged,
 * moved them under audit.caller.* and marked every record invalid.
 */
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { getAuditLogger } from '../../src/api/audit-logger.js';
import { stringAttribute } from '../../src/otlp/decode.js';
import { AuditLogRecordProcessor } from '../../src/processor.js';
import { verifyFiles } from '../../src/verify/index.js';
import { FAST, loginEvent } from '../helpers/pipeline.js';
import { journalRecords } from '../helpers/records.js';
import { tempDir } from '../helpers/tmp.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

it('each journals every record clean, with its own stamps; both journals verify', async () => {
  const { dir, cleanup } = await tempDir();
  cleanups.push(cleanup);
  const make = (name: string): AuditLogRecordProcessor =>
    new AuditLogRecordProcessor({ dir: join(dir, name), ...FAST, exporter: { url: 'http://127.0.0.1:9/v1/logs' }, replay: false, exportTimeoutMillis: 200 });
  const a = make('a');
  const b = make('b');
  const provider = new LoggerProvider({ processors: [a, b] });
  cleanups.push(() => provider.shutdown());
  await getAuditLogger({ processor: b, loggerProvider: provider }).record(loginEvent(1));
  provider.getLogger('audit').emit({ eventName: 'raw', attributes: { 'audit.action': 'RAW', 'audit.outcome': 'success', 'audit.actor.id': 'x', 'audit.actor.type': 'user' } });
  await provider.shutdown();
  for (const [p, name] of [[a, 'a'], [b, 'b']] as const) {
    expect(p.stats().invalid).toBe(0);
    const records = journalRecords(join(dir, name));
    expect(records.length).toBe(3); // two records and the end marker
    for (const r of records) {
      expect(stringAttribute(r, 'audit.validation.error')).toBeUndefined();
      expect(r.attributes?.some((kv) => kv.key.startsWith('audit.caller.'))).toBe(false);
      expect(stringAttribute(r, 'audit.sequence.stream_id')).toBe(p.streamId);
    }
    expect((await verifyFiles([join(dir, name)])).ok).toBe(true);
  }
});
