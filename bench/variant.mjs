// @ts-check
/**
 * Child-process body of the pipeline benchmark (see bench/README.md). One process = one variant = one run, so
 * peak RSS (`process.resourceUsage().maxRSS`) belongs to that variant alone.
 *
 *   node --expose-gc bench/variant.mjs <variant> <endpoint> <records> [chunk] [shape]
 *
 *   variant   stock | stock-proto | pino | otel-audit | otel-audit-proto (see VARIANTS below)
 *   endpoint  the receiver's OTLP/HTTP logs URL (`-` for pino, which does not use it)
 *   chunk     emits between `await new Promise(setImmediate)` yields (default 1000)
 *   shape     record shape of bench/records.mjs: 15 (default) or 9 attributes
 *
 * Emits <records> audit log records as fast as it can, in chunks separated by a setImmediate yield, timing
 * every emit call (`logger.emit()`, or pino's `logger.info()`); then waits until every record has left the
 * process (OTel: forceFlush() + shutdown(); pino: the destination flushed and closed). Prints exactly one
 * JSON line (type {@link VariantResult}) on stdout and exits 0; on error prints a message on stderr and exits
 * 1. The OTel variants do not know how many records arrived: the parent asks the receiver (`GET /_stats`)
 * before and after. pino counts the lines of its file itself (`fileLines`).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SHAPES } from './records.mjs';

/**
 * @typedef {object} VariantResult
 * @property {string} variant
 * @property {string} shape
 * @property {number} emitted            records passed to the emit call
 * @property {number} elapsedMs          first emit → every record out (OTel: end of provider.shutdown(); pino: file closed)
 * @property {number} emitPhaseMs        first emit → last emit returned (includes the setImmediate yields)
 * @property {number} drainMs            end of emitting → end of the run
 * @property {number} emitP50Us          one emit call (`logger.emit()`, pino: `logger.info()`)
 * @property {number} emitP99Us
 * @property {number} emitP999Us
 * @property {number} emitMaxUs
 * @property {number} emitMeanUs
 * @property {number | null} onEmitP50Us   the processor's onEmit alone (see `timed`); null for pino
 * @property {number | null} onEmitP99Us
 * @property {number | null} onEmitP999Us
 * @property {number} runCpuUserMs       process.cpuUsage() from the first emit to the end of the run (all threads)
 * @property {number} runCpuSystemMs
 * @property {number} cpuUsPerRecord     (runCpuUserMs + runCpuSystemMs) * 1000 / emitted
 * @property {number} maxRssMiB          process.resourceUsage().maxRSS (KiB) / 1024, whole process lifetime
 * @property {number} cpuUserMs          process.resourceUsage(), whole process lifetime (module loading included)
 * @property {number} cpuSystemMs
 * @property {string} [protocol]         OTel variants: OTLP protocol of the exporter
 * @property {number} [stockMaxQueueSize]  stock*: BLRP maxQueueSize used
 * @property {{ emitted: number, exported: number, undelivered: number, dropped: number }} [auditReport]  otel-audit*: the ShutdownReport (counts only)
 * @property {{ maxExportBatchSize: number, maxQueueSize: number }} [auditOptions]  otel-audit*: effective settings
 * @property {number} [journalBytes]      otel-audit*: bytes in the journal dir after shutdown
 * @property {number} [fileLines]         pino: lines in its file after it was closed
 * @property {number} [fileBytes]         pino: size of that file
 */

/** The variants, and the OTLP protocol of the OTel ones. */
const VARIANTS = /** @type {const} */ ({
  stock: 'http/json',
  'stock-proto': 'http/protobuf',
  pino: null,
  'otel-audit': 'http/json',
  'otel-audit-proto': 'http/protobuf',
});
/** @typedef {keyof typeof VARIANTS} VariantName */

// Parent gone (IPC channel closed) → do not linger.
if (process.send) {
  process.on('disconnect', () => process.exit(1));
  /** @type {any} */ (process).channel?.unref();
}

