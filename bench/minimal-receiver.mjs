// @ts-check
/**
 * The benchmark's second receiver (`BENCH_RECEIVER=minimal`, bench/README.md): an OTLP/HTTP logs endpoint that
 * does the least a receiver can and still count what it got. OTLP/JSON: `JSON.parse` and count `logRecords`;
 * OTLP/protobuf: walk the fields of ExportLogsServiceRequest (resource_logs = 1 → scope_logs = 2 →
 * log_records = 2, opentelemetry-proto logs.proto) and count. No validation, no normalization, no copy kept.
 * It answers 200 with an empty ExportLogsServiceResponse, or 400 to a body it cannot parse.
 *
 * Why: the default receiver, the dev collector, validates and normalizes every record (src/otlp/normalize.ts)
 * and so costs more per byte; this one shows what the figures are against a receiver that only parses.
 *
 *   node bench/minimal-receiver.mjs        prints {"event":"listening","url":…,"endpoint":…} and serves
 *   GET /_stats                            {"requests","accepted","rejected","records","bytes"}
 */
import http from 'node:http';

const stats = { requests: 0, accepted: 0, rejected: 0, records: 0, bytes: 0 };

/** @param {Uint8Array} b @param {{ i: number }} p */
function varint(b, p) {
  let x = 0;
  let scale = 1;
  for (let k = 0; k < 10; k++) {
    if (p.i >= b.length) throw new Error('truncated varint');
    const c = b[p.i++];
    x += (c & 0x7f) * scale;
    if ((c & 0x80) === 0) return x;
    scale *= 128;
  }
  throw new Error('varint too long');
}

/** Log records in a protobuf ExportLogsServiceRequest. @param {Uint8Array} b */
function countProtobuf(b) {
  let n = 0;
  const p = { i: 0 };
  /** @param {number} end @param {number} depth */
  const walk = (end, depth) => {
    while (p.i < end) {
      const tag = varint(b, p);
      const field = Math.floor(tag / 8);
      const wire = tag & 7;
      if (wire === 0) varint(b, p);
      else if (wire === 1) p.i += 8;
      else if (wire === 5) p.i += 4;
      else if (wire === 2) {
        const len = varint(b, p);
        const stop = p.i + len;
        if (stop > end) throw new Error('length past the end');
        if (field === (depth === 0 ? 1 : 2) && depth < 2) walk(stop, depth + 1);
        else if (depth === 2 && field === 2) n++;
        p.i = stop;
      } else throw new Error(`wire type ${wire}`);
    }
  };
  walk(b.length, 0);
  return n;
}

/** Log records in an OTLP/JSON ExportLogsServiceRequest. @param {Buffer} body */
function countJson(body) {
  const req = JSON.parse(body.toString('utf8'));
  let n = 0;
  for (const rl of req.resourceLogs ?? []) for (const sl of rl.scopeLogs ?? []) n += (sl.logRecords ?? []).length;
  return n;
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/_stats') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(stats));
    return;
  }
  /** @type {Buffer[]} */
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const protobuf = (req.headers['content-type'] ?? '').includes('protobuf');
    stats.requests++;
    let n;
    try {
      n = protobuf ? countProtobuf(body) : countJson(body);
    } catch (e) {
      stats.rejected++;
      res.statusCode = 400;
      res.end(String(e));
      return;
    }
    stats.accepted++;
    stats.records += n;
    stats.bytes += body.length;
    res.setHeader('content-type', protobuf ? 'application/x-protobuf' : 'application/json');
    res.end(protobuf ? undefined : '{}');
  });
});

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const url = `http://127.0.0.1:${port}`;
  process.stdout.write(`${JSON.stringify({ event: 'listening', url, endpoint: `${url}/v1/logs` })}\n`);
});
for (const sig of /** @type {const} */ (['SIGTERM', 'SIGINT'])) process.on(sig, () => process.exit(0));
