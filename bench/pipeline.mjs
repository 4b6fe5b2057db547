// @ts-check
/**
 * Pipeline benchmark: stock OpenTelemetry logs pipeline vs otel-audit, same records, same receiver.
 *
 *   npm run bench                      (builds dist/, then runs this file with --expose-gc)
 *   BENCH_RECORDS=200000 BENCH_ROUNDS=3 BENCH_WARMUP=20000 BENCH_CHUNK=1000 node bench/pipeline.mjs
 *
 * - The receiver is the dev collector `node dist/cli.js collector --port 0` (no --out: it only counts), in its
 *   own process, shared by all runs. Records delivered = delta of its `GET /_stats` `records` around a run.
 * - Each run is a fresh child process (bench/variant.mjs), so peak RSS is per variant and per run.
 * - One warm-up run per variant (not counted), then R rounds; the order alternates each round
 *   (stock, otel-audit / otel-audit, stock / ...). Every reported metric is the median over the rounds.
 * - Writes bench/results/latest.json. Exits 1 if any run (warm-up included) delivered fewer records than it
 *   emitted, or if anything failed. The issue's targets are printed as PASS/FAIL but never change the exit code.
 * See bench/README.md.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = join(BENCH_DIR, '..');
const CLI = join(ROOT, 'dist', 'cli.js');
const VARIANT = join(BENCH_DIR, 'variant.mjs');
const RESULTS = join(BENCH_DIR, 'results', 'latest.json');

/** @param {string} name @param {number} dflt @param {number} min */
function intEnv(name, dflt, min) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`${name}=${JSON.stringify(raw)}: expected an integer >= ${min}`);
  return n;
}

const N = intEnv('BENCH_RECORDS', 200_000, 1);
const ROUNDS = intEnv('BENCH_ROUNDS', 3, 1);
const WARMUP = intEnv('BENCH_WARMUP', 20_000, 0);
const CHUNK = intEnv('BENCH_CHUNK', 1000, 1);
const RUN_TIMEOUT_MS = intEnv('BENCH_RUN_TIMEOUT_MS', 180_000, 1000);

const TARGET_RATIO = 0.8;
const TARGET_P99_US = 50;

/** @typedef {'stock' | 'otel-audit'} VariantName */
const VARIANTS = /** @type {const} */ (['stock', 'otel-audit']);

/**
 * What bench/variant.mjs prints (see its typedef), plus what the parent adds.
 * @typedef {Record<string, any> & {
 *   variant: VariantName, emitted: number, elapsedMs: number, emitPhaseMs: number, drainMs: number,
 *   emitP50Us: number, emitP99Us: number, emitP999Us: number, emitMaxUs: number, emitMeanUs: number,
 *   onEmitP50Us: number, onEmitP99Us: number, onEmitP999Us: number,
 *   maxRssMiB: number, cpuUserMs: number, cpuSystemMs: number,
 *   auditReport?: { emitted: number, exported: number, undelivered: number, dropped: number },
 *   auditOptions?: { maxExportBatchSize: number, maxQueueSize: number },
 * }} ChildResult
 * @typedef {ChildResult & {
 *   phase: 'warmup' | 'measured', round: number, receivedRecords: number, syntheticRecords: number,
 *   delivered: number, rejectedRequests: number, recordsPerSec: number, wallMs: number,
 * }} RunResult
 */

// ---------------------------------------------------------------------------------------------------------
// Child processes: every one we start is in this set until it exits, and is killed if we leave first.

/** @type {Set<import('node:child_process').ChildProcess>} */
const children = new Set();

/** @param {import('node:child_process').ChildProcess} child */
function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function killAll() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

process.on('exit', killAll);
for (const sig of /** @type {const} */ (['SIGINT', 'SIGTERM', 'SIGHUP'])) {
  process.on(sig, () => {
    process.stderr.write(`\nbench: ${sig}, stopping receiver and runs\n`);
    killAll();
    process.exit(128 + (os.constants.signals[sig] ?? 1));
  });
}

/** @param {string} s */
const log = (s) => process.stderr.write(`${s}\n`);

