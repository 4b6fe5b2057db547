/**
 * The development collector under attack (issue 9, part B), over real HTTP on 127.0.0.1: what a web page in
 * a browser can send to a loopback port (cross-origin `text/plain` POSTs, foreign Origin headers, DNS
 * rebinding), and clients that hold request bodies open to exhaust memory. Raw `node:http` requests, so that
 * every header (Origin, Host) is exactly the attacker's. Waiting for the receiver to hold bytes polls its
 * own counter; nothing is timed.
 */
import { request as httpRequest, type ClientRequest, type IncomingHttpHeaders } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { startCollector, type CollectorHandle, type CollectorOptions } from '../../src/collector/index.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function collector(options: CollectorOptions = {}): Promise<{ handle: CollectorHandle; outFile: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'otel-audit-adv-collector-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const outFile = join(dir, 'out.jsonl');
  const handle = await startCollector({ port: 0, outFile, ...options });
  cleanups.push(() => handle.close());
  return { handle, outFile };
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A request whose body the test writes itself (`req.write`/`req.end`); `reply` settles on the response. */
function open(port: number, method: string, path: string, headers: Record<string, string | number>): { req: ClientRequest; reply: Promise<Reply> } {
  const req = httpRequest({ host: '127.0.0.1', port, method, path, headers, agent: false });
  const reply = new Promise<Reply>((resolve, reject) => {
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    // An early answer may reset the connection while the test still writes: the answer is what counts.
    req.on('error', reject);
  });
  return { req, reply };
}

/** One whole request. */
function send(port: number, method: string, path: string, headers: Record<string, string | number>, body?: string | Buffer): Promise<Reply> {
  const { req, reply } = open(port, method, path, body === undefined ? headers : { 'content-length': Buffer.byteLength(body), ...headers });
  req.end(body);
  return reply;
}

const JSON_TYPE = { 'content-type': 'application/json' };

/** A valid OTLP/JSON logs body padded with spaces to exactly `size` bytes. */
function logsBody(size: number, tag = 'x'): string {
  const json = JSON.stringify({
    resourceLogs: [{ scopeLogs: [{ logRecords: [{ timeUnixNano: '1', attributes: [{ key: 'tag', value: { stringValue: tag } }] }] }] }],
  });
  if (json.length > size) throw new Error(`body needs at least ${json.length} bytes`);
  return json + ' '.repeat(size - json.length);
}

/** Resolves once `cond` holds, checking the receiver's own counters between event-loop turns. */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

async function lineCount(file: string): Promise<number> {
  return existsSync(file) ? (await readFile(file, 'utf8')).split('\n').filter((l) => l !== '').length : 0;
}

