// @ts-check
/**
 * Micro-benchmark of the http/protobuf sender's transcoding, per record, on one request as the delivery stage
 * builds it (RecordSealer, records joined as RequestBuilder joins them; 2048 records of a bench/records.mjs shape):
 *   A  slow path: `encodeLogsRequest(JSON.parse(buffer.toString('utf8')))` (otlp/protobuf.ts)
 *   B  fast path: `transcodeLogsRequest(buffer)` (otlp/json-to-protobuf.ts)
 * A and B alternate within one process, so that load from other work on the machine hits both alike; each
 * figure is the median over the rounds, and the ratio is taken round by round.
 *
 *   node bench/transcode.mjs                 (TRANSCODE_SHAPE=9|15, TRANSCODE_ROUNDS=40, TRANSCODE_RECORDS=2048)
 *
 * The sources are bundled from src/ with esbuild (no build of dist/ needed).
 */
import { build } from 'esbuild';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { SHAPES } from './records.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SHAPE = process.env.TRANSCODE_SHAPE ?? '9';
const ROUNDS = Number(process.env.TRANSCODE_ROUNDS ?? 40);
const RECORDS = Number(process.env.TRANSCODE_RECORDS ?? 2048);

const entry = `
export { RecordSealer } from './src/chain/seal.ts';
export { HashChain } from './src/chain/chain.ts';
export { SyntheticRecord } from './src/chain/synthetic-record.ts';
export { encodeLogsRequest } from './src/otlp/protobuf.ts';
export { transcodeLogsRequest } from './src/otlp/json-to-protobuf.ts';
export { resourceFromAttributes } from '@opentelemetry/resources';
`;
// Inside the repository (its ignored tmp/), so that the packages, left external, resolve from node_modules.
mkdirSync(join(ROOT, 'tmp'), { recursive: true });
const tmp = mkdtempSync(join(ROOT, 'tmp', 'transcode-bench-'));
const outfile = join(tmp, 'bundle.mjs');
await build({ stdin: { contents: entry, resolveDir: ROOT, loader: 'ts' }, bundle: true, packages: 'external', platform: 'node', format: 'esm', outfile, logLevel: 'error' });
const m = await import(pathToFileURL(outfile).href);
rmSync(tmp, { recursive: true, force: true });

/**
 * One request of RECORDS records, with the bytes RequestBuilder writes (which cuts a request at 1 MiB, about
 * 1100 of these records: here the records are joined the same way, without that limit).
 */
function request() {
  const make = SHAPES[SHAPE];
  if (make === undefined) throw new Error(`TRANSCODE_SHAPE=${SHAPE}: one of ${Object.keys(SHAPES).join(', ')}`);
  const resource = m.resourceFromAttributes({ 'service.name': 'bench', 'service.version': '1.0.0' });
  const scope = { name: 'audit', version: '1.0.0' };
  const sealer = new m.RecordSealer();
  const chain = new m.HashChain();
  const parts = [];
  let group;
  for (let i = 0; i < RECORDS; i++) {
    const r = make(i);
    const rec = new m.SyntheticRecord(resource, scope, { eventName: r.eventName, attributes: r.attributes, severityNumber: r.severityNumber });
    rec.setBody(r.body);
    const s = sealer.seal(rec, chain);
    parts.push(Buffer.from(s.bytes), Buffer.from(','));
    group = s.group;
  }
  parts.pop();
  return Buffer.concat([Buffer.from(`{"resourceLogs":[${group.prefix}`), ...parts, Buffer.from(`${group.suffix}]}`)]);
}

const json = request();
const expected = Buffer.from(m.encodeLogsRequest(JSON.parse(json.toString('utf8'))));
const fast = m.transcodeLogsRequest(json);
if (fast === undefined || !expected.equals(Buffer.from(fast))) throw new Error('the fast path does not give the slow path’s bytes');

/** ns per record of one call of `f` on the request. */
function time(f) {
  const t0 = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - t0) / RECORDS;
}
const steps = {
  toString: () => json.toString('utf8'),
  parse: (() => {
    const text = json.toString('utf8');
    return () => JSON.parse(text);
  })(),
  encode: (() => {
    const req = JSON.parse(json.toString('utf8'));
    return () => m.encodeLogsRequest(req);
  })(),
  slow: () => m.encodeLogsRequest(JSON.parse(json.toString('utf8'))),
  fast: () => m.transcodeLogsRequest(json),
};
for (let w = 0; w < 20; w++) for (const f of Object.values(steps)) f(); // warm-up: optimized code for both

/** @type {Record<string, number[]>} */
const ns = { toString: [], parse: [], encode: [], slow: [], fast: [], ratio: [] };
for (let r = 0; r < ROUNDS; r++) {
  // A/B alternated, the order swapped every round.
  const order = r % 2 === 0 ? ['slow', 'fast'] : ['fast', 'slow'];
  const t = {};
  for (const k of order) t[k] = time(steps[k]);
  ns.slow.push(t.slow);
  ns.fast.push(t.fast);
  ns.ratio.push(t.slow / t.fast);
  for (const k of ['toString', 'parse', 'encode']) ns[k].push(time(steps[k]));
}
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const us = (k) => (median(ns[k]) / 1000).toFixed(2);
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
console.log(`transcode: ${process.version}, ${cpu}, ${os.cpus().length} cores; shape ${SHAPE}, ${RECORDS} records, request ${json.length} B JSON → ${expected.length} B protobuf; ${ROUNDS} rounds, medians`);
console.log(`  slow path  ${us('slow')} µs/record  (toString ${us('toString')} + JSON.parse ${us('parse')} + encodeLogsRequest ${us('encode')})`);
console.log(`  fast path  ${us('fast')} µs/record`);
console.log(`  slow / fast, round by round: median ${median(ns.ratio).toFixed(1)}×, min ${Math.min(...ns.ratio).toFixed(1)}×, max ${Math.max(...ns.ratio).toFixed(1)}×`);
