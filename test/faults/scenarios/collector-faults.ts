/**
 * Collector faults on a random schedule while a process emits at a steady rate, and an outage (the collector
 * process stopped, then started again on the same port). Every accepted record must reach the collector or be
 * set aside in rejected/ (refused for good), in order per stream.
 */
import type { CollectorFault } from '../../../src/collector/index.js';
import { acceptedIds, delivered, rejectedFiles, type EmittedLine } from './accounting.js';
import { begin, finish, type Started } from './common.js';
import { emitter, LONG_WAIT, pool, rand, sleep, type Proc } from './system.js';
import type { Ctx, Row, Scenario } from './types.js';

export interface FaultSpec {
  name: string;
  /** The fault switched on in each episode (none: the collector process is stopped instead). */
  fault?: CollectorFault;
  /** A fault for the next N requests (`times`): let it run its course rather than switching it off. */
  counted?: boolean;
}

export const FAULTS: readonly FaultSpec[] = [
  { name: 'HTTP 500 bursts', fault: { mode: 'status', status: 500 } },
  { name: 'HTTP 502 bursts', fault: { mode: 'status', status: 502 } },
  { name: 'HTTP 503 bursts', fault: { mode: 'status', status: 503 } },
  { name: 'HTTP 504 bursts', fault: { mode: 'status', status: 504 } },
  { name: 'HTTP 429 bursts', fault: { mode: 'status', status: 429 } },
  { name: 'HTTP 429 + Retry-After: 1', fault: { mode: 'status', status: 429, retryAfterSeconds: 1 } },
  { name: 'HTTP 400 ×3 (permanent → set aside)', fault: { mode: 'status', status: 400, times: 3 }, counted: true },
  { name: 'slow responses (1.5 s > 1 s timeout)', fault: { mode: 'delay', delayMs: 1500 } },
  { name: 'connection refused (collector stopped)' },
  { name: 'connection reset mid-request', fault: { mode: 'drop' } },
  { name: 'partial_success ×2 (transient)', fault: { mode: 'partial', rejected: 3, times: 2 }, counted: true },
  { name: 'partial_success ×5 (persistent → set aside)', fault: { mode: 'partial', rejected: 1, times: 5 }, counted: true },
];

export interface CollectorFaultParams {
  /** Indexes into FAULTS (the index also names the row's directory and id prefix). */
  faults: number[];
  seconds: number;
  /** Records per second. */
  rate: number;
  /** Faults run at a time. */
  parallel: number;
}

/** Switches the fault on and off at random until the emitter is done emitting; returns the number of episodes. */
async function episodes(spec: FaultSpec, s: Started, child: Proc): Promise<number> {
  const { c } = s;
  let n = 0;
  let usedUpAt: number | undefined; // collector request count when the last counted fault was found used up
  while (child.event('emitted') === undefined && child.proc.exitCode === null) {
    await sleep(rand(300, 1200));
    if (child.event('emitted') !== undefined) break;
    n++;
    if (spec.fault === undefined) {
      await c.stop();
      await sleep(rand(300, 1500));
      await c.start();
    } else if (spec.counted === true) {
      // Armed again only once used up and a healthy request went through since (otherwise back-to-back
      // episodes would be one long run of failures of the same batch).
      const requests = await c.requests();
      if ((await c.currentFault()).mode !== 'ok') n--;
      else if (usedUpAt === undefined && n > 1) {
        usedUpAt = requests;
        n--;
      } else if (usedUpAt !== undefined && requests <= usedUpAt) n--;
      else {
        usedUpAt = undefined;
        await c.fault(spec.fault);
      }
    } else {
      await c.fault(spec.fault);
      await sleep(rand(100, 800));
      await c.fault({ mode: 'ok' });
    }
  }
  // Let a counted fault run its course (the processor's backoff doubles from 0.5 s), then clear anything left.
  for (let i = 0; spec.counted === true && i < 600 && (await c.currentFault()).mode !== 'ok'; i++) await sleep(100);
  await c.fault({ mode: 'ok' });
  return n;
}

