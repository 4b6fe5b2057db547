/**
 * The dev collector appends each accepted request as one line. A write that fails part-way (ENOSPC, on a 256 KiB
 * tmpfs) is cut back to the last whole line and the request answered 500. The fragment used to stay, and the next
 * request, acknowledged with 200, was appended to it on the same line: unreadable in the collector's output.
 */
import { readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { startCollector } from '../../src/collector/index.js';
import { canMount, mountTmpfs, unmountAll } from './_lib.js';

const mnt = join(tmpdir(), `otel-audit-collector-full-${process.pid}`);
afterAll(() => {
  unmountAll();
  rmSync(mnt, { recursive: true, force: true });
});

const request = (tag: string, pad: number): string =>
  JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ eventName: tag, body: { stringValue: 'x'.repeat(pad) } }] }] }] });

it.skipIf(!canMount)('a write that fails part-way leaves no fragment for the next acknowledged request to join', async () => {
  mountTmpfs(mnt, '256k');
  const out = join(mnt, 'out.jsonl');
  const filler = join(mnt, 'filler');
  const c = await startCollector({ port: 0, outFile: out });
  try {
    writeFileSync(filler, Buffer.alloc(200 * 1024)); // leaves ~56 KiB
    const post = (body: string): Promise<Response> => fetch(c.endpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect((await post(request('first', 100 * 1024))).status).toBe(500); // ENOSPC part-way
    rmSync(filler);
    expect((await post(request('second', 10))).status).toBe(200);
    await c.close();
    const lines = readFileSync(out, 'utf8').split('\n').filter((l) => l !== '');
    expect(lines.map((l) => (JSON.parse(l) as { resourceLogs: { scopeLogs: { logRecords: { eventName: string }[] }[] }[] }).resourceLogs[0]!.scopeLogs[0]!.logRecords[0]!.eventName)).toEqual(['second']);
  } finally {
    await c.close();
    if (existsSync(filler)) rmSync(filler);
  }
});
