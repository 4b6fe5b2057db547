/**
 * Found by a review of processes sharing a directory: (1) process.exit() right after the collector acknowledged every
 * record left the state file saying none was (it is saved up to a second later), so the next start re-sent all of
 * them; (2) an app awaiting processor.replayed() after a shutdown that stopped the replay (a collector that never
 * answers) exited 13 with an unsettled top-level await. Real child processes, a real loopback collector (and a
 * loopback server that accepts and never answers), real files.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { killAll, runNode } from '../helpers/child.js';
import { collectorDir } from '../helpers/pipeline.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await killAll();
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

const fixture = (name: string): string => join(import.meta.dirname, '../fixtures', name);

describe('exit paths and the replay', () => {
  it.each([
    ['right after every record was acknowledged', '0'],
    // Found in review of the first fix: the background save sets the position it writes before its write lands.
    ['while the background state save is in flight', '1'],
  ])('process.exit() %s: the state says so, and the next start replays nothing', async (_when, inSave) => {
    const { auditDir, collector } = await collectorDir(cleanups);
    const env = { OTEL_AUDIT_DIR: auditDir, OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: collector.endpoint, RECORDS: '30', EXIT_IN_SAVE: inSave };
    const first = runNode([fixture('exit-after-acked.mjs')], env);
    expect((await first.exited).code).toBe(0);
    const acked = first.lines.find((l) => l.event === 'acked')!;
    expect(acked.acked).toBe(30);
    const state = JSON.parse(readFileSync(join(auditDir, 'state', `${String(acked.streamId)}.state`), 'utf8')) as { acked: number };
    expect(state.acked).toBe(30);
    const before = collector.stats().records;
    const second = runNode([fixture('exit-after-acked.mjs')], { ...env, RECORDS: '1', EXIT_IN_SAVE: '0' });
    expect((await second.exited).code).toBe(0);
    expect(collector.stats().records - before).toBe(1); // its own record only: nothing of the first stream again
  });

  it('replayed() awaited after a shutdown that stopped the replay settles, with the stream unfinished', async () => {
    const sockets = new Set<Socket>();
    let replayOf: string | undefined; // the stream whose replay the second process is to have sent
    let go = '';
    // Accepts, reads, never answers. A request begun once the second process runs that carries the first stream is
    // its replay: the second process is then told to go on to its shutdown.
    const hung: Server = createServer((req) => {
      const stream = replayOf;
      if (stream === undefined) return;
      let body = '';
      req.on('data', (chunk: Buffer) => {
        body += chunk.toString('utf8');
        if (body.includes(stream)) writeFileSync(go, '');
      });
    });
    hung.on('connection', (s) => (sockets.add(s), s.on('close', () => sockets.delete(s))));
    await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
    cleanups.push(async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => hung.close(r));
    });
    const { dir, auditDir } = await collectorDir(cleanups);
    go = join(dir, 'go');
    const port = (hung.address() as { port: number }).port;
    const env = {
      OTEL_AUDIT_DIR: auditDir,
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: `http://127.0.0.1:${port}/v1/logs`,
      OTEL_EXPORTER_OTLP_TIMEOUT: '30000',
      OTEL_BLRP_EXPORT_TIMEOUT: '300',
    };
    const one = runNode([fixture('replayed-after-shutdown.mjs')], { ...env, PHASE: 'first' });
    expect((await one.exited).code).toBe(0);
    const first = one.lines.find((l) => l.event === 'first')!;
    replayOf = String(first.streamId);
    const two = runNode([fixture('replayed-after-shutdown.mjs')], { ...env, PHASE: 'second', GO_FILE: go });
    expect((await two.exited).code).toBe(0);
    const second = two.lines.find((l) => l.event === 'second')!;
    expect(first.undelivered).toBe(4);
    expect(second.replayed).toMatchObject({ streams: [first.streamId], unfinished: [first.streamId] });
  });
});
