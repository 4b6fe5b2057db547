/**
 * A running processor looks again for streams left to replay (`replayRescanMillis`). Found in review: a short job
 * claimed the streams of writers that had died, its shutdown stopped their replay and released the claims, and the
 * long-running service beside it, which had seen them claimed at its own start, never delivered them (0 of 1,242
 * records after 40 s). Real child processes killed with SIGKILL, a real loopback collector, real files.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { killAll, runNode } from '../helpers/child.js';
import { collectorDir } from '../helpers/pipeline.js';
import { recordsOfFile } from '../helpers/records.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await killAll();
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

const app = join(import.meta.dirname, '../fixtures/replay-rescan-app.mjs');

/** Distinct seqs of stream `id` in the collector's file. */
function delivered(file: string, id: string): number {
  if (!existsSync(file)) return 0;
  const seqs = new Set<string>();
  for (const r of recordsOfFile(file)) {
    const attr = (k: string) => r.attributes?.find((a) => a.key === k)?.value;
    if (attr('audit.sequence.stream_id')?.stringValue === id) seqs.add(String(attr('audit.sequence.number')?.intValue));
  }
  return seqs.size;
}

async function scenario(rescanMs: number): Promise<{ writer: string; delivered: () => number; accepted: number }> {
  const { dir, auditDir, collector, collectorFile } = await collectorDir(cleanups);
  const env = { OTEL_AUDIT_DIR: auditDir, OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: collector.endpoint, OTEL_EXPORTER_OTLP_TIMEOUT: '2000', OTEL_BLRP_EXPORT_TIMEOUT: '500' };
  collector.setFault({ mode: 'status', status: 503 });
  // A writer dies with its records journaled, undelivered.
  const writer = runNode([app], { ...env, ROLE: 'writer', RECORDS: '20' });
  const written = await writer.waitFor((o) => o.event === 'written');
  writer.proc.kill('SIGKILL');
  await writer.exited;
  // A job claims the writer's stream at its start; the service starts while the job holds it.
  const go = join(dir, 'go');
  const job = runNode([app], { ...env, ROLE: 'job', GO_FILE: go });
  await job.waitFor((o) => o.event === 'started');
  const service = runNode([app], { ...env, ROLE: 'service', RESCAN_MS: String(rescanMs) });
  await service.waitFor((o) => o.event === 'started');
  // The job shuts down (its replay stopped, the claim released), then the collector takes records again.
  writeFileSync(go, '');
  await job.waitFor((o) => o.event === 'done');
  await job.exited;
  collector.setFault({ mode: 'ok' });
  const id = String(written.streamId);
  return { writer: id, delivered: () => delivered(collectorFile, id), accepted: Number(written.accepted) };
}

describe('a running processor looks again for streams left to replay', () => {
  it('the service delivers the dead writer\'s records once the job that held them is gone', async () => {
    const s = await scenario(200);
    const deadline = Date.now() + 20_000;
    while (s.delivered() < s.accepted && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(s.delivered()).toBe(s.accepted);
  });

  it('with replayRescanMillis 0 it does not (the records wait for the next start of some process)', async () => {
    const s = await scenario(0);
    // Long enough for a rescan every 200 ms to have delivered them several times over (above).
    await new Promise((r) => setTimeout(r, 3000));
    expect(s.delivered()).toBe(0);
  });
});
