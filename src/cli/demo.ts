/**
 * `otel-audit demo` (`npm run demo`): the main job end to end on an embedded default, with real processes.
 *
 *  1. starts the development collector (a separate process) writing the Collector file-exporter format;
 *  2. runs the example service (NodeSDK, configured by env only) emitting a realistic mix of audit events,
 *     and stops the collector in the middle of it for a while (connection refused), then restarts it;
 *  3. stops the collector again, runs the service to the end (its records stay in the journal), restarts
 *     the collector and runs the service once more: at start it replays what the previous run left;
 *  4. verifies the local journal and the collector's copy, tampers with a copy to show it is caught,
 *     and prints a summary.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { ATTR_RECORD_ID } from '../core/attributes.js';
import { stringAttribute } from '../otlp/decode.js';
import type { ExportLogsServiceRequest } from '../otlp/types.js';
import { verifyFiles, type VerifyReport } from '../verify/index.js';
import { errorText } from '../core/errors.js';
import { optionValue, quotedArgument, walkArguments } from './arguments.js';

interface ServiceDone {
  event: 'done';
  emitted: number;
  durable: number;
  streamId: string;
  exported: number;
  undelivered: number;
  dropped: number;
  replayedStreams: number;
  replayedRecords: number;
}

const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, 'cli.js');
/** The example service, shipped in the package as dist/examples/service.js (package.json "files"). */
const service = join(here, 'examples', 'service.js');
/** What the service imports besides otel-audit and the OTel peers: the README's set-up installs it. */
const SDK_NODE = '@opentelemetry/sdk-node';

const DEMO_USAGE = `Usage: otel-audit demo [--dir DIR]
Runs the end-to-end demo in DIR (default: a new temp dir) and prints a summary. The example service it runs is
built on ${SDK_NODE}, which must be installed next to otel-audit (the README's set-up does).
`;

/** Is `name` resolvable from the example service, as its import will be? */
function installed(name: string): boolean {
  try {
    createRequire(service).resolve(name);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND';
  }
}

/** Every `audit.record.id` in an OTLP/JSON lines text, duplicates included. */
function idOf(text: string): string[] {
  const ids: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const req = JSON.parse(line) as ExportLogsServiceRequest;
    for (const rl of req.resourceLogs ?? [])
      for (const sl of rl.scopeLogs ?? [])
        for (const r of sl.logRecords ?? []) {
          const id = stringAttribute(r, ATTR_RECORD_ID);
          if (id !== undefined) ids.push(id);
        }
  }
  return ids;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Reads JSON lines from a child's stdout. */
function jsonLines(child: ChildProcess, onLine: (o: Record<string, unknown>) => void): void {
  createInterface({ input: child.stdout! }).on('line', (l) => {
    try {
      onLine(JSON.parse(l) as Record<string, unknown>);
    } catch {
      /* not ours */
    }
  });
}

const exited = (child: ChildProcess): Promise<number | null> =>
  child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((r) => child.once('exit', (code) => r(code)));

class CollectorProcess {
  child: ChildProcess | undefined;
  constructor(private readonly outFile: string, public port = 0) {}

