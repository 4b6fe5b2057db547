/**
 * A burst at full speed during an outage (ARCHITECTURE.md §5.4): the peak RSS of the emitting process, its emit
 * rate, and the rate at which the backlog is then delivered from the journal once the collector is back.
 */
import { acceptedIds, type EmittedLine } from './accounting.js';
import { begin, finish } from './common.js';
import { emitter, LONG_WAIT } from './system.js';
import type { Scenario } from './types.js';

export interface BurstParams {
  records: number;
}

export const burst: Scenario<BurstParams> = {
  key: 'burst',
  short: { records: 20_000 },
  long: (s) => ({ records: s.burst }),
  async run(ctx, p) {
    const { t0, auditDir, out, c } = await begin(ctx, 'burst');
    await c.stop(); // down from the start; the port is kept for the restart
    const child = emitter({
      OTEL_AUDIT_DIR: auditDir,
      OTEL_AUDIT_MAX_FILES: '1000', // 1,000 × 50 MiB: the journal may hold the whole burst
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: c.endpoint,
      OTEL_EXPORTER_OTLP_TIMEOUT: '10000',
      OTEL_BLRP_EXPORT_TIMEOUT: '900000',
      EMIT_COUNT: String(p.records),
      HOLD_BEFORE_SHUTDOWN: '1',
      ID_PREFIX: 'b-',
    });
    const em = (await child.waitFor((o) => o.event === 'emitted', LONG_WAIT)) as unknown as EmittedLine;
    const emitSeconds = em.ms / 1000;
    const rssDuring = em.maxRssKiB / 1024;
    const depth = Math.max(0, ...child.lines.filter((o) => o.event === 'progress').map((o) => Number(o.queueDepth)));
    ctx.log(`burst: ${em.accepted} records in ${emitSeconds.toFixed(1)} s during the outage; peak RSS ${rssDuring.toFixed(0)} MiB; collector back`);
    await c.start();
    child.proc.kill('SIGUSR2');
    const done = await child.waitFor((o) => o.event === 'done', LONG_WAIT);
    await child.exited;
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
