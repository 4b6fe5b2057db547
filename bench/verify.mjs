// Verifier throughput benchmark: `npm run build && node bench/verify.mjs`.
//
// Generates a valid journal in os.tmpdir(), in the shape the processor writes (one ExportLogsServiceRequest per
// line, RECORDS_PER_LINE records per line, UUID record ids, the 15-attribute `user.login` event of
// bench/records.mjs, shape 15), then times `node dist/cli.js verify --json` on it in a child process, prints MB/s (MB =
// 10^6 bytes, process start included) and the child's peak RSS (VmHWM: every thread), and deletes the files.
//
// Two modes (BENCH_VERIFY_MODE):
// - `rotated` (default): a rotated set of about 300 MB (BENCH_VERIFY_BYTES) in segments of
//   BENCH_VERIFY_SEGMENT_BYTES (64 MiB), verified with `--jobs 1` pinned to one core (taskset, when available)
//   and with the default jobs (one worker per available core, not pinned), alternately BENCH_VERIFY_RUNS times
//   (default 3); medians are reported. Targets: >= 150 MB/s on one core, >= 200 MB/s by default, peak RSS
//   <= 400 MB.
// - `single`: the former run: one file of about 1 GiB (BENCH_VERIFY_BYTES), `--jobs 1` pinned to one core,
//   once. Target >= 100 MB/s.
//
// BENCH_VERIFY_SIGNED=1 also MACs every record with HMAC-SHA256 and adds an Ed25519-signed checkpoint every
// 1000 records (computed here with node:crypto from docs/integrity.md), and verifies with --hmac-key-file and
// --pubkey: the cost of signature verification.
//
// Environment: BENCH_VERIFY_MODE (rotated/single), BENCH_VERIFY_BYTES, BENCH_VERIFY_SEGMENT_BYTES,
// BENCH_VERIFY_RUNS, BENCH_VERIFY_SIGNED (0/1), BENCH_VERIFY_KEEP=1 keeps the files,
// BENCH_VERIFY_RECORDS_PER_LINE (default 32; the processor writes one line per flush tick: a few records when
// idle, hundreds under load).
import { spawn, spawnSync } from 'node:child_process';
import { createHash, createHmac, generateKeyPairSync, randomBytes, randomUUID, sign } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, writeSync, closeSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { availableParallelism, tmpdir, cpus } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canonicalFromOtlp, hashCanonical } from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const CLI = join(here, '..', 'dist', 'cli.js');
const MODE = process.env.BENCH_VERIFY_MODE ?? 'rotated';
if (MODE !== 'rotated' && MODE !== 'single') throw new Error(`BENCH_VERIFY_MODE must be rotated or single, not ${MODE}`);
const TARGET_BYTES = Number(process.env.BENCH_VERIFY_BYTES ?? (MODE === 'single' ? 1024 ** 3 : 300e6));
const SEGMENT_BYTES = MODE === 'single' ? Infinity : Number(process.env.BENCH_VERIFY_SEGMENT_BYTES ?? 64 * 1024 ** 2);
const RUNS = MODE === 'single' ? 1 : Number(process.env.BENCH_VERIFY_RUNS ?? 3);
const SIGNED = process.env.BENCH_VERIFY_SIGNED === '1';
const KEEP = process.env.BENCH_VERIFY_KEEP === '1';
const RECORDS_PER_LINE = Number(process.env.BENCH_VERIFY_RECORDS_PER_LINE ?? 32);
if (!Number.isSafeInteger(RECORDS_PER_LINE) || RECORDS_PER_LINE < 1) throw new Error('BENCH_VERIFY_RECORDS_PER_LINE must be a positive integer');
const CHECKPOINT_EVERY = 1000;

const dir = mkdtempSync(join(tmpdir(), 'otel-audit-bench-verify-'));
// Rotated segments go in a directory of their own (verify is given the directory, as for a journal).
const journal = MODE === 'single' ? dir : join(dir, 'journal');
const segment = (n) => join(journal, `audit-bench-${String(n).padStart(6, '0')}.jsonl`);
const file = MODE === 'single' ? segment(1) : journal;

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
  if (MODE !== 'single') mkdirSync(journal, { mode: 0o700 });
  let segments = 1;
  let segmentBytes = 0;
  let fd = openSync(segment(segments), 'w', 0o600);
  const t0 = 1_700_000_000_000_000_000n;
  let bytes = 0;
  let seq = 0;
  let prevHash;
  let prevId;
  let lineRecords = [];
  const flush = () => {
    const text = LINE_HEAD + lineRecords.join(',') + LINE_TAIL;
    // Rotation by size, as the journal does: a line never spans segments.
    if (segmentBytes > 0 && segmentBytes + text.length > SEGMENT_BYTES) {
      closeSync(fd);
      fd = openSync(segment(++segments), 'w', 0o600);
      segmentBytes = 0;
    }
    const n = writeSync(fd, text);
    bytes += n;
    segmentBytes += n;
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
  return { records: seq, bytes, streamId, segments };
}

