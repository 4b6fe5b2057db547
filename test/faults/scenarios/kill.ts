/**
 * kill -9 at random instants: processes emitting at full speed are SIGKILLed, with the collector up in half of
 * the runs and unreachable in the other half; a third of the runs get a simulated torn write (a SIGKILL loses
 * no page cache, so a torn tail from the kill itself is rare). A new process then restarts on each directory.
 * Every durable receipt must be delivered, torn tails detected, and every new stream linked to the crashed one
 * (ARCHITECTURE.md §5.3); how many crashed streams were replayed is reported.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { durableIds, segmentsOf } from './accounting.js';
import { finish } from './common.js';
import { collectorProcess, deadEndpoint, emitter, pool, rand, sleep, type Proc } from './system.js';
import { dirOf, type Scenario } from './types.js';

export interface KillParams {
  runs: number;
  /** Runs at a time. */
  parallel: number;
  /** The kill comes this many ms (at random between the two) after the first durable receipt. */
  killAfterMs: [number, number];
}

interface KillRun {
  durable: string[];
  /** The crashed process had written a journal segment. */
  journaled: boolean;
  simulatedTear: boolean;
  torn: number;
  linked: boolean;
  replayed: boolean;
  problems: string[];
}

export interface Crash {
  streamId: string;
  /** Ids whose receipts settled as durable before the kill. */
  durable: string[];
  signal: NodeJS.Signals | null;
  killedAfterMs: number;
}

/**
 * A process emitting at full speed on `env.OTEL_AUDIT_DIR` (ids `${prefix}${i}`), SIGKILLed at a random instant
 * `killAfterMs` after its first durable receipt.
 */
export async function crash(env: Record<string, string>, prefix: string, killAfterMs: [number, number], procs: Proc[] = []): Promise<Crash> {
  const child = emitter({ ...env, EMIT_COUNT: '0', REPORT_DURABLE: '1', ID_PREFIX: prefix });
  procs.push(child);
  const started = await child.waitFor((o) => o.event === 'started');
  await child.waitFor((o) => 'd' in o, 60_000);
  const ms = Math.round(rand(...killAfterMs));
  await sleep(ms);
  child.proc.kill('SIGKILL');
  const { signal } = await child.exited;
  return { streamId: String(started.streamId), durable: durableIds(child.lines, (_, i) => `${prefix}${i}`), signal, killedAfterMs: ms };
}

/**
 * The torn tail a restart must set aside: what the kill left after the last newline or, where it left a whole
 * last line and in a third of the runs, a write cut short appended to the last segment (part of a line, no
 * newline). `undefined`: no journal, or no torn tail.
 */
export function tear(auditDir: string, run: number): { tornBytes: Buffer | undefined; simulated: boolean } {
  const segs = segmentsOf(auditDir);
  if (segs.length === 0) return { tornBytes: undefined, simulated: false };
  const last = segs[segs.length - 1]!;
  const text = readFileSync(last);
  if (text.length > 0 && text[text.length - 1] !== 10) return { tornBytes: text.subarray(text.lastIndexOf(10) + 1), simulated: false };
  if (run % 3 !== 0 || text.length === 0) return { tornBytes: undefined, simulated: false };
  const lines = text.toString('utf8').trimEnd().split('\n');
  const prefix = Buffer.from(lines[lines.length - 1]!, 'utf8').subarray(0, 20 + ((run * 37) % 400));
  appendFileSync(last, prefix);
  return { tornBytes: prefix, simulated: true };
}

async function oneRun(run: number, dir: string, endpoints: { up: string; dead: string }, p: KillParams, procs: Proc[]): Promise<KillRun> {
  const auditDir = join(dir, `run-${run}`);
  const env = {
    OTEL_AUDIT_DIR: auditDir,
    OTEL_AUDIT_FSYNC: run % 4 < 2 ? 'batch' : 'always',
    OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: run % 2 === 0 ? endpoints.up : endpoints.dead,
    OTEL_EXPORTER_OTLP_TIMEOUT: '300',
  };
  const crashed = await crash(env, `k${run}-`, p.killAfterMs, procs);
  const journaled = segmentsOf(auditDir).length > 0;
  const { tornBytes, simulated } = tear(auditDir, run);
  // Restart: a new process on the directory, collector up.
  const next = emitter({ OTEL_AUDIT_DIR: auditDir, OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: endpoints.up, EMIT_COUNT: '1', WAIT_REPLAY: '1', ID_PREFIX: `k${run}r-` });
  procs.push(next);
  const st = await next.waitFor((o) => o.event === 'started');
  const rep = (await next.waitFor((o) => o.event === 'replayed')).report as { streams: string[]; torn?: unknown[] };
  await next.exited;
  const problems: string[] = [];
  const linked = journaled && st.previousStreamId === crashed.streamId;
  if (journaled && !linked) problems.push(`run ${run}: new stream not linked to the crashed one`);
  const torn = rep.torn?.length ?? 0;
  const expectTorn = tornBytes !== undefined;
  if (expectTorn !== torn > 0) problems.push(`run ${run}: torn tail ${expectTorn ? 'not ' : ''}detected`);
  return { durable: crashed.durable, journaled, simulatedTear: simulated, torn, linked, replayed: journaled && rep.streams.includes(crashed.streamId), problems };
}

export const kills: Scenario<KillParams> = {
  key: 'kill',
  short: { runs: 4, parallel: 2, killAfterMs: [20, 300] },
  long: (s) => ({ runs: s.kills, parallel: 4, killAfterMs: [20, 1000] }),
  async run(ctx, p) {
    const t0 = performance.now();
    const dir = dirOf(ctx, 'kills');
    const out = join(dir, 'collector.jsonl');
    const c = await collectorProcess(out);
    const endpoints = { up: c.endpoint, dead: await deadEndpoint() };
    const procs: Proc[] = [];
    const runs = await pool(
      Array.from({ length: p.runs }, (_, i) => i),
      p.parallel,
      (run) => oneRun(run, dir, endpoints, p, procs),
    );
    await c.stop();
    const count = (f: (r: KillRun) => boolean): number => runs.filter(f).length;
    const crashed = count((r) => r.journaled);
    const problems = runs.flatMap((r) => r.problems);
    return [
      finish({
        group: 2,
        scenario: `kill -9 × ${p.runs} (random instants, full speed)`,
        t0,
        expected: runs.flatMap((r) => r.durable),
        out,
        procs,
        checks: { 'torn tails detected, restarts linked': problems.length === 0 },
        notes:
          `"emitted" = receipts settled as durable before the kill; ${runs.reduce((a, r) => a + r.torn, 0)} torn tails set aside to quarantine/ (${count((r) => r.simulatedTear)} simulated), ` +
          `${count((r) => r.replayed)}/${crashed} crashed streams replayed, ${count((r) => r.linked)}/${crashed} restarts linked` +
          (problems.length > 0 ? `; PROBLEMS: ${problems.slice(0, 3).join('; ')}` : ''),
      }),
    ];
  },
};