async function collectorFault(ctx: Ctx, k: number, p: CollectorFaultParams): Promise<Row> {
  const spec = FAULTS[k]!;
  const s = await begin(ctx, `fault-${k}`);
  const child = emitter({
    OTEL_AUDIT_DIR: s.auditDir,
    OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: s.c.endpoint,
    OTEL_EXPORTER_OTLP_TIMEOUT: '1000',
    OTEL_BLRP_EXPORT_TIMEOUT: '120000',
    EMIT_RATE: String(p.rate),
    EMIT_SECONDS: String(p.seconds),
    EMIT_COUNT: '0',
    ID_PREFIX: `f${k}-`,
  });
  await child.waitFor((o) => o.event === 'started');
  const n = await episodes(spec, s, child);
  const done = await child.waitFor((o) => o.event === 'done', LONG_WAIT);
  await child.exited;
  await s.c.stop();
  const aside = rejectedFiles([s.auditDir]);
  const setAside = (done.stats as { rejected?: number } | undefined)?.rejected ?? 0;
  return finish({
    group: 0,
    rank: k,
    scenario: `collector: ${spec.name}`,
    t0: s.t0,
    expected: acceptedIds(child.event('emitted') as unknown as EmittedLine),
    out: s.out,
    aside: { files: aside, got: delivered(aside, { hash: false, keep: false }) },
    procs: [child],
    notes:
      `${n} fault episodes` +
      (setAside > 0 ? `; the processor's own count of set-aside records: ${setAside} (some were written by earlier partial attempts, or are its stream-end marker)` : ''),
  });
}

export const collectorFaults: Scenario<CollectorFaultParams> = {
  key: 'faults',
  // One of each kind: an error status, an outage, a reset, and a refusal that ends in rejected/.
  short: { faults: [2, 8, 9, 11], seconds: 2, rate: 300, parallel: 2 },
  long: (s) => ({
    faults: FAULTS.flatMap((f, k) => (s.fault === undefined || f.name.includes(s.fault) ? [k] : [])),
    seconds: 8 * s.scale,
    rate: 1000,
    parallel: 3,
  }),
  run: (ctx, p) => pool(p.faults, p.parallel, (k) => collectorFault(ctx, k, p)),
};

export interface OutageParams {
  outageSeconds: number;
  /** Seconds of emitting before the outage, and after it. */
  before: number;
  after: number;
  rate: number;
}

/** Waits until the processor has acknowledged what was accepted when the collector came back; seconds, or undefined if it shut down first. */
async function catchUp(child: Proc, target: number, since: number): Promise<number | undefined> {
  while (child.event('done') === undefined) {
    const p = child.event('progress');
    if (p !== undefined && Number(p.acked) >= target) return (performance.now() - since) / 1000;
    await sleep(100);
  }
  return undefined;
}

export const outage: Scenario<OutageParams> = {
  key: 'outage',
  short: { outageSeconds: 2, before: 1, after: 1, rate: 200 },
  long: (s) => ({ outageSeconds: s.outageSeconds, before: 10, after: 10, rate: Math.round(300 * s.scale) }),
  async run(ctx, p) {
    const { t0, auditDir, out, c } = await begin(ctx, 'outage');
    const child = emitter({
      OTEL_AUDIT_DIR: auditDir,
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: c.endpoint,
      OTEL_EXPORTER_OTLP_TIMEOUT: '2000',
      OTEL_BLRP_EXPORT_TIMEOUT: '300000',
      EMIT_RATE: String(p.rate),
      EMIT_SECONDS: String(p.before + p.outageSeconds + p.after),
      EMIT_COUNT: '0',
      ID_PREFIX: 'outage-',
    });
    await child.waitFor((o) => o.event === 'started');
    await sleep(p.before * 1000);
    await c.stop();
    ctx.log(`outage: collector stopped for ${p.outageSeconds} s`);
    await sleep(p.outageSeconds * 1000);
    const backlogAt = child.event('progress');
    const restartedAt = performance.now();
    await c.start();
    ctx.log('outage: collector back');
    const caughtUp = await catchUp(child, Number(backlogAt?.accepted ?? 0), restartedAt);
    await child.waitFor((o) => o.event === 'done', LONG_WAIT);
    await child.exited;
    await c.stop();
    const backlog = Number(backlogAt?.accepted ?? 0) - Number(backlogAt?.acked ?? 0);
    return [
      finish({
        group: 1,
        scenario: `outage of ${p.outageSeconds} s at ${p.rate} records/s`,
        t0,
        expected: acceptedIds(child.event('emitted') as unknown as EmittedLine),
        out,
        procs: [child],
        notes: `backlog ${backlog} records at restart; caught up ${caughtUp === undefined ? 'by shutdown' : `${caughtUp.toFixed(1)} s`} after it (retry backoff ≤ 30 s)`,
      }),
    ];
  },
};
