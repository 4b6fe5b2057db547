// @ts-check
/**
 * Pipeline benchmark: the stock OpenTelemetry logs pipeline (OTLP http/json and http/protobuf), pino writing
 * to a file, and otel-audit (http/json and http/protobuf), on the same records and the same receiver.
 *
 *   npm run bench                      (builds dist/, then runs this file with --expose-gc)
 *   BENCH_RECORDS=100000 BENCH_ROUNDS=3 BENCH_WARMUP=20000 BENCH_SHAPES=15,9 \
 *     BENCH_VARIANTS=stock,stock-proto,pino,otel-audit,otel-audit-proto node --expose-gc bench/pipeline.mjs
 *
 * - The receiver is the dev collector `node dist/cli.js collector --port 0` (no --out: it only counts; it takes
 *   OTLP/JSON and OTLP/protobuf), in its own process, shared by all runs. Records delivered = delta of its
 *   `GET /_stats` `records` around a run. pino sends nothing: its delivered count is the lines of its file.
 * - Each run is a fresh child process (bench/variant.mjs), so peak RSS is per variant and per run.
 * - Each record shape (bench/records.mjs) is measured on its own: one warm-up run per variant (not counted),
 *   then R rounds, each running every variant once, in an order rotated by one each round. Every reported
 *   metric is the median over the rounds.
 * - Writes bench/results/latest.json. Exits 1 if any run (warm-up included) delivered fewer records than it
 *   emitted, or if anything failed. The targets are printed as PASS/FAIL but never change the exit code.
 * See bench/README.md.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SHAPES } from './records.mjs';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = join(BENCH_DIR, '..');
const CLI = join(ROOT, 'dist', 'cli.js');
const VARIANT = join(BENCH_DIR, 'variant.mjs');

/** A bad BENCH_* setting: say which, exit 1. @param {string} msg @returns {never} */
function badEnv(msg) {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(1);
}

/** @param {string} name @param {number} dflt @param {number} min */
function intEnv(name, dflt, min) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) badEnv(`${name}=${JSON.stringify(raw)}: expected an integer >= ${min}`);
  return n;
}

/**
 * A comma-separated list of names out of `allowed`, in the order given, without repeats.
 * @template {string} T @param {string} name @param {readonly T[]} dflt @param {readonly T[]} allowed @returns {T[]}
 */
function listEnv(name, dflt, allowed) {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return [...dflt];
  const items = [...new Set(raw.split(',').map((s) => s.trim()).filter((s) => s !== ''))];
  const bad = items.filter((s) => !allowed.includes(/** @type {T} */ (s)));
  if (bad.length > 0 || items.length === 0) {
    badEnv(`${name}=${JSON.stringify(raw)}: expected a comma-separated list of ${allowed.join(', ')}${bad.length ? ` (unknown: ${bad.join(', ')})` : ''}`);
  }
  return /** @type {T[]} */ (items);
}

/** @typedef {'stock' | 'stock-proto' | 'pino' | 'otel-audit' | 'otel-audit-proto'} VariantName */
/** @type {readonly VariantName[]} */
const ALL_VARIANTS = ['stock', 'stock-proto', 'pino', 'otel-audit', 'otel-audit-proto'];

/** What each variant is, for the table's first column and the JSON. */
const DESCRIPTION = /** @type {const} */ ({
  stock: 'BLRP + OTLPLogExporter (exporter-logs-otlp-http, http/json)',
  'stock-proto': 'BLRP + OTLPLogExporter (exporter-logs-otlp-proto, http/protobuf)',
  pino: 'pino → file (pino.destination, sync: false); no hash, no network',
  'otel-audit': 'AuditLogRecordProcessor, exporter http/json',
  'otel-audit-proto': 'AuditLogRecordProcessor, exporter http/protobuf',
});

