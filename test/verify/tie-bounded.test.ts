/**
 * Many different records claiming one seq, tied (nothing tells them apart): each is reported, and each message
 * names at most a few of the tied places. Every message listed all of them: for 1.4 MB of such input, 588 MB of
 * report and 1.2 GB of memory; 8 MB ran out of heap.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { verifyFiles } from '../../src/verify/index.js';
import { tempDir } from '../helpers/tmp.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await tempDir('rev-tie-')));
afterAll(async () => cleanup());

/** n one-record lines, all stream "s" seq 1 (a valid first record each), with different record ids. */
function tieLines(n: number): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const rec = {
      observedTimeUnixNano: '1700000000000000000',
      attributes: [
        { key: 'audit.record.id', value: { stringValue: `r-${i}` } },
        { key: 'audit.sequence.stream_id', value: { stringValue: 's' } },
        { key: 'audit.sequence.number', value: { intValue: '1' } },
      ],
    };
    lines.push(JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [rec] }] }] }));
  }
  return lines.join('\n') + '\n';
}

it('a tie among n versions of one seq: each problem message stays bounded (not O(n) locations)', async () => {
  const file = join(dir, 'tie.jsonl');
  await writeFile(file, tieLines(1500)); // ~130 KB of input
  const r = await verifyFiles([file]);
  expect(r.ok).toBe(false);
  expect(r.problems.filter((p) => p.kind === 'inserted')).toHaveLength(1499);
  expect(r.problems.find((p) => p.kind === 'inserted')!.message).toMatch(/and 1497 more/);
  const longest = Math.max(...r.problems.map((p) => p.message.length));
  const total = r.problems.reduce((n, p) => n + p.message.length, 0);
  // Before: longest ≈ 1500 × ~40 chars ≈ 60 KB, total ≈ 90 MB for 130 KB of input.
  expect(longest).toBeLessThan(4096);
  expect(total).toBeLessThan(20 * 1024 * 1024);
}, 120_000);
