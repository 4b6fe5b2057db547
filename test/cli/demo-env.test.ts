/**
 * `otel-audit demo` in a shell set up for the user's own apps: its services must still talk to the demo's collector.
 * Found by review: with OTEL_EXPORTER_OTLP_PROTOCOL=grpc exported, the services spoke gRPC to the HTTP collector,
 * nothing was delivered, and the summary still said "collector copy verified yes (0 records)" and "detected" for a
 * tampering that never happened. The built CLI, in a child process, as a user runs it.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tmp.js';

const CLI = join(import.meta.dirname, '../../dist/cli.js');
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('otel-audit demo', () => {
  it('runs over its own HTTP collector whatever OTEL_EXPORTER_OTLP_PROTOCOL the shell exports', async () => {
    const { dir, cleanup } = await tempDir('otel-audit-demo-env-');
    cleanups.push(cleanup);
    const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'demo', '--dir', join(dir, 'ws')], {
      env: { ...process.env, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' },
      encoding: 'utf8',
      timeout: 110_000,
    });
    expect(stdout).toMatch(/collector copy verified {6}yes \([1-9]\d* records(, \d+ of them duplicate copies)?\)/);
    expect(stdout).toContain('DEMO OK');
  }, 120_000);
});