const N = intEnv('BENCH_RECORDS', 100_000, 1);
const ROUNDS = intEnv('BENCH_ROUNDS', 3, 1);
const WARMUP = intEnv('BENCH_WARMUP', 20_000, 0);
const CHUNK = intEnv('BENCH_CHUNK', 1000, 1);
const RUN_TIMEOUT_MS = intEnv('BENCH_RUN_TIMEOUT_MS', 180_000, 1000);
const VARIANTS = listEnv('BENCH_VARIANTS', ALL_VARIANTS, ALL_VARIANTS);
const SHAPE_NAMES = listEnv('BENCH_SHAPES', ['15', '9'], Object.keys(SHAPES));
/** The receiver every OTel variant sends to: the dev collector (default) or bench/minimal-receiver.mjs. */
const RECEIVER = (process.env.BENCH_RECEIVER ?? '').trim() || 'collector';
if (RECEIVER !== 'collector' && RECEIVER !== 'minimal') badEnv(`BENCH_RECEIVER=${JSON.stringify(process.env.BENCH_RECEIVER)}: expected collector or minimal`);
const MINIMAL_RECEIVER = RECEIVER === 'minimal';
const RECEIVER_ARGS = MINIMAL_RECEIVER ? [join(BENCH_DIR, 'minimal-receiver.mjs')] : [CLI, 'collector', '--port', '0'];
/** The minimal receiver's results go beside the default's, which the README's figures are. */
const RESULTS = join(BENCH_DIR, 'results', MINIMAL_RECEIVER ? 'latest-minimal-receiver.json' : 'latest.json');
const RECEIVER_NAME = MINIMAL_RECEIVER ? 'bench/minimal-receiver.mjs' : `${relative(process.cwd(), CLI)} collector`;

/**
 * The targets: each compares two variants of the same shape in the same run, as the ratio `a / b` of the
 * medians of `metric`, which must be `>=` or `<=` `limit`.
 * @typedef {'recordsPerSec' | 'emitP50Us' | 'emitP99Us' | 'cpuUsPerRecord' | 'maxRssMiB'} TargetMetric
 * @typedef {{ id: string, label: string, a: VariantName, b: VariantName, metric: TargetMetric, op: '>=' | '<=', limit: number }} Target
 * @type {Target[]}
 */
const TARGETS = [
  { id: 'throughput', label: 'otel-audit records/s ≥ 1.25 × stock', a: 'otel-audit', b: 'stock', metric: 'recordsPerSec', op: '>=', limit: 1.25 },
  { id: 'throughputProto', label: 'otel-audit-proto records/s ≥ 1.0 × stock-proto', a: 'otel-audit-proto', b: 'stock-proto', metric: 'recordsPerSec', op: '>=', limit: 1.0 },
  { id: 'emitP99', label: 'otel-audit emit() p99 ≤ 1.5 × stock', a: 'otel-audit', b: 'stock', metric: 'emitP99Us', op: '<=', limit: 1.5 },
  { id: 'emitP50', label: 'otel-audit emit() p50 ≤ 2 × stock', a: 'otel-audit', b: 'stock', metric: 'emitP50Us', op: '<=', limit: 2 },
  { id: 'cpuPerRecord', label: 'otel-audit CPU/record ≤ stock', a: 'otel-audit', b: 'stock', metric: 'cpuUsPerRecord', op: '<=', limit: 1 },
  { id: 'peakRss', label: 'otel-audit peak RSS ≤ stock', a: 'otel-audit', b: 'stock', metric: 'maxRssMiB', op: '<=', limit: 1 },
];

/**
 * What bench/variant.mjs prints (see its VariantResult typedef), plus what the parent adds.
 * @typedef {Record<string, any> & {
 *   variant: VariantName, shape: string, emitted: number, elapsedMs: number, emitPhaseMs: number, drainMs: number,
 *   emitP50Us: number, emitP99Us: number, emitP999Us: number, emitMaxUs: number, emitMeanUs: number,
 *   onEmitP50Us: number | null, onEmitP99Us: number | null, onEmitP999Us: number | null,
 *   runCpuUserMs: number, runCpuSystemMs: number, cpuUsPerRecord: number,
 *   maxRssMiB: number, cpuUserMs: number, cpuSystemMs: number, fileLines?: number,
 *   auditReport?: { emitted: number, exported: number, undelivered: number, dropped: number },
 *   auditOptions?: { maxExportBatchSize: number, maxQueueSize: number },
 * }} ChildResult
 * @typedef {ChildResult & {
 *   phase: 'warmup' | 'measured', round: number, receivedRecords: number, syntheticRecords: number,
 *   delivered: number, rejectedRequests: number, recordsPerSec: number, wallMs: number,
 *   receiverCpuUsPerRecord: number | null, wireBytesPerRecord: number | null,
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
 * @typedef {{ url: string, endpoint: string, stats: () => Promise<Stats>, cpuMs: () => number | null, stop: () => Promise<void> }} Receiver
 */

