import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { getAuditLogger } from '../../src/api/audit-logger.js';
import { canonicalFromOtlp } from '../../src/chain/canonical.js';
import { hashCanonical } from '../../src/chain/hash.js';
import { startCollector, type CollectorHandle } from '../../src/collector/index.js';
import { AuditLogRecordProcessor } from '../../src/processor.js';
import { idOf, journalRecords, recordsOfFile, seqOf } from '../helpers/records.js';
import { tempDir } from '../helpers/tmp.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('smoke', () => {
  it('typed events reach collector and journal, chained', async () => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const col: CollectorHandle = await startCollector({ port: 0, outFile: join(dir, 'collector', 'logs.jsonl') });
    cleanups.push(() => col.close());
    const processor = new AuditLogRecordProcessor({ dir: join(dir, 'audit'), exporter: { url: col.endpoint } });
    const provider = new LoggerProvider({ processors: [processor] });
    const audit = getAuditLogger({ processor, loggerProvider: provider });
    const receipts = [];
    for (let i = 0; i < 100; i++) {
      receipts.push(audit.record({ action: 'LOGIN', outcome: 'success', actor: { id: `u${i}`, type: 'user' }, source: { address: '10.0.0.1' } }));
    }
    const r = await Promise.all(receipts);
    expect(r.map((x) => x.sequence)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    await provider.shutdown();
    const got = recordsOfFile(join(dir, 'collector', 'logs.jsonl'));
    expect(got.length).toBe(101);
    const local = journalRecords(join(dir, 'audit'));
    expect(local.length).toBe(101);
    for (let i = 1; i < got.length; i++) {
      const prev = got[i - 1]!;
      const cur = got[i]!;
      expect(seqOf(cur)).toBe(i + 1);
      const ph = cur.attributes!.find((a) => a.key === 'audit.sequence.previous_hash')!.value!.stringValue;
      expect(ph).toBe(hashCanonical(canonicalFromOtlp(prev)));
      expect(cur.attributes!.find((a) => a.key === 'audit.sequence.previous_record_id')!.value!.stringValue).toBe(idOf(prev));
    }
    expect(r[5]!.hash).toBe(hashCanonical(canonicalFromOtlp(local[5]!)));
  });
});
