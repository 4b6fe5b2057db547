/**
 * gRPC RESOURCE_EXHAUSTED (8) from a request larger than the receiver takes (grpc-js and the OTel Collector: 4 MiB by
 * default). Without a RetryInfo it is final (OTLP/gRPC Failures), so the batch is bisected down to what the receiver
 * takes; it was retried forever, blocking the stream. A real grpc-js server with its defaults, on loopback.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTR_SEQ_NUMBER, ATTR_SEQ_STREAM_ID } from '../../src/core/attributes.js';
import { ExportLoop, type ExportRequest } from '../../src/deliver/export-loop.js';
import { OtlpSender, type SendResult } from '../../src/deliver/otlp-sender.js';
import { logsServiceDefinition } from '../helpers/proto-receivers.js';

const STREAM = 's-grpc';
let server: grpc.Server;
let port = 0;

function body(seqs: number[], bodyBytes: number): string {
  const logRecords = seqs.map((seq) => ({
    body: { stringValue: 'x'.repeat(bodyBytes) },
    attributes: [
      { key: ATTR_SEQ_STREAM_ID, value: { stringValue: STREAM } },
      { key: ATTR_SEQ_NUMBER, value: { intValue: String(seq) } },
    ],
  }));
  return JSON.stringify({ resourceLogs: [{ resource: {}, scopeLogs: [{ scope: {}, logRecords }] }] });
}

beforeAll(async () => {
  // A receiver with grpc-js defaults (max receive message 4 MiB), as the OTel Collector's gRPC receiver.
  server = new grpc.Server();
  server.addService(logsServiceDefinition(), { Export: (_call: unknown, cb: grpc.sendUnaryData<object>) => cb(null, {}) });
  port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
});
afterAll(() => server.forceShutdown());

describe('gRPC: a request larger than the receiver takes (RESOURCE_EXHAUSTED)', () => {
  async function drive(requests: ExportRequest[], last: number) {
    const sender = new OtlpSender({ protocol: 'grpc', url: `http://127.0.0.1:${port}`, timeoutMillis: 3000 });
    const results: SendResult[] = [];
    const spy = { send: async (b: Uint8Array | string, n: number) => { const r = await sender.send(b, n); results.push(r); return r; }, shutdown: () => sender.shutdown() };
    const setAside: number[] = [];
    const loop = new ExportLoop({
      sender: spy, streamId: STREAM, retryMinMillis: 5, retryMaxMillis: 20,
      source: { next: (acked) => requests.find((r) => r.last > acked), finished: (acked) => acked >= last },
      hooks: { acked: () => undefined, setAside: (_b, first) => void setAside.push(first), crashed: () => undefined },
    });
    void loop.run();
    // Until everything is settled, or a bound (not a measure) of 30 s.
    const deadline = Date.now() + 30_000;
    while (loop.acked < last && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    loop.stop();
    await sender.shutdown();
    return { results, setAside, acked: loop.acked };
  }

  it('a default-size batch (2048 records of ~2.5 KB, ~5 MiB of protobuf) is bisected and delivered, not retried forever', async () => {
    const seqs = Array.from({ length: 2048 }, (_, i) => i + 1);
    const r = await drive([{ body: body(seqs, 2500), count: 2048, last: 2048 }], 2048);
    expect(r.results[0]?.message).toContain('gRPC status 8');
    // After PERMANENT_ATTEMPTS the batch is bisected and its halves (2.5 MiB) are taken.
    expect(r.acked).toBe(2048);
  }, 40_000);

  it('one record over the limit is set aside, the next one delivered', async () => {
    const r = await drive([{ body: body([1], 5 * 1024 * 1024), count: 1, last: 1 }, { body: body([2], 10), count: 1, last: 2 }], 2);
    expect(r.setAside).toEqual([1]);
    expect(r.acked).toBe(2);
  }, 40_000);
});
