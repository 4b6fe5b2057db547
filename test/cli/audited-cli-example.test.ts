/**
 * examples/audited-cli.ts (README "For command-line tools"), built: it records one command.execute record per
 * run, passes the command's exit code on, and waits for the collector within OTEL_BLRP_EXPORT_TIMEOUT as its
 * comment says (3 s only when the variable is unset).
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startCollector, type CollectorHandle } from '../../src/collector/index.js';
import { killAll, runNode } from '../helpers/child.js';
import { tempDir } from '../helpers/tmp.js';

const EXAMPLE = join(import.meta.dirname, '../../dist/examples/audited-cli.js');
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await killAll();
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function setUp(): Promise<{ dir: string; collector: CollectorHandle }> {
  const { dir, cleanup } = await tempDir('otel-audit-acli-');
  const collector = await startCollector({ port: 0, outFile: join(dir, 'collector.jsonl') });
  cleanups.push(cleanup, () => collector.close());
  return { dir, collector };
}

describe('examples/audited-cli', () => {
  it('OTEL_BLRP_EXPORT_TIMEOUT is honoured: a collector answering after 5 s still gets the record within 30 s', async () => {
    const { dir, collector } = await setUp();
    collector.setFault({ mode: 'delay', delayMs: 5000, times: 1 });
    const p = runNode([EXAMPLE, '--', process.execPath, '-e', 'process.exit(3)'], {
      OTEL_AUDIT_DIR: join(dir, 'audit'),
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: collector.endpoint,
      OTEL_EXPORTER_OTLP_TIMEOUT: '30000',
      OTEL_BLRP_EXPORT_TIMEOUT: '30000',
    });
    expect((await p.exited).code).toBe(3);
    expect(p.stderr.join('\n')).toMatch(/audited-cli: recorded .*; at the collector\)/);
    expect(collector.stats().records).toBe(2); // the command.execute record and the stream's end
  });
});
