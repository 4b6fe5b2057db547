/**
 * The package as a user meets it: built output, NodeSDK configured by env only, the zero-code register
 * entry, CommonJS consumers — each in a real child process against a real loopback collector.
 */
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ExportLogsServiceRequest } from '../../src/otlp/types.js';
import { verifyFiles } from '../../src/verify/index.js';
import { killAll, runNode } from '../helpers/child.js';
import { collectorDir, type CollectorDir } from '../helpers/pipeline.js';
import { intAttribute } from '../../src/otlp/decode.js';
import { idOf, journalRecords, recordsOfFile, seqOf, streamOf } from '../helpers/records.js';

const root = join(import.meta.dirname, '../..');
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await killAll();
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

const setup = (): Promise<CollectorDir> => collectorDir(cleanups);

/** A fixture app of test/fixtures started under the zero-code entry (`flag`: --import or -r). */
const registered = (app: string, env: Record<string, string | undefined>, flag = '--import'): ReturnType<typeof runNode> =>
  runNode([flag, 'otel-audit/register', join(root, 'test/fixtures', app)], env);

/** register-ticking.mjs under the zero-code entry, its collector stopped (a 1.5 s flush bound), once it is ticking. */
async function tickingWithCollectorDown(): Promise<{ auditDir: string; child: ReturnType<typeof runNode> }> {
  const { auditDir, collector } = await setup();
  await collector.stop();
  const child = registered('register-ticking.mjs', {
    OTEL_AUDIT_DIR: auditDir,
    OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: collector.endpoint,
    OTEL_EXPORTER_OTLP_TIMEOUT: '500',
    OTEL_BLRP_EXPORT_TIMEOUT: '1500',
  });
  await child.waitFor((o) => o.event === 'ticking');
  return { auditDir, child };
}

describe('NodeSDK app configured only by env', () => {
  it('5000 events through a collector outage: all arrive, both copies verify, tampering is named', async () => {
    const { dir, auditDir, collectorFile, collector } = await setup();
    const child = runNode([join(root, 'dist/examples/service.js')], {
      OTEL_SERVICE_NAME: 'it-shop',
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, // the base endpoint: /v1/logs is appended as per the OTel spec
      OTEL_EXPORTER_OTLP_TIMEOUT: '1000',
      OTEL_AUDIT_DIR: auditDir,
      OTEL_AUDIT_MAX_FILE_BYTES: String(512 * 1024), // rotation on the way…
      OTEL_AUDIT_MAX_FILES: '1000', // …and retention kept out of it (see rotation.test.ts)
      DEMO_EVENTS: '5000',
      DEMO_RATE: '5000',
    });
    await child.waitFor((o) => o.event === 'progress' && Number(o.recorded) >= 1000);
    await collector.stop();
    await new Promise((r) => setTimeout(r, 1200));
    await collector.start();
    const done = await child.waitFor((o) => o.event === 'done', 60_000);
    expect((await child.exited).code).toBe(0);
    expect(done).toMatchObject({ emitted: 5000, durable: 5000, undelivered: 0, dropped: 0 });

    const remote = recordsOfFile(collectorFile);
    expect(new Set(remote.map(idOf)).size).toBe(5001);
    const local = journalRecords(auditDir);
    expect(local.length).toBe(5001);
    expect(new Set(local.map(streamOf))).toEqual(new Set([done.streamId]));
    const resource = JSON.parse(readFileSync(collectorFile, 'utf8').split('\n')[0]!).resourceLogs[0].resource.attributes;
    expect(resource).toContainEqual({ key: 'service.name', value: { stringValue: 'it-shop' } });
    for (const r of [await verifyFiles([auditDir]), await verifyFiles([collectorFile])]) {
      expect(r.ok).toBe(true);
      expect(r.streams).toEqual([expect.objectContaining({ first: 1, last: 5001, ended: true })]);
    }

    // Tamper with one record of the collector's copy: the verifier names it.
    const lines = readFileSync(collectorFile, 'utf8').split('\n');
    const target = lines.findIndex((l) => l.includes('"stringValue":"carol"'));
    const req = JSON.parse(lines[target]!);
    const recs = req.resourceLogs[0].scopeLogs[0].logRecords;
    const victim = recs.findIndex((r: { attributes: { value: { stringValue?: string } }[] }) => r.attributes.some((a) => a.value.stringValue === 'carol'));
    const victimSeq = seqOf(recs[victim]);
    recs[victim].attributes.find((a: { value: { stringValue?: string } }) => a.value.stringValue === 'carol').value.stringValue = 'mallory';
    lines[target] = JSON.stringify(req);
    const tampered = join(dir, 'tampered.jsonl');
    writeFileSync(tampered, lines.join('\n'));
    const bad = await verifyFiles([tampered]);
    expect(bad.ok).toBe(false);
    expect(bad.problems.filter((p) => p.severity === 'error')).toEqual([
      expect.objectContaining({ kind: 'modified', seq: victimSeq, file: tampered, line: target + 1 }),
    ]);
    void copyFileSync;
  });
});

