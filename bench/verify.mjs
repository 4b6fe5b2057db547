// Verifier throughput benchmark: `npm run build && node bench/verify.mjs`.
//
// Generates a valid journal of about 1 GiB (BENCH_VERIFY_BYTES) in os.tmpdir(), in the shape the processor
// writes (one ExportLogsServiceRequest per line, RECORDS_PER_LINE records per line, UUID record ids, the
// 15-attribute `user.login` event of bench/variant.mjs), then times `node dist/cli.js verify --json` on it in a
// child process pinned to one core (taskset, when available), prints MB/s and the child's peak RSS, and
// deletes the file.
//
// BENCH_VERIFY_SIGNED=1 also MACs every record with HMAC-SHA256 and adds an Ed25519-signed checkpoint every
// 1000 records (computed here with node:crypto from docs/integrity.md), and verifies with --hmac-key-file and
// --pubkey: the cost of signature verification.
//
// Environment: BENCH_VERIFY_BYTES (default 1073741824), BENCH_VERIFY_SIGNED (0/1), BENCH_VERIFY_KEEP=1 keeps
// the file. The target is >= 100 MB/s (MB = 10^6 bytes) on one core.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, createHmac, generateKeyPairSync, randomBytes, randomUUID, sign } from 'node:crypto';
import { mkdtempSync, openSync, writeSync, closeSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canonicalFromOtlp, hashCanonical } from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const CLI = join(here, '..', 'dist', 'cli.js');
const TARGET_BYTES = Number(process.env.BENCH_VERIFY_BYTES ?? 1024 ** 3);
const SIGNED = process.env.BENCH_VERIFY_SIGNED === '1';
const KEEP = process.env.BENCH_VERIFY_KEEP === '1';
const RECORDS_PER_LINE = 32;
const CHECKPOINT_EVERY = 1000;

const dir = mkdtempSync(join(tmpdir(), 'otel-audit-bench-verify-'));
const file = join(dir, 'audit-bench-000001.jsonl');

const RESOURCE =
  '{"attributes":[{"key":"service.name","value":{"stringValue":"bench-service"}},{"key":"telemetry.sdk.language","value":{"stringValue":"nodejs"}},{"key":"telemetry.sdk.name","value":{"stringValue":"opentelemetry"}},{"key":"telemetry.sdk.version","value":{"stringValue":"2.12.1"}}]}';
const LINE_HEAD = `{"resourceLogs":[{"resource":${RESOURCE},"scopeLogs":[{"scope":{"name":"audit"},"logRecords":[`;
const LINE_TAIL = ']}]}]}\n';

const s = (v) => ({ stringValue: v });
const kv = (key, value) => ({ key, value });

// Keys for the signed variant.
const hmacSecret = randomBytes(32);
const hmacKeyId = createHash('sha256').update('otel-audit hmac key id').update(hmacSecret).digest('hex').slice(0, 16);
const ed = generateKeyPairSync('ed25519');
const edKeyId = createHash('sha256').update(ed.publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);

function integrity(canonical, algorithm) {
  const value =
    algorithm === 'HMAC-SHA256'
      ? createHmac('sha256', hmacSecret).update(canonical, 'utf8').digest('base64')
      : sign(null, Buffer.from(canonical, 'utf8'), ed.privateKey).toString('base64');
  return [
    kv('audit.integrity.value', s(value)),
    kv('audit.integrity.signer', s('producer')),
    kv('audit.integrity.canonicalization', s('jcs')),
    kv('audit.integrity.algorithm', s(algorithm)),
    kv('audit.integrity.key_id', s(algorithm === 'HMAC-SHA256' ? hmacKeyId : edKeyId)),
  ];
}

