#!/usr/bin/env node
// npm run faults — the long, randomized versions of the fault tests (test/faults): collector faults, an outage of
// minutes, kill -9 at random instants, a 1,000,000-record burst during an outage, cluster workers on one
// directory, a full disk. Prints a markdown table; exits 1 if any record was lost or any order/chain check failed.
//
// Every number is computed independently of the processor's own counters: the emitters (child processes running
// test/fixtures/fault-emitter.mjs against the built package) report which record ids they emitted and which
// receipts settled; the collector (`otel-audit collector`, its own process) writes what it received; this script
// counts unique audit.record.id values in that output, and what was set aside in rejected/.
//
// Env: FAULTS_SCALE (default 1) scales rates and durations; FAULTS_OUTAGE_SECONDS (default 120); FAULTS_KILLS
// (default 60 × scale); FAULTS_BURST (default 1000000); FAULTS_ONLY=faults,outage,kill,burst,cluster,disk;
// FAULTS_FAULT=<text> runs only the collector faults whose name contains it; FAULTS_KEEP=1 keeps the temp
// directory; FAULTS_JSON=FILE also writes the rows as JSON.
import { execFileSync, spawn } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, appendFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, platform, release, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ATTR_RECORD_ID, ATTR_SEQ_NUMBER, ATTR_SEQ_STREAM_ID } from '../dist/index.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist/cli.js');
const EMITTER = join(ROOT, 'test/fixtures/fault-emitter.mjs');

const SCALE = Number(process.env.FAULTS_SCALE ?? '1');
const OUTAGE_S = Number(process.env.FAULTS_OUTAGE_SECONDS ?? '120');
const KILLS = Number(process.env.FAULTS_KILLS ?? String(Math.max(1, Math.round(60 * SCALE))));
const BURST = Number(process.env.FAULTS_BURST ?? '1000000');
const ONLY = new Set((process.env.FAULTS_ONLY ?? 'faults,outage,kill,burst,cluster,disk').split(',').map((s) => s.trim()));
const KEEP = process.env.FAULTS_KEEP === '1';

const TMP = mkdtempSync(join(tmpdir(), 'otel-audit-faults-'));
const children = new Set();
const mounts = [];
const log = (s) => process.stderr.write(`[faults ${new Date().toISOString().slice(11, 19)}] ${s}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rand = (a, b) => a + Math.random() * (b - a);

function cleanup() {
  for (const c of children) c.kill('SIGKILL');
  while (mounts.length) {
    const m = mounts.pop();
    try {
      execFileSync('umount', [m], { stdio: 'ignore' });
    } catch {
      try {
        execFileSync('umount', ['-l', m], { stdio: 'ignore' });
      } catch {
        /* nothing more to do */
      }
    }
  }
  if (!KEEP) rmSync(TMP, { recursive: true, force: true });
  else log(`kept ${TMP}`);
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

// ---- child processes ---------------------------------------------------------------------------------------

/** A child whose stdout is JSON lines. */
function spawnJson(args, env = {}, cmd = process.execPath) {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  children.add(proc);
  const lines = [];
  const stderr = [];
  const watchers = [];
  createInterface({ input: proc.stdout }).on('line', (l) => {
    let o;
    try {
      o = JSON.parse(l);
    } catch {
      return;
    }
    lines.push(o);
    for (const w of [...watchers])
      if (w.pred(o)) {
        watchers.splice(watchers.indexOf(w), 1);
        w.resolve(o);
      }
  });
  createInterface({ input: proc.stderr }).on('line', (l) => stderr.length < 2000 && stderr.push(l));
  const exited = new Promise((r) =>
    proc.once('exit', (code, signal) => {
      children.delete(proc);
      r({ code, signal });
    }),
  );
  return {
    proc,
    lines,
    stderr,
    exited,
    event: (name) => lines.filter((o) => o.event === name).at(-1),
    waitFor(pred, ms = 600_000) {
      const hit = lines.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out waiting; stderr: ${stderr.slice(-5).join(' | ')}`)), ms);
        watchers.push({ pred, resolve: (o) => (clearTimeout(t), resolve(o)) });
        exited.then(() => setTimeout(() => (clearTimeout(t), reject(new Error(`child exited first; stderr: ${stderr.slice(-5).join(' | ')}`))), 200));
      });
    },
  };
}

const emitter = (env) => spawnJson([EMITTER], env);

