/**
 * A batch the collector refuses for good is bisected: only the record it refuses is set aside in rejected/,
 * its 999 neighbours are delivered — live and on replay. The receiver is a real HTTP server on loopback that
 * answers 400 to any request holding the poisoned record, as a collector would to a record it cannot take.
 */
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { appendFileSync, mkdirSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditLogRecordProcessor } from '../../src/processor.js';
import { stringAttribute } from '../../src/otlp/decode.js';
import { verifyFiles } from '../../src/verify/index.js';
import { recordsOfFile, seqOf } from '../helpers/records.js';
import { tempDir } from '../helpers/tmp.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

const POISON = 'poison-pill';

/** Accepts OTLP/JSON, writing each accepted request as a line; 400 for any request holding POISON. */
async function poisonReceiver(outFile: string): Promise<{ url: string; refused: number }> {
  mkdirSync(dirname(outFile), { recursive: true });
  const stats = { url: '', refused: 0 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      if (body.includes(POISON)) {
        stats.refused++;
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"code":3,"message":"record refused"}');
        return;
      }
      appendFileSync(outFile, JSON.stringify(JSON.parse(body)) + '\n');
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => server.close(r)));
  stats.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/logs`;
  return stats;
}

const FAST = { retryMinMillis: 20, retryMaxMillis: 100, exportTimeoutMillis: 10_000 };

function emit1000(provider: LoggerProvider): void {
  const logger = provider.getLogger('audit');
  for (let i = 0; i < 1000; i++) {
    logger.emit({
      eventName: 'file.read',
      attributes: { 'audit.action': 'READ', 'audit.outcome': 'success', 'audit.actor.id': 'svc', 'audit.actor.type': 'service', note: i === 637 ? POISON : `ok-${i}` },
    });
  }
}

describe('a batch refused for good is bisected', () => {
  it('live: the one refused record is set aside, its 999 neighbours (and the end marker) delivered, in order', async () => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const out = join(dir, 'receiver', 'logs.jsonl');
    const rx = await poisonReceiver(out);
    const auditDir = join(dir, 'audit');
    const processor = new AuditLogRecordProcessor({ dir: auditDir, ...FAST, maxExportBatchSize: 1000, exporter: { url: rx.url } });
    const provider = new LoggerProvider({ processors: [processor] });
    emit1000(provider);
    await processor.forceFlush();
    await provider.shutdown();
    expect(processor.stats()).toMatchObject({ rejected: 1, dropped: 0 });
    const delivered = recordsOfFile(out);
    expect(delivered.map(seqOf)).toEqual([...Array.from({ length: 637 }, (_, i) => i + 1), ...Array.from({ length: 362 }, (_, i) => i + 639), 1001]);
    const rejected = readdirSync(join(auditDir, 'rejected')).map((n) => join(auditDir, 'rejected', n));
    expect(rejected).toHaveLength(1);
    const aside = recordsOfFile(rejected[0]!);
    expect(aside.map((r) => [seqOf(r), stringAttribute(r, 'note')])).toEqual([[638, POISON]]);
    // The receiver's copy and rejected/ together are the whole chain.
    expect((await verifyFiles([out, ...rejected])).ok).toBe(true);
  });

  it('replay: a batch left in the journal and refused on replay sets aside only the refused record', async () => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const auditDir = join(dir, 'audit');
    // First process: collector unreachable, everything stays in the journal.
    const first = new AuditLogRecordProcessor({ dir: auditDir, ...FAST, exportTimeoutMillis: 300, replay: false, exporter: { url: 'http://127.0.0.1:9/v1/logs', timeoutMillis: 200 } });
    const p1 = new LoggerProvider({ processors: [first] });
    emit1000(p1);
    await p1.shutdown();
    // Second process: replays to a collector that refuses the poisoned record.
    const out = join(dir, 'receiver', 'logs.jsonl');
    const rx = await poisonReceiver(out);
    const second = new AuditLogRecordProcessor({ dir: auditDir, ...FAST, maxExportBatchSize: 2000, exporter: { url: rx.url } });
    const p2 = new LoggerProvider({ processors: [second] });
    const report = await second.replayed();
    await p2.shutdown();
    expect(report).toMatchObject({ streams: [first.streamId], rejected: 1 });
    const ofFirst = recordsOfFile(out).filter((r) => stringAttribute(r, 'audit.sequence.stream_id') === first.streamId);
    expect(new Set(ofFirst.map(seqOf)).size).toBe(1000); // 999 records + the end marker
    expect(ofFirst.some((r) => stringAttribute(r, 'note') === POISON)).toBe(false);
    expect(rx.refused).toBeGreaterThan(0);
  });
});

// Found in review: a retry sent only the head batch of the request refused; taken, it reset the refusal count, the
// joined request was refused again, and the stream went on one batch per backoff, bisection never reached.
describe('many small batches behind a refused record', () => {
  it('the refused request is retried whole, then bisected: the refusals stay within the bisection bound', async () => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const out = join(dir, 'receiver', 'logs.jsonl');
    mkdirSync(dirname(out), { recursive: true });
    // 503 while `down` (an outage, during which one small batch per record queues up); then 400 for any request
    // holding the poisoned record.
    const rx = { down: true, refused: 0 };
    const server: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (rx.down) return res.writeHead(503).end();
        if (body.includes(POISON)) {
          rx.refused++;
          return res.writeHead(400, { 'content-type': 'application/json' }).end('{"code":3,"message":"record refused"}');
        }
        appendFileSync(out, JSON.stringify(JSON.parse(body)) + '\n');
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => server.close(r)));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/logs`;
    const auditDir = join(dir, 'audit');
    const processor = new AuditLogRecordProcessor({ dir: auditDir, ...FAST, maxExportBatchSize: 1000, exporter: { url, timeoutMillis: 2000 } });
    const provider = new LoggerProvider({ processors: [processor] });
    const logger = provider.getLogger('audit');
    for (let i = 0; i < 120; i++) {
      logger.emit({ eventName: 'file.read', attributes: { 'audit.action': 'READ', 'audit.outcome': 'success', 'audit.actor.id': 'svc', 'audit.actor.type': 'service', note: i === 99 ? POISON : `ok-${i}` } });
      await new Promise((r) => setImmediate(r)); // one batch per record
    }
    rx.down = false;
    await processor.forceFlush();
    await provider.shutdown();
    expect(processor.stats()).toMatchObject({ rejected: 1, dropped: 0 });
    const delivered = new Set(recordsOfFile(out).map(seqOf));
    expect(delivered.size).toBe(120); // 119 records and the end marker
    expect(delivered.has(100)).toBe(false);
    // PERMANENT_ATTEMPTS refusals of the joined request, then about one per halving (⌈log2 119⌉ = 7).
    expect(rx.refused).toBeLessThanOrEqual(3 + 2 * 7);
  });
});
