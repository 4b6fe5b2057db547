/**
 * Ports for the tests' collectors, outside the kernel's ephemeral range (32768–60999 on Linux), a range of its own
 * per vitest worker. With `port: 0` a collector a test stops frees a port the kernel may hand at once to another
 * worker's new collector: the first test's child, still exporting to that port, then delivered its records to the
 * second test's collector (found in CI: a "stopped" collector's records acknowledged, and a foreign record first in
 * another test's file). A port in use is skipped.
 */
import { startCollector, type CollectorHandle, type CollectorOptions } from '../../src/collector/index.js';

const SPAN = 1500;
const base = 20_000 + (Number(process.env.VITEST_POOL_ID ?? 0) % 8) * SPAN;
let next = (process.pid * 7) % SPAN;

export async function startTestCollector(options: Omit<CollectorOptions, 'port'> = {}): Promise<CollectorHandle> {
  for (let attempt = 0; ; attempt++) {
    const port = base + (next++ % SPAN);
    try {
      return await startCollector({ ...options, port });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 50) throw e;
    }
  }
}