/** The development collector in its own process; faults through its control endpoint; stop = a real outage. */
async function collector(outFile) {
  const c = { port: 0, outFile, p: undefined, url: undefined, endpoint: undefined };
  c.start = async () => {
    c.p = spawnJson([CLI, 'collector', '--port', String(c.port), '--out', outFile]);
    const l = await c.p.waitFor((o) => o.event === 'listening', 20_000);
    c.url = l.url;
    c.endpoint = l.endpoint;
    c.port = Number(new URL(l.url).port);
  };
  c.stop = async () => {
    if (c.p === undefined) return;
    const p = c.p;
    c.p = undefined;
    p.proc.kill('SIGTERM');
    await p.exited;
  };
  c.currentFault = async () => (c.p === undefined ? { mode: 'ok' } : (await fetch(`${c.url}/_fault`)).json());
  c.fault = async (f) => {
    if (c.p === undefined) return;
    const r = await fetch(`${c.url}/_fault`, { method: 'POST', body: JSON.stringify(f), headers: { 'content-type': 'application/json' } });
    if (!r.ok) throw new Error(`setting fault ${JSON.stringify(f)}: HTTP ${r.status}`);
  };
  await c.start();
  return c;
}

/** A scenario's start: its clock, its directory (the journal in audit/) and a collector writing collector.jsonl there. */
async function scenario(name) {
  const t0 = performance.now();
  const dir = join(TMP, name);
  const out = join(dir, 'collector.jsonl');
  return { t0, auditDir: join(dir, 'audit'), out, c: await collector(out) };
}

/** A loopback port nobody listens on: connection refused. */
async function deadEndpoint() {
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise((r) => s.close(r));
  return `http://127.0.0.1:${port}/v1/logs`;
}

async function pool(items, n, fn) {
  const out = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}

// ---- accounting: independent of the processor -------------------------------------------------------------

function attrs(r) {
  let id, stream, seq;
  for (const kv of r.attributes ?? []) {
    if (kv.key === ATTR_RECORD_ID) id = kv.value?.stringValue;
    else if (kv.key === ATTR_SEQ_STREAM_ID) stream = kv.value?.stringValue;
    else if (kv.key === ATTR_SEQ_NUMBER) seq = Number(kv.value?.intValue);
  }
  return { id, stream, seq };
}

/** What OTLP/JSON lines files hold: copies per record id, per-stream order of first arrival. */
async function tally(files) {
  const ids = new Map();
  const streams = new Map();
  let copies = 0;
  let inOrder = true;
  for (const f of files) {
    if (!existsSync(f)) continue;
    const rl = createInterface({ input: createReadStream(f), crlfDelay: Infinity });
    for await (const line of rl) {
      if (line === '') continue;
      const req = JSON.parse(line);
      for (const r0 of req.resourceLogs ?? [])
        for (const sl of r0.scopeLogs ?? [])
          for (const r of sl.logRecords ?? []) {
            const { id, stream, seq } = attrs(r);
            if (id === undefined) continue;
            copies++;
            ids.set(id, (ids.get(id) ?? 0) + 1);
            if (stream === undefined || !Number.isInteger(seq)) continue;
            let s = streams.get(stream);
            if (s === undefined) streams.set(stream, (s = { last: 0, seen: new Set() }));
            if (!s.seen.has(seq)) {
              if (seq < s.last) inOrder = false;
              s.last = seq;
              s.seen.add(seq);
            }
          }
    }
  }
  return { ids, copies, unique: ids.size, duplicated: copies - ids.size, streams, inOrder };
}

function expandRanges(ranges) {
  const out = new Set();
  for (const [a, b] of ranges ?? []) for (let i = a; i <= b; i++) out.add(i);
  return out;
}

/** Record ids an emitter's "emitted" line says were accepted (not thrown, not refused by the loss policy). */
function* acceptedIds(em) {
  const skip = new Set([...expandRanges(em.thrown), ...expandRanges(em.refused)]);
  for (let i = 0; i < em.attempted; i++) if (!skip.has(i)) yield `${em.prefix}${i}`;
}

/** Ids in <auditDir>/rejected/*.jsonl: refused for good by the collector, kept locally. */
async function setAsideIds(auditDirs) {
  const files = [];
  for (const d of auditDirs) {
    const r = join(d, 'rejected');
    if (existsSync(r)) for (const n of readdirSync(r)) files.push(join(r, n));
  }
  return (await tally(files)).ids;
}

/** emitted / delivered / set aside / lost of a set of expected ids against a collector tally. */
function account(expected, t, aside) {
  let emitted = 0,
    delivered = 0,
    setAside = 0,
    lost = 0;
  const lostIds = [];
  for (const id of expected) {
    emitted++;
    if (t.ids.has(id)) delivered++;
    else if (aside.has(id)) setAside++;
    else {
      lost++;
      if (lostIds.length < 5) lostIds.push(id);
    }
  }
  return { emitted, delivered, setAside, lost, lostIds };
}

