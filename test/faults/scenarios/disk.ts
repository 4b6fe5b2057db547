/**
 * The disk under the journal: a full tmpfs (ENOSPC) with collector hiccups on top, then space again (needs root
 * and `mount`; the row says skipped otherwise); then an outage past the disk bound (OTEL_AUDIT_MAX_FILES ×
 * OTEL_AUDIT_MAX_FILE_BYTES), where the loss policy refuses records, and those refusals are counted.
 */
import { rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { acceptedIds, delivered, expand, rejectedFiles, type EmittedLine } from './accounting.js';
import { begin, finish } from './common.js';
import { canMount, collectorProcess, emitter, LONG_WAIT, mountTmpfs, sleep, unmount } from './system.js';
import { dirOf, type Ctx, type Row, type Scenario } from './types.js';

export interface DiskParams {
  /** Records per second, and for how long, while the disk fills up and frees again. */
  fullRate: number;
  fullSeconds: number;
  /** Records per second, and for how long, around the outage past the disk bound (of `outageMs`). */
  boundRate: number;
  boundSeconds: number;
  outageMs: number;
}

type Stats = { spooled: number; emitted: number; dropped: number };

async function diskFull(ctx: Ctx, p: DiskParams): Promise<Row> {
  const title = 'disk full (16 MiB tmpfs, ENOSPC), then space again';
  if (!canMount) {
    ctx.log('disk: skipped (cannot mount a tmpfs)');
    return { group: 5, rank: 0, scenario: title, skipped: 'cannot mount a tmpfs here (needs root on Linux)' };
  }
  const t0 = performance.now();
  const dir = dirOf(ctx, 'disk');
  const mnt = join(dir, 'mnt');
  mountTmpfs(mnt, '16m');
  try {
    const auditDir = join(mnt, 'audit');
    const out = join(dir, 'collector.jsonl');
    const c = await collectorProcess(out);
    const s = statfsSync(mnt);
    const filler = join(mnt, 'filler');
    writeFileSync(filler, Buffer.alloc(Number(s.bavail) * Number(s.bsize) - (1 << 20))); // 1 MiB left
    const child = emitter({
      OTEL_AUDIT_DIR: auditDir,
      OTEL_AUDIT_MAX_FILE_BYTES: String(256 << 10),
      OTEL_AUDIT_MAX_FILES: '8',
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: c.endpoint,
      OTEL_EXPORTER_OTLP_TIMEOUT: '1000',
      OTEL_BLRP_EXPORT_TIMEOUT: '120000',
      EMIT_RATE: String(p.fullRate),
      EMIT_SECONDS: String(p.fullSeconds),
      EMIT_COUNT: '0',
      ID_PREFIX: 'disk-',
    });
    const enospc = (): boolean => child.stderr.some((l) => l.includes('journal write failed (ENOSPC)'));
    await child.waitFor((o) => o.event === 'started');
    // A full disk with collector hiccups on top, then space again.
    await sleep(3000);
    await c.fault({ mode: 'status', status: 503 });
    await sleep(800);
    await c.fault({ mode: 'ok' });
    await sleep(1500);
    // Space again only once the full disk was met (or the child is done emitting, when no wait would help): a
    // loaded machine may not have filled the last MiB in the 5.3 s above.
    for (let i = 0; i < 1000 && !enospc() && child.event('emitted') === undefined && child.proc.exitCode === null; i++) await sleep(20);
    rmSync(filler);
    const done = await child.waitFor((o) => o.event === 'done', LONG_WAIT);
    await child.exited;
    await c.stop();
    const stats = done.stats as Stats;
    const reported = enospc();
    const aside = rejectedFiles([auditDir]);
    return finish({
      group: 5,
      rank: 0,
      scenario: title,
      t0,
      expected: acceptedIds(child.event('emitted') as unknown as EmittedLine),
      out,
      aside: { files: aside, got: delivered(aside, { hash: false, keep: false }) },
      procs: [child],
      checks: { 'ENOSPC reported': reported },
      notes: `ENOSPC reported on stderr: ${reported ? 'yes' : 'NO'}; journaled ${stats.spooled} of ${stats.emitted} (the rest only in memory until acknowledged); dropped ${stats.dropped}`,
    });
  } finally {
    unmount(mnt);
  }
}

/** The disk bound during an outage: the loss policy (warn) refuses records; those are not "lost", never accepted. */
async function pastTheBound(ctx: Ctx, p: DiskParams): Promise<Row> {
  const { t0, auditDir, out, c } = await begin(ctx, 'bound');
  const child = emitter({
    OTEL_AUDIT_DIR: auditDir,
    OTEL_AUDIT_MAX_FILE_BYTES: String(64 << 10),
    OTEL_AUDIT_MAX_FILES: '4',
    OTEL_AUDIT_ON_LOSS: 'warn',
    OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: c.endpoint,
    OTEL_EXPORTER_OTLP_TIMEOUT: '1000',
    OTEL_BLRP_EXPORT_TIMEOUT: '120000',
    EMIT_RATE: String(p.boundRate),
    EMIT_SECONDS: String(p.boundSeconds),
    EMIT_COUNT: '0',
    ID_PREFIX: 'bound-',
  });
  await child.waitFor((o) => o.event === 'started');
  await sleep(2000);
  await c.stop();
  await sleep(p.outageMs);
  await c.start();
  const done = await child.waitFor((o) => o.event === 'done', LONG_WAIT);
  await child.exited;
  await c.stop();
  const em = child.event('emitted') as unknown as EmittedLine;
  const refused = expand(em.refused).length;
  const stats = done.stats as Stats;
  const row = finish({
    group: 5,
    rank: 1,
    scenario: 'outage past the disk bound (4 × 64 KiB), ON_LOSS=warn',
    t0,
    expected: acceptedIds(em),
    out,
    procs: [child],
    checks: { 'refusals counted as dropped': stats.dropped === refused },
    notes: `${refused} refused by the loss policy (receipts rejected; processor counted ${stats.dropped} dropped, reported on stderr): not "lost", never accepted`,
  });
  return { ...row, emitted: em.attempted };
}

export const disk: Scenario<DiskParams> = {
  key: 'disk',
  short: { fullRate: 500, fullSeconds: 6, boundRate: 500, boundSeconds: 5, outageMs: 2000 },
  long: (s) => ({ fullRate: Math.round(2000 * s.scale), fullSeconds: 10, boundRate: 1000, boundSeconds: 8, outageMs: 3000 }),
  run: async (ctx, p) => [await diskFull(ctx, p), await pastTheBound(ctx, p)],
};