function hasTaskset() {
  return spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Runs the verifier in a child process; resolves with wall time, exit code, parsed report and peak RSS. */
function runVerify(extraArgs, pin) {
  const args = [CLI, 'verify', '--json', ...extraArgs, file];
  const pinned = pin && hasTaskset();
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
const median = (xs) => [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1];

/** One configuration's runs: median MB/s and the highest peak RSS. */
function summarize(label, runs, size, records) {
  const rates = runs.map((r) => size / 1e6 / r.seconds);
  const rate = median(rates);
  const rss = Math.max(...runs.map((r) => r.peakRss));
  console.log(
    `${label}: median ${rate.toFixed(1)} MB/s (${(records / (size / 1e6 / rate) / 1000).toFixed(0)}k records/s) over ${runs.length} run(s) ` +
      `[${rates.map((x) => x.toFixed(1)).join(', ')}]; peak RSS ${rss > 0 ? `${mb(rss)} MB` : 'n/a'}${runs[0].pinned ? '; pinned to CPU 0 with taskset' : ''}`,
  );
  return { rate, rss };
}

function check(r) {
  if (r.code !== 0 || r.report?.ok !== true) {
    console.error(`verification did not pass on a valid input (exit ${r.code})`);
    process.exitCode = 1;
  }
}

try {
  const g0 = Date.now();
  const { records, bytes, segments } = generate();
  const genSeconds = (Date.now() - g0) / 1000;
  console.log(
    `generated ${file}: ${mb(bytes)} MB (${(bytes / 1024 ** 3).toFixed(2)} GiB) in ${segments} file(s), ${records} records, ${RECORDS_PER_LINE}/line` +
      `${SIGNED ? `, HMAC-SHA256 per record + Ed25519 checkpoint every ${CHECKPOINT_EVERY}` : ''} in ${genSeconds.toFixed(1)} s`,
  );
  console.log(`machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} available core(s); Node ${process.version}`);
  const extra = [];
  if (SIGNED) {
    const keyFile = join(dir, 'hmac.key');
    writeFileSync(keyFile, `base64:${hmacSecret.toString('base64')}\n`, { mode: 0o600 });
    const pubFile = join(dir, 'checkpoint.pub.pem');
    writeFileSync(pubFile, ed.publicKey.export({ type: 'spki', format: 'pem' }));
    extra.push('--hmac-key-file', keyFile, '--pubkey', pubFile, '--require-signatures');
  }
  const size = bytes;
  if (MODE === 'single') {
    const r = await runVerify(extra, true);
    const stream = r.report?.streams?.[0];
    console.log(
      `otel-audit verify: exit ${r.code}, ${r.report?.records ?? '?'} records, ok=${r.report?.ok}` +
        (stream?.coveredThrough !== undefined ? `, covered through seq ${stream.coveredThrough}` : '') +
        `; ${r.seconds.toFixed(2)} s wall (process start included)`,
    );
    const { rate } = summarize('THROUGHPUT --jobs 1', [r], size, records);
    console.log(`target >= 100 MB/s: ${rate >= 100 ? 'met' : 'NOT met'}`);
    check(r);
  } else {
    // Alternated, so that a noisy neighbour slows both configurations alike.
    const one = [];
    const auto = [];
    for (let k = 0; k < RUNS; k++) {
      one.push(await runVerify(['--jobs', '1', ...extra], true));
      auto.push(await runVerify(extra, false));
    }
    for (const r of [...one, ...auto]) check(r);
    const a = summarize('THROUGHPUT --jobs 1 (one core)', one, size, records);
    const b = summarize(`THROUGHPUT default jobs (${availableParallelism()} workers)`, auto, size, records);
    console.log(`target >= 150 MB/s on one core: ${a.rate >= 150 ? 'met' : 'NOT met'}`);
    console.log(`target >= 200 MB/s by default: ${b.rate >= 200 ? 'met' : 'NOT met'}`);
    console.log(`target peak RSS <= 400 MB: ${Math.max(a.rss, b.rss) <= 400e6 ? 'met' : 'NOT met'}`);
  }
} finally {
  if (KEEP) console.log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