/** `otel-audit verify` over the collector's output (plus what was set aside): exit 0 means intact. */
function verify(files) {
  const existing = files.filter((f) => existsSync(f));
  if (existing.length === 0) return true;
  try {
    execFileSync(process.execPath, [CLI, 'verify', ...existing], { stdio: 'ignore', maxBuffer: 1 << 26 });
    return true;
  } catch {
    return false;
  }
}

function rejectedFiles(auditDirs) {
  const out = [];
  for (const d of auditDirs) {
    const r = join(d, 'rejected');
    if (existsSync(r)) for (const n of readdirSync(r)) out.push(join(r, n));
  }
  return out;
}

const rows = [];
let failed = false;
function row(r) {
  const bad = r.lost > 0 || r.ok === false;
  if (bad) failed = true;
  rows.push(r);
  log(`${bad ? 'FAIL' : 'ok  '} ${r.scenario}: emitted ${r.emitted}, delivered ${r.delivered}, dup ${r.duplicated}, lost ${r.lost}, set aside ${r.setAside}${r.notes ? ` — ${r.notes}` : ''}`);
}

const maxRss = (procs) => Math.max(0, ...procs.flatMap((p) => p.lines.map((o) => Number(o.maxRssKiB ?? 0)))) / 1024;

// ---- 1: collector faults, on a random schedule --------------------------------------------------------------

const FAULTS = [
  { name: 'HTTP 500 bursts', fault: { mode: 'status', status: 500 } },
  { name: 'HTTP 502 bursts', fault: { mode: 'status', status: 502 } },
  { name: 'HTTP 503 bursts', fault: { mode: 'status', status: 503 } },
  { name: 'HTTP 504 bursts', fault: { mode: 'status', status: 504 } },
  { name: 'HTTP 429 bursts', fault: { mode: 'status', status: 429 } },
  { name: 'HTTP 429 + Retry-After: 1', fault: { mode: 'status', status: 429, retryAfterSeconds: 1 } },
  { name: 'HTTP 400 ×3 (permanent → set aside)', fault: { mode: 'status', status: 400, times: 3 }, counted: true },
  { name: 'slow responses (1.5 s > 1 s timeout)', fault: { mode: 'delay', delayMs: 1500 } },
  { name: 'connection refused (collector stopped)', stop: true },
  { name: 'connection reset mid-request', fault: { mode: 'drop' } },
  { name: 'partial_success ×2 (transient)', fault: { mode: 'partial', rejected: 3, times: 2 }, counted: true },
  { name: 'partial_success ×5 (persistent → set aside)', fault: { mode: 'partial', rejected: 1, times: 5 }, counted: true },
];

async function collectorFault(spec, k) {
  const { t0, auditDir, out, c } = await scenario(`fault-${k}`);
  const seconds = 8 * SCALE;
  const child = emitter({
    OTEL_AUDIT_DIR: auditDir,
    OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: c.endpoint,
    OTEL_EXPORTER_OTLP_TIMEOUT: '1000',
    OTEL_BLRP_EXPORT_TIMEOUT: '120000',
    EMIT_RATE: '1000',
    EMIT_SECONDS: String(seconds),
    EMIT_COUNT: '0',
    ID_PREFIX: `f${k}-`,
  });
  await child.waitFor((o) => o.event === 'started');
  let episodes = 0;
  let usedUpAt; // collector request count when the last counted fault was found used up
  while (child.event('emitted') === undefined && child.proc.exitCode === null) {
    await sleep(rand(300, 1200));
    if (child.event('emitted') !== undefined) break;
    episodes++;
    if (spec.stop) {
      await c.stop();
      await sleep(rand(300, 1500));
      await c.start();
    } else if (spec.counted) {
      // A fault for the next N requests: armed again only once used up and a healthy request went through since
      // (otherwise back-to-back episodes would be one long run of failures of the same batch).
      const requests = (await (await fetch(`${c.url}/_stats`)).json()).requests;
      if ((await c.currentFault()).mode !== 'ok') episodes--;
      else if (usedUpAt === undefined && episodes > 1) {
        usedUpAt = requests;
        episodes--;
      } else if (usedUpAt !== undefined && requests <= usedUpAt) episodes--;
      else {
        usedUpAt = undefined;
        await c.fault(spec.fault);
      }
    } else {
      await c.fault(spec.fault);
      await sleep(rand(100, 800));
      await c.fault({ mode: 'ok' });
    }
  }
  // Let a counted fault run its course (the processor's backoff doubles from 0.5 s), then clear anything left.
  for (let i = 0; spec.counted && i < 600 && (await c.currentFault()).mode !== 'ok'; i++) await sleep(100);
  await c.fault({ mode: 'ok' });
  const done = await child.waitFor((o) => o.event === 'done');
  await child.exited;
  await c.stop();
  const em = child.event('emitted');
  const t = await tally([out]);
  const aside = await setAsideIds([auditDir]);
  const a = account(acceptedIds(em), t, aside);
  row({
    group: 0,
    rank: k,
    scenario: `collector: ${spec.name}`,
    ...a,
    duplicated: t.duplicated,
    maxRssMiB: maxRss([child]),
    seconds: (performance.now() - t0) / 1000,
    ok: t.inOrder && verify([out, ...rejectedFiles([auditDir])]),
    notes:
      `${episodes} fault episodes; in order: ${t.inOrder ? 'yes' : 'NO'}` +
      (done.stats?.rejected ? `; the processor's own count of set-aside records: ${done.stats.rejected} (some were written by earlier partial attempts, or are its stream-end marker)` : ''),
  });
}

