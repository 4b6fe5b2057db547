/**
 * A running processor looks again for streams left to replay (`replayRescanMillis`). Found in review: a short job
 * claimed the streams of writers that had died, its shutdown stopped their replay and released the claims, and the
 * long-running service beside it, which had seen them claimed at its own start, never delivered them (0 of 1,242
 * records after 40 s). Real child processes killed with SIGKILL, a real loopback collector, real files.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { killAll, runNode } from '../helpers/child.js';
import { collectorDir } from '../helpers/pipeline.js';
import { recordsOfFile } from '../helpers/records.js';
import { until } from '../helpers/until.js';

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

/** A directory, a collector that is down, and a writer that died (SIGKILL) with 20 records journaled, undelivered. */
async function deadWriter() {
  const d = await collectorDir(cleanups);
  const env = { OTEL_AUDIT_DIR: d.auditDir, OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: d.collector.endpoint, OTEL_EXPORTER_OTLP_TIMEOUT: '2000', OTEL_BLRP_EXPORT_TIMEOUT: '500' };
  d.collector.setFault({ mode: 'status', status: 503 });
  const writer = runNode([app], { ...env, ROLE: 'writer', RECORDS: '20' });
  const written = await writer.waitFor((o) => o.event === 'written');
  writer.proc.kill('SIGKILL');
  await writer.exited;
  return { ...d, env, written };
}

async function scenario(rescanMs: number): Promise<{ writer: string; delivered: () => number; accepted: number }> {
  const { dir, collector, collectorFile, env, written } = await deadWriter();
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
  // Found in review of the first version: a stream its replay could not finish (an unreadable line keeps it not
  // done) was claimed, read whole and said again at every rescan.
  it('a stream with an unreadable line is replayed once by the process, said once, not at every rescan', async () => {
    const { auditDir, collector, collectorFile, env, written } = await deadWriter();
    const id = String(written.streamId);
    const segment = join(auditDir, readdirSync(auditDir).find((n) => n.includes(id))!);
    writeFileSync(segment, 'not a journal line\n' + readFileSync(segment, 'utf8'));
    collector.setFault({ mode: 'ok' });
    const service = runNode([app], { ...env, ROLE: 'service', RESCAN_MS: '100' });
    await service.waitFor((o) => o.event === 'started');
    const deadline = Date.now() + 20_000;
    while (delivered(collectorFile, id) < Number(written.accepted) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(delivered(collectorFile, id)).toBe(Number(written.accepted));
    const said = (): string[] => service.stderr.filter((l) => /replay skipped 1 unreadable journal line/.test(l));
    await until(() => said().length > 0, () => `the unreadable line to be said; stderr: ${service.stderr.join('\n')}`);
    // Twenty rescans' time: each would have said it again.
    await new Promise((r) => setTimeout(r, 2000));
    expect(said()).toHaveLength(1);
  });

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
