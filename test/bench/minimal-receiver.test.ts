/**
 * bench/minimal-receiver.mjs counts what it is sent: its count is the benchmark's "delivered" under
 * BENCH_RECEIVER=minimal, so a miscount would be reported as a loss (or hide one).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeLogsRequest } from '../../src/otlp/protobuf.js';
import type { ExportLogsServiceRequest } from '../../src/otlp/types.js';

const SCRIPT = fileURLToPath(new URL('../../bench/minimal-receiver.mjs', import.meta.url));

/** `counts[r][s]` log records in scope s of resource r. */
function request(counts: number[][]): ExportLogsServiceRequest {
  return {
    resourceLogs: counts.map((scopes, r) => ({
      resource: { attributes: [{ key: 'service.name', value: { stringValue: `svc-${r}` } }] },
      scopeLogs: scopes.map((n, s) => ({
        scope: { name: `scope-${s}` },
        logRecords: Array.from({ length: n }, (_, i) => ({
          timeUnixNano: String(1_700_000_000_000_000_000n + BigInt(i)),
          observedTimeUnixNano: '1700000000000000000',
          severityNumber: 9,
          body: { stringValue: 'x'.repeat(i * 7) }, // lengths that need one and two varint bytes
          attributes: [{ key: 'n', value: { intValue: String(i) } }],
        })),
      })),
    })),
  } as ExportLogsServiceRequest;
}

describe('bench/minimal-receiver.mjs', () => {
  let child: ChildProcess;
  let url = '';
  beforeAll(async () => {
    child = spawn(process.execPath, [SCRIPT], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
    url = (JSON.parse(line) as { url: string }).url;
  });
  afterAll(() => {
    child.kill('SIGKILL');
  });

  const stats = async (): Promise<{ records: number; accepted: number; rejected: number }> =>
    (await (await fetch(`${url}/_stats`)).json()) as { records: number; accepted: number; rejected: number };
  const post = (body: Uint8Array | string, type: string): Promise<Response> =>
    fetch(`${url}/v1/logs`, { method: 'POST', headers: { 'content-type': type }, body });

  it.each([
    { counts: [[3]] },
    { counts: [[0, 2], [5]] },
    { counts: [[40, 1], [], [7, 0, 2]] },
  ])('counts the log records of $counts in OTLP/JSON and in protobuf', async ({ counts }) => {
    const total = counts.flat().reduce((a, b) => a + b, 0);
    const req = request(counts);
    const before = await stats();
    expect((await post(JSON.stringify(req), 'application/json')).status).toBe(200);
    expect((await post(encodeLogsRequest(req), 'application/x-protobuf')).status).toBe(200);
    const after = await stats();
    expect(after.records - before.records).toBe(2 * total);
    expect(after.accepted - before.accepted).toBe(2);
  });

  it('refuses, and does not count, a body it cannot parse', async () => {
    const before = await stats();
    expect((await post('{"resourceLogs":[', 'application/json')).status).toBe(400);
    expect((await post(new Uint8Array([0x0a, 0x7f, 0x01]), 'application/x-protobuf')).status).toBe(400);
    const after = await stats();
    expect(after.records).toBe(before.records);
    expect(after.rejected - before.rejected).toBe(2);
  });
});