// ---- 1b: an outage of minutes at a steady rate ---------------------------------------------------------------

async function outage() {
  const { t0, auditDir, out, c } = await scenario('outage');
  const before = 10;
  const after = 10;
  const rate = Math.round(300 * SCALE);
  const child = emitter({
    OTEL_AUDIT_DIR: auditDir,
    OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: c.endpoint,
    OTEL_EXPORTER_OTLP_TIMEOUT: '2000',
    OTEL_BLRP_EXPORT_TIMEOUT: '300000',
    EMIT_RATE: String(rate),
    EMIT_SECONDS: String(before + OUTAGE_S + after),
    EMIT_COUNT: '0',
    ID_PREFIX: 'outage-',
  });
  await child.waitFor((o) => o.event === 'started');
  await sleep(before * 1000);
  await c.stop();
  log(`outage: collector stopped for ${OUTAGE_S} s`);
  await sleep(OUTAGE_S * 1000);
  const backlogAt = child.lines.filter((o) => o.event === 'progress').at(-1);
  const restartedAt = performance.now();
  await c.start();
  log('outage: collector back');
  // Catch-up: the time until the processor has acknowledged what was accepted when the collector came back.
  let caughtUp;
  const target = Number(backlogAt?.accepted ?? 0);
  while (caughtUp === undefined && child.event('done') === undefined) {
    const p = child.lines.filter((o) => o.event === 'progress').at(-1);
    if (p !== undefined && Number(p.acked) >= target) caughtUp = (performance.now() - restartedAt) / 1000;
    await sleep(100);
  }
  await child.waitFor((o) => o.event === 'done');
  await child.exited;
  await c.stop();
  const em = child.event('emitted');
  const t = await tally([out]);
  const a = account(acceptedIds(em), t, new Map());
  row({
    group: 1,
    scenario: `outage of ${OUTAGE_S} s at ${rate} records/s`,
    ...a,
    duplicated: t.duplicated,
    maxRssMiB: maxRss([child]),
    seconds: (performance.now() - t0) / 1000,
    ok: t.inOrder && verify([out]),
    notes: `backlog ${Number(backlogAt?.accepted ?? 0) - Number(backlogAt?.acked ?? 0)} records at restart; caught up ${caughtUp === undefined ? 'by shutdown' : `${caughtUp.toFixed(1)} s`} after it (retry backoff ≤ 30 s)`,
  });
}

// ---- 2: kill -9 at random instants -----------------------------------------------------------------------

