/**
 * `npm run faults` (vitest.faults.config.ts runs only this file): every scenario of test/faults/scenarios/ with
 * its long parameters, against the built package and the development collector; prints the markdown table on
 * stdout and fails if a record was lost or a check did not hold. Progress lines go to stderr.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { runLong, table } from './report.js';
import { killAll, unmountAll } from './system.js';
import { failed, settingsFromEnv, type Ctx } from './types.js';

const settings = settingsFromEnv();
const ctx: Ctx = {
  root: mkdtempSync(join(tmpdir(), 'otel-audit-faults-')),
  log: (s) => process.stderr.write(`[faults ${new Date().toISOString().slice(11, 19)}] ${s}\n`),
};

/** Mounts and the temp directory go whatever happens (FAULTS_KEEP=1 keeps the directory). */
function cleanup(): void {
  unmountAll();
  if (settings.keep) ctx.log(`kept ${ctx.root}`);
  else rmSync(ctx.root, { recursive: true, force: true });
}
afterAll(async () => {
  await killAll();
  cleanup();
});
// Ctrl-C reaches the children too (one process group); this process still has mounts and files to undo.
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.once(sig, () => {
    void killAll();
    cleanup();
    process.exit(130);
  });

it('npm run faults', async () => {
  const t0 = performance.now();
  ctx.log(`temp dir ${ctx.root}; scale ${settings.scale}; outage ${settings.outageSeconds} s; kills ${settings.kills}; burst ${settings.burst}`);
  const rows = await runLong(ctx, settings);
  process.stdout.write(table(rows, settings, (performance.now() - t0) / 1000));
  if (settings.json !== undefined) writeFileSync(settings.json, JSON.stringify(rows, null, 2));
  expect(rows.filter(failed).map((r) => r.scenario)).toEqual([]);
});
