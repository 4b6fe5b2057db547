/**
 * A burst at full speed during an outage (ARCHITECTURE.md §5.4): the peak RSS of the emitting process, its emit
 * rate, and the rate at which the backlog is then delivered from the journal once the collector is back.
 */
import { acceptedIds, type EmittedLine } from './accounting.js';
import { begin, finish } from './common.js';
import { emitter, LONG_WAIT, type Proc } from './system.js';
import type { Scenario } from './types.js';

export interface BurstParams {
  records: number;
}

export interface Burst {
  child: Proc;
  em: EmittedLine;
  done: Record<string, unknown>;
}

/**
 * `records` emitted at full speed (ids `${prefix}${i}`) while the collector is down; once they are emitted,
 * `whileDown` looks at the outage, then the collector comes back and the process shuts down, delivering the
 * backlog from the journal. `env` names the journal and the endpoint.
 */
export async function burstDuringOutage(
  collector: { start(): Promise<void> },
  env: Record<string, string>,
  records: number,
  prefix: string,
  { waitMs = LONG_WAIT, whileDown }: { waitMs?: number; whileDown?: (child: Proc, em: EmittedLine) => void | Promise<void> } = {},
): Promise<Burst> {
  const child = emitter({ ...env, EMIT_COUNT: String(records), HOLD_BEFORE_SHUTDOWN: '1', ID_PREFIX: prefix });
  const em = (await child.waitFor((o) => o.event === 'emitted', waitMs)) as unknown as EmittedLine;
  await whileDown?.(child, em);
  await collector.start();
  child.proc.kill('SIGUSR2');
  const done = await child.waitFor((o) => o.event === 'done', waitMs);
  await child.exited;
  return { child, em, done };
}

export const burst: Scenario<BurstParams> = {
  key: 'burst',
  short: { records: 10_000 },
  long: (s) => ({ records: s.burst }),
  async run(ctx, p) {
    const { t0, auditDir, out, c } = await begin(ctx, 'burst');
    await c.stop(); // down from the start; the port is kept for the restart
    const env = {
      OTEL_AUDIT_DIR: auditDir,
      OTEL_AUDIT_MAX_FILES: '1000', // 1,000 × 50 MiB: the journal may hold the whole burst
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: c.endpoint,
      OTEL_EXPORTER_OTLP_TIMEOUT: '10000',
      OTEL_BLRP_EXPORT_TIMEOUT: '900000',
    };
    let depth = 0;
    const { child, em, done } = await burstDuringOutage(c, env, p.records, 'b-', {
      whileDown: (ch, e) => {
        depth = Math.max(0, ...ch.lines.filter((o) => o.event === 'progress').map((o) => Number(o.queueDepth)));
        ctx.log(`burst: ${e.accepted} records in ${(e.ms / 1000).toFixed(1)} s during the outage; peak RSS ${(e.maxRssKiB / 1024).toFixed(0)} MiB; collector back`);
      },
    });
    const emitSeconds = em.ms / 1000;
    const rssDuring = em.maxRssKiB / 1024;
    await c.stop();
    return [
      finish({
        group: 3,
        scenario: `${p.records.toLocaleString('en-US')}-record burst during an outage`,
        t0,
        expected: acceptedIds(em),
        out,
        procs: [child],
        maxRssMiB: rssDuring,
        notes:
          `emitted at ${Math.round(em.accepted / emitSeconds)}/s with the collector down (max queue depth ${depth}); ` +
          `then delivered from the journal at ${Math.round((em.accepted + 1) / (Number(done.shutdownMs) / 1000))}/s; ` +
          `max RSS is the emitting process's peak during the outage (whole run: ${(Number(done.maxRssKiB) / 1024).toFixed(0)} MiB)`,
      }),
    ];
  },
};
