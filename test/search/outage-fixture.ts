/**
 * A journal and a collector copy produced by real processors through a collector outage, for the search and
 * report tests: two streams in one journal directory (a process, then its restart), small segments (rotated
 * sets), a collector that is down for part of the run and that once answers too late (so the client retries
 * and the collector holds the batch twice), and its output then spread over several files with a few batches
 * repeated in another file — the shapes `search` must fold to one record each.
 */
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getAuditLogger, type AuditLogger } from '../../src/api/audit-logger.js';
import type { AuditEvent } from '../../src/map/schema.js';
import { AuditLogRecordProcessor } from '../../src/processor.js';
import { FAST, makePipeline, type TestPipeline } from '../helpers/pipeline.js';

export interface OutageFixture {
  pipeline: TestPipeline;
  auditDir: string;
  /** Directory holding the collector's output, split over several files. */
  collectorDir: string;
  /** Time of event i is `base + i hours`. */
  base: number;
  events: number;
  streams: string[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const NAMES = ['user.login', 'user.logout', 'document.read', 'document.update', 'username.change'];
const ACTIONS = ['LOGIN', 'READ', 'UPDATE', 'DELETE'];
const OUTCOMES = ['success', 'failure', 'unknown'] as const;

/** Event i: every field cycles with a different period, so filters and their combinations pick varied sets. */
export function fixtureEvent(i: number, base: number): AuditEvent {
  const e: AuditEvent = {
    name: NAMES[i % NAMES.length]!,
    action: ACTIONS[i % ACTIONS.length]!,
    outcome: OUTCOMES[i % OUTCOMES.length]!,
    actor: { id: `user-${i % 5}`, type: 'user' },
    source: { address: i % 2 === 0 ? '192.0.2.1' : '198.51.100.7' },
    details: { attempt: i % 4, vip: i % 2 === 0, region: i % 3 === 0 ? 'eu' : 'us', ratio: (i % 4) + 0.5 },
    time: base + i * 3_600_000,
  };
  if (i % 3 !== 0) e.target = { id: `doc-${i % 7}`, type: 'document' };
  return e;
}

const processorOptions = { maxFileBytes: 4096, maxFiles: 1000, maxExportBatchSize: 8 } as const;

/** Builds the fixture: 60 events in a first process (outage in the middle), 40 in its restart. */
export async function buildOutageFixture(): Promise<OutageFixture> {
  // Times in the past, 100 h up to now, half an hour off the hour: relative filters (`--since 50h`) fall
  // between two records, never on one.
  const base = Date.now() - 100 * 3_600_000 + 1_800_000;
  const p = await makePipeline({ ...processorOptions, exporter: { timeoutMillis: 300 } });
  const streams: string[] = [];
  const emitAll = async (audit: AuditLogger, from: number, to: number): Promise<void> => {
    const receipts: Promise<unknown>[] = [];
    for (let i = from; i < to; i++) receipts.push(audit.record(fixtureEvent(i, base)));
    await Promise.all(receipts);
  };

  // Process 1: some records delivered, then an outage, then a collector that answers too late once.
  streams.push(p.processor.streamId);
  await emitAll(p.audit, 0, 20);
  await p.processor.forceFlush();
  await p.collector.stop();
  await emitAll(p.audit, 20, 40);
  await sleep(200);
  p.collector.setFault({ mode: 'delay', delayMs: 700, times: 1 }); // written, then answered after the client gave up
  await p.collector.start();
  await emitAll(p.audit, 40, 60);
  await p.processor.forceFlush();
  p.collector.setFault({ mode: 'ok' });
  await p.provider.shutdown();

  // Process 2: a restart in the same journal directory.
  const processor = new AuditLogRecordProcessor({ dir: p.auditDir, ...FAST, ...processorOptions, exporter: { url: p.collector.endpoint, timeoutMillis: 2000 } });
  const provider = new LoggerProvider({ processors: [processor] });
  const audit = getAuditLogger({ processor, loggerProvider: provider });
  streams.push(processor.streamId);
  await emitAll(audit, 60, 100);
  await processor.forceFlush();
  await provider.shutdown();

  // The collector copy over several files, with some batches a second time in the last one.
  const collectorDir = join(p.dir, 'collector');
  const lines = readFileSync(p.collectorFile, 'utf8').split('\n').filter((l) => l !== '');
  const third = Math.ceil(lines.length / 3);
  rmSync(p.collectorFile);
  writeFileSync(join(collectorDir, 'export-1.jsonl'), lines.slice(0, third).map((l) => `${l}\n`).join(''));
  writeFileSync(join(collectorDir, 'export-2.jsonl'), lines.slice(third, 2 * third).map((l) => `${l}\n`).join(''));
  writeFileSync(join(collectorDir, 'export-3.jsonl'), [...lines.slice(2 * third), ...lines.slice(0, 2)].map((l) => `${l}\n`).join(''));
  if (readdirSync(p.auditDir).filter((n) => n.endsWith('.jsonl')).length < 4) throw new Error('fixture: expected rotated segments');
  return { pipeline: p, auditDir: p.auditDir, collectorDir, base, events: 100, streams };
}
