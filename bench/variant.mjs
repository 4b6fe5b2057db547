// @ts-check
/**
 * Child-process body of the pipeline benchmark (see bench/README.md). One process = one variant = one run, so
 * peak RSS (`process.resourceUsage().maxRSS`) belongs to that variant alone.
 *
 *   node --expose-gc bench/variant.mjs <stock|otel-audit> <endpoint> <records> [chunk]
 *
 * Emits <records> identical audit log records through a LoggerProvider as fast as it can, in chunks of
 * [chunk] (default 1000) separated by `await new Promise(setImmediate)`, timing every `logger.emit()` call;
 * then forceFlush() + shutdown(). Prints exactly one JSON line (type {@link VariantResult}) on stdout and
 * exits 0; on error prints a message on stderr and exits 1. It does not know how many records arrived: the
 * parent asks the receiver (`GET /_stats`) before and after.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LoggerProvider, BatchLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';

/**
 * @typedef {object} VariantResult
 * @property {string} variant
 * @property {number} emitted            records passed to logger.emit()
 * @property {number} elapsedMs          first emit → end of provider.shutdown()
 * @property {number} emitPhaseMs        first emit → last emit returned (includes the setImmediate yields)
 * @property {number} drainMs            end of emitting → end of shutdown (forceFlush + shutdown)
 * @property {number} emitP50Us
 * @property {number} emitP99Us
 * @property {number} emitP999Us
 * @property {number} emitMaxUs
 * @property {number} emitMeanUs
 * @property {number} onEmitP50Us        the processor's onEmit alone (see `timed`)
 * @property {number} onEmitP99Us
 * @property {number} onEmitP999Us
 * @property {number} maxRssMiB          process.resourceUsage().maxRSS (KiB) / 1024, whole process lifetime
 * @property {number} cpuUserMs
 * @property {number} cpuSystemMs
 * @property {number} [stockMaxQueueSize]  stock only: BLRP maxQueueSize used
 * @property {object} [auditReport]       otel-audit only: the processor's ShutdownReport (counts only)
 * @property {{ maxExportBatchSize: number, maxQueueSize: number }} [auditOptions]  otel-audit only: effective settings
 * @property {number} [journalBytes]      otel-audit only: bytes in the journal dir after shutdown
 */

// Parent gone (IPC channel closed) → do not linger.
if (process.send) {
  process.on('disconnect', () => process.exit(1));
  /** @type {any} */ (process).channel?.unref();
}

const [variant, endpoint, recordsArg, chunkArg] = process.argv.slice(2);
const N = Number(recordsArg ?? process.env.BENCH_RECORDS ?? 200_000);
const CHUNK = Number(chunkArg ?? process.env.BENCH_CHUNK ?? 1000);
if (variant !== 'stock' && variant !== 'otel-audit') fail(`unknown variant ${JSON.stringify(variant)} (stock | otel-audit)`);
if (!endpoint) fail('missing endpoint argument');
if (!Number.isSafeInteger(N) || N <= 0) fail(`bad record count ${recordsArg}`);
if (!Number.isSafeInteger(CHUNK) || CHUNK <= 0) fail(`bad chunk size ${chunkArg}`);

/** @param {string} msg @returns {never} */
function fail(msg) {
  process.stderr.write(`bench/variant: ${msg}\n`);
  process.exit(1);
}

/** @param {number} i */
function makeRecord(i) {
  return {
    eventName: 'user.login',
    severityNumber: 9,
    body: 'login ok',
    attributes: {
      'audit.actor.id': `user-${i % 1000}`,
      'audit.actor.type': 'user',
      'audit.action': 'LOGIN',
      'audit.outcome': 'success',
      'audit.target.id': `acct-${i % 97}`,
      'audit.target.type': 'account',
      'audit.source.id': '10.1.2.3',
      'audit.source.type': 'ipv4',
      'client.address': '10.1.2.3',
      'session.id': `s-${i % 50}`,
      'http.request.method': 'POST',
      'url.path': '/login',
      'user.roles': ['reader', 'writer'],
      'request.size': i,
      'latency.ms': 12.5,
    },
  };
}

/** ns per processor onEmit call, filled by the `timed` wrapper. */
const onEmitLat = new Float64Array(N);
let onEmitCount = 0;

/**
 * The processor under test, with each `onEmit` call timed: the latency the issue names, the processor's own,
 * without the SDK's creation of the LogRecord (which is the same for both variants and is in `emit()` times).
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

async function main() {
  /** @type {string | undefined} */
  let tmp;
  /** @type {any} */
  let auditProcessor;
  /** @type {LoggerProvider} */
  let provider;
  /** @type {Partial<VariantResult>} */
  const extra = {};

  if (variant === 'stock') {
    // Large enough never to drop: the whole run fits in the queue.
    const maxQueueSize = Math.max(N, 2048);
    extra.stockMaxQueueSize = maxQueueSize;
    provider = new LoggerProvider({
      processors: [timed(new BatchLogRecordProcessor({ exporter: new OTLPLogExporter({ url: endpoint }), maxQueueSize }))],
    });
  } else {
    const { AuditLogRecordProcessor } = await import('../dist/index.js');
    tmp = mkdtempSync(join(tmpdir(), 'otel-audit-bench-'));
    auditProcessor = new AuditLogRecordProcessor({
      dir: tmp,
      file: 'journal',
      fsync: 'batch',
      exporter: { url: endpoint },
      replay: false,
    });
    provider = new LoggerProvider({ processors: [timed(auditProcessor)] });
  }

  try {
    const logger = provider.getLogger('audit');
    const lat = new Float64Array(N); // ns per emit()
    /** @type {any} */ (globalThis).gc?.();

    const t0 = process.hrtime.bigint();
    let i = 0;
    while (i < N) {
      const end = Math.min(N, i + CHUNK);
      for (; i < end; i++) {
        const rec = makeRecord(i); // built outside the timed region
        const s = process.hrtime.bigint();
        logger.emit(rec);
        lat[i] = Number(process.hrtime.bigint() - s);
      }
      await new Promise(setImmediate);
    }
    const tEmitted = process.hrtime.bigint();
    await provider.forceFlush();
    await provider.shutdown();
    const tEnd = process.hrtime.bigint();

    if (auditProcessor) {
      // Idempotent: returns the report of the shutdown provider.shutdown() already ran.
      const r = await auditProcessor.shutdownWithReport();
      // r.emitted counts the processor's own synthetic records too (the stream-end marker).
      extra.auditReport = { emitted: r.emitted, exported: r.exported, undelivered: r.undelivered, dropped: r.dropped };
      // The effective settings (defaults, or OTEL_BLRP_* from the environment), for the report.
      const o = auditProcessor.options;
      extra.auditOptions = { maxExportBatchSize: o.maxExportBatchSize, maxQueueSize: o.maxQueueSize };
      if (tmp) extra.journalBytes = dirBytes(tmp);
    }

    let sum = 0;
    for (let k = 0; k < N; k++) sum += lat[k];
    lat.sort();
    const pct = percentile(lat);
    const onEmitPct = percentile(onEmitLat.subarray(0, onEmitCount).sort());
    const ru = process.resourceUsage();
    /** @type {VariantResult} */
    const result = {
      variant,
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
      maxRssMiB: ru.maxRSS / 1024,
      cpuUserMs: ru.userCPUTime / 1000,
      cpuSystemMs: ru.systemCPUTime / 1000,
      ...extra,
    };
    process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
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