describe('OTEL_AUDIT_FILE=fallback with the collector down', () => {
  // Fixed bug, kept as a regression test: a receipt settled only once the transport's own retries gave up (up to
  // OTEL_EXPORTER_OTLP_TIMEOUT), and those waits keep no process alive: an app awaiting it at top level ended there
  // (exit 13, unsettled top-level await), the rest of its work never run. The batch now goes to the spool at the
  // first failed attempt, and the receipt settles from the journal.
  it('an app awaiting each receipt goes on: the records are spooled at the first failed attempt', async () => {
    const { auditDir, collector } = await setup();
    await collector.stop();
    const child = runNode([join(root, 'test/fixtures/awaiting-app.mjs')], {
      OTEL_AUDIT_DIR: auditDir,
      OTEL_AUDIT_FILE: 'fallback',
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: collector.endpoint,
      OTEL_EXPORTER_OTLP_TIMEOUT: '10000',
      OTEL_BLRP_EXPORT_TIMEOUT: '1000',
    });
    expect((await child.exited).code).toBe(0);
    expect(child.lines.filter((o) => o.event === 'receipt').map((o) => o.durability)).toEqual(['journal', 'journal', 'journal']);
    expect(child.event('done')).toBeDefined();
    expect(journalRecords(auditDir).filter((r) => r.eventName === 'audit.read')).toHaveLength(3);
  });
});