const [variantArg, endpoint, recordsArg, chunkArg, shapeArg] = process.argv.slice(2);
const N = Number(recordsArg ?? process.env.BENCH_RECORDS ?? 100_000);
const CHUNK = Number(chunkArg ?? process.env.BENCH_CHUNK ?? 1000);
const SHAPE = shapeArg ?? '15';
if (!variantArg || !Object.hasOwn(VARIANTS, variantArg)) fail(`unknown variant ${JSON.stringify(variantArg)} (${Object.keys(VARIANTS).join(' | ')})`);
const variant = /** @type {VariantName} */ (variantArg);
if (!endpoint) fail('missing endpoint argument');
if (!Number.isSafeInteger(N) || N <= 0) fail(`bad record count ${recordsArg}`);
if (!Number.isSafeInteger(CHUNK) || CHUNK <= 0) fail(`bad chunk size ${chunkArg}`);
const makeRecord = Object.hasOwn(SHAPES, SHAPE) ? SHAPES[SHAPE] : fail(`unknown shape ${JSON.stringify(SHAPE)} (${Object.keys(SHAPES).join(' | ')})`);

/** @param {string} msg @returns {never} */
function fail(msg) {
  process.stderr.write(`bench/variant: ${msg}\n`);
  process.exit(1);
}

/** ns per processor onEmit call, filled by the `timed` wrapper. */
const onEmitLat = new Float64Array(N);
let onEmitCount = 0;

/**
 * The processor under test, with each `onEmit` call timed: the processor's own latency, without the SDK's
 * creation of the LogRecord (which is the same for every OTel variant and is in the `emit()` times).
 * @param {import('@opentelemetry/sdk-logs').LogRecordProcessor} inner
 * @returns {import('@opentelemetry/sdk-logs').LogRecordProcessor}
 */
function timed(inner) {
  return {
    onEmit(record, context) {
      const s = process.hrtime.bigint();
      inner.onEmit(record, context);
      if (onEmitCount < N) onEmitLat[onEmitCount++] = Number(process.hrtime.bigint() - s);
    },
    forceFlush: () => inner.forceFlush(),
    shutdown: () => inner.shutdown(),
  };
}

/** @param {string} dir */
function dirBytes(dir) {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) total += statSync(join(e.parentPath ?? /** @type {any} */ (e).path, e.name)).size;
  }
  return total;
}

/**
 * What a variant gives the timing loop. `prepare(i)` builds the i-th record's arguments (outside the timed
 * region), `emit` is the call that is timed, `finish` waits until every record has left the process,
 * `report` adds the variant's own figures afterwards.
 * @typedef {{
 *   prepare: (i: number) => any, emit: (x: any) => void, finish: () => Promise<void>,
 *   report: () => Promise<Partial<VariantResult>>, timesOnEmit: boolean,
 * }} Pipeline
 */

/** @param {string} tmp @returns {Promise<Pipeline>} */
async function otelPipeline(tmp) {
  const { LoggerProvider, BatchLogRecordProcessor } = await import('@opentelemetry/sdk-logs');
  const protocol = /** @type {'http/json' | 'http/protobuf'} */ (VARIANTS[variant]);
  /** @type {Partial<VariantResult>} */
  const extra = { protocol };
  /** @type {any} */
  let auditProcessor;
  /** @type {import('@opentelemetry/sdk-logs').LogRecordProcessor} */
  let processor;
  if (variant === 'stock' || variant === 'stock-proto') {
    const { OTLPLogExporter } =
      protocol === 'http/json' ? await import('@opentelemetry/exporter-logs-otlp-http') : await import('@opentelemetry/exporter-logs-otlp-proto');
    // Large enough never to drop: the whole run fits in the queue.
    const maxQueueSize = Math.max(N, 2048);
    extra.stockMaxQueueSize = maxQueueSize;
    processor = new BatchLogRecordProcessor({ exporter: new OTLPLogExporter({ url: endpoint }), maxQueueSize });
  } else {
    const { AuditLogRecordProcessor } = await import('../dist/index.js');
    // The protocol is set explicitly, so that OTEL_EXPORTER_OTLP_[LOGS_]PROTOCOL in the environment cannot change it.
    auditProcessor = new AuditLogRecordProcessor({ dir: tmp, file: 'journal', fsync: 'batch', exporter: { url: endpoint, protocol }, replay: false });
    processor = auditProcessor;
  }
  const provider = new LoggerProvider({ processors: [timed(processor)] });
  const logger = provider.getLogger('audit');
  return {
    timesOnEmit: true,
    prepare: makeRecord,
    emit: (rec) => logger.emit(rec),
    async finish() {
      await provider.forceFlush();
      await provider.shutdown();
    },
    async report() {
      if (auditProcessor) {
        // Idempotent: returns the report of the shutdown provider.shutdown() already ran.
        const r = await auditProcessor.shutdownWithReport();
        // r.emitted counts the processor's own synthetic records too (the stream-end marker).
        extra.auditReport = { emitted: r.emitted, exported: r.exported, undelivered: r.undelivered, dropped: r.dropped };
        // The effective settings (defaults, or OTEL_BLRP_* from the environment), for the report.
        const o = auditProcessor.options;
        extra.auditOptions = { maxExportBatchSize: o.maxExportBatchSize, maxQueueSize: o.maxQueueSize };
        extra.journalBytes = dirBytes(tmp);
      }
      return extra;
    },
  };
}

