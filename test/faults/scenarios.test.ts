/**
 * The scenarios of `npm run faults` (test/faults/scenarios/), run short: small counts, seconds rather than
 * minutes, the same real components (the collector and the emitters in their own processes, SIGKILL, the file
 * system). Each row must have lost nothing and pass every check it names.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tmp.js';
import { burst } from './scenarios/burst.js';
import { cluster } from './scenarios/cluster.js';
import { collectorFaults, FAULTS, outage } from './scenarios/collector-faults.js';
import { disk } from './scenarios/disk.js';
import { kills } from './scenarios/kill.js';
import { killAll, unmountAll } from './scenarios/system.js';
import { failedChecks, type Ctx, type Row, type Scenario } from './scenarios/types.js';

const { dir: root, cleanup } = await tempDir('otel-audit-scenarios-');
const ctx: Ctx = { root, log: () => undefined };
afterEach(async () => {
  await killAll();
  unmountAll();
});
afterAll(cleanup);

const short = <P>(s: Scenario<P>): Promise<Row[]> => s.run(ctx, s.short);

/** Nothing lost, every check held, and the scenario did emit. */
function expectClean(rows: Row[]): void {
  for (const r of rows) {
    if (r.skipped !== undefined) continue;
    expect(r.lost, `${r.scenario}: lost, e.g. ${r.lostIds?.join(', ')}`).toBe(0);
    expect(failedChecks(r), r.scenario).toEqual([]);
    expect(r.emitted, r.scenario).toBeGreaterThan(0);
  }
}

describe('fault scenarios, short (npm run faults runs them long)', () => {
  it(`collector faults on a random schedule: ${collectorFaults.short.faults.map((k) => FAULTS[k]!.name).join('; ')}`, { timeout: 120_000 }, async () => {
    const rows = await short(collectorFaults);
    expect(rows).toHaveLength(collectorFaults.short.faults.length);
    expectClean(rows);
  });

  it(`an outage of ${outage.short.outageSeconds} s at a steady rate`, async () => {
    expectClean(await short(outage));
  });

  it(`kill -9 × ${kills.short.runs}, then a restart on each directory`, async () => {
    expectClean(await short(kills));
  });

  it(`a ${burst.short.records}-record burst during an outage`, async () => {
    expectClean(await short(burst));
  });

  it(`cluster: ${cluster.short.workers} workers through faults; all killed, as many restart together`, { timeout: 120_000 }, async () => {
    const rows = await short(cluster);
    expect(rows).toHaveLength(2);
    expectClean(rows);
  });

  it('disk full (tmpfs, if it can be mounted), then an outage past the disk bound', { timeout: 120_000 }, async () => {
    const rows = await short(disk);
    expect(rows).toHaveLength(2);
    expectClean(rows);
  });
});
