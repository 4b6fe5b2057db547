/**
 * What a success status proves (OtlpSender, src/deliver/otlp-sender.ts): the OTLP/HTTP spec makes a full success a
 * 200 whose body is an ExportLogsServiceResponse in the request's encoding. Found in review: the stock delegate
 * counted any 200 as delivered ("no matter the response"), so a web page from a proxy, or a partial_success the
 * sender could not read, took a whole stream as delivered, without a word. A real HTTP receiver on loopback.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { resolveOptions } from '../../src/config/options.js';
import { OtlpSender } from '../../src/deliver/otlp-sender.js';
import { saidOnStderr } from '../helpers/stderr.js';

async function answerWith(status: number, contentType: string, body: string | Buffer, protocol: 'http/json' | 'http/protobuf') {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(status, { 'Content-Type': contentType }).end(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/logs`;
  const sender = new OtlpSender({ url, timeoutMillis: 2000, protocol });
  try {
    return await sender.send('{"resourceLogs":[]}', 3);
  } finally {
    await sender.shutdown();
    server.closeAllConnections();
    server.close();
  }
}

const NOT_OTLP = /^the collector answered success with a body that is not an OTLP ExportLogsServiceResponse .*not counted as delivered, sent again$/;

describe('a success status is a delivery only with an OTLP response body', () => {
  it.each([
    ['an HTML page (a proxy)', 'text/html', '<html><body>OK</body></html>', 'http/json'],
    ['JSON that is not an object', 'application/json', '[1]', 'http/json'],
    ['JSON null', 'application/json', 'null', 'http/json'],
    ['a JSON response with trailing garbage', 'application/json', '{"partialSuccess":{"rejectedLogRecords":"3"}}xyz', 'http/json'],
    ['an HTML page, to a protobuf request', 'text/html', '<html><body>OK</body></html>', 'http/protobuf'],
  ] as const)('%s: not delivered, sent again', async (_what, type, body, protocol) => {
    const r = await answerWith(200, type, body, protocol);
    expect(r).toMatchObject({ ok: false, retryable: true, rejected: 0 });
    expect(r.message).toMatch(NOT_OTLP);
  });

  it.each([
    ['an empty body', 'application/json', '', 'http/json'],
    ['{}', 'application/json', '{}', 'http/json'],
    ['an empty partial_success', 'application/json', '{"partialSuccess":{}}', 'http/json'],
    ['an empty protobuf message', 'application/x-protobuf', Buffer.alloc(0), 'http/protobuf'],
  ] as const)('%s: delivered', async (_what, type, body, protocol) => {
    expect(await answerWith(200, type, body, protocol)).toMatchObject({ ok: true, rejected: 0 });
  });

  // Found in review of the first version: some receivers answer a protobuf request in JSON, or write the .proto's
  // field names; those answers are read, not retried for ever.
  it.each([
    ['a JSON partial_success, to a protobuf request', '{"partialSuccess":{"rejectedLogRecords":"3"}}', 'http/protobuf', 3],
    ['{} in JSON, to a protobuf request', '{}', 'http/protobuf', 0],
    ['a partial_success with the .proto field names', '{"partial_success":{"rejected_log_records":"2","error_message":"bad"}}', 'http/json', 2],
  ] as const)('%s: read', async (_what, body, protocol, rejected) => {
    const r = await answerWith(200, 'application/json', body, protocol);
    expect(r).toMatchObject({ ok: rejected === 0, rejected });
  });

  it('a receiver whose every success answer is unreadable: each batch retried twice, then taken, said once on stderr', async () => {
    let requests = 0;
    const server = createServer((req, res) => {
      requests++;
      req.resume();
      req.on('end', () => res.writeHead(200, { 'Content-Type': 'text/plain' }).end('OK'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/logs`;
    const sender = new OtlpSender({ url, timeoutMillis: 2000 });
    try {
      const { result, said } = await saidOnStderr(async () => {
        const out = [];
        for (let i = 0; i < 5; i++) out.push((await sender.send('{"resourceLogs":[]}', 1)).ok);
        return out;
      });
      expect(result).toEqual([false, false, true, true, true]);
      expect(requests).toBe(5);
      expect(said.match(/such answers now count as delivered/g)).toHaveLength(1);
    } finally {
      await sender.shutdown();
      server.closeAllConnections();
      server.close();
    }
  });

  it('a JSON partial_success behind a byte order mark is read: its rejected records are not delivered', async () => {
    const r = await answerWith(200, 'application/json', '\uFEFF{"partialSuccess":{"rejectedLogRecords":"2","errorMessage":"bad"}}', 'http/json');
    expect(r).toMatchObject({ ok: false, retryable: true, rejected: 2 });
    expect(r.message).toBe('collector rejected 2 of 3 records (partial_success: bad)');
  });
});

// Found in review: the transport reads OTEL_EXPORTER_OTLP_[LOGS_]COMPRESSION case-sensitively, and sent `GZIP`
// uncompressed without a word. It is read by the configuration now, in any case, a bad value refused.
describe('OTEL_EXPORTER_OTLP_[LOGS_]COMPRESSION', () => {
  it.each([
    [{ OTEL_EXPORTER_OTLP_COMPRESSION: 'GZIP' }, 'gzip'],
    [{ OTEL_EXPORTER_OTLP_COMPRESSION: ' Gzip ' }, 'gzip'],
    [{ OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip', OTEL_EXPORTER_OTLP_LOGS_COMPRESSION: 'NONE' }, undefined],
  ])('%j: the request body is sent as %s', async (env, encoding) => {
    let seen: string | undefined = 'no request';
    const server = createServer((req, res) => {
      seen = req.headers['content-encoding'];
      req.resume();
      req.on('end', () => res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/logs`;
    const o = resolveOptions({ exporter: { url } }, env);
    const sender = new OtlpSender(o.exporter);
    try {
      expect(await sender.send('{"resourceLogs":[]}', 1)).toMatchObject({ ok: true });
      expect(seen).toBe(encoding);
    } finally {
      await sender.shutdown();
      server.closeAllConnections();
      server.close();
    }
  });

  it('any other value stops start-up naming the variable; code wins over a good one', () => {
    expect(() => resolveOptions({}, { OTEL_EXPORTER_OTLP_LOGS_COMPRESSION: 'brotli' })).toThrow(
      'otel-audit configuration: OTEL_EXPORTER_OTLP_LOGS_COMPRESSION="brotli" is invalid: allowed values are gzip, none',
    );
    expect(resolveOptions({ exporter: { compression: 'none' } }, { OTEL_EXPORTER_OTLP_COMPRESSION: 'GZIP' }).exporter.compression).toBe('none');
  });
});

// Found in review: the transport's timeout is one of inactivity, so a response that trickled in a byte at a time
// held the stream's one export for ever (and `otel-audit replay --timeout` past its bound).
describe('a response that never ends', () => {
  it('ends the attempt at 4 times the export timeout: retryable, its connection closed', async () => {
    const closed: Promise<void>[] = [];
    const server = createServer((req, res) => {
      req.resume();
      closed.push(new Promise((r) => res.once('close', () => r())));
      req.on('end', () => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.write('{');
        const t = setInterval(() => res.write(' '), 50);
        res.once('close', () => clearInterval(t));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/logs`;
    const sender = new OtlpSender({ url, timeoutMillis: 200 });
    try {
      // The guard only turns a hang into a failure, well past the timeout: no timing is asserted.
      const guard = new Promise<'hung'>((r) => setTimeout(() => r('hung'), 20_000).unref());
      const r = await Promise.race([sender.send('{"resourceLogs":[]}', 1), guard]);
      expect(r).toMatchObject({ ok: false, retryable: true });
      await Promise.all(closed); // the server saw every connection of the attempt end
    } finally {
      await sender.shutdown();
      server.closeAllConnections();
      server.close();
    }
  });
});

// Found in review: the stock HTTP transport answers a 2xx whose body is cut off (connection reset mid-body) as a
// success with no body, so a partial_success rejecting records was taken as delivery: those records were lost.
describe('a success whose body is cut off proves nothing', () => {
  /** A receiver that cuts off its answer to the first `cut` requests (half of it, then a reset), then answers whole. */
  async function cuttingReceiver(cut: number, answer: string): Promise<{ url: string; requests: () => number; close: () => void }> {
    let requests = 0;
    const server = createServer((req, res) => {
      const n = requests++;
      req.resume();
      req.on('end', () => {
        if (n >= cut) return res.writeHead(200, { 'Content-Type': 'application/json' }).end(answer);
        // Content-Length promises the whole answer; part of it arrives, then the connection is reset.
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(answer.length) });
        res.write(answer.slice(0, 20), () => setTimeout(() => res.socket?.destroy(), 20));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/logs`,
      requests: () => requests,
      close: () => {
        server.closeAllConnections();
        server.close();
      },
    };
  }
  const REJECTING = '{"partialSuccess":{"rejectedLogRecords":"3","errorMessage":"bad records"}}';
  const CUT = /^the collector answered success, but the connection ended before its answer did .*: not counted as delivered, sent again$/;

  it.each(['http/json', 'http/protobuf'] as const)('%s: not delivered, sent again; the complete answer is then read', async (protocol) => {
    const rx = await cuttingReceiver(1, REJECTING);
    const sender = new OtlpSender({ url: rx.url, timeoutMillis: 5000, protocol });
    try {
      const first = await sender.send('{"resourceLogs":[]}', 3);
      expect(first).toMatchObject({ ok: false, retryable: true, rejected: 0 });
      expect(first.message).toMatch(CUT);
      expect(await sender.send('{"resourceLogs":[]}', 3)).toMatchObject({ ok: false, rejected: 3 });
      expect(rx.requests()).toBe(2);
    } finally {
      await sender.shutdown();
      rx.close();
    }
  });

  it('a receiver that always cuts its answers off: retried as an unreadable answer is, then taken and said, not for ever', async () => {
    const rx = await cuttingReceiver(Infinity, '{}'.padEnd(40, ' '));
    const sender = new OtlpSender({ url: rx.url, timeoutMillis: 5000 });
    try {
      const { result, said } = await saidOnStderr(async () => {
        const out = [];
        for (let i = 0; i < 4; i++) out.push((await sender.send('{"resourceLogs":[]}', 1)).ok);
        return out;
      });
      expect(result).toEqual([false, false, true, true]);
      expect(said).toMatch(/connection ended before its answer did.*3 times in a row: such answers now count as delivered/);
    } finally {
      await sender.shutdown();
      rx.close();
    }
  });
});
