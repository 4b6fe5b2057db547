/**
 * The OTLP protocols other than http/json, against real receivers on loopback: an HTTP receiver that takes
 * only `application/x-protobuf` and decodes with protobufjs, and a `@grpc/grpc-js` server of the OTLP logs
 * service. Each writes what it received as OTLP/JSON lines, as the Collector's file exporter does, so the
 * receiver's copy must verify: the hash does not depend on the wire format.
 */
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { getAuditLogger, type AuditLogger } from '../../src/api/audit-logger.js';
import type { OtlpProtocol } from '../../src/deliver/otlp-sender.js';
import { AuditLogRecordProcessor } from '../../src/processor.js';
import { verifyFiles } from '../../src/verify/index.js';
import { loginEvent } from '../helpers/pipeline.js';
import { startGrpcReceiver, startProtobufReceiver } from '../helpers/proto-receivers.js';
import { idOf, recordsOfFile, seqOf } from '../helpers/records.js';
import { tempDir } from '../helpers/tmp.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Receiver {
  setStatus(code: number | undefined): void;
  setPartialSuccess(rejected: number, message: string): void;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

interface Rig {
  auditDir: string;
  outFile: string;
  receiver: Receiver;
  processor: AuditLogRecordProcessor;
  provider: LoggerProvider;
  audit: AuditLogger;
}

const disposers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const d of disposers.splice(0).reverse()) await d();
});

/** A processor sending with `protocol` to a real receiver of that protocol. */
async function rig(protocol: Exclude<OtlpProtocol, 'http/json'>, extra: { maxExportBatchSize?: number } = {}): Promise<Rig> {
  const { dir, cleanup } = await tempDir();
  disposers.push(cleanup);
  const outFile = join(dir, 'receiver', 'logs.jsonl');
  const r = protocol === 'grpc' ? await startGrpcReceiver({ outFile }) : await startProtobufReceiver({ outFile });
  disposers.push(() => r.close());
  const url = 'endpoint' in r ? r.endpoint : r.url;
  const auditDir = join(dir, 'audit');
  const processor = new AuditLogRecordProcessor({
    dir: auditDir,
    exporter: { protocol, url, timeoutMillis: 2000 },
    retryMinMillis: 50,
    retryMaxMillis: 250,
    exportTimeoutMillis: 10_000,
    maxExportBatchSize: extra.maxExportBatchSize ?? 64,
  });
  const provider = new LoggerProvider({ processors: [processor] });
  disposers.push(() => provider.shutdown().then(() => undefined));
  return { auditDir, outFile, receiver: r, processor, provider, audit: getAuditLogger({ processor, loggerProvider: provider }) };
}

