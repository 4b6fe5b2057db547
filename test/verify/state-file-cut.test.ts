/**
 * docs/integrity.md §7.4 step 3: a journal directory whose stream's state file says the producer closed the stream
 * at a seq the records held do not reach. The journal is written by the real processor; its tail is then cut.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyFiles } from '../../src/verify/index.js';
import { makePipeline, type TestPipeline } from '../helpers/pipeline.js';

let p: TestPipeline | undefined;
afterEach(async () => {
  await p?.dispose();
  p = undefined;
});

describe('verify: a tail cut from a journal whose state file says more', () => {
  it('is named truncated (info, reason state_file) with the missing range; an intact journal is not', async () => {
    p = await makePipeline({ fsync: 'always' }); // one line per record
    for (let i = 0; i < 6; i++) await p.audit.record({ action: 'READ', outcome: 'success', actor: { id: `u${i}`, type: 'user' } });
    await p.provider.shutdown(); // 6 records and the end record: seq 1–7
    const intact = await verifyFiles([p.auditDir]);
    expect(intact.ok).toBe(true);
    expect(intact.problems.filter((x) => x.reason === 'state_file')).toEqual([]);

    const [seg] = readdirSync(p.auditDir).filter((n) => n.endsWith('.jsonl'));
    const path = join(p.auditDir, seg!);
    const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(7);
    writeFileSync(path, lines.slice(0, 5).join('\n') + '\n'); // seq 6 and the end record cut
    const cut = await verifyFiles([p.auditDir]);
    expect(cut.ok).toBe(true); // info: the state file is not authenticated
    expect(cut.problems).toEqual([
      expect.objectContaining({ kind: 'truncated', severity: 'info', reason: 'state_file', seq: 6, through: 7, stream: p.processor.streamId }),
    ]);
    expect(cut.problems[0]!.file).toMatch(/state\/.*\.state$/);
  });
});
