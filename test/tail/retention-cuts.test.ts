/**
 * RetentionView (src/audit-search/retention-cuts.ts), the cuts `tail --follow` reads from state/retention.log as it
 * grows: a cut read from the log counts only while the log still holds it. Whatever happens to the log between two
 * refreshes, what it says afterwards is what a view made fresh then would say.
 */
import { appendFileSync, mkdirSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RetentionView } from '../../src/audit-search/retention-cuts.js';
import { retentionFixture, testStreamId } from '../helpers/make-chain.js';
import { tempDir } from '../helpers/tmp.js';

describe('RetentionView: the log changed between two refreshes', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => ({ dir, cleanup } = await tempDir()));
  afterEach(async () => cleanup());

  const { streamId, h, cut, state } = retentionFixture(9, (k) => `audit-a-00000${k}.jsonl`);
  /** A cut of another stream, as long as ours or longer. */
  const other = (): string => JSON.stringify({ streamId: testStreamId(), file: 'audit-b-000001.jsonl', last: 5, lastHash: 'ab'.repeat(32), deletedAt: new Date().toISOString() }) + '\n';
  const log = (): string => join(dir, 'state', 'retention.log');

  it.each([
    { what: 'nothing', change: () => undefined, cut: true },
    { what: 'another stream’s cut appended', change: () => appendFileSync(log(), other()), cut: true },
    { what: 'truncated to nothing', change: () => truncateSync(log(), 0), cut: false },
    // Same inode, grown: the size alone does not tell (found when folding RetentionView's own check into FileFollower).
    { what: 'rewritten in place with other cuts, longer than before', change: () => writeFileSync(log(), other() + other() + other()), cut: false },
    { what: 'rewritten in place with the same cuts', change: () => writeFileSync(log(), cut(3, h(3)) + cut(6, h(6))), cut: true },
    {
      what: 'replaced by rename with other cuts',
      change: () => {
        writeFileSync(`${log()}.new`, other());
        renameSync(`${log()}.new`, log());
      },
      cut: false,
    },
    { what: 'removed', change: () => rmSync(log()), cut: false },
    {
      what: 'removed, then written again with the same cuts',
      change: () => {
        rmSync(log());
        writeFileSync(log(), cut(3, h(3)) + cut(6, h(6)));
      },
      cut: true,
    },
    { what: 'its cut of seq 6 cut off', change: () => truncateSync(log(), Buffer.byteLength(cut(3, h(3)))), cut: false },
  ])('$what: the cut of seq 4-6 counts: $cut', async ({ change, cut: counts }) => {
    mkdirSync(join(dir, 'state'));
    writeFileSync(join(dir, 'state', `${streamId}.state`), state(6));
    writeFileSync(log(), cut(3, h(3)) + cut(6, h(6)));
    const view = new RetentionView(dir);
    try {
      await view.refresh();
      expect(view.isCut(streamId, 6, h(6))).toBe(true);
      change();
      await view.refresh();
      expect(view.isCut(streamId, 6, h(6))).toBe(counts);
      // What a view made now says: the same, of both cuts.
      const fresh = new RetentionView(dir);
      await fresh.refresh();
      await fresh.close();
      expect([3, 6].map((s) => view.isCut(streamId, s, h(s)))).toEqual([3, 6].map((s) => fresh.isCut(streamId, s, h(s))));
    } finally {
      await view.close();
    }
  });

  it('a torn last line cut back and written whole: the cuts before it still count, the new one too', async () => {
    mkdirSync(join(dir, 'state'));
    writeFileSync(join(dir, 'state', `${streamId}.state`), state(6));
    writeFileSync(log(), cut(3, h(3)));
    const view = new RetentionView(dir);
    try {
      await view.refresh();
      const whole = cut(6, h(6));
      appendFileSync(log(), whole.slice(0, 20)); // a writer mid-line
      await view.refresh();
      truncateSync(log(), Buffer.byteLength(cut(3, h(3))));
      appendFileSync(log(), whole);
      await view.refresh();
      expect(view.isCut(streamId, 3, h(3))).toBe(true);
      expect(view.isCut(streamId, 6, h(6))).toBe(true);
    } finally {
      await view.close();
    }
  });
});