  async start(): Promise<string> {
    const child = spawn(process.execPath, [cli, 'collector', '--port', String(this.port), '--out', this.outFile], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    this.child = child;
    const endpoint = await new Promise<string>((resolve, reject) => {
      jsonLines(child, (o) => {
        if (o.event === 'listening') resolve(String(o.endpoint));
      });
      child.once('exit', (code) => reject(new Error(`collector exited with ${code}`)));
    });
    this.port = Number(new URL(endpoint).port);
    return endpoint;
  }

  async stop(): Promise<void> {
    const c = this.child;
    if (c === undefined) return;
    this.child = undefined;
    c.kill('SIGTERM');
    await exited(c);
  }
}

function runService(env: Record<string, string>, onProgress?: (recorded: number) => void): Promise<ServiceDone> {
  const child = spawn(process.execPath, [service], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  let done: ServiceDone | undefined;
  jsonLines(child, (o) => {
    if (o.event === 'progress' && onProgress) onProgress(Number(o.recorded));
    if (o.event === 'done') done = o as unknown as ServiceDone;
  });
  return exited(child).then((code) => {
    if (code !== 0 || done === undefined) throw new Error(`example service exited with code ${code}`);
    return done;
  });
}

function describe(r: VerifyReport): string {
  const streams = r.streams.length;
  const ended = r.streams.filter((s) => s.ended).length;
  return `${r.ok ? 'INTACT' : 'FAILED'} — ${r.records} records in ${streams} streams (${ended} closed), ${r.problems.filter((p) => p.severity === 'error').length} problems`;
}

// One function on purpose: it is the demo's script, its steps in the order the README describes them.
export async function runDemo(argv: string[], out: (s: string) => void, err: (s: string) => void): Promise<number> {
  let dir: string | undefined;
  const operands: string[] = [];
  const usage = (msg: string): number => {
    err(`otel-audit demo: ${msg}\n${DEMO_USAGE}`);
    return 2;
  };
  const stopped = walkArguments<number>(argv, operands, (o) => {
    if (o.name === '--help' || o.name === '-h') {
      out(DEMO_USAGE);
      return 0;
    }
    if (o.name !== '--dir') return usage(`unknown argument ${quotedArgument(o.name)}`);
    if (dir !== undefined) return usage('--dir given more than once');
    const v = optionValue(o);
    if (v === undefined) return usage('--dir needs a value');
    dir = v;
    return undefined;
  });
  if (stopped !== undefined) return stopped;
  if (operands.length > 0) return usage(`unexpected argument ${quotedArgument(operands[0]!)}`);
  // The demo counts what it finds in its journal and collector file: a directory holding an earlier run's would
  // make it fail (or pass on old data). A new or empty one only.
  if (dir !== undefined && existsSync(dir) && readdirSync(dir).length > 0) return usage(`--dir ${JSON.stringify(dir)} is not empty: give a new or empty directory`);
  if (!installed(SDK_NODE)) {
    err(`otel-audit demo: the example service needs ${SDK_NODE}, which is not installed here: npm install ${SDK_NODE} (as in the README's set-up), or run npm run demo in a clone of the repository\n`);
    return 2;
  }
  const ws = dir ?? mkdtempSync(join(tmpdir(), 'otel-audit-demo-'));
  const auditDir = join(ws, 'audit');
  const collectorFile = join(ws, 'collector', 'logs.jsonl');
  const step = (s: string): void => out(`\n▶ ${s}\n`);
  const collector = new CollectorProcess(collectorFile);
  const env = (extra: Record<string, string>): Record<string, string> => ({
    OTEL_SERVICE_NAME: 'demo-shop',
    OTEL_TRACES_EXPORTER: 'none',
    OTEL_METRICS_EXPORTER: 'none',
    OTEL_LOGS_EXPORTER: 'none',
    OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: endpoint,
    // The caller's shell may set OTEL_EXPORTER_OTLP_PROTOCOL=grpc for its own apps: the demo collector speaks HTTP.
    OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: 'http/json',
    OTEL_EXPORTER_OTLP_TIMEOUT: '2000',
    OTEL_AUDIT_DIR: auditDir,
    ...extra,
  });
  let endpoint = '';
  try {
    out(`otel-audit demo — workspace ${ws}\n`);
    step('starting the local collector (development receiver, separate process)');
    endpoint = await collector.start();
    out(`  listening at ${endpoint}, writing ${collectorFile}\n`);

    step('run 1: example service (NodeSDK, env-configured) emits 3000 audit events; the collector goes down mid-way');
    let outage: Promise<void> | undefined;
    const run1 = await runService(env({ DEMO_EVENTS: '3000', DEMO_RATE: '1500' }), (n) => {
      if (n >= 600 && outage === undefined) {
        outage = (async () => {
          await collector.stop();
          out(`  ✗ collector stopped after ${n} events (connection refused from now on)\n`);
          await sleep(1500);
          await collector.start();
          out('  ✓ collector restarted on the same port\n');
        })();
      }
    });
    await outage;
    out(`  run 1: ${run1.emitted} recorded, ${run1.durable} durable receipts, ${run1.exported} exported, ${run1.undelivered} undelivered, ${run1.dropped} lost\n`);

    step('run 2: the collector is down for the whole run; the service exits with records only in its journal');
    await collector.stop();
    const run2 = await runService(env({ DEMO_EVENTS: '500', DEMO_RATE: '0', OTEL_BLRP_EXPORT_TIMEOUT: '1500' }));
    out(`  run 2: ${run2.emitted} recorded, ${run2.exported} exported, ${run2.undelivered} kept in the journal for later\n`);

    step('run 3: collector back; a new service process replays what run 2 left, then emits its own');
    await collector.start();
    const run3 = await runService(env({ DEMO_EVENTS: '500', DEMO_RATE: '0' }));
    out(`  run 3: replayed ${run3.replayedRecords} records of ${run3.replayedStreams} earlier stream(s); ${run3.emitted} recorded, ${run3.exported} exported\n`);
    await collector.stop();

    step('verifying both copies');
    const local = await verifyFiles([auditDir]);
    const remote = await verifyFiles([collectorFile]);
    out(`  local journal   ${describe(local)}\n`);
    out(`  collector copy  ${describe(remote)}\n`);

    // Every emitted record must be at the collector (duplicates allowed: at-least-once).
    const ids = idOf(readFileSync(collectorFile, 'utf8'));
    const unique = new Set(ids).size;
    const emitted = run1.emitted + run2.emitted + run3.emitted;
    const endMarkers = 3;

    step('tampering with a copy of the collector output (one actor id changed)');
    const tampered = join(ws, 'tampered-copy.jsonl');
    const text = readFileSync(collectorFile, 'utf8');
    const victim = text.indexOf('"stringValue":"bob"');
    // No record to change (nothing reached the collector): nothing was tampered with, so nothing can be detected.
    if (victim >= 0) writeFileSync(tampered, text.slice(0, victim) + '"stringValue":"mallory"' + text.slice(victim + '"stringValue":"bob"'.length));
    const detected = victim >= 0 ? await verifyFiles([tampered]) : undefined;
    const first = detected?.problems.find((p) => p.severity === 'error');
    out(`  ${detected === undefined ? 'no record to tamper with in the collector copy' : detected.ok ? 'NOT DETECTED' : 'detected'}: ${first ? `${first.kind} stream=${first.stream} seq=${first.seq} at ${first.file}:${first.line}` : '-'}\n`);

    // An empty collector copy verifies, but proves nothing was delivered; no record to change, nothing detected.
    const remoteOk = remote.ok && remote.records > 0;
    const caught = detected !== undefined && !detected.ok;
    const ok = local.ok && remoteOk && caught && unique === emitted + endMarkers && run1.dropped + run2.dropped + run3.dropped === 0;
    out('\n── summary ─────────────────────────────────────────────\n');
    out(`  audit events recorded        ${emitted} (+${endMarkers} stream end markers)\n`);
    out(`  delivered to the collector   ${unique} unique records (${ids.length - unique} duplicates from at-least-once retries)\n`);
    out(`  survived outage (run 1)      yes, exported ${run1.exported} of ${run1.emitted + 1}\n`);
    out(`  spooled and replayed         ${run2.undelivered} left by run 2, ${run3.replayedRecords} replayed by run 3\n`);
    out(`  lost                         ${run1.dropped + run2.dropped + run3.dropped}\n`);
    out(`  local journal verified       ${local.ok ? 'yes' : 'NO'} (${local.records} records, ${local.streams.length} streams)\n`);
    // Every copy read is a record verified: with duplicates, more than the unique ones above (found by a new user).
    out(`  collector copy verified      ${remoteOk ? 'yes' : 'NO'} (${remote.records} records${remote.records > unique ? `, ${remote.records - unique} of them duplicate copies` : ''})\n`);
    out(`  tampering detected           ${caught ? 'yes' : 'NO'}\n`);
    out(`  ${ok ? 'DEMO OK' : 'DEMO FAILED'} — inspect ${ws}, or run: npx otel-audit verify ${auditDir}\n`);
    return ok ? 0 : 1;
  } catch (e) {
    err(`demo failed: ${errorText(e)}\n`);
    return 1;
  } finally {
    await collector.stop();
  }
}