/** @param {string} tmp @returns {Promise<Pipeline>} */
async function pinoPipeline(tmp) {
  const { pino } = await import('pino');
  const file = join(tmp, 'pino.log');
  const dest = pino.destination({ dest: file, sync: false });
  // Open the file before the clock starts (the OTel variants' exporters connect lazily, but have no file to open).
  await new Promise((resolve, reject) => {
    dest.once('ready', resolve);
    dest.once('error', reject);
  });
  const logger = pino(dest);
  return {
    timesOnEmit: false,
    prepare(i) {
      const r = makeRecord(i);
      return [{ ...r.attributes, event: r.eventName }, r.body];
    },
    emit: (a) => logger.info(a[0], a[1]),
    async finish() {
      // end() writes what is buffered, then closes the file: 'close' = every line is in the file.
      await new Promise((resolve, reject) => {
        dest.once('close', resolve);
        dest.once('error', reject);
        dest.end();
      });
    },
    async report() {
      const text = readFileSync(file);
      let lines = 0;
      for (let k = text.indexOf(10); k >= 0; k = text.indexOf(10, k + 1)) lines++;
      return { fileLines: lines, fileBytes: text.length };
    },
  };
}

async function main() {
  const tmp = mkdtempSync(join(tmpdir(), 'otel-audit-bench-'));
  try {
    const p = variant === 'pino' ? await pinoPipeline(tmp) : await otelPipeline(tmp);
    const lat = new Float64Array(N); // ns per emit call
    /** @type {any} */ (globalThis).gc?.();

    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    let i = 0;
    while (i < N) {
      const end = Math.min(N, i + CHUNK);
      for (; i < end; i++) {
        const x = p.prepare(i); // built outside the timed region
        const s = process.hrtime.bigint();
        p.emit(x);
        lat[i] = Number(process.hrtime.bigint() - s);
      }
      await new Promise(setImmediate);
    }
    const tEmitted = process.hrtime.bigint();
    await p.finish();
    const tEnd = process.hrtime.bigint();
    const cpu = process.cpuUsage(cpu0);
    const extra = await p.report();

    let sum = 0;
    for (let k = 0; k < N; k++) sum += lat[k];
    lat.sort();
    const pct = percentile(lat);
    const onEmitPct = p.timesOnEmit ? percentile(onEmitLat.subarray(0, onEmitCount).sort()) : () => null;
    const ru = process.resourceUsage();
    /** @type {VariantResult} */
    const result = {
      variant,
      shape: SHAPE,
      emitted: N,
      elapsedMs: Number(tEnd - t0) / 1e6,
      emitPhaseMs: Number(tEmitted - t0) / 1e6,
      drainMs: Number(tEnd - tEmitted) / 1e6,
      emitP50Us: pct(0.5),
      emitP99Us: pct(0.99),
      emitP999Us: pct(0.999),
      emitMaxUs: lat[N - 1] / 1000,
      emitMeanUs: sum / N / 1000,
      onEmitP50Us: onEmitPct(0.5),
      onEmitP99Us: onEmitPct(0.99),
      onEmitP999Us: onEmitPct(0.999),
      runCpuUserMs: cpu.user / 1000,
      runCpuSystemMs: cpu.system / 1000,
      cpuUsPerRecord: (cpu.user + cpu.system) / N,
      maxRssMiB: ru.maxRSS / 1024,
      cpuUserMs: ru.userCPUTime / 1000,
      cpuSystemMs: ru.systemCPUTime / 1000,
      ...extra,
    };
    process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Nearest-rank percentiles, in µs, of latencies in ns sorted ascending.
 * @param {Float64Array} sorted @returns {(p: number) => number}
 */
function percentile(sorted) {
  return (p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] / 1000;
}

main().then(
  () => process.exit(0),
  (err) => fail(err instanceof Error ? (err.stack ?? err.message) : String(err)),
);
