/**
 * docs/integrity.md §7.4 step 3: a journal directory whose stream's state file says the producer closed the stream
 * at a seq the records held do not reach. The journal is written by the real processor; its tail is then cut.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyFiles } from '../../src/verify/index.js';
import { recordHash, recordIdOf, setAttr } from '../helpers/make-chain.js';
import { makePipeline, type TestPipeline } from '../helpers/pipeline.js';
import type { OtlpLogRecord, OtlpResourceLogs } from '../../src/otlp/types.js';

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

    // One record cut (the end record alone): `through` only when it differs from `seq` (docs/integrity.md §8.2).
    writeFileSync(path, lines.slice(0, 6).join('\n') + '\n');
    const one = await verifyFiles([p.auditDir]);
    expect(one.problems).toHaveLength(1);
    expect(one.problems[0]).toMatchObject({ kind: 'truncated', reason: 'state_file', seq: 7 });
    expect(one.problems[0]).not.toHaveProperty('through');

    // Listed after the stream's own problems (docs/integrity.md §7.5), not before them.
    const edited = lines[1]!.replace('"stringValue":"u1"', '"stringValue":"mallory"');
    expect(edited).not.toBe(lines[1]);
    writeFileSync(path, [lines[0], edited, ...lines.slice(2, 5)].join('\n') + '\n');
    expect((await verifyFiles([p.auditDir])).problems.map((x) => [x.kind, x.seq])).toEqual([
      ['modified', 2],
      ['truncated', 6],
    ]);
  });

  // Fixed bug, kept as a regression test: an end record made up after the cut (relinked; unsigned, or a checkpoint
  // claim that cannot be checked without the public key) made the stream "ended", and the state file went unread.
  it('is still named when a made-up end record follows the cut', async () => {
    p = await makePipeline({ fsync: 'always' });
    for (let i = 0; i < 6; i++) await p.audit.record({ action: 'READ', outcome: 'success', actor: { id: `u${i}`, type: 'user' } });
    await p.provider.shutdown(); // seq 1–7
    const [seg] = readdirSync(p.auditDir).filter((n) => n.endsWith('.jsonl'));
    const path = join(p.auditDir, seg!);
    const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l !== '');
    const recordOf = (line: string): OtlpLogRecord => (JSON.parse(line) as { resourceLogs: OtlpResourceLogs[] }).resourceLogs[0]!.scopeLogs![0]!.logRecords![0]!;
    const end = JSON.parse(lines[6]!) as { resourceLogs: OtlpResourceLogs[] };
    const forged = end.resourceLogs[0]!.scopeLogs![0]!.logRecords![0]!;
    setAttr(forged, 'audit.sequence.number', { intValue: '5' });
    setAttr(forged, 'audit.sequence.previous_hash', { stringValue: recordHash(recordOf(lines[3]!)) });
    setAttr(forged, 'audit.sequence.previous_record_id', { stringValue: recordIdOf(recordOf(lines[3]!)) });
    writeFileSync(path, [...lines.slice(0, 4), JSON.stringify(end)].join('\n') + '\n');
    const r = await verifyFiles([p.auditDir]);
    expect(r.streams[0]).toMatchObject({ last: 5, ended: true });
    expect(r.problems).toEqual([expect.objectContaining({ kind: 'truncated', severity: 'info', reason: 'state_file', seq: 6, through: 7 })]);
  });
});
