/** Shared by the collector tests: temp dirs and collectors on ephemeral loopback ports, removed after each test. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { startCollector, type CollectorHandle, type CollectorOptions } from '../../src/collector/index.js';

/** Run after each test, last in first out. */
export const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'otel-audit-collector-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Collector on an ephemeral loopback port writing to a fresh temp dir; closed after the test. */
export async function collector(options: CollectorOptions = {}): Promise<{ handle: CollectorHandle; outFile: string }> {
  const outFile = join(await tempDir(), 'nested', 'dir', 'out.jsonl');
  const handle = await startCollector({ port: 0, outFile, ...options });
  cleanups.push(() => handle.close());
  return { handle, outFile };
}
