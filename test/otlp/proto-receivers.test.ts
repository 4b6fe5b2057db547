/**
 * The loopback protobuf receivers of test/helpers/proto-receivers.ts: fed requests encoded by protobufjs /
 * grpc-js (not by this package), they write the OTLP/JSON line the Collector's file exporter would write,
 * refuse what they should, and go away and come back on the same port.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeLogsResponse, encodeLogsRequest } from '../../src/otlp/protobuf.js';
import { makeChain, recordHash, requestLine } from '../helpers/make-chain.js';
import {
  grpcExport,
  grpcLogsClient,
  requestType,
  responseType,
  startGrpcReceiver,
  startProtobufReceiver,
  type LogsServiceClient,
  type ProtoExportRequest,
} from '../helpers/proto-receivers.js';
import { recordsOfFile } from '../helpers/records.js';
import { tempDir } from '../helpers/tmp.js';

/** A request as protobufjs / proto-loader take it: bytes as bytes, 64-bit integers as decimal strings. */
const PROTO_REQUEST: ProtoExportRequest = {
  resourceLogs: [
    {
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] },
      scopeLogs: [
        {
          scope: { name: 'audit' },
          logRecords: [
            {
              timeUnixNano: '1700000000000000001',
              severityNumber: 9,
              body: { stringValue: '' },
              attributes: [
                { key: 'n', value: { intValue: '-5' } },
                { key: 'd', value: { doubleValue: Number.NaN } },
                { key: 'i', value: { doubleValue: 3 } },
                { key: 'b', value: { bytesValue: Buffer.from([1, 2, 3]) } },
                { key: 'e', value: {} },
              ],
              traceId: Buffer.from('0af7651916cd43dd8448eb211c80319c', 'hex'),
              spanId: Buffer.from('b7ad6b7169203331', 'hex'),
            },
          ],
        },
      ],
    },
  ],
};

/** The line a Collector's file exporter writes for PROTO_REQUEST. */
const EXPECTED_LINE =
  '{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},' +
  '"scopeLogs":[{"scope":{"name":"audit"},"logRecords":[{"timeUnixNano":"1700000000000000001","severityNumber":9,' +
  '"body":{"stringValue":""},"attributes":[{"key":"n","value":{"intValue":"-5"}},{"key":"d","value":{"doubleValue":"NaN"}},' +
  '{"key":"i","value":{"doubleValue":3}},{"key":"b","value":{"bytesValue":"AQID"}},{"key":"e","value":{}}],' +
  '"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331"}]}]}]}';

const protobufjsBytes = (req: ProtoExportRequest): Uint8Array => {
  const t = requestType();
  return t.encode(t.fromObject(req as Record<string, unknown>)).finish();
};

const lines = async (file: string): Promise<string[]> =>
  (await readFile(file, 'utf8').catch(() => '')).split('\n').filter((l) => l !== '');

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir('otel-audit-proto-'));
});
afterEach(async () => {
  await cleanup();
});

describe('startProtobufReceiver (OTLP/HTTP, application/x-protobuf)', () => {
  const post = (url: string, body: Uint8Array, headers: Record<string, string> = {}): Promise<Response> =>
    fetch(url, { method: 'POST', body, headers: { 'Content-Type': 'application/x-protobuf', ...headers } });

  it('writes the Collector OTLP/JSON line and answers an empty ExportLogsServiceResponse', async () => {
    const outFile = join(dir, 'nested', 'out.jsonl');
    const rx = await startProtobufReceiver({ outFile });
    try {
      expect(rx.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1\/logs$/);
      const res = await post(rx.url, protobufjsBytes(PROTO_REQUEST));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/x-protobuf');
      const body = new Uint8Array(await res.arrayBuffer());
      expect(body.length).toBe(0);
      expect(decodeLogsResponse(body)).toEqual({});
      expect(await lines(outFile)).toEqual([EXPECTED_LINE]);
      expect([rx.requests, rx.records]).toEqual([1, 1]);

      // gzip, and bytes from our own encoder: the records keep their hashes.
      const records = makeChain(5);
      const ours = encodeLogsRequest(JSON.parse(requestLine(records)));
      const gz = await post(rx.url, gzipSync(ours), { 'Content-Encoding': 'gzip' });
      expect(gz.status).toBe(200);
      expect((await lines(outFile)).length).toBe(2);
      expect(recordsOfFile(outFile).slice(1).map(recordHash)).toEqual(records.map(recordHash));
      expect([rx.requests, rx.records]).toEqual([2, 6]);
    } finally {
      await rx.close();
    }
  });

  it('refuses anything but application/x-protobuf with 415, and bad bodies with 400', async () => {
    const outFile = join(dir, 'out.jsonl');
    const rx = await startProtobufReceiver({ outFile });
    try {
      const json = await fetch(rx.url, { method: 'POST', body: '{"resourceLogs":[]}', headers: { 'Content-Type': 'application/json' } });
      expect(json.status).toBe(415);
      expect(json.headers.get('content-type')).toBe('application/x-protobuf');
      const none = await fetch(rx.url, { method: 'POST', body: protobufjsBytes(PROTO_REQUEST) }); // no Content-Type
      expect(none.status).toBe(415);
      const garbage = await post(rx.url, new Uint8Array([0x0a, 0x05, 0x01]));
      expect(garbage.status).toBe(400);
      const badGzip = await post(rx.url, new Uint8Array([1, 2, 3]), { 'Content-Encoding': 'gzip' });
      expect(badGzip.status).toBe(400);
      expect((await fetch(rx.url)).status).toBe(405);
      expect((await fetch(rx.url.replace('/v1/logs', '/v1/traces'), { method: 'POST' })).status).toBe(404);
      expect(await lines(outFile)).toEqual([]);
      expect(rx.records).toBe(0);
    } finally {
      await rx.close();
    }
  });

  it('fault controls: status, partial success, stop/start on the same port', async () => {
    const outFile = join(dir, 'out.jsonl');
    const rx = await startProtobufReceiver({ outFile });
    try {
      const bytes = protobufjsBytes(PROTO_REQUEST);
      rx.setStatus(503);
      const unavailable = await post(rx.url, bytes);
      expect(unavailable.status).toBe(503);
      expect(responseStatus(new Uint8Array(await unavailable.arrayBuffer()))).toEqual({
        code: grpc.status.UNAVAILABLE,
        message: 'injected fault: HTTP 503',
      });
      rx.setStatus(undefined);

      rx.setPartialSuccess(1, 'one rejected');
      const partial = await post(rx.url, bytes);
      expect(partial.status).toBe(200);
      const body = new Uint8Array(await partial.arrayBuffer());
      expect(decodeLogsResponse(body)).toEqual({ partialSuccess: { rejectedLogRecords: '1', errorMessage: 'one rejected' } });
      expect(responseType().toObject(responseType().decode(body), { longs: String })).toEqual({
        partialSuccess: { rejectedLogRecords: '1', errorMessage: 'one rejected' },
      });
      rx.setPartialSuccess(0, '');

      const url = rx.url;
      await rx.stop();
      await expect(post(url, bytes)).rejects.toThrow();
      await rx.start();
      expect(rx.url).toBe(url);
      expect((await post(url, bytes)).status).toBe(200);

      expect(await lines(outFile)).toEqual([EXPECTED_LINE, EXPECTED_LINE]);
      expect([rx.requests, rx.records]).toEqual([3, 2]);
    } finally {
      await rx.close();
    }
  });
});