async function kills() {
  const t0 = performance.now();
  const dir = join(TMP, 'kills');
  const out = join(dir, 'collector.jsonl');
  const c = await collector(out);
  const dead = await deadEndpoint();
  const procs = [];
  let durableAll = [];
  let torn = 0;
  let simulated = 0;
  let linked = 0;
  let crashedWithJournal = 0;
  let replayed = 0;
  const problems = [];
  await pool(
    Array.from({ length: KILLS }, (_, i) => i),
    4,
    async (run) => {
      const auditDir = join(dir, `run-${run}`);
      const up = run % 2 === 0;
      const child = emitter({
        OTEL_AUDIT_DIR: auditDir,
        OTEL_AUDIT_FSYNC: run % 4 < 2 ? 'batch' : 'always',
        OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: up ? c.endpoint : dead,
        OTEL_EXPORTER_OTLP_TIMEOUT: '300',
        EMIT_COUNT: '0',
        REPORT_DURABLE: '1',
        ID_PREFIX: `k${run}-`,
      });
      procs.push(child);
      const started = await child.waitFor((o) => o.event === 'started');
      await child.waitFor((o) => 'd' in o, 60_000);
      await sleep(rand(20, 1000));
      child.proc.kill('SIGKILL');
      await child.exited;
      for (const o of child.lines) if ('d' in o) for (const i of expandRanges(o.d)) durableAll.push(`k${run}-${i}`);
      // In a third of the runs, a write cut short: part of a line, no newline (unless the kill left one).
      const segs = existsSync(auditDir) ? readdirSync(auditDir).filter((n) => n.endsWith('.jsonl')).sort() : [];
      let expectTorn = false;
      if (segs.length > 0) {
        crashedWithJournal++;
        const last = join(auditDir, segs[segs.length - 1]);
        const text = readFileSync(last);
        if (text.length > 0 && text[text.length - 1] !== 10) expectTorn = true;
        else if (run % 3 === 0 && text.length > 0) {
          const lines = text.toString('utf8').trimEnd().split('\n');
          appendFileSync(last, Buffer.from(lines[lines.length - 1], 'utf8').subarray(0, 20 + ((run * 37) % 400)));
          expectTorn = true;
          simulated++;
        }
      }
      // Restart: a new process on the directory, collector up.
      const next = emitter({ OTEL_AUDIT_DIR: auditDir, OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: c.endpoint, EMIT_COUNT: '1', WAIT_REPLAY: '1', ID_PREFIX: `k${run}r-` });
      procs.push(next);
      const st = await next.waitFor((o) => o.event === 'started');
      const rep = (await next.waitFor((o) => o.event === 'replayed')).report;
      await next.exited;
      if (segs.length > 0) {
        if (st.previousStreamId === started.streamId) linked++;
        else problems.push(`run ${run}: new stream not linked to the crashed one`);
        if (rep.streams.includes(started.streamId)) replayed++;
      }
      const t = rep.torn?.length ?? 0;
      torn += t;
      if (expectTorn !== t > 0) problems.push(`run ${run}: torn tail ${expectTorn ? 'not ' : ''}detected`);
    },
  );
  await c.stop();
  const t = await tally([out]);
  const a = account(durableAll, t, new Map());
  if (!t.inOrder) problems.push('order');
  const ok = problems.length === 0 && t.inOrder && verify([out]);
  row({
    group: 2,
    scenario: `kill -9 × ${KILLS} (random instants, full speed)`,
    ...a,
    duplicated: t.duplicated,
    maxRssMiB: maxRss(procs),
    seconds: (performance.now() - t0) / 1000,
    ok,
    notes:
      `"emitted" = receipts settled as durable before the kill; ${torn} torn tails set aside to quarantine/ (${simulated} simulated), ` +
      `${replayed}/${crashedWithJournal} crashed streams replayed, ${linked}/${crashedWithJournal} restarts linked` +
      (problems.length ? `; PROBLEMS: ${problems.slice(0, 3).join('; ')}` : ''),
  });
}

// ---- 4: 1,000,000 records during an outage --------------------------------------------------------------------

async function burst() {
  const { t0, auditDir, out, c } = await scenario('burst');
  await c.stop(); // down from the start; the port is kept for the restart
  const child = emitter({
    OTEL_AUDIT_DIR: auditDir,
    OTEL_AUDIT_MAX_FILES: '1000', // 1,000 × 50 MiB: the journal may hold the whole burst
    OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: c.endpoint,
    OTEL_EXPORTER_OTLP_TIMEOUT: '10000',
    OTEL_BLRP_EXPORT_TIMEOUT: '900000',
    EMIT_COUNT: String(BURST),
    HOLD_BEFORE_SHUTDOWN: '1',
    ID_PREFIX: 'b-',
  });
  const em = await child.waitFor((o) => o.event === 'emitted');
  const emitSeconds = em.ms / 1000;
  const rssDuring = em.maxRssKiB / 1024;
  const depth = Math.max(...child.lines.filter((o) => o.event === 'progress').map((o) => o.queueDepth));
  log(`burst: ${em.accepted} records in ${emitSeconds.toFixed(1)} s during the outage; peak RSS ${rssDuring.toFixed(0)} MiB; collector back`);
  await c.start();
  child.proc.kill('SIGUSR2');
  const done = await child.waitFor((o) => o.event === 'done');
  await child.exited;
  await c.stop();
  const t = await tally([out]);
  const a = account(acceptedIds(em), t, new Map());
  row({
    group: 3,
    scenario: `${BURST.toLocaleString('en-US')}-record burst during an outage`,
    ...a,
    duplicated: t.duplicated,
    maxRssMiB: rssDuring,
    seconds: (performance.now() - t0) / 1000,
    ok: t.inOrder && verify([out]),
    notes:
      `emitted at ${Math.round(em.accepted / emitSeconds)}/s with the collector down (max queue depth ${depth}); ` +
      `then delivered from the journal at ${Math.round((em.accepted + 1) / (done.shutdownMs / 1000))}/s; ` +
      `max RSS is the emitting process's peak during the outage (whole run: ${(done.maxRssKiB / 1024).toFixed(0)} MiB)`,
  });
}