describe('zero-code: node --import otel-audit/register', () => {
  it('delivers the app records and, on SIGTERM, flushes, closes the stream and exits by the signal', async () => {
    const { auditDir, collectorFile, collector } = await setup();
    const child = registered('register-app.mjs', {
      OTEL_AUDIT_DIR: auditDir,
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: collector.endpoint,
      OTEL_SERVICE_NAME: 'registered-app',
      EMIT_COUNT: '50',
    });
    await child.waitFor((o) => o.event === 'recorded');
    child.proc.kill('SIGTERM');
    expect((await child.exited).signal).toBe('SIGTERM');
    const remote = recordsOfFile(collectorFile);
    expect(remote).toHaveLength(51);
    expect(remote[50]!.eventName).toBe('audit.stream.end');
    expect((await verifyFiles([collectorFile, auditDir])).ok).toBe(true);
  });

  // Fixed bug, kept as a regression test: the handler shut the provider down at once and then waited for the
  // collector, while the app (its SIGTERM now handled) went on working: every audit record of that wait was
  // refused, LOST. Now the records are taken while the flush waits, and the stream closes after.
  it('on SIGTERM with the collector down, the records the app goes on making until the signal is re-raised are journaled, none lost', async () => {
    const { auditDir, child } = await tickingWithCollectorDown();
    child.proc.kill('SIGTERM');
    const at = child.lines.filter((o) => o.event === 'receipt').length;
    expect((await child.exited).signal).toBe('SIGTERM');
    const held = journalRecords(auditDir);
    // Records made after the signal are in the journal (a tick every 20 ms through a 1.5 s flush)...
    expect(held.length).toBeGreaterThan(at + 10);
    // ...and the stream was closed after them: only a record made after its end marker, in the moment before the
    // signal is re-raised, can be refused (reported LOST, never silently).
    expect(held.at(-1)!.eventName).toBe('audit.stream.end');
    const lastHeld = Math.max(...held.map((r) => Number(r.attributes?.find((a) => a.key === 'i')?.value?.intValue ?? 0)));
    expect(lastHeld).toBeGreaterThan(at + 10);
    for (const lost of child.lines.filter((o) => o.event === 'lost')) expect(Number(lost.i)).toBeGreaterThan(lastHeld);
    const r = await verifyFiles([auditDir]);
    expect(r.ok).toBe(true);
    expect(r.streams[0]).toMatchObject({ ended: true });
  });

  // Found by review: the signal shutdown shut the provider down first, and the SDK drops every record emitted after
  // that without calling a processor: while a slow collector was waited for, the app's Logs API records vanished,
  // with no LOST line and nothing for verify to find (they never got a seq).
  it('records emitted through the Logs API while the signal shutdown waits for a slow collector: journaled, or reported LOST', async () => {
    const { auditDir, collector } = await setup();
    const child = registered('register-ticking.mjs', {
      OTEL_AUDIT_DIR: auditDir,
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: collector.endpoint,
      OTEL_EXPORTER_OTLP_TIMEOUT: '4000',
      OTEL_BLRP_EXPORT_TIMEOUT: '4000',
      TICK_RAW: '1',
    });
    await child.waitFor((o) => o.event === 'ticking');
    collector.setFault({ mode: 'delay', delayMs: 600 });
    child.proc.kill('SIGTERM');
    expect((await child.exited).signal).toBe('SIGTERM');
    const emitted = child.lines.filter((o) => o.event === 'raw').map((o) => Number(o.i));
    const held = new Set(journalRecords(auditDir).filter((r) => r.eventName === 'raw.tick').map((r) => intAttribute(r, 'raw.i')));
    const missing = emitted.filter((i) => !held.has(i)).length;
    const typedLost = child.lines.filter((o) => o.event === 'lost').length;
    const totals = child.stderr.flatMap((l) => /total lost: (\d+)/.exec(l)?.[1] ?? []).map(Number);
    // Every record that emit() returned for is in the journal or counted as lost: none vanished.
    expect(Math.max(0, ...totals)).toBe(typedLost + missing);
    expect(held.size).toBeGreaterThan(10);
  });

  // Found by review: the handler was a `once`, so a second signal during the flush (Ctrl-C under npm start delivers
  // the terminal's and npm's forwarded one) killed the process at once: no end marker, no exit journaling, and
  // records whose record() had returned gone unreported.
  it('a second SIGINT during the flush is taken by the same shutdown: records still journaled, the stream closed', async () => {
    const { auditDir, child } = await tickingWithCollectorDown();
    child.proc.kill('SIGINT');
    const at = child.lines.filter((o) => o.event === 'receipt').length;
    await new Promise((r) => setTimeout(r, 50));
    child.proc.kill('SIGINT');
    expect((await child.exited).signal).toBe('SIGINT');
    const held = journalRecords(auditDir);
    expect(held.length).toBeGreaterThan(at + 10); // the app went on, through the 1.5 s flush
    expect(held.at(-1)!.eventName).toBe('audit.stream.end');
    const r = await verifyFiles([auditDir]);
    expect(r.ok).toBe(true);
    expect(r.streams[0]).toMatchObject({ ended: true });
  });

  it('-r otel-audit/register (CommonJS): typed and raw records through the line\'s Logs API arrive; SIGTERM closes the stream', async () => {
    const { auditDir, collectorFile, collector } = await setup();
    const child = registered('register-app.cjs', {
      OTEL_AUDIT_DIR: auditDir,
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: collector.endpoint,
      EMIT_COUNT: '20',
    }, '-r');
    await child.waitFor((o) => o.event === 'recorded');
    child.proc.kill('SIGTERM');
    expect((await child.exited).signal).toBe('SIGTERM');
    const remote = recordsOfFile(collectorFile);
    expect(remote.map((r) => r.eventName)).toEqual([...Array.from({ length: 20 }, () => ['audit.read', 'raw.read']).flat(), 'audit.stream.end']);
    expect((await verifyFiles([collectorFile, auditDir])).ok).toBe(true);
  });

  // Fixed bug, kept as a regression test: register was a bundle of its own, with its own copy of every class.
  it.each([
    ['--import', 'register-identity.mjs'],
    ['-r', 'register-identity.cjs'],
  ])('under %s the app shares the package\'s classes with the zero-code entry: its processor, errors caught by class', async (flag, app) => {
    const { auditDir, collector } = await setup();
    const child = registered(app, {
      OTEL_AUDIT_DIR: auditDir,
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: collector.endpoint,
      OTEL_AUDIT_ON_LOSS: 'throw',
    }, flag);
    expect(await child.waitFor((o) => o.event === 'identity')).toMatchObject({ sameProcessorClass: true, caughtByClass: true });
    expect((await child.exited).code).toBe(0);
  });

  // Found in review: record() said the record had not been recorded, though register's processor had journaled it
  // (a caller retrying would record it twice), and nothing said at start-up that two pipelines were running.
  it('an app that also sets up its own audit pipeline: said at start-up; record() says where the record went', async () => {
    const { auditDir, collector } = await setup();
    const child = registered('register-second-pipeline.mjs', { OTEL_AUDIT_DIR: auditDir, OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: collector.endpoint });
    const done = await child.waitFor((o) => o.event === 'done');
    expect((await child.exited).code).toBe(0);
    expect(child.stderr.join('\n')).toMatch(/another AuditLogRecordProcessor \(stream .*\) is created while the one of --import otel-audit\/register/);
    const error = done.error as { config: boolean; message: string };
    expect(error.config).toBe(true);
    expect(error.message).toMatch(/reached another AuditLogRecordProcessor of this process \(stream (\S+)\), which recorded it/);
    const registerStream = /stream (\S+)\), which recorded it/.exec(error.message)![1]!;
    expect(registerStream).not.toBe(done.mine);
    const logins = journalRecords(auditDir).filter((r) => r.eventName === 'audit.login' || r.attributes?.some((a) => a.key === 'audit.action' && a.value?.stringValue === 'LOGIN'));
    expect(logins.map(streamOf)).toEqual([registerStream]);
  });

  it.each([
    ['--import', 'register-app.mjs'],
    ['-r', 'register-app.cjs'],
  ])('a bad OTEL_AUDIT_* value under %s: one line on stderr naming variable, value and allowed values, exit 78, no stack', async (flag, app) => {
    const { auditDir } = await setup();
    const child = registered(app, {
      OTEL_AUDIT_DIR: auditDir,
      OTEL_AUDIT_FSYNC: 'sometimes',
    }, flag);
    const { code } = await child.exited;
    expect(code).toBe(78);
    const stderr = child.stderr.join('\n').trim();
    expect(stderr).toBe('otel-audit configuration: OTEL_AUDIT_FSYNC="sometimes" is invalid: allowed values are always, batch, off');
  });

  it('records carry where they came from: host, process (pid, owner), OS and the service, at the collector and in the journal', async () => {
    const { auditDir, collectorFile, collector } = await setup();
    const child = registered('register-app.mjs', {
      OTEL_AUDIT_DIR: auditDir,
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: collector.endpoint,
      OTEL_SERVICE_NAME: 'where-app',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test',
      EMIT_COUNT: '5',
    });
    await child.waitFor((o) => o.event === 'recorded');
    const pid = child.proc.pid!;
    child.proc.kill('SIGTERM');
    await child.exited;
    for (const file of [collectorFile, ...readdirSync(auditDir).filter((n) => n.endsWith('.jsonl')).map((n) => join(auditDir, n))]) {
      const line = JSON.parse(readFileSync(file, 'utf8').split('\n')[0]!) as ExportLogsServiceRequest;
      const attrs = Object.fromEntries((line.resourceLogs![0]!.resource!.attributes ?? []).map((a) => [a.key, a.value?.stringValue ?? a.value?.intValue]));
      expect(attrs).toMatchObject({
        'service.name': 'where-app',
        'deployment.environment.name': 'test',
        'host.name': hostname(),
        'host.arch': expect.any(String),
        'os.type': expect.any(String),
        'process.owner': userInfo().username,
        'process.runtime.name': 'nodejs',
        'service.instance.id': expect.any(String),
      });
      expect(String(attrs['process.pid'])).toBe(String(pid));
    }
    // host.id is read asynchronously by the host detector: the stream's last record, sealed at shutdown, has it.
    if (existsSync('/etc/machine-id') && readFileSync('/etc/machine-id', 'utf8').trim() !== '') {
      const lines = readFileSync(collectorFile, 'utf8').trim().split('\n');
      const last = JSON.parse(lines[lines.length - 1]!) as ExportLogsServiceRequest;
      const rl = last.resourceLogs![last.resourceLogs!.length - 1]!;
      expect(rl.resource!.attributes!.map((a) => a.key)).toContain('host.id');
    }
  });

  // Fixed bug, kept as a regression test: env was the first detector, so host and serviceinstance overrode it.
  it.each([['all (the default)', undefined], ['an explicit list naming env first', 'env,host,serviceinstance']])(
    'OTEL_RESOURCE_ATTRIBUTES wins over what the other detectors find: detectors %s',
    async (_, detectors) => {
      const { auditDir, collector } = await setup();
      const child = registered('register-app.mjs', {
        OTEL_AUDIT_DIR: auditDir,
        OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: collector.endpoint,
        OTEL_NODE_RESOURCE_DETECTORS: detectors,
        OTEL_RESOURCE_ATTRIBUTES: 'service.instance.id=pod-1,host.name=logical-host',
        EMIT_COUNT: '1',
      });
      await child.waitFor((o) => o.event === 'recorded');
      child.proc.kill('SIGTERM');
      await child.exited;
      const file = readdirSync(auditDir).find((n) => n.endsWith('.jsonl'))!;
      const line = JSON.parse(readFileSync(join(auditDir, file), 'utf8').split('\n')[0]!) as ExportLogsServiceRequest;
      const attrs = Object.fromEntries((line.resourceLogs![0]!.resource!.attributes ?? []).map((a) => [a.key, a.value?.stringValue]));
      expect(attrs).toMatchObject({ 'service.instance.id': 'pod-1', 'host.name': 'logical-host' });
    },
  );

  it('OTEL_SDK_DISABLED=true installs nothing and says so once', async () => {
    const { auditDir } = await setup();
    const child = runNode(['--import', 'otel-audit/register', '-e', 'setTimeout(() => {}, 10)'], { OTEL_AUDIT_DIR: auditDir, OTEL_SDK_DISABLED: 'true' });
    expect((await child.exited).code).toBe(0);
    expect(child.stderr.join('\n').trim()).toBe('otel-audit/register: OTEL_SDK_DISABLED=true: no LoggerProvider installed, audit records are not recorded');
    expect(existsSync(auditDir)).toBe(false);
  });
});

describe('CommonJS consumers', () => {
  it('require("otel-audit") works like import', async () => {
    const { dir, collector } = await setup();
    const child = runNode([join(root, 'test/fixtures/cjs-consumer.cjs')], { ENDPOINT: collector.endpoint, OTEL_AUDIT_DIR: join(dir, 'cjs') });
    const line = await child.waitFor((o) => 'seq' in o);
    expect(line).toEqual({ seq: 1, validation: true, attr: 'audit.action' });
    expect((await child.exited).code).toBe(0);
  });
});
