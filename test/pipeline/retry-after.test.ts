/**
 * A Retry-After longer than the export timeout (OtlpSender, src/deliver/otlp-sender.ts): the transport gives up
 * within its timeout and passes the collector's wait on in the result, for the export loop to honour (its own
 * backoff would send again within the half second). A real HTTP receiver on loopback.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { OtlpSender, retryDelay } from '../../src/deliver/otlp-sender.js';

describe('Retry-After longer than the export timeout', () => {
  it.each([
    ['30', 30_000],
    ['0', undefined],
  ])('Retry-After: %s → one request, retryAfterMillis %s', async (header, expected) => {
    let requests = 0;
    const server = createServer((req, res) => {
      requests++;
      req.resume();
      req.on('end', () => res.writeHead(429, { 'Retry-After': header, 'Content-Type': 'application/json' }).end('{}'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/logs`;
    // Retry-After: 0 is retried by the transport within the timeout until it runs out: the loop is told nothing.
    const sender = new OtlpSender({ url, timeoutMillis: header === '0' ? 200 : 1000 });
    try {
      const r = await sender.send('{"resourceLogs":[]}', 1);
      expect(r.ok).toBe(false);
      expect(r.retryable).toBe(true);
      expect(r.retryAfterMillis).toBe(expected);
      if (expected !== undefined) expect(requests).toBe(1);
    } finally {
      await sender.shutdown();
      server.closeAllConnections();
      server.close();
    }
  });
});

// Found in review: `Retry-After: garbage` or `-5` reached setTimeout as NaN or a negative number, taken as 0:
// the retries went out back to back instead of after the backoff.
describe('the wait before a retry', () => {
  it.each([
    [30_000, 800, 30_000],
    [0, 800, 0],
    [undefined, 800, 800],
    [Number.NaN, 800, 800],
    [-5000, 800, 800],
    [Number.POSITIVE_INFINITY, 800, 800],
  ])('Retry-After parsed as %s, backoff %s: waits %s', (asked, backoff, expected) => {
    expect(retryDelay(asked, backoff)).toBe(expected);
  });
});