// ---- 6: cluster workers on one directory ----------------------------------------------------------------------

async function cluster() {
  {
    const { t0, auditDir, out, c } = await scenario('cluster');
    const primary = emitter({
      CLUSTER_WORKERS: '4',
      OTEL_AUDIT_DIR: auditDir,
      OTEL_AUDIT_MAX_FILE_BYTES: String(1 << 20),
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: c.endpoint,
      OTEL_EXPORTER_OTLP_TIMEOUT: '1000',
      OTEL_BLRP_EXPORT_TIMEOUT: '120000',
      EMIT_RATE: String(Math.round(1000 * SCALE)),
      EMIT_SECONDS: '8',
      EMIT_COUNT: '0',
      ID_PREFIX: 'c-',
    });
    let episodes = 0;
    const faults = [{ mode: 'status', status: 503 }, { mode: 'drop' }, { mode: 'delay', delayMs: 1500 }];
    while (primary.lines.filter((o) => o.event === 'emitted').length < 4 && primary.proc.exitCode === null) {
      await sleep(rand(300, 1000));
      await c.fault(faults[episodes++ % faults.length]);
      await sleep(rand(100, 600));
      await c.fault({ mode: 'ok' });
    }
    await primary.exited;
    await c.stop();
    const ems = primary.lines.filter((o) => o.event === 'emitted');
    const siblingsReplayed = primary.lines.filter((o) => o.event === 'replayed' && o.report?.streams?.length > 0).length;
    const t = await tally([out]);
    const a = account(
      (function* () {
        for (const em of ems) yield* acceptedIds(em);
      })(),
      t,
      new Map(),
    );
    const local = verify([auditDir]);
    row({
      group: 4,
      rank: 0,
      scenario: 'cluster: 4 workers, one dir, random faults',
      ...a,
      duplicated: t.duplicated,
      maxRssMiB: maxRss([primary]),
      seconds: (performance.now() - t0) / 1000,
      ok: t.inOrder && local && verify([out]) && siblingsReplayed === 0 && ems.length === 4,
      notes: `${episodes} fault episodes; local journal verifies: ${local ? 'yes' : 'NO'}; live sibling streams replayed: ${siblingsReplayed}`,
    });
  }
  {
    const { t0, auditDir, out, c } = await scenario('cluster-kill');
    const primary = emitter({
      CLUSTER_WORKERS: '4',
      OTEL_AUDIT_DIR: auditDir,
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: c.endpoint,
      OTEL_EXPORTER_OTLP_TIMEOUT: '1000',
      EMIT_COUNT: '0',
      REPORT_DURABLE: '1',
      ID_PREFIX: 'ck-',
    });
    for (let w = 0; w < 4; w++) await primary.waitFor((o) => 'd' in o && o.worker === w, 60_000);
    await sleep(rand(200, 1500));
    // kill -9 every worker and the primary at once
    for (const o of primary.lines.filter((x) => x.event === 'started')) {
      try {
        process.kill(o.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    primary.proc.kill('SIGKILL');
    await primary.exited;
    // Wait until the killed workers are gone (reaped): a zombie still answers kill(pid, 0), i.e. looks alive.
    for (const o of primary.lines.filter((x) => x.event === 'started')) {
      for (let i = 0; i < 500; i++) {
        try {
          process.kill(o.pid, 0);
        } catch {
          break;
        }
        await sleep(20);
      }
    }
    const durable = [];
    for (const o of primary.lines) if ('d' in o) for (const i of expandRanges(o.d)) durable.push(`ck-w${o.worker}-${i}`);
    const crashed = primary.lines.filter((o) => o.event === 'started').map((o) => o.streamId);
    // 4 processes start together over the 4 orphans, the collector slowed so the replays overlap.
    await c.fault({ mode: 'delay', delayMs: 5 });
    const restarts = Array.from({ length: 4 }, (_, k) =>
      emitter({ OTEL_AUDIT_DIR: auditDir, OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: c.endpoint, EMIT_COUNT: '100', WAIT_REPLAY: '1', ID_PREFIX: `ckr${k}-` }),
    );
    const reports = [];
    for (const r of restarts) {
      reports.push((await r.waitFor((o) => o.event === 'replayed')).report.streams);
      await r.exited;
    }
    await c.fault({ mode: 'ok' });
    await c.stop();
    const all = reports.flat();
    const each = crashed.every((s) => all.filter((x) => x === s).length === 1);
    const t = await tally([out]);
    const expected = [...durable, ...restarts.flatMap((r) => [...acceptedIds(r.event('emitted'))])];
    const a = account(expected, t, new Map());
    row({
      group: 4,
      rank: 1,
      scenario: 'cluster: 4 workers kill -9, 4 processes restart together',
      ...a,
      duplicated: t.duplicated,
      maxRssMiB: maxRss([primary, ...restarts]),
      seconds: (performance.now() - t0) / 1000,
      ok: t.inOrder && each && verify([out]),
      notes: `"emitted" = durable receipts + the restarts' records; each of the ${crashed.length} orphans replayed by exactly one process: ${each ? 'yes' : 'NO'}`,
    });
  }
}

// ---- 3: disk full ------------------------------------------------------------------------------------------

function canMount() {
  if (platform() !== 'linux' || process.getuid?.() !== 0) return false;
  const probe = join(TMP, 'mount-probe');
  mkdirSync(probe, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function disk() {
  if (!canMount()) {
    rows.push({ group: 5, rank: 0, scenario: 'disk full (tmpfs)', skipped: 'cannot mount a tmpfs here (needs root on Linux)' });
    log('disk: skipped (cannot mount a tmpfs)');
  } else {
    const t0 = performance.now();
    const dir = join(TMP, 'disk');
    const mnt = join(dir, 'mnt');
    mkdirSync(mnt, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m,mode=0700', 'tmpfs', mnt]);
    mounts.push(mnt);
    const auditDir = join(mnt, 'audit');
    const out = join(dir, 'collector.jsonl');
    const c = await collector(out);
    const s = statfsSync(mnt);
    const filler = join(mnt, 'filler');
    writeFileSync(filler, Buffer.alloc(Number(s.bavail) * Number(s.bsize) - (1 << 20))); // 1 MiB left
    const child = emitter({
      OTEL_AUDIT_DIR: auditDir,
      OTEL_AUDIT_MAX_FILE_BYTES: String(256 << 10),
      OTEL_AUDIT_MAX_FILES: '8',
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: c.endpoint,
      OTEL_EXPORTER_OTLP_TIMEOUT: '1000',
      OTEL_BLRP_EXPORT_TIMEOUT: '120000',
      EMIT_RATE: String(Math.round(2000 * SCALE)),
      EMIT_SECONDS: '10',
      EMIT_COUNT: '0',
      ID_PREFIX: 'disk-',
    });
    await child.waitFor((o) => o.event === 'started');
    // A full disk with collector hiccups on top, then space again.
    await sleep(3000);
    await c.fault({ mode: 'status', status: 503 });
    await sleep(800);
    await c.fault({ mode: 'ok' });
    await sleep(1500);
    rmSync(filler);
    const done = await child.waitFor((o) => o.event === 'done');
    await child.exited;
    await c.stop();
    const em = child.event('emitted');
    const t = await tally([out]);
    const a = account(acceptedIds(em), t, await setAsideIds([auditDir]));
    const reported = child.stderr.some((l) => l.includes('journal write failed (ENOSPC)'));
    row({
      group: 5,
      rank: 0,
      scenario: 'disk full (16 MiB tmpfs, ENOSPC), then space again',
      ...a,
      duplicated: t.duplicated,
      maxRssMiB: maxRss([child]),
      seconds: (performance.now() - t0) / 1000,
      ok: t.inOrder && reported && verify([out]),
      notes: `ENOSPC reported on stderr: ${reported ? 'yes' : 'NO'}; journaled ${done.stats.spooled} of ${done.stats.emitted} (the rest only in memory until acknowledged); dropped ${done.stats.dropped}`,
    });
    execFileSync('umount', [mnt]);
    mounts.splice(mounts.indexOf(mnt), 1);
  }
  {
    // The disk bound (OTEL_AUDIT_MAX_FILES × OTEL_AUDIT_MAX_FILE_BYTES) during an outage: the loss policy applies.
    const { t0, auditDir, out, c } = await scenario('bound');
    const child = emitter({
      OTEL_AUDIT_DIR: auditDir,
      OTEL_AUDIT_MAX_FILE_BYTES: String(64 << 10),
      OTEL_AUDIT_MAX_FILES: '4',
      OTEL_AUDIT_ON_LOSS: 'warn',
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: c.endpoint,
      OTEL_EXPORTER_OTLP_TIMEOUT: '1000',
      OTEL_BLRP_EXPORT_TIMEOUT: '120000',
      EMIT_RATE: '1000',
      EMIT_SECONDS: '8',
      EMIT_COUNT: '0',
      ID_PREFIX: 'bound-',
    });
    await child.waitFor((o) => o.event === 'started');
    await sleep(2000);
    await c.stop();
    await sleep(3000);
    await c.start();
    const done = await child.waitFor((o) => o.event === 'done');
    await child.exited;
    await c.stop();
    const em = child.event('emitted');
    const refused = expandRanges(em.refused).size;
    const t = await tally([out]);
    const a = account(acceptedIds(em), t, new Map());
    row({
      group: 5,
      rank: 1,
      scenario: 'outage past the disk bound (4 × 64 KiB), ON_LOSS=warn',
      ...a,
      emitted: em.attempted,
      duplicated: t.duplicated,
      maxRssMiB: maxRss([child]),
      seconds: (performance.now() - t0) / 1000,
      ok: t.inOrder && verify([out]) && done.stats.dropped === refused,
      notes: `${refused} refused by the loss policy (receipts rejected; processor counted ${done.stats.dropped} dropped, reported on stderr): not "lost", never accepted`,
    });
  }
}

// ---- main ----------------------------------------------------------------------------------------------------

const fmt = (n, d = 0) => (n === undefined ? '' : Number(n).toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }));

async function main() {
  const t0 = performance.now();
  log(`temp dir ${TMP}; scale ${SCALE}; outage ${OUTAGE_S} s; kills ${KILLS}; burst ${BURST}`);
  // The outage runs in the background (low rate) while the other scenarios run.
  const bg = ONLY.has('outage') ? outage() : Promise.resolve();
  const only = process.env.FAULTS_FAULT; // substring filter on the collector fault names
  if (ONLY.has('faults')) await pool(FAULTS.map((f, k) => ({ ...f, k })).filter((f) => only === undefined || f.name.includes(only)), 3, (f) => collectorFault(f, f.k));
  if (ONLY.has('kill')) await kills();
  if (ONLY.has('cluster')) await cluster();
  if (ONLY.has('disk')) await disk();
  if (ONLY.has('burst')) await burst();
  await bg;
  rows.sort((a, b) => a.group - b.group || (a.rank ?? 0) - (b.rank ?? 0));
  const lines = [
    '| scenario | emitted | delivered (unique) | duplicated | lost | set aside | max RSS MiB | seconds | notes |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of rows) {
    if (r.skipped) lines.push(`| ${r.scenario} | | | | | | | | skipped: ${r.skipped} |`);
    else lines.push(`| ${r.scenario} | ${fmt(r.emitted)} | ${fmt(r.delivered)} | ${fmt(r.duplicated)} | ${r.lost > 0 ? `**${fmt(r.lost)}**` : '0'} | ${fmt(r.setAside)} | ${fmt(r.maxRssMiB)} | ${fmt(r.seconds, 1)} | ${r.ok === false ? '**CHECK FAILED** ' : ''}${r.notes ?? ''}${r.lostIds?.length ? ` lost e.g. ${r.lostIds.join(', ')}` : ''} |`);
  }
  const cpu = cpus();
  lines.push('');
  lines.push(
    `Machine: Node ${process.version}, ${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ${platform()} ${release()}. ` +
      `Total ${((performance.now() - t0) / 1000).toFixed(0)} s (FAULTS_SCALE=${SCALE}, FAULTS_OUTAGE_SECONDS=${OUTAGE_S}, FAULTS_KILLS=${KILLS}, FAULTS_BURST=${BURST}).`,
  );
  lines.push(
    '"lost" = record ids the emitters report as accepted (or, for kill -9, acknowledged durable) that are neither in the collector\'s output nor set aside in rejected/, ' +
      'counted from the collector\'s output, not from the processor\'s counters. "duplicated" = extra copies at the collector (at-least-once).',
  );
  process.stdout.write(lines.join('\n') + '\n');
  if (process.env.FAULTS_JSON) writeFileSync(process.env.FAULTS_JSON, JSON.stringify(rows, null, 2));
  process.exitCode = failed ? 1 : 0;
}

main().catch((e) => {
  log(`error: ${e?.stack ?? e}`);
  process.exitCode = 2;
});
