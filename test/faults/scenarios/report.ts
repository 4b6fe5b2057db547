/**
 * Every scenario of `npm run faults` in the order it runs, and the markdown table it prints (columns described
 * in scripts/README.md).
 */
import { cpus, platform, release, totalmem } from 'node:os';
import { burst } from './burst.js';
import { cluster } from './cluster.js';
import { collectorFaults, outage } from './collector-faults.js';
import { disk } from './disk.js';
import { kills } from './kill.js';
import { failed, failedChecks, type Ctx, type Row, type Scenario, type ScenarioKey, type Settings } from './types.js';

/** A scenario with its long parameters. */
interface LongRun {
  key: ScenarioKey;
  run(ctx: Ctx, settings: Settings): Promise<Row[]>;
}
const long = <P>(s: Scenario<P>): LongRun => ({ key: s.key, run: (ctx, settings) => s.run(ctx, s.long(settings)) });

/** The outage runs in the background (at a low rate) while the others run one after another, in this order. */
const BACKGROUND = long(outage);
const FOREGROUND: readonly LongRun[] = [long(collectorFaults), long(kills), long(cluster), long(disk), long(burst)];

/** Runs what `settings.only` selects with the long parameters; the rows sorted as the table shows them. */
export async function runLong(ctx: Ctx, settings: Settings): Promise<Row[]> {
  const rows: Row[] = [];
  const run = async (s: LongRun): Promise<void> => {
    if (!settings.only.has(s.key)) return;
    for (const r of await s.run(ctx, settings)) {
      ctx.log(`${failed(r) ? 'FAIL' : 'ok  '} ${r.scenario}: emitted ${r.emitted}, delivered ${r.delivered}, dup ${r.duplicated}, lost ${r.lost}, set aside ${r.setAside}${r.notes ? ` — ${r.notes}` : ''}`);
      rows.push(r);
    }
  };
  const bg = run(BACKGROUND);
  for (const s of FOREGROUND) await run(s);
  await bg;
  return rows.sort((a, b) => a.group - b.group || (a.rank ?? 0) - (b.rank ?? 0));
}

const fmt = (n: number | undefined, d = 0): string => (n === undefined ? '' : n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }));

function line(r: Row): string {
  if (r.skipped !== undefined) return `| ${r.scenario} | | | | | | | | skipped: ${r.skipped} |`;
  const bad = failedChecks(r);
  const notes = `${bad.length > 0 ? `**CHECK FAILED** (${bad.join(', ')}) ` : ''}${r.notes ?? ''}${r.lostIds?.length ? ` lost e.g. ${r.lostIds.join(', ')}` : ''}`;
  const lost = (r.lost ?? 0) > 0 ? `**${fmt(r.lost)}**` : '0';
  return `| ${r.scenario} | ${fmt(r.emitted)} | ${fmt(r.delivered)} | ${fmt(r.duplicated)} | ${lost} | ${fmt(r.setAside)} | ${fmt(r.maxRssMiB)} | ${fmt(r.seconds, 1)} | ${notes} |`;
}

/** The markdown table, the machine it ran on, and what "lost" means. */
export function table(rows: Row[], settings: Settings, seconds: number): string {
  const cpu = cpus();
  return [
    '| scenario | emitted | delivered (unique) | duplicated | lost | set aside | max RSS MiB | seconds | notes |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|',
    ...rows.map(line),
    '',
    `Machine: Node ${process.version}, ${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ${platform()} ${release()}. ` +
      `Total ${seconds.toFixed(0)} s (FAULTS_SCALE=${settings.scale}, FAULTS_OUTAGE_SECONDS=${settings.outageSeconds}, FAULTS_KILLS=${settings.kills}, FAULTS_BURST=${settings.burst}).`,
    '"lost" = record ids the emitters report as accepted (or, for kill -9, acknowledged durable) that are neither in the collector\'s output nor set aside in rejected/, ' +
      'counted from the collector\'s output, not from the processor\'s counters. "duplicated" = extra copies at the collector (at-least-once).',
    '',
  ].join('\n');
}