function generate() {
  const streamId = randomUUID();
  const fd = openSync(file, 'w', 0o600);
  const t0 = 1_700_000_000_000_000_000n;
  let bytes = 0;
  let seq = 0;
  let prevHash;
  let prevId;
  let lineRecords = [];
  const flush = () => {
    const text = LINE_HEAD + lineRecords.join(',') + LINE_TAIL;
    bytes += writeSync(fd, text);
    lineRecords = [];
  };
  const seal = (parts, attrs, algorithm) => {
    let record = parts;
    const id = randomUUID();
    seq++;
    attrs.push(kv('audit.record.id', s(id)), kv('audit.sequence.stream_id', s(streamId)), kv('audit.sequence.number', { intValue: String(seq) }));
    if (prevHash !== undefined) attrs.push(kv('audit.sequence.previous_hash', s(prevHash)), kv('audit.sequence.previous_record_id', s(prevId)));
    // Members in proto field order, as the processor and the Collector write them.
    record = { ...record.head, attributes: attrs, ...record.tail };
    const canonical = canonicalFromOtlp(record);
    if (algorithm !== undefined) attrs.push(...integrity(canonical, algorithm));
    prevHash = hashCanonical(canonical);
    prevId = id;
    lineRecords.push(JSON.stringify(record));
    if (lineRecords.length === RECORDS_PER_LINE) flush();
  };
  let i = 0;
  while (bytes < TARGET_BYTES) {
    const t = (t0 + BigInt(i) * 1_000_000n).toString();
    seal(
      { head: { timeUnixNano: t, observedTimeUnixNano: t, severityNumber: 9, body: s('login ok') }, tail: { eventName: 'user.login' } },
      [
        kv('audit.actor.id', s(`user-${i % 1000}`)),
        kv('audit.actor.type', s('user')),
        kv('audit.action', s('LOGIN')),
        kv('audit.outcome', s('success')),
        kv('audit.target.id', s(`acct-${i % 97}`)),
        kv('audit.target.type', s('account')),
        kv('audit.source.id', s('10.1.2.3')),
        kv('audit.source.type', s('ipv4')),
        kv('client.address', s('10.1.2.3')),
        kv('session.id', s(`s-${i % 50}`)),
        kv('http.request.method', s('POST')),
        kv('url.path', s('/login')),
        kv('user.roles', { arrayValue: { values: [s('reader'), s('writer')] } }),
        kv('request.size', { intValue: String(i) }),
        kv('latency.ms', { doubleValue: 12.5 }),
      ],
      SIGNED ? 'HMAC-SHA256' : undefined,
    );
    i++;
    if (SIGNED && i % CHECKPOINT_EVERY === 0) {
      const tc = (t0 + BigInt(i) * 1_000_000n).toString();
      seal(
        { head: { timeUnixNano: tc, observedTimeUnixNano: tc, severityNumber: 9 }, tail: { eventName: 'audit.checkpoint' } },
        [
          kv('audit.actor.id', s('otel-audit')),
          kv('audit.actor.type', s('system')),
          kv('audit.action', s('CHECKPOINT')),
          kv('audit.outcome', s('success')),
          kv('audit.schema.version', s('1')),
          kv('audit.checkpoint.stream_id', s(streamId)),
          kv('audit.checkpoint.sequence', { intValue: String(seq) }),
          kv('audit.checkpoint.head_hash', s(prevHash)),
          kv('audit.checkpoint.interval_records', { intValue: String(CHECKPOINT_EVERY) }),
        ],
        'EdDSA',
      );
    }
  }
  if (lineRecords.length > 0) flush();
  closeSync(fd);
  return { records: seq, bytes, streamId };
}

function hasTaskset() {
  return spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Runs the verifier in a child process; resolves with wall time, exit code, parsed report and peak RSS. */
function runVerify(extraArgs) {
  const args = [CLI, 'verify', '--json', ...extraArgs, file];
  const pinned = hasTaskset();
  const cmd = pinned ? 'taskset' : process.execPath;
  const argv = pinned ? ['-c', '0', process.execPath, ...args] : args;
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    let peakRss = 0;
    const poll = setInterval(() => {
      try {
        const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        const m = /VmHWM:\s+(\d+) kB/.exec(status);
        if (m) peakRss = Math.max(peakRss, Number(m[1]) * 1024);
      } catch {
        /* not Linux, or exited */
      }
    }, 100);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(poll);
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      let report;
      try {
        report = JSON.parse(out);
      } catch {
        report = undefined;
      }
      resolve({ seconds, code, report, peakRss, pinned });
    });
  });
}

const mb = (n) => (n / 1e6).toFixed(1);

try {
  const g0 = Date.now();
  const { records, bytes } = generate();
  const genSeconds = (Date.now() - g0) / 1000;
  console.log(
    `generated ${file}: ${mb(bytes)} MB (${(bytes / 1024 ** 3).toFixed(2)} GiB), ${records} records, ${RECORDS_PER_LINE}/line` +
      `${SIGNED ? `, HMAC-SHA256 per record + Ed25519 checkpoint every ${CHECKPOINT_EVERY}` : ''} in ${genSeconds.toFixed(1)} s`,
  );
  const extra = [];
  if (SIGNED) {
    const keyFile = join(dir, 'hmac.key');
    writeFileSync(keyFile, `base64:${hmacSecret.toString('base64')}\n`, { mode: 0o600 });
    const pubFile = join(dir, 'checkpoint.pub.pem');
    writeFileSync(pubFile, ed.publicKey.export({ type: 'spki', format: 'pem' }));
    extra.push('--hmac-key-file', keyFile, '--pubkey', pubFile, '--require-signatures');
  }
  const size = statSync(file).size;
  const r = await runVerify(extra);
  const rate = size / 1e6 / r.seconds;
  const stream = r.report?.streams?.[0];
  console.log(
    `otel-audit verify: exit ${r.code}, ${r.report?.records ?? '?'} records, ok=${r.report?.ok}` +
      (stream?.coveredThrough !== undefined ? `, covered through seq ${stream.coveredThrough}` : '') +
      `; ${r.seconds.toFixed(2)} s wall (process start included)${r.pinned ? ', pinned to CPU 0 with taskset' : ''}`,
  );
  console.log(`peak RSS of the verifier: ${r.peakRss > 0 ? `${mb(r.peakRss)} MB` : 'n/a'}`);
  console.log(`THROUGHPUT: ${rate.toFixed(1)} MB/s (${(records / r.seconds / 1000).toFixed(0)}k records/s) on ${cpus()[0]?.model ?? 'unknown CPU'}`);
  console.log(`target >= 100 MB/s: ${rate >= 100 ? 'met' : 'NOT met'}`);
  if (r.code !== 0 || r.report?.ok !== true) {
    console.error('verification did not pass on a valid file');
    process.exitCode = 1;
  }
} finally {
  if (KEEP) console.log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