describe('collector: a web page cannot drive the control plane or post logs', () => {
  it('a cross-origin text/plain POST /_fault (no preflight needed) is refused with 415 and changes nothing', async () => {
    const { handle } = await collector();
    const r = await send(handle.port, 'POST', '/_fault', { 'content-type': 'text/plain;charset=UTF-8' }, '{"mode":"drop"}');
    expect(r.status).toBe(415);
    expect(JSON.parse(r.body)).toMatchObject({ code: 3, message: expect.stringContaining('application/json') });
    expect(handle.fault()).toEqual({ mode: 'ok' });
    // A form post (application/x-www-form-urlencoded) likewise.
    expect((await send(handle.port, 'POST', '/_fault', { 'content-type': 'application/x-www-form-urlencoded' }, 'mode=drop')).status).toBe(415);
    expect(handle.fault()).toEqual({ mode: 'ok' });
  });

  it('POST /_fault with a foreign Origin (http://evil.example) is refused with 403, even as application/json', async () => {
    const { handle } = await collector();
    const r = await send(handle.port, 'POST', '/_fault', { ...JSON_TYPE, origin: 'http://evil.example' }, '{"mode":"drop"}');
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body)).toMatchObject({ code: 7, message: expect.stringContaining('"http://evil.example" is not a loopback origin') });
    expect(handle.fault()).toEqual({ mode: 'ok' });
  });

  it('Origin: null (a sandboxed frame or a file: page) is refused with 403', async () => {
    const { handle } = await collector();
    const r = await send(handle.port, 'POST', '/_fault', { ...JSON_TYPE, origin: 'null' }, '{"mode":"drop"}');
    expect(r.status).toBe(403);
    expect(handle.fault()).toEqual({ mode: 'ok' });
  });

  it('a lookalike origin (http://127.0.0.1.evil.example) is refused; a loopback origin is served', async () => {
    const { handle } = await collector();
    const bad = await send(handle.port, 'GET', '/_stats', { origin: `http://127.0.0.1.evil.example:${handle.port}` });
    expect(bad.status).toBe(403);
    for (const origin of [`http://127.0.0.1:${handle.port}`, 'http://localhost:5173', 'http://[::1]:8080']) {
      expect((await send(handle.port, 'GET', '/_stats', { origin })).status).toBe(200);
    }
  });

  it('DNS rebinding (Host: evil.example, no Origin on a same-origin GET) is refused with 403', async () => {
    const { handle } = await collector();
    const r = await send(handle.port, 'GET', '/_stats', { host: `evil.example:${handle.port}` });
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body)).toMatchObject({ message: expect.stringContaining('not a loopback name') });
    // The same request naming a loopback host is served.
    expect((await send(handle.port, 'GET', '/_stats', { host: `localhost:${handle.port}` })).status).toBe(200);
  });

  it('a CORS preflight for POST /_fault gets no Access-Control-Allow-Origin, so the browser never sends the JSON', async () => {
    const { handle } = await collector();
    const preflight = { origin: 'http://evil.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' };
    const r = await send(handle.port, 'OPTIONS', '/_fault', preflight);
    expect(r.status).toBe(403);
    expect(r.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('a cross-origin POST /v1/logs is refused with 403 and nothing is written', async () => {
    const { handle, outFile } = await collector();
    const r = await send(handle.port, 'POST', '/v1/logs', { ...JSON_TYPE, origin: 'https://evil.example' }, logsBody(200));
    expect(r.status).toBe(403);
    expect(handle.stats()).toMatchObject({ requests: 0, records: 0 });
    expect(await lineCount(outFile)).toBe(0);
    // The loopback client (no Origin, as the OTLP exporter sends) is served.
    expect((await send(handle.port, 'POST', '/v1/logs', JSON_TYPE, logsBody(200))).status).toBe(200);
  });
});

describe('collector: request bodies held in memory stay within maxInFlightBytes', () => {
  it('slow concurrent uploads past the budget get 503 + Retry-After without buffering; the held bytes never pass the limit', async () => {
    const { handle, outFile } = await collector({ maxInFlightBytes: 1000, maxBodyBytes: 900 });
    const port = handle.port;
    // A: declares 800 bytes, sends 600 and holds the rest back.
    const bodyA = logsBody(800, 'a');
    const a = open(port, 'POST', '/v1/logs', { ...JSON_TYPE, 'content-length': 800 });
    a.req.write(bodyA.slice(0, 600));
    await until(() => handle.inFlight().bytes === 600);
    // B declares 500: more than the 400 left, refused before a byte of it is read.
    const b = await send(port, 'POST', '/v1/logs', JSON_TYPE, logsBody(500, 'b'));
    expect(b.status).toBe(503);
    expect(b.headers['retry-after']).toBe('1');
    // C is chunked (no length): its first 300 bytes fit, the next 200 do not; answered while still sending.
    const c = open(port, 'POST', '/v1/logs', { ...JSON_TYPE, 'transfer-encoding': 'chunked' });
    c.req.write('x'.repeat(300));
    await until(() => handle.inFlight().bytes === 900);
    c.req.write('x'.repeat(200));
    const cReply = await c.reply;
    expect(cReply.status).toBe(503);
    c.req.end('x'.repeat(100_000)); // the rest of C is discarded as it arrives
    await until(() => handle.inFlight().bytes === 600);
    // A completes and is written; then everything is given back, and B's retry is served.
    a.req.end(bodyA.slice(600));
    expect((await a.reply).status).toBe(200);
    await until(() => handle.inFlight().bytes === 0);
    expect((await send(port, 'POST', '/v1/logs', JSON_TYPE, logsBody(500, 'b'))).status).toBe(200);
    expect(handle.inFlight()).toEqual({ bytes: 0, peakBytes: 900, limitBytes: 1000 });
    expect(await lineCount(outFile)).toBe(2);
  });

  it('one chunked body larger than the whole budget is answered 413 (it could never fit), not held', async () => {
    const { handle, outFile } = await collector({ maxInFlightBytes: 1000, maxBodyBytes: 1 << 20 });
    const big = open(handle.port, 'POST', '/v1/logs', { ...JSON_TYPE, 'transfer-encoding': 'chunked' });
    for (let k = 0; k < 10; k++) big.req.write('x'.repeat(300));
    const r = await big.reply;
    big.req.end();
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body)).toMatchObject({ message: expect.stringContaining('1000 bytes this receiver holds at once') });
    expect(handle.inFlight().peakBytes).toBeLessThanOrEqual(1000);
    await until(() => handle.inFlight().bytes === 0);
    expect(await lineCount(outFile)).toBe(0);
  });

  it('a gzip bomb (1 KB that inflates to 8 MiB) is refused at the budget, not inflated in memory', async () => {
    const { handle, outFile } = await collector({ maxInFlightBytes: 64 * 1024, maxBodyBytes: 16 << 20 });
    const bomb = gzipSync(Buffer.concat([Buffer.from(logsBody(200)), Buffer.alloc(8 << 20, 0x20)]));
    expect(bomb.length).toBeLessThan(16 * 1024);
    const r = await send(handle.port, 'POST', '/v1/logs', { ...JSON_TYPE, 'content-encoding': 'gzip' }, bomb);
    expect(r.status).toBe(413);
    expect(handle.inFlight().peakBytes).toBeLessThanOrEqual(64 * 1024);
    expect(handle.inFlight().bytes).toBe(0);
    expect(await lineCount(outFile)).toBe(0);
  });

  it('held-open POST /_fault bodies share the same budget: past it, 503', async () => {
    const { handle } = await collector({ maxInFlightBytes: 1000 });
    const fault = '{"mode":"status","status":503}';
    const a = open(handle.port, 'POST', '/_fault', { ...JSON_TYPE, 'content-length': fault.length + 900 });
    a.req.write(fault + ' '.repeat(800));
    await until(() => handle.inFlight().bytes === fault.length + 800);
    const b = await send(handle.port, 'POST', '/_fault', JSON_TYPE, fault + ' '.repeat(400));
    expect(b.status).toBe(503);
    expect(handle.fault()).toEqual({ mode: 'ok' });
    a.req.end(' '.repeat(100));
    expect((await a.reply).status).toBe(200);
    expect(handle.fault()).toEqual({ mode: 'status', status: 503 });
    expect(handle.inFlight().peakBytes).toBeLessThanOrEqual(1000);
  });
});
