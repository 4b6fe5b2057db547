/**
 * A segment of a live journal directory that retention deletes after verify (or search, or tail) listed the
 * directory and before it opens the file. Fixed bug, kept as a regression test: the run ended as an I/O error
 * (exit 2), about half the time on a busy directory. The file is skipped and said; its records, acknowledged,
 * are accounted for by the retention.log line written before the deletion.
 */
import { symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readAuditRecords } from '../../src/audit-search/read-files.js';
import { newReadCounts } from '../../src/audit-search/parse-line.js';
import { verifyFiles, VerifyInputError } from '../../src/verify/index.js';
import { makeChain, testStreamId, toLines } from '../helpers/make-chain.js';
import { tempDir } from '../helpers/tmp.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await tempDir()));
afterEach(async () => cleanup());

describe('a file deleted between the listing of its directory and its opening', () => {
  // The listing tells the skip listener about the link (never followed) before any file is opened: the moment
  // to delete the segment, as retention would.
  // (--jobs 2, whose reader opens the files itself: test/verify/jobs.test.ts, with the built worker.)
  it('verify skips it and says so; the other files are verified', async () => {
    const streamId = testStreamId();
    const lines = toLines(makeChain(6, { streamId }));
    writeFileSync(join(dir, 'audit-a-000001.jsonl'), lines.slice(0, 3).join('\n') + '\n');
    writeFileSync(join(dir, 'audit-a-000002.jsonl'), lines.slice(3).join('\n') + '\n');
    symlinkSync('/etc/hostname', join(dir, 'audit-link.jsonl'));
    const skipped: [string, string][] = [];
    const r = await verifyFiles([dir], {
      jobs: 1,
      onSkip: (path, why) => {
        skipped.push([path, why]);
        if (path.endsWith('audit-link.jsonl')) unlinkSync(join(dir, 'audit-a-000001.jsonl'));
      },
    });
    expect(skipped).toContainEqual([join(dir, 'audit-a-000001.jsonl'), expect.stringMatching(/^deleted after it was listed/)]);
    expect(r.records).toBe(3);
  });

  it('a file the caller named that does not exist is still an input error', async () => {
    await expect(verifyFiles([join(dir, 'gone.jsonl')])).rejects.toThrow(VerifyInputError);
  });

  it('search\'s reader skips a vanished file found in a directory, not one the caller named', async () => {
    const counts = newReadCounts();
    const read = async (follow: boolean): Promise<number> => {
      let n = 0;
      for await (const b of readAuditRecords([{ path: join(dir, 'gone.jsonl'), follow }], counts)) n += b.length;
      return n;
    };
    await expect(read(false)).resolves.toBe(0);
    await expect(read(true)).rejects.toThrow(/gone\.jsonl/);
  });
});