/**
 * CPU time (user + system, ms) a process has used so far, from /proc/<pid>/stat (fields 14 and 15, in clock
 * ticks of USER_HZ, which the Linux ABI fixes at 100 for /proc); null where there is no /proc (not Linux).
 * @param {number | undefined} pid
 */
function procCpuMs(pid) {
  if (pid === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Field 2 (the command) is in parentheses and may hold spaces: count fields from after its ')'.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return null;
  }
}

/** @returns {Promise<Receiver>} */
async function startReceiver() {
  if (!MINIMAL_RECEIVER && !existsSync(CLI)) {
    throw new Error(`${relative(process.cwd(), CLI)} not found: run "npm run build" (the collector CLI is built from src/cli/main.ts)`);
  }
  const child = track(spawn(process.execPath, RECEIVER_ARGS, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
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
      reject(new Error(`receiver (${RECEIVER_NAME}) failed to start: ${why}\n${stderrTail.join('\n')}`));
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
    cpuMs: () => procCpuMs(child.pid),
    async stats() {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`the receiver is gone (exit ${child.signalCode ?? child.exitCode}; 0 = it was sent SIGTERM/SIGINT from outside)`);
      }
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

/**
 * @param {VariantName} variant @param {string} endpoint @param {number} records @param {string} shape
 * @returns {Promise<ChildResult>}
 */
function runChild(variant, endpoint, records, shape) {
  return new Promise((resolve, reject) => {
    const child = track(
      spawn(process.execPath, ['--expose-gc', VARIANT, variant, variant === 'pino' ? '-' : endpoint, String(records), String(CHUNK), shape], {
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
 * @param {Receiver} receiver @param {VariantName} variant @param {string} shape @param {number} records
 * @param {'warmup' | 'measured'} phase @param {number} round @returns {Promise<RunResult>}
 */
async function run(receiver, variant, shape, records, phase, round) {
  const before = await receiver.stats();
  const cpu0 = receiver.cpuMs();
  const t0 = performance.now();
  const r = await runChild(variant, receiver.endpoint, records, shape);
  const wallMs = performance.now() - t0;
  const cpu1 = receiver.cpuMs();
  const after = await receiver.stats();
  const receivedRecords = after.records - before.records;
  // otel-audit adds records of its own to the stream (the stream-end marker written at shutdown). Its shutdown
  // report counts them among `emitted` and counts application records it could not keep as `dropped`, so
  // emitted + dropped - (application records) is the number of synthetic records in what the receiver saw.
  const syntheticRecords = r.auditReport ? Math.max(0, r.auditReport.emitted + r.auditReport.dropped - records) : 0;
  // pino sends nothing to the receiver: what it delivered is what is in its file.
  const delivered = variant === 'pino' ? (r.fileLines ?? 0) : receivedRecords - syntheticRecords;
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
    // What the receiver spent on this run's records, and what each record weighs on the wire (pino: none).
    receiverCpuUsPerRecord: variant === 'pino' || cpu0 === null || cpu1 === null || receivedRecords === 0 ? null : ((cpu1 - cpu0) * 1000) / receivedRecords,
    wireBytesPerRecord: variant === 'pino' || receivedRecords === 0 ? null : (after.bytes - before.bytes) / receivedRecords,
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
  'cpuUsPerRecord',
  'runCpuUserMs',
  'runCpuSystemMs',
  'maxRssMiB',
  'cpuUserMs',
  'cpuSystemMs',
  'receiverCpuUsPerRecord',
  'wireBytesPerRecord',
]);

/**
 * Medians over the rounds (null where a variant has no such figure: pino's onEmit), and the summed counts.
 * @typedef {{ median: Record<typeof METRICS[number], number | null>, delivered: number, emitted: number }} Summary
 * @param {RunResult[]} runs @returns {Summary}
 */
function summarize(runs) {
  const med = /** @type {Summary['median']} */ ({});
  for (const k of METRICS) {
    const xs = runs.map((r) => r[k]);
    med[k] = xs.length > 0 && xs.every((x) => typeof x === 'number') ? median(/** @type {number[]} */ (xs)) : null;
  }
  return {
    median: med,
    delivered: runs.reduce((a, r) => a + r.delivered, 0),
    emitted: runs.reduce((a, r) => a + r.emitted, 0),
  };
}

/** @param {number | null | undefined} x @param {number} [d] */
const fmt = (x, d = 1) => (x == null || !Number.isFinite(x) ? '–' : x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }));

/** @param {string[]} head @param {string[][]} rows */
function mdTable(head, rows) {
  const all = [head, ...rows];
  const w = head.map((_, c) => Math.max(...all.map((r) => r[c].length)));
  const line = (/** @type {string[]} */ r) => `| ${r.map((v, c) => (c === 0 ? v.padEnd(w[c]) : v.padStart(w[c]))).join(' | ')} |`;
  return [line(head), `|${w.map((n, c) => (c === 0 ? ` ${'-'.repeat(n)} ` : ` ${'-'.repeat(n - 1)}: `)).join('|')}|`, ...rows.map(line)].join('\n');
}

/** `xs` rotated left by `k`: the order of round k+1. @template T @param {T[]} xs @param {number} k */
const rotate = (xs, k) => [...xs.slice(k % xs.length), ...xs.slice(0, k % xs.length)];

/**
 * @typedef {{ id: string, label: string, a: VariantName, b: VariantName, metric: TargetMetric, op: '>=' | '<=',
 *   limit: number, valueA: number | null, valueB: number | null, ratio: number | null, pass: boolean | null }} TargetResult
 * @param {Partial<Record<VariantName, Summary>>} byVariant @returns {TargetResult[]}
 */
function evaluateTargets(byVariant) {
  return TARGETS.map((t) => {
    const valueA = byVariant[t.a]?.median[t.metric] ?? null;
    const valueB = byVariant[t.b]?.median[t.metric] ?? null;
    const ratio = valueA !== null && valueB !== null && valueB > 0 ? valueA / valueB : null;
    const pass = ratio === null ? null : t.op === '>=' ? ratio >= t.limit : ratio <= t.limit;
    return { ...t, valueA, valueB, ratio, pass };
  });
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
    shapes: SHAPE_NAMES,
    variants: VARIANTS,
    receiver: MINIMAL_RECEIVER
      ? 'node bench/minimal-receiver.mjs (separate process; JSON.parse or a protobuf field walk, and a count; no validation)'
      : 'node dist/cli.js collector --port 0 (separate process, counting only, no --out; OTLP/JSON and OTLP/protobuf)',
    descriptions: Object.fromEntries(VARIANTS.map((v) => [v, DESCRIPTION[v]])),
    stock: { maxQueueSize: Math.max(N, 2048), maxExportBatchSize: 512, scheduledDelayMillis: 1000 },
    /** @type {Record<string, unknown>} */
    otelAudit: { file: 'journal', fsync: 'batch', replay: false, dir: 'fresh temp dir per run' },
    pino: { destination: 'pino.destination({ dest: <fresh temp dir>/pino.log, sync: false })', level: 'info' },
  };

  log(
    `bench: ${meta.node}, ${meta.cpu}, ${meta.cores} cores; N=${N}, rounds=${ROUNDS}, warm-up=${WARMUP}, chunk=${CHUNK}, ` +
      `shapes=${SHAPE_NAMES.join(',')}, variants=${VARIANTS.join(',')}`,
  );
  const receiver = await startReceiver();
  log(`bench: receiver ${receiver.endpoint}`);

  /** @type {RunResult[]} */
  const runs = [];
  try {
    const width = Math.max(...VARIANTS.map((v) => v.length));
    /** @param {RunResult} r */
    const report = (r) =>
      log(
        `  ${r.phase === 'warmup' ? 'warm-up  ' : `round ${r.round}/${ROUNDS}`} ${r.variant.padEnd(width)} ` +
          `${fmt(r.recordsPerSec, 0).padStart(9)} rec/s  emit() p99 ${fmt(r.emitP99Us)} µs  onEmit p99 ${fmt(r.onEmitP99Us)} µs  ` +
          `CPU ${fmt(r.cpuUsPerRecord)} µs/rec  rss ${fmt(r.maxRssMiB, 0)} MiB  ` +
          `delivered ${r.delivered}/${r.emitted}  (${fmt(r.wallMs / 1000)} s)`,
      );
    for (const shape of SHAPE_NAMES) {
      log(`bench: shape ${shape}`);
      if (WARMUP > 0) {
        for (const v of VARIANTS) {
          const r = await run(receiver, v, shape, WARMUP, 'warmup', 0);
          runs.push(r);
          report(r);
        }
      }
      for (let round = 1; round <= ROUNDS; round++) {
        for (const v of rotate(VARIANTS, round - 1)) {
          const r = await run(receiver, v, shape, N, 'measured', round);
          runs.push(r);
          report(r);
        }
      }
    }
  } finally {
    await receiver.stop();
  }

  const ao = runs.find((r) => r.auditOptions)?.auditOptions;
  if (ao) Object.assign(meta.otelAudit, ao);

  /** @type {Record<string, { variants: Partial<Record<VariantName, Summary & { vsStock: number | null, vsStockProto: number | null }>>, targets: TargetResult[] }>} */
  const shapes = {};
  for (const shape of SHAPE_NAMES) {
    const measured = runs.filter((r) => r.phase === 'measured' && r.shape === shape);
    /** @type {Partial<Record<VariantName, Summary>>} */
    const byVariant = {};
    for (const v of VARIANTS) byVariant[v] = summarize(measured.filter((r) => r.variant === v));
    /** @param {Summary} s @param {VariantName} base */
    const vs = (s, base) => {
      const b = byVariant[base]?.median.recordsPerSec;
      return b && s.median.recordsPerSec !== null ? s.median.recordsPerSec / b : null;
    };
    shapes[shape] = {
      variants: Object.fromEntries(
        VARIANTS.map((v) => {
          const s = /** @type {Summary} */ (byVariant[v]);
          return [v, { ...s, vsStock: vs(s, 'stock'), vsStockProto: v.endsWith('-proto') ? vs(s, 'stock-proto') : null }];
        }),
      ),
      targets: evaluateTargets(byVariant),
    };
  }

  const losses = runs
    .filter((r) => r.delivered < r.emitted || (r.auditReport && (r.auditReport.dropped > 0 || r.auditReport.undelivered > 0)))
    .map((r) => ({
      variant: r.variant,
      shape: r.shape,
      phase: r.phase,
      round: r.round,
      emitted: r.emitted,
      delivered: r.delivered,
      ...(r.auditReport ? { dropped: r.auditReport.dropped, undelivered: r.auditReport.undelivered } : {}),
    }));

  // --- stdout: one table per shape
  const out = [];
  out.push(
    `Machine: ${meta.cpu}, ${meta.cores} cores · Node ${meta.node} · N=${fmt(N, 0)} records/run · ${ROUNDS} round${ROUNDS === 1 ? '' : 's'} (median) · ` +
      `shapes ${SHAPE_NAMES.join(', ')} (attributes per record) · warm-up ${fmt(WARMUP, 0)} · chunk ${CHUNK} · receiver ${MINIMAL_RECEIVER ? 'minimal' : 'dev collector'} · ${meta.date}`,
  );
  for (const shape of SHAPE_NAMES) {
    const { variants, targets } = shapes[shape];
    out.push('');
    out.push(`Shape ${shape} (${Object.keys(SHAPES[shape](0).attributes).length} attributes):`);
    out.push('');
    out.push(
      mdTable(
        ['variant', 'records/s', 'vs stock', 'vs stock-proto', 'emit() p50 µs', 'emit() p99 µs', 'onEmit p50 µs', 'onEmit p99 µs', 'CPU µs/rec', 'peak RSS MiB', 'delivered/emitted'],
        VARIANTS.map((v) => {
          const s = /** @type {NonNullable<typeof variants[VariantName]>} */ (variants[v]);
          const m = s.median;
          return [
            v,
            fmt(m.recordsPerSec, 0),
            fmt(s.vsStock, 2),
            fmt(s.vsStockProto, 2),
            fmt(m.emitP50Us, 2),
            fmt(m.emitP99Us, 2),
            fmt(m.onEmitP50Us, 2),
            fmt(m.onEmitP99Us, 2),
            fmt(m.cpuUsPerRecord, 1),
            fmt(m.maxRssMiB, 0),
            `${s.delivered}/${s.emitted}${s.delivered < s.emitted ? ' LOSS' : ''}`,
          ];
        }),
      ),
    );
    out.push('');
    out.push(`Targets (shape ${shape}):`);
    const digits = { recordsPerSec: 0, emitP50Us: 2, emitP99Us: 2, cpuUsPerRecord: 1, maxRssMiB: 0 };
    for (const t of targets) {
      out.push(
        t.pass === null
          ? `  n/a   ${t.label}: ${[t.a, t.b].filter((v) => !VARIANTS.includes(v)).join(' and ')} not run`
          : `  ${t.pass ? 'PASS' : 'FAIL'}  ${t.label}: ratio ${fmt(t.ratio, 2)} (${fmt(t.valueA, digits[t.metric])} / ${fmt(t.valueB, digits[t.metric])})`,
      );
    }
    out.push('');
    out.push(`Details (shape ${shape}, medians):`);
    out.push('');
    out.push(
      mdTable(
        ['variant', 'emit phase ms', 'drain ms', 'total ms', 'emit() p99.9 µs', 'emit() max µs', 'emit() mean µs', 'onEmit p99.9 µs', 'run CPU user ms', 'run CPU sys ms', 'process CPU ms', 'wire B/rec', 'receiver CPU µs/rec', 'machine CPU µs/rec'],
        VARIANTS.map((v) => {
          const m = /** @type {Summary} */ (variants[v]).median;
          return [
            v,
            fmt(m.emitPhaseMs, 0),
            fmt(m.drainMs, 0),
            fmt(m.elapsedMs, 0),
            fmt(m.emitP999Us, 1),
            fmt(m.emitMaxUs, 0),
            fmt(m.emitMeanUs, 2),
            fmt(m.onEmitP999Us, 1),
            fmt(m.runCpuUserMs, 0),
            fmt(m.runCpuSystemMs, 0),
            fmt(m.cpuUserMs !== null && m.cpuSystemMs !== null ? m.cpuUserMs + m.cpuSystemMs : null, 0),
            fmt(m.wireBytesPerRecord, 0),
            fmt(m.receiverCpuUsPerRecord, 1),
            fmt(m.cpuUsPerRecord !== null && m.receiverCpuUsPerRecord !== null ? m.cpuUsPerRecord + m.receiverCpuUsPerRecord : null, 1),
          ];
        }),
      ),
    );
  }
  out.push('');
  out.push(
    `Settings: stock BLRP maxQueueSize=${meta.stock.maxQueueSize} (>= records per run, so it never drops), maxExportBatchSize=512, ` +
      `scheduledDelayMillis=1000 (defaults). otel-audit: file=journal, fsync=batch, replay=false, fresh temp dir, ` +
      `maxExportBatchSize=${ao?.maxExportBatchSize ?? '–'}, maxQueueSize=${ao?.maxQueueSize ?? '–'} (one request in flight). ` +
      `pino: level info, pino.destination({ sync: false }) to a file in a fresh temp dir.`,
  );
  // Settings only (never keys or headers: those are secrets).
  const envKnobs = Object.keys(process.env).filter((k) => k.startsWith('OTEL_BLRP_') || (k.startsWith('OTEL_AUDIT_') && !k.includes('KEY')));
  if (envKnobs.length > 0) out.push(`Environment (applies to every variant that reads it): ${envKnobs.map((k) => `${k}=${process.env[k]}`).join(', ')}.`);
  out.push(
    `records/s = records delivered (receiver: delta of GET /_stats, otel-audit's stream-end marker not counted; pino: lines in its file) / ` +
      `(first emit → end of provider.shutdown(); pino: file closed). emit() = one logger.emit() call (pino: logger.info()): what the ` +
      `application's thread waits. onEmit = the processor's onEmit call alone. CPU µs/rec = the child's user+sys CPU (all threads) ` +
      `from the first emit to the end of the run / records; "process CPU" = its whole life, module loading included. ` +
      `wire B/rec = request bytes the receiver got / its records; receiver CPU µs/rec = the receiver process's user+sys CPU ` +
      `(/proc/<pid>/stat, 10 ms ticks) during the run / its records; machine CPU = child + receiver, what both cores must supply per record. ` +
      `delivered/emitted summed over measured rounds.`,
  );
  const totalS = (performance.now() - tStart) / 1000;
  out.push('');
  out.push(`Total bench time ${fmt(totalS)} s.`);
  process.stdout.write(out.join('\n') + '\n');

  // --- JSON
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(RESULTS, JSON.stringify({ meta: { ...meta, totalSeconds: totalS }, shapes, losses, runs }, null, 2) + '\n');
  log(`bench: results written to ${relative(process.cwd(), RESULTS)}`);

  if (losses.length > 0) {
    for (const l of losses) {
      log(
        `bench: LOSS in ${l.variant}, shape ${l.shape} (${l.phase === 'warmup' ? 'warm-up' : `round ${l.round}`}): ` +
          `${l.variant === 'pino' ? 'file has' : 'receiver got'} ${l.delivered} of ${l.emitted} records` +
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
