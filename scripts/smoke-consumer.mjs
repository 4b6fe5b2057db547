#!/usr/bin/env node
/**
 * Smoke test as a new user: install the packed otel-audit into a fresh project next to the current
 * `@opentelemetry/sdk-node` and `@opentelemetry/api` with no npm flags, run the README's NodeSDK set-up
 * emitting typed and raw audit records through a collector outage, and verify both copies with the
 * installed CLI; then run the installed `otel-audit demo` (README: `npx otel-audit demo`), which must end with
 * "DEMO OK". Uses whichever `node` and `npm` are first on PATH (CI puts Node 22 and Node 26 there).
 *
 *   node scripts/smoke-consumer.mjs [--tarball otel-audit-x.y.z.tgz] [--line 3|0.2xx] [--keep]
 *
 * Without --tarball it packs this checkout (which must be built: `npm run build`). --line 0.2xx installs
 * `@opentelemetry/sdk-node@<0.300.0 @opentelemetry/api@<1.10.0`, the set-up of users still on Node 20.
 * Exits 0 when every record reached the collector, both copies verify and the demo passes; prints one summary line.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const line = opt('--line') ?? '3';
const keep = args.includes('--keep');
const repo = resolve(import.meta.dirname, '..');
const work = mkdtempSync(join(tmpdir(), `otel-audit-smoke-${process.versions.node.split('.')[0]}-`));
const log = (s) => process.stdout.write(`[smoke node ${process.version}] ${s}\n`);

function fail(msg) {
  process.stderr.write(`[smoke node ${process.version}] FAILED: ${msg}\n  (work dir kept: ${work})\n`);
  process.exit(1);
}

let tarball = opt('--tarball');
if (tarball === undefined) {
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: repo, encoding: 'utf8' });
  tarball = join(work, JSON.parse(out)[0].filename);
}
tarball = resolve(tarball);

const app = join(work, 'app');
execFileSync('mkdir', ['-p', app]);
writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'smoke-app', version: '1.0.0', type: 'module', private: true }, null, 2));
// The 0.2xx pin as the README gives it: otel-audit's peers (otlp-exporter-base, resources, sdk-logs) are pinned too,
// or npm picks their 3.x releases, which need api 1.10, and refuses the tree (ERESOLVE).
const ZERO_2XX = ['@opentelemetry/sdk-node@<0.300.0', '@opentelemetry/api@<1.10.0', '@opentelemetry/sdk-logs@<0.300.0', '@opentelemetry/otlp-exporter-base@<0.300.0', '@opentelemetry/resources@<3.0.0'];
const specs = line === '0.2xx' ? [...ZERO_2XX, tarball] : ['@opentelemetry/sdk-node', '@opentelemetry/api', tarball];
log(`npm install ${specs.map((s) => (s === tarball ? '<packed otel-audit>' : s)).join(' ')}`);
try {
  execFileSync('npm', ['install', '--no-audit', '--no-fund', ...specs], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
} catch (e) {
  fail(`npm install failed:\n${e.stderr ?? e.message}`);
}
const installed = (name) => JSON.parse(readFileSync(join(app, 'node_modules', name, 'package.json'), 'utf8')).version;
const versions = `sdk-node ${installed('@opentelemetry/sdk-node')}, api ${installed('@opentelemetry/api')}, sdk-logs ${installed('@opentelemetry/sdk-logs')}`;
log(`installed ${versions}`);

// The README's NodeSDK set-up, plus raw records through the Logs API of the installed line. It emits in
// three phases and waits for "go" on stdin between them, so the collector can be stopped and restarted.
writeFileSync(
  join(app, 'app.mjs'),
  `import { NodeSDK } from '@opentelemetry/sdk-node';
import * as api from '@opentelemetry/api';
import { createInterface } from 'node:readline';
import { auditProcessorFromEnv, getAuditLogger } from 'otel-audit';

const sdk = new NodeSDK({ logRecordProcessors: [auditProcessorFromEnv()] });
sdk.start();
const audit = getAuditLogger();
// OpenTelemetry JS 3.x: the Logs API is in @opentelemetry/api; 0.2xx: in @opentelemetry/api-logs.
const logs = api.logs ?? (await import('@opentelemetry/api-logs')).logs;
const raw = logs.getLogger('audit');

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const receipts = [];
let n = 0;
for (let phase = 1; phase <= 3; phase++) {
  for (let i = 0; i < 200; i++, n++) {
    receipts.push(audit.record({ name: 'user.login', action: 'LOGIN', outcome: i % 7 ? 'success' : 'failure', actor: { id: 'u' + (n % 13), type: 'user' }, source: { address: '203.0.113.7' } }));
    if (i % 4 === 0) raw.emit({ eventName: 'file.read', attributes: { 'audit.action': 'READ', 'audit.outcome': 'success', 'audit.actor.id': 'svc', 'audit.actor.type': 'service', 'audit.record.id': 'raw-' + n } });
    if (i % 50 === 49) await new Promise((r) => setTimeout(r, 20));
  }
  process.stdout.write(JSON.stringify({ event: 'phase', phase }) + '\\n');
  if (phase < 3) await lines.next();
}
const settled = await Promise.allSettled(receipts);
await sdk.shutdown();
process.stdout.write(JSON.stringify({ event: 'done', typed: receipts.length, raw: 150, durable: settled.filter((s) => s.status === 'fulfilled').length }) + '\\n');
process.exit(0);
`,
);

const cli = join(app, 'node_modules', 'otel-audit', 'dist', 'cli.js');
const port = await new Promise((res) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => res(p));
  });
});
const collectorOut = join(work, 'collector', 'logs.jsonl');
const auditDir = join(work, 'audit');

function startCollectorOnce() {
  const child = spawn(process.execPath, [cli, 'collector', '--port', String(port), '--out', collectorOut], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((res, rej) => {
    const rl = createInterface({ input: child.stdout });
    rl.once('line', () => res(child));
    child.once('exit', (code) => rej(new Error(`collector exited with ${code}: ${stderr.trim()}`)));
  });
}

/** Restarting on the same port can race with the kernel handing that port to another socket: retry a while. */
async function startCollector() {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startCollectorOnce();
    } catch (e) {
      if (attempt >= 40 || !/EADDRINUSE/.test(String(e.message))) throw e;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
const stopCollector = (child) => new Promise((res) => {
  child.once('exit', res);
  child.kill('SIGTERM');
});

let collector = await startCollector();
const appProc = spawn(process.execPath, [join(app, 'app.mjs')], {
  cwd: app,
  stdio: ['pipe', 'pipe', 'inherit'],
  env: {
    ...process.env,
    OTEL_SERVICE_NAME: 'smoke',
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
    OTEL_TRACES_EXPORTER: 'none',
    OTEL_METRICS_EXPORTER: 'none',
    OTEL_LOGS_EXPORTER: 'none',
    OTEL_AUDIT_DIR: auditDir,
    OTEL_BLRP_EXPORT_TIMEOUT: '20000',
  },
});
const timer = setTimeout(() => {
  appProc.kill('SIGKILL');
  fail('the app did not finish within 120 s');
}, 120_000);
let done;
for await (const l of createInterface({ input: appProc.stdout })) {
  const msg = JSON.parse(l);
  if (msg.event === 'phase' && msg.phase === 1) {
    await stopCollector(collector); // outage: phase 2 is emitted with nothing listening
    appProc.stdin.write('go\n');
  } else if (msg.event === 'phase' && msg.phase === 2) {
    await new Promise((r) => setTimeout(r, 500));
    collector = await startCollector();
    appProc.stdin.write('go\n');
  } else if (msg.event === 'done') done = msg;
}
clearTimeout(timer);
await stopCollector(collector);
if (done === undefined) fail('the app ended without its done line');
if (done.durable !== done.typed) fail(`${done.typed - done.durable} typed receipts were rejected`);

// Every record the app emitted is at the collector (at-least-once: duplicates folded).
const ids = new Set();
for (const text of readFileSync(collectorOut, 'utf8').split('\n')) {
  if (text === '') continue;
  for (const rl of JSON.parse(text).resourceLogs ?? [])
    for (const sl of rl.scopeLogs ?? [])
      for (const r of sl.logRecords ?? []) {
        const id = r.attributes?.find((a) => a.key === 'audit.record.id')?.value?.stringValue;
        if (id !== undefined && r.eventName !== 'audit.stream.end') ids.add(id);
      }
}
const expected = done.typed + done.raw;
if (ids.size !== expected) fail(`the collector holds ${ids.size} distinct audit records, expected ${expected}`);

const verify = (target) => {
  try {
    return execFileSync(process.execPath, [cli, 'verify', target], { encoding: 'utf8' }).trim().split('\n').pop();
  } catch (e) {
    fail(`otel-audit verify ${target} exited ${e.status}:\n${e.stdout}${e.stderr}`);
  }
};
const local = verify(auditDir);
const remote = verify(collectorOut);
log(`journal: ${local}`);
log(`collector copy: ${remote}`);

// The demo as the README shows it, from the installed package: `npx otel-audit demo` (the bin link).
let demoOut;
try {
  demoOut = execFileSync(join(app, 'node_modules', '.bin', 'otel-audit'), ['demo', '--dir', join(work, 'demo')], { cwd: app, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000 });
} catch (e) {
  fail(`otel-audit demo exited ${e.status ?? e.signal}:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
}
const demoLast = demoOut.trim().split('\n').pop().trim();
if (!demoLast.startsWith('DEMO OK')) fail(`otel-audit demo did not end with DEMO OK:\n${demoOut}`);
log(`demo: ${demoLast.split(' — ')[0]}`);
log(`OK: ${versions}; ${done.typed} typed + ${done.raw} raw records through a collector outage, all at the collector, both copies verify (${readdirSync(auditDir).length} entries in the audit dir); the installed demo passes`);
if (!keep) rmSync(work, { recursive: true, force: true });