/** Distinct sequence numbers that reached the receiver, and whether their first arrivals were in order. */
function delivered(file: string): { seqs: number[]; inOrder: boolean; ids: Set<string>; total: number } {
  const recs = recordsOfFile(file);
  const firsts: number[] = [];
  const seen = new Set<number>();
  for (const r of recs) {
    const s = seqOf(r)!;
    if (!seen.has(s)) {
      seen.add(s);
      firsts.push(s);
    }
  }
  return { seqs: [...seen].sort((a, b) => a - b), inOrder: firsts.every((s, i) => i === 0 || s > firsts[i - 1]!), ids: new Set(recs.map((r) => idOf(r)!)), total: recs.length };
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

describe.each(['http/protobuf', 'grpc'] as const)('protocol %s', (protocol) => {
  it('every typed and raw record arrives through an outage, in order, and the receiver copy verifies', async () => {
    const t = await rig(protocol);
    const raw = t.provider.getLogger('audit');
    const receipts: Promise<unknown>[] = [];
    const emit = (i: number): void => {
      receipts.push(t.audit.record(loginEvent(i)));
      if (i % 5 === 0) {
        raw.emit({
          eventName: 'file.read',
          attributes: { 'audit.action': 'READ', 'audit.outcome': 'success', 'audit.actor.id': 'svc', 'audit.actor.type': 'service', n: i, ratio: i / 7, ok: true, empty: '', tags: ['a', 'b'], blob: new Uint8Array([0, 1, 254]) },
        });
      }
    };
    for (let i = 0; i < 200; i++) emit(i);
    await sleep(100);
    await t.receiver.stop();
    for (let i = 200; i < 700; i++) {
      emit(i);
      if (i % 100 === 0) await sleep(5);
    }
    await Promise.all(receipts); // durable in the journal while the receiver is down
    await sleep(300);
    await t.receiver.start();
    await t.processor.forceFlush();
    const total = 700 + 140;
    expect(t.processor.stats().acked).toBe(total);
    await t.provider.shutdown();
    const d = delivered(t.outFile);
    expect(d.seqs).toEqual(range(total + 1)); // + the stream end marker
    expect(d.inOrder).toBe(true);
    const remote = await verifyFiles([t.outFile]);
    expect(remote.ok, JSON.stringify(remote.problems.slice(0, 3))).toBe(true);
    expect((await verifyFiles([t.auditDir])).ok).toBe(true);
  });

  it('a partial_success that rejected records fails the batch: it is retried, nothing is lost', async () => {
    const t = await rig(protocol, { maxExportBatchSize: 20 });
    t.receiver.setPartialSuccess(3, 'bad records');
    for (let i = 0; i < 60; i++) void t.audit.record(loginEvent(i));
    await sleep(300);
    expect(t.processor.stats().acked).toBe(0);
    t.receiver.setPartialSuccess(0, '');
    await t.processor.forceFlush();
    expect(t.processor.stats().acked).toBe(60);
    await t.provider.shutdown();
    const d = delivered(t.outFile);
    expect(d.seqs).toEqual(range(61));
    expect((await verifyFiles([t.outFile])).ok).toBe(true);
  });

  it('a refusal for good (HTTP 400 / gRPC INVALID_ARGUMENT) sets the batch aside in rejected/ and the stream moves on', async () => {
    const t = await rig(protocol, { maxExportBatchSize: 10 });
    t.receiver.setStatus(protocol === 'grpc' ? 3 : 400);
    for (let i = 0; i < 10; i++) void t.audit.record(loginEvent(i));
    const deadline = Date.now() + 10_000;
    while (t.processor.stats().rejected < 10 && Date.now() < deadline) await sleep(20);
    expect(t.processor.stats().rejected).toBe(10);
    t.receiver.setStatus(undefined);
    for (let i = 10; i < 30; i++) void t.audit.record(loginEvent(i));
    await t.processor.forceFlush();
    expect(t.processor.stats()).toMatchObject({ acked: 30, rejected: 10, dropped: 0 }); // set aside counts as settled
    await t.provider.shutdown();
    expect(existsSync(join(t.auditDir, 'rejected'))).toBe(true);
    const rejected = readdirSync(join(t.auditDir, 'rejected')).map((n) => join(t.auditDir, 'rejected', n));
    // Refused whole and in every part of its bisection: all ten records are in rejected/, once each.
    expect(rejected.flatMap((f) => recordsOfFile(f)).map(seqOf).sort((a, b) => a! - b!)).toEqual(range(10));
    // With the set-aside batch beside it, the receiver's copy is a whole chain.
    expect((await verifyFiles([t.outFile, ...rejected])).ok).toBe(true);
  });

  it('a retryable failure (HTTP 503 / gRPC UNAVAILABLE) is retried until it succeeds', async () => {
    const t = await rig(protocol, { maxExportBatchSize: 10 });
    t.receiver.setStatus(protocol === 'grpc' ? 14 : 503);
    for (let i = 0; i < 30; i++) void t.audit.record(loginEvent(i));
    await sleep(400);
    expect(t.processor.stats()).toMatchObject({ acked: 0, rejected: 0 });
    t.receiver.setStatus(undefined);
    await t.processor.forceFlush();
    expect(t.processor.stats()).toMatchObject({ acked: 30, rejected: 0, dropped: 0 });
  });
});

describe('grpc without its optional peer', () => {
  it('stops start-up with an error naming the package to install', async () => {
    // A consumer whose node_modules has everything but @opentelemetry/otlp-grpc-exporter-base, and a copy
    // (not a link: resolution starts from the real path) of the built package.
    const { dir, cleanup } = await tempDir();
    disposers.push(cleanup);
    const root = join(import.meta.dirname, '../..');
    const nm = join(dir, 'node_modules');
    mkdirSync(join(nm, '@opentelemetry'), { recursive: true });
    for (const name of readdirSync(join(root, 'node_modules'))) {
      if (name === '@opentelemetry' || name === '.bin' || name.startsWith('.')) continue;
      symlinkSync(join(root, 'node_modules', name), join(nm, name));
    }
    for (const name of readdirSync(join(root, 'node_modules/@opentelemetry'))) {
      if (name !== 'otlp-grpc-exporter-base') symlinkSync(join(root, 'node_modules/@opentelemetry', name), join(nm, '@opentelemetry', name));
    }
    cpSync(join(root, 'dist'), join(nm, 'otel-audit/dist'), { recursive: true });
    cpSync(join(root, 'package.json'), join(nm, 'otel-audit/package.json'));
    const app = join(dir, 'app.mjs');
    writeFileSync(app, "import { auditProcessorFromEnv } from 'otel-audit';\ntry { auditProcessorFromEnv(); console.log('started'); } catch (e) { console.log(e.name + ': ' + e.message); }\n");
    const out = execFileSync(process.execPath, [app], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: 'grpc', OTEL_AUDIT_DIR: join(dir, 'audit') },
    });
    expect(out.trim()).toBe(
      'AuditConfigError: OTLP protocol grpc needs the package @opentelemetry/otlp-grpc-exporter-base, an optional peer dependency of otel-audit: install it next to your OpenTelemetry SDK (npm install @opentelemetry/otlp-grpc-exporter-base), or use http/protobuf or http/json',
    );
  });
});
