/**
 * Several processes on one OTEL_AUDIT_DIR: node:cluster workers emitting through random collector faults; then
 * workers all killed with SIGKILL and as many processes restarting together, each orphaned stream replayed by
 * exactly one of them.
 */
import type { CollectorFault } from '../../../src/collector/index.js';
import { acceptedIds, durableIds, type EmittedLine } from './accounting.js';
import { begin, finish } from './common.js';
import { emitter, rand, sleep, verifyCli } from './system.js';
import type { Ctx, Row, Scenario } from './types.js';

export interface ClusterParams {
  workers: number;
  /** Records per second of each worker, and for how long. */
  rate: number;
  seconds: number;
}

const emittedOf = (lines: Record<string, unknown>[]): EmittedLine[] => lines.filter((o) => o.event === 'emitted') as unknown as EmittedLine[];

async function workersUnderFaults(ctx: Ctx, p: ClusterParams): Promise<Row> {
  const { t0, auditDir, out, c } = await begin(ctx, 'cluster');
  const primary = emitter({
    CLUSTER_WORKERS: String(p.workers),
    OTEL_AUDIT_DIR: auditDir,
    OTEL_AUDIT_MAX_FILE_BYTES: String(1 << 20),
    OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: c.endpoint,
    OTEL_EXPORTER_OTLP_TIMEOUT: '1000',
    OTEL_BLRP_EXPORT_TIMEOUT: '120000',
    EMIT_RATE: String(p.rate),
    EMIT_SECONDS: String(p.seconds),
    EMIT_COUNT: '0',
    ID_PREFIX: 'c-',
  });
  let episodes = 0;
  const faults: CollectorFault[] = [{ mode: 'status', status: 503 }, { mode: 'drop' }, { mode: 'delay', delayMs: 1500 }];
  while (emittedOf(primary.lines).length < p.workers && primary.proc.exitCode === null) {
    await sleep(rand(300, 1000));
    await c.fault(faults[episodes++ % faults.length]!);
    await sleep(rand(100, 600));
    await c.fault({ mode: 'ok' });
  }
  await primary.exited;
  await c.stop();
  const ems = emittedOf(primary.lines);
  const siblingsReplayed = primary.lines.filter((o) => o.event === 'replayed' && ((o.report as { streams?: string[] } | null)?.streams?.length ?? 0) > 0).length;
  const local = verifyCli([auditDir]);
  return finish({
    group: 4,
    rank: 0,
    scenario: `cluster: ${p.workers} workers, one dir, random faults`,
    t0,
    expected: ems.flatMap((em) => [...acceptedIds(em)]),
    out,
    procs: [primary],
    checks: { 'local journal verifies': local, 'no live sibling stream replayed': siblingsReplayed === 0, 'every worker emitted': ems.length === p.workers },
    notes: `${episodes} fault episodes; local journal verifies: ${local ? 'yes' : 'NO'}; live sibling streams replayed: ${siblingsReplayed}`,
  });
}

/** Waits until the killed processes are gone (reaped): a zombie still answers kill(pid, 0), i.e. looks alive. */
async function reaped(pids: number[]): Promise<void> {
  for (const pid of pids) {
    for (let i = 0; i < 500; i++) {
      try {
        process.kill(pid, 0);
      } catch {
        break;
      }
      await sleep(20);
    }
  }
}

async function killedAndRestarted(ctx: Ctx, p: ClusterParams): Promise<Row> {
  const { t0, auditDir, out, c } = await begin(ctx, 'cluster-kill');
  const primary = emitter({
    CLUSTER_WORKERS: String(p.workers),
    OTEL_AUDIT_DIR: auditDir,
    OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: c.endpoint,
    OTEL_EXPORTER_OTLP_TIMEOUT: '1000',
    EMIT_COUNT: '0',
    REPORT_DURABLE: '1',
    ID_PREFIX: 'ck-',
  });
  for (let w = 0; w < p.workers; w++) await primary.waitFor((o) => 'd' in o && o.worker === w, 60_000);
  await sleep(rand(200, 1500));
  // kill -9 every worker and the primary at once
  const started = primary.lines.filter((x) => x.event === 'started');
  for (const o of started) {
    try {
      process.kill(Number(o.pid), 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  primary.proc.kill('SIGKILL');
  await primary.exited;
  await reaped(started.map((o) => Number(o.pid)));
  const durable = durableIds(primary.lines, (o, i) => `ck-w${String(o.worker)}-${i}`);
  const crashed = started.map((o) => String(o.streamId));
  // As many processes start together over the orphans, the collector slowed so the replays overlap.
  await c.fault({ mode: 'delay', delayMs: 5 });
  const restarts = Array.from({ length: p.workers }, (_, k) =>
    emitter({ OTEL_AUDIT_DIR: auditDir, OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: c.endpoint, EMIT_COUNT: '100', WAIT_REPLAY: '1', ID_PREFIX: `ckr${k}-` }),
  );
  const replayedBy: string[] = [];
  for (const r of restarts) {
    replayedBy.push(...((await r.waitFor((o) => o.event === 'replayed')).report as { streams: string[] }).streams);
    await r.exited;
  }
  await c.fault({ mode: 'ok' });
  await c.stop();
  const each = crashed.every((s) => replayedBy.filter((x) => x === s).length === 1);
  return finish({
    group: 4,
    rank: 1,
    scenario: `cluster: ${p.workers} workers kill -9, ${p.workers} processes restart together`,
    t0,
    expected: [...durable, ...restarts.flatMap((r) => [...acceptedIds(r.event('emitted') as unknown as EmittedLine)])],
    out,
    procs: [primary, ...restarts],
    checks: { 'each orphan replayed by exactly one process': each },
    notes: `"emitted" = durable receipts + the restarts' records; each of the ${crashed.length} orphans replayed by exactly one process: ${each ? 'yes' : 'NO'}`,
  });
}

export const cluster: Scenario<ClusterParams> = {
  key: 'cluster',
  short: { workers: 2, rate: 300, seconds: 2 },
  long: (s) => ({ workers: 4, rate: Math.round(1000 * s.scale), seconds: 8 }),
  run: async (ctx, p) => [await workersUnderFaults(ctx, p), await killedAndRestarted(ctx, p)],
};
