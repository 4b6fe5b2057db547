/**
 * An export still in flight when shutdown's deadline passed may be acknowledged later, while the process runs on
 * (a server draining). close() wrote the stream's final state, and another process may have replayed the stream and
 * marked it done since: the late acknowledgement must not write that state again. Found in review: it rewrote
 * `done: false` and a lower `acked`, so the replayer's retention cuts read as deletions in verify, and the next start
 * replayed the stream once more. A real HTTP receiver on loopback holds the first request until the test lets it go.
 */
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditLogRecordProcessor } from '../../src/processor.js';
import { statePath } from '../../src/sinks/files.js';
import { enforceRetention } from '../../src/sinks/retention.js';
import type { LossEvent } from '../../src/deliver/loss.js';
import { startDelivery } from '../helpers/delivery.js';
import { capturingSender } from '../helpers/orphan.js';
import { sealedInStream } from '../helpers/sealed.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

describe('an acknowledgement that arrives after shutdown', () => {
  it('does not write the stream state again: close() wrote it for the last time', async () => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const held: ServerResponse[] = [];
    let answered = (): void => undefined;
    const answeredLate = new Promise<void>((r) => (answered = r));
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      req.on('end', () => {
        if (held.length === 0) held.push(res); // the first request waits for the test
        else res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => server.close(r)));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/logs`;

    const processor = new AuditLogRecordProcessor({ dir, replay: false, exportTimeoutMillis: 300, exporter: { url, timeoutMillis: 20_000 } });
    const provider = new LoggerProvider({ processors: [processor] });
    const logger = provider.getLogger('audit');
    for (let i = 0; i < 5; i++) logger.emit({ attributes: { 'audit.actor.id': `u${i}`, 'audit.actor.type': 'user', 'audit.action': 'READ', 'audit.outcome': 'success' } });
    await processor.forceFlush().catch(() => undefined); // the request is held: flush times out
    // Held by the receiver: on a loaded machine it may not have reached it within the flush's 300 ms.
    await until(() => held.length === 1, 'the first request to reach the receiver');
    expect(held).toHaveLength(1);
    await provider.shutdown();
    const path = statePath(dir, processor.streamId);
    const final = readFileSync(path, 'utf8');
    expect(JSON.parse(final)).toMatchObject({ acked: 0, ended: true, done: false });

    // Another process replays the stream, delivers it and marks it done (what Replayer writes).
    const replayed = JSON.stringify({ ...JSON.parse(final), acked: 6, done: true, replayedBy: 'other-host:1' });
    writeFileSync(path, replayed);

    held[0]!.writeHead(200, { 'content-type': 'application/json' }).end('{}', () => answered());
    await answeredLate;
    // The state would be written within STATE_SAVE_DELAY_MS (1 s) of the acknowledgement: wait past it.
    await new Promise((r) => setTimeout(r, 2_500));
    expect(readFileSync(path, 'utf8')).toBe(replayed);
  });

  // Found in review of the fix: saveState() refused after close, so a replay's retention pass after close() kept this
  // stream's acknowledged segments, with a warning that the state backing the cut could not be written.
  it('after close, the final state still backs a retention cut up to what it records acknowledged', async () => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const stream = '00000000-0000-4000-8000-00000000abcd';
    const losses: LossEvent[] = [];
    const d = startDelivery(dir, stream, capturingSender().sender, losses, { maxFileBytes: 600, maxQueueSize: 2, maxExportBatchSize: 2 });
    for (let s = 1; s <= 30; s++) d.accept(sealedInStream(s, stream));
    await d.flush(5000);
    await d.close(2000);
    const segments = d.journalSegments();
    expect(segments.length).toBeGreaterThan(5);
    expect(d.saveState()).toBeUndefined();
    enforceRetention(dir, 1, { streamId: stream, acked: d.ackedSeq, segments, saveAcked: () => d.saveState() === undefined, forget: () => undefined });
    expect(readdirSync(dir).filter((n) => n.endsWith('.jsonl'))).toHaveLength(1);
    expect(losses).toEqual([]);
  });
});