/** Calls `onLine` for every complete line of a stream. @param {NodeJS.ReadableStream} stream @param {(line: string) => void} onLine */
function lines(stream, onLine) {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    buf += chunk;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      onLine(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  });
  stream.on('end', () => {
    if (buf !== '') onLine(buf);
    buf = '';
  });
}

// ---------------------------------------------------------------------------------------------------------
// Receiver

/**
 * @typedef {{ requests: number, accepted: number, rejected: number, records: number, bytes: number }} Stats
 * @typedef {{ url: string, endpoint: string, stats: () => Promise<Stats>, stop: () => Promise<void> }} Receiver
 */

/** @returns {Promise<Receiver>} */
async function startReceiver() {
  if (!existsSync(CLI)) {
    throw new Error(`${relative(process.cwd(), CLI)} not found: run "npm run build" (the collector CLI is built from src/cli/main.ts)`);
  }
  const child = track(spawn(process.execPath, [CLI, 'collector', '--port', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
  /** @type {string[]} */
  const stderrTail = [];
  lines(/** @type {NodeJS.ReadableStream} */ (child.stderr), (l) => {
    stderrTail.push(l);
    if (stderrTail.length > 20) stderrTail.shift();
  });

  let started = false;
  let stopping = false;
  const listening = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail('no "listening" line within 15 s'), 15_000);
    /** @param {string} why */
    function fail(why) {
      clearTimeout(timer);
      reject(new Error(`receiver (${relative(process.cwd(), CLI)} collector) failed to start: ${why}\n${stderrTail.join('\n')}`));
    }
    child.once('error', (e) => fail(e.message));
    child.once('exit', (code, sig) => {
      if (!started) fail(`exited with ${sig ?? code}`);
      else if (!stopping) log(`bench: receiver exited unexpectedly (${sig ?? code})\n${stderrTail.join('\n')}`);
    });
    lines(/** @type {NodeJS.ReadableStream} */ (child.stdout), (l) => {
      try {
        const msg = JSON.parse(l);
        if (!started && msg?.event === 'listening' && typeof msg.url === 'string' && typeof msg.endpoint === 'string') {
          started = true;
          clearTimeout(timer);
          resolve(msg);
        }
      } catch {
        /* not the line we wait for */
      }
    });
  });

  const statsUrl = new URL('/_stats', listening.url).href;
  return {
    url: listening.url,
    endpoint: listening.endpoint,
    async stats() {
      const res = await fetch(statsUrl);
      if (!res.ok) throw new Error(`GET ${statsUrl}: HTTP ${res.status}`);
      return /** @type {Stats} */ (await res.json());
    },
    async stop() {
      stopping = true;
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// One run = one child process

/** @param {VariantName} variant @param {string} endpoint @param {number} records @returns {Promise<ChildResult>} */
function runChild(variant, endpoint, records) {
  return new Promise((resolve, reject) => {
    const child = track(
      spawn(process.execPath, ['--expose-gc', VARIANT, variant, endpoint, String(records), String(CHUNK)], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      }),
    );
    /** @type {string[]} */
    const out = [];
    /** @type {string[]} */
    const errTail = [];
    let errLines = 0;
    lines(/** @type {NodeJS.ReadableStream} */ (child.stdout), (l) => out.push(l));
    lines(/** @type {NodeJS.ReadableStream} */ (child.stderr), (l) => {
      // Whatever the pipeline says (loss warnings, export errors) is shown, but not flooding the terminal.
      errLines++;
      if (errLines <= 10) log(`  [${variant}] ${l}`);
      else if (errLines === 11) log(`  [${variant}] … (further stderr lines suppressed)`);
      errTail.push(l);
      if (errTail.length > 20) errTail.shift();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${variant} run did not finish within ${RUN_TIMEOUT_MS} ms (BENCH_RUN_TIMEOUT_MS); killed`));
    }, RUN_TIMEOUT_MS);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code, sig) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`${variant} run failed (exit ${sig ?? code}):\n${errTail.join('\n')}`));
        return;
      }
      const line = out.reverse().find((l) => l.startsWith('{'));
      try {
        resolve(JSON.parse(line ?? ''));
      } catch {
        reject(new Error(`${variant} run printed no result line; stdout was:\n${out.reverse().join('\n')}`));
      }
    });
  });
}

/**
 * @param {Receiver} receiver @param {VariantName} variant @param {number} records
 * @param {'warmup' | 'measured'} phase @param {number} round @returns {Promise<RunResult>}
 */
async function run(receiver, variant, records, phase, round) {
  const before = await receiver.stats();
  const t0 = performance.now();
  const r = await runChild(variant, receiver.endpoint, records);
  const wallMs = performance.now() - t0;
  const after = await receiver.stats();
  const receivedRecords = after.records - before.records;
  // otel-audit adds records of its own to the stream (the stream-end marker written at shutdown). Its shutdown
  // report counts them among `emitted` and counts application records it could not keep as `dropped`, so
  // emitted + dropped - (application records) is the number of synthetic records in what the receiver saw.
  const syntheticRecords = r.auditReport ? Math.max(0, r.auditReport.emitted + r.auditReport.dropped - records) : 0;
  const delivered = receivedRecords - syntheticRecords;
  return {
    ...r,
    phase,
    round,
    receivedRecords,
    syntheticRecords,
    delivered,
    rejectedRequests: after.rejected - before.rejected,
    recordsPerSec: delivered / (r.elapsedMs / 1000),
    wallMs,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Statistics and output

/** @param {number[]} xs */
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const METRICS = /** @type {const} */ ([
  'recordsPerSec',
  'elapsedMs',
  'emitPhaseMs',
  'drainMs',
  'emitP50Us',
  'emitP99Us',
  'emitP999Us',
  'emitMaxUs',
  'emitMeanUs',
  'onEmitP50Us',
  'onEmitP99Us',
  'onEmitP999Us',
  'maxRssMiB',
  'cpuUserMs',
  'cpuSystemMs',
]);

/** @param {RunResult[]} runs */
function summarize(runs) {
  /** @type {Record<string, number>} */
  const med = {};
  for (const k of METRICS) med[k] = median(runs.map((r) => r[k]));
  return {
    median: med,
    delivered: runs.reduce((a, r) => a + r.delivered, 0),
    emitted: runs.reduce((a, r) => a + r.emitted, 0),
  };
}

/** @param {number} x @param {number} [d] */
const fmt = (x, d = 1) => x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });

/** @param {string[]} head @param {string[][]} rows */
function mdTable(head, rows) {
  const all = [head, ...rows];
  const w = head.map((_, c) => Math.max(...all.map((r) => r[c].length)));
  const line = (/** @type {string[]} */ r) => `| ${r.map((v, c) => (c === 0 ? v.padEnd(w[c]) : v.padStart(w[c]))).join(' | ')} |`;
  return [line(head), `|${w.map((n, c) => (c === 0 ? ` ${'-'.repeat(n)} ` : ` ${'-'.repeat(n - 1)}: `)).join('|')}|`, ...rows.map(line)].join('\n');
}

// ---------------------------------------------------------------------------------------------------------

async function main() {
  const started = new Date();
  const tStart = performance.now();
  const meta = {
    date: started.toISOString(),
    node: process.version,
    cpu: os.cpus()[0]?.model?.trim() ?? 'unknown',
    cores: os.cpus().length,
    platform: `${os.platform()} ${os.release()}`,
    records: N,
    rounds: ROUNDS,
    warmupRecords: WARMUP,
    chunk: CHUNK,
    receiver: 'node dist/cli.js collector --port 0 (separate process, counting only, no --out)',
    stock: {
      processor: 'BatchLogRecordProcessor + OTLPLogExporter (http/json)',
      maxQueueSize: Math.max(N, 2048),
      maxExportBatchSize: 512,
      scheduledDelayMillis: 1000,
    },
    otelAudit: { file: 'journal', fsync: 'batch', replay: false, dir: 'fresh temp dir per run' },
  };

  log(`bench: ${meta.node}, ${meta.cpu}, ${meta.cores} cores; N=${N}, rounds=${ROUNDS}, warm-up=${WARMUP}, chunk=${CHUNK}`);
  const receiver = await startReceiver();
  log(`bench: receiver ${receiver.endpoint}`);

  /** @type {RunResult[]} */
  const runs = [];
  try {
    /** @param {RunResult} r */
    const report = (r) =>
      log(
        `  ${r.phase === 'warmup' ? 'warm-up ' : `round ${r.round}/${ROUNDS}`} ${r.variant.padEnd(10)} ` +
          `${fmt(r.recordsPerSec, 0).padStart(9)} rec/s  onEmit p99 ${fmt(r.onEmitP99Us)} µs  emit() p99 ${fmt(r.emitP99Us)} µs  ` +
          `rss ${fmt(r.maxRssMiB, 0)} MiB  ` +
          `delivered ${r.delivered}/${r.emitted}  (${fmt(r.wallMs / 1000)} s)`,
      );
    if (WARMUP > 0) {
      for (const v of VARIANTS) {
        const r = await run(receiver, v, WARMUP, 'warmup', 0);
        runs.push(r);
        report(r);
      }
    }
    for (let round = 1; round <= ROUNDS; round++) {
      const order = round % 2 === 1 ? VARIANTS : [...VARIANTS].reverse();
      for (const v of order) {
        const r = await run(receiver, v, N, 'measured', round);
        runs.push(r);
        report(r);
      }
    }
  } finally {
    await receiver.stop();
  }

  const measured = runs.filter((r) => r.phase === 'measured');
  const stock = summarize(measured.filter((r) => r.variant === 'stock'));
  const audit = summarize(measured.filter((r) => r.variant === 'otel-audit'));
  const ratio = audit.median.recordsPerSec / stock.median.recordsPerSec;
  const targets = {
    ratio: { target: `>= ${TARGET_RATIO}`, value: ratio, pass: ratio >= TARGET_RATIO },
    onEmitP99Us: { target: `<= ${TARGET_P99_US}`, value: audit.median.onEmitP99Us, pass: audit.median.onEmitP99Us <= TARGET_P99_US },
  };
  const losses = runs
    .filter((r) => r.delivered < r.emitted || (r.auditReport && (r.auditReport.dropped > 0 || r.auditReport.undelivered > 0)))
    .map((r) => ({
      variant: r.variant,
      phase: r.phase,
      round: r.round,
      emitted: r.emitted,
      delivered: r.delivered,
      ...(r.auditReport ? { dropped: r.auditReport.dropped, undelivered: r.auditReport.undelivered } : {}),
    }));

  // --- stdout: the table
  const pf = (/** @type {boolean} */ p) => (p ? 'PASS' : 'FAIL');
  /** @param {string} name @param {ReturnType<typeof summarize>} s @param {string} ratioCell */
  const row = (name, s, ratioCell) => [
    name,
    fmt(s.median.recordsPerSec, 0),
    ratioCell,
    fmt(s.median.onEmitP50Us, 2),
    fmt(s.median.onEmitP99Us, 2),
    fmt(s.median.emitP50Us, 2),
    fmt(s.median.emitP99Us, 2),
    fmt(s.median.emitMaxUs, 0),
    fmt(s.median.maxRssMiB, 0),
    `${s.delivered}/${s.emitted}${s.delivered < s.emitted ? ' LOSS' : ''}`,
  ];
  const out = [];
  out.push(
    `Node ${meta.node} · ${meta.cpu} · ${meta.cores} cores · N=${N} records/run · ${ROUNDS} rounds (median) · ` +
      `warm-up ${WARMUP} · chunk ${CHUNK} · ${meta.date}`,
  );
  out.push('');
  out.push(
    mdTable(
      ['variant', 'records/s', 'ratio', 'onEmit p50 µs', 'onEmit p99 µs', 'emit() p50 µs', 'emit() p99 µs', 'emit() max µs', 'peak RSS MiB', 'delivered/emitted'],
      [row('stock (BLRP + OTLPLogExporter)', stock, '1.00'), row('otel-audit', audit, fmt(ratio, 2))],
    ),
  );
  out.push('');
  out.push(
    `Targets (issue): ratio ${fmt(ratio, 2)} ${targets.ratio.target} → ${pf(targets.ratio.pass)}; ` +
      `otel-audit p99 onEmit ${fmt(audit.median.onEmitP99Us, 2)} µs ${targets.onEmitP99Us.target} µs → ${pf(targets.onEmitP99Us.pass)} ` +
      `(the whole emit() call, SDK included: p99 ${fmt(audit.median.emitP99Us, 2)} µs)`,
  );
  const ao = measured.find((r) => r.variant === 'otel-audit')?.auditOptions;
  meta.otelAudit = { ...meta.otelAudit, ...ao };
  out.push(
    `Stock BLRP: maxQueueSize=${meta.stock.maxQueueSize} (>= records per run, so it never drops), maxExportBatchSize=512, ` +
      `scheduledDelayMillis=1000 (defaults). otel-audit: file=journal, fsync=batch, replay=false, fresh temp dir, ` +
      `maxExportBatchSize=${ao?.maxExportBatchSize}, maxQueueSize=${ao?.maxQueueSize} (one request in flight).`,
  );
  // Settings only (never keys or headers: those are secrets).
  const envKnobs = Object.keys(process.env).filter((k) => k.startsWith('OTEL_BLRP_') || (k.startsWith('OTEL_AUDIT_') && !k.includes('KEY')));
  if (envKnobs.length > 0) out.push(`Environment (applies to both variants where they read it): ${envKnobs.map((k) => `${k}=${process.env[k]}`).join(', ')}.`);
  out.push(
    `records/s = records the receiver got (delta of GET /_stats; otel-audit's stream-end marker not counted) / ` +
      `(first emit → end of provider.shutdown()). onEmit = the processor's onEmit call alone; emit() = one ` +
      `logger.emit() call, the SDK creating the LogRecord plus onEmit: what the application's thread waits; µs. ` +
      `delivered/emitted summed over measured rounds.`,
  );
  out.push('');
  out.push('Details (medians):');
  out.push('');
  out.push(
    mdTable(
      ['variant', 'emit phase ms', 'drain ms', 'total ms', 'onEmit p99.9 µs', 'emit() p99.9 µs', 'emit() mean µs', 'CPU user ms', 'CPU sys ms'],
      [
        ['stock', stock],
        ['otel-audit', audit],
      ].map(([name, s]) => {
        const m = /** @type {ReturnType<typeof summarize>} */ (s).median;
        return [
          /** @type {string} */ (name),
          fmt(m.emitPhaseMs, 0),
          fmt(m.drainMs, 0),
          fmt(m.elapsedMs, 0),
          fmt(m.onEmitP999Us, 1),
          fmt(m.emitP999Us, 1),
          fmt(m.emitMeanUs, 2),
          fmt(m.cpuUserMs, 0),
          fmt(m.cpuSystemMs, 0),
        ];
      }),
    ),
  );
  const totalS = (performance.now() - tStart) / 1000;
  out.push('');
  out.push(`Total bench time ${fmt(totalS)} s.`);
  process.stdout.write(out.join('\n') + '\n');

  // --- JSON
  mkdirSync(dirname(RESULTS), { recursive: true });
  const json = {
    meta: { ...meta, totalSeconds: totalS },
    targets,
    ratio,
    variants: { stock, 'otel-audit': audit },
    losses,
    runs,
  };
  writeFileSync(RESULTS, JSON.stringify(json, null, 2) + '\n');
  log(`bench: results written to ${relative(process.cwd(), RESULTS)}`);

  if (losses.length > 0) {
    for (const l of losses) {
      log(
        `bench: LOSS in ${l.variant} (${l.phase === 'warmup' ? 'warm-up' : `round ${l.round}`}): ` +
          `receiver got ${l.delivered} of ${l.emitted} records` +
          ('dropped' in l ? ` (processor reports dropped=${l.dropped}, undelivered=${l.undelivered})` : ''),
      );
    }
    const who = [...new Set(losses.map((l) => l.variant))].join(', ');
    log(`bench: FAILED: records were lost by ${who}`);
    process.exitCode = 1;
  }
}

main().then(
  () => process.exit(),
  (err) => {
    log(`bench: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