/** google.rpc.Status of an OTLP/HTTP error body (code = 1, message = 2; details not needed), via protobufjs. */
function responseStatus(body: Uint8Array): { code?: number; message?: string } {
  const t = protobuf
    .parse('syntax = "proto3"; package google.rpc; message Status { int32 code = 1; string message = 2; }')
    .root.lookupType('google.rpc.Status');
  return t.toObject(t.decode(body)) as { code?: number; message?: string };
}

describe('startGrpcReceiver (OTLP/gRPC)', () => {
  const clients: LogsServiceClient[] = [];
  const client = (endpoint: string): LogsServiceClient => {
    const c = grpcLogsClient(endpoint);
    clients.push(c);
    return c;
  };
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });

  it('serves LogsService/Export and writes the Collector OTLP/JSON line', async () => {
    const outFile = join(dir, 'grpc', 'out.jsonl');
    const rx = await startGrpcReceiver({ outFile });
    try {
      expect(rx.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const c = client(rx.endpoint);
      expect(await grpcExport(c, PROTO_REQUEST)).toEqual({});
      expect(await lines(outFile)).toEqual([EXPECTED_LINE]);
      expect([rx.requests, rx.records]).toEqual([1, 1]);
    } finally {
      await rx.close();
    }
  });

  it('takes encodeLogsRequest bytes sent as they are, and answers what decodeLogsResponse reads', async () => {
    const outFile = join(dir, 'out.jsonl');
    const rx = await startGrpcReceiver({ outFile });
    const raw = new grpc.Client(rx.endpoint.replace('http://', ''), grpc.credentials.createInsecure(), {
      'grpc.use_local_subchannel_pool': 1,
    });
    const exportRaw = (bytes: Uint8Array) =>
      new Promise<unknown>((resolve, reject) => {
        raw.makeUnaryRequest(
          '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
          (b: Uint8Array) => Buffer.from(b),
          (b: Buffer) => decodeLogsResponse(b),
          bytes,
          (err, res) => (err ? reject(err) : resolve(res)),
        );
      });
    try {
      const records = makeChain(7);
      expect(await exportRaw(encodeLogsRequest(JSON.parse(requestLine(records))))).toEqual({});
      rx.setPartialSuccess(3, '');
      expect(await exportRaw(encodeLogsRequest(JSON.parse(requestLine(records))))).toEqual({ partialSuccess: { rejectedLogRecords: '3' } });
      expect(recordsOfFile(outFile).map(recordHash)).toEqual([...records, ...records].map(recordHash));
    } finally {
      raw.close();
      await rx.close();
    }
  });

  it('fault controls: status codes, partial success, stop/start on the same port', async () => {
    const outFile = join(dir, 'out.jsonl');
    const rx = await startGrpcReceiver({ outFile });
    try {
      const c = client(rx.endpoint);
      rx.setStatus(grpc.status.UNAVAILABLE);
      await expect(grpcExport(c, PROTO_REQUEST)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
      rx.setStatus(grpc.status.INVALID_ARGUMENT);
      await expect(grpcExport(c, PROTO_REQUEST)).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
      rx.setStatus(undefined);

      rx.setPartialSuccess(2, 'two rejected');
      expect(await grpcExport(c, PROTO_REQUEST)).toEqual({ partialSuccess: { rejectedLogRecords: '2', errorMessage: 'two rejected' } });
      rx.setPartialSuccess(0, '');
      expect(await grpcExport(c, PROTO_REQUEST)).toEqual({});

      const endpoint = rx.endpoint;
      await rx.stop();
      await expect(grpcExport(client(endpoint), PROTO_REQUEST)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
      await rx.start();
      expect(rx.endpoint).toBe(endpoint);
      expect(await grpcExport(client(endpoint), PROTO_REQUEST)).toEqual({});

      expect(await lines(outFile)).toEqual([EXPECTED_LINE, EXPECTED_LINE, EXPECTED_LINE]);
      expect([rx.requests, rx.records]).toEqual([5, 3]);
    } finally {
      await rx.close();
    }
  });
});
