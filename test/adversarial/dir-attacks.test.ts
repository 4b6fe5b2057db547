/**
 * Attacks on OTEL_AUDIT_DIR (issue 9, "Hardening"): the audit directory is the only place otel-audit writes.
 *
 * Someone who can create names in the directory (another user, when it is group- or world-writable; anyone
 * with the process's uid, otherwise) plants a symbolic link, a FIFO, a hard link or a file of their own where
 * otel-audit will open a segment, a state file, a temp file or the retention log — hoping the process (often
 * root) follows it and truncates, overwrites or appends to a file elsewhere, or blocks on it forever.
 *
 * Defined outcomes:
 * - at start-up (`new AuditLogRecordProcessor`, also `otel-audit replay`): an unsafe directory or anything
 *   planted where a file of otel-audit should be → AuditConfigError naming the path and the fix, before any
 *   file is opened;
 * - planted after start-up → never followed: names are created exclusively (O_EXCL|O_NOFOLLOW, random temp
 *   names) or replaced by rename, and opens of existing files check what they opened.
 * Each test also checks that nothing outside the audit directory changed: every file around it keeps its
 * bytes, size, mode and mtime, and no file appears or disappears there.
 *
 * We run as root in CI: foreign ownership is made with chown to uid 65534 (nobody).
 */
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  lchownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuditConfigError } from '../../src/core/errors.js';
import { Replayer } from '../../src/deliver/replay.js';
import { AuditLogRecordProcessor } from '../../src/processor.js';
import { recoverSegment } from '../../src/sinks/recover.js';
import { enforceRetention } from '../../src/sinks/retention.js';
import { readState, writeState, newState } from '../../src/sinks/stream-state.js';
import type { BatchSender } from '../../src/deliver/otlp-sender.js';

const DEAD_ENDPOINT = 'http://127.0.0.1:9/v1/logs';
const ORPHAN = '0f0f0f0f-0000-4000-8000-00000000beef';
const NOBODY = 65534;
const VICTIM_TEXT = 'root-owned secret, do not touch!!\n'; // 34 bytes, as in the report
const DIST = join(import.meta.dirname, '../../dist/index.js');
const isRoot = process.geteuid?.() === 0;

interface Entry {
  kind: string;
  size: number;
  mode: number;
  mtimeMs: number;
  uid: number;
  sha?: string;
  link?: string;
}

interface Arena {
  root: string;
  auditDir: string;
  outside: string;
  /** Root-owned 0600 files outside the audit directory: what an attacker wants overwritten or appended to. */
  victim: string;
  victim2: string;
  before: Map<string, Entry>;
}

/** Every entry under `root` but the audit directory, without following links: type, size, mode, mtime, bytes. */
function snapshot(root: string, auditDir: string): Map<string, Entry> {
  const out = new Map<string, Entry>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (p === auditDir) continue;
      const st = lstatSync(p);
      const e: Entry = { kind: st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'link' : 'other', size: st.size, mode: st.mode, mtimeMs: st.mtimeMs, uid: st.uid };
      if (st.isFile()) e.sha = createHash('sha256').update(readFileSync(p)).digest('hex');
      out.set(p, e);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(root);
  return out;
}

const arenas: Arena[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  for (const a of arenas.splice(0)) rmSync(a.root, { recursive: true, force: true });
});

/** A sandbox: `audit/` (0700, ours) and `outside/` with two root-owned 0600 victims of known bytes and mtime. */
function arena({ createAudit = true }: { createAudit?: boolean } = {}): Arena {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'otel-audit-adv-')));
  const outside = join(root, 'outside');
  mkdirSync(outside, { mode: 0o755 });
  const victim = join(outside, 'root-owned.conf');
  const victim2 = join(outside, 'root-owned.log');
  writeFileSync(victim, VICTIM_TEXT, { mode: 0o600 });
  writeFileSync(victim2, 'line 1\n', { mode: 0o600 });
  // mtimes in the past, so a write within this second still shows.
  for (const v of [victim, victim2]) utimesSync(v, new Date('2020-01-01T00:00:00Z'), new Date('2020-01-01T00:00:00Z'));
  const auditDir = join(root, 'audit');
  if (createAudit) mkdirSync(auditDir, { mode: 0o700 });
  const a: Arena = { root, auditDir, outside, victim, victim2, before: new Map() };
  arenas.push(a);
  return a;
}

/** Call once the attack is planted (so planted links outside count as "before"). */
function freeze(a: Arena): void {
  a.before = snapshot(a.root, a.auditDir);
}

/** Nothing outside the audit directory was written, created, removed, or had its mode or mtime changed. */
function expectOutsideUntouched(a: Arena): void {
  expect(snapshot(a.root, a.auditDir)).toEqual(a.before);
  expect(readFileSync(a.victim, 'utf8')).toBe(VICTIM_TEXT);
  expect(lstatSync(a.victim).size).toBe(34);
}

const options = (a: Arena, extra: Record<string, unknown> = {}) => ({
  dir: a.auditDir,
  exporter: { url: DEAD_ENDPOINT, timeoutMillis: 200 },
  exportTimeoutMillis: 300,
  retryMinMillis: 50,
  retryMaxMillis: 100,
  ...extra,
});

/** Start-up must throw AuditConfigError naming `path` (and saying how to fix it). */
function expectRefused(a: Arena, path: string, fix: RegExp, extra: Record<string, unknown> = {}): AuditConfigError {
  let err: unknown;
  try {
    new AuditLogRecordProcessor(options(a, extra));
  } catch (e) {
    err = e;
  }
  expect(err, 'start-up was not refused').toBeInstanceOf(AuditConfigError);
  const e = err as AuditConfigError;
  expect(e.message).toContain(path);
  expect(e.message).toMatch(/Fix: /);
  expect(e.message).toMatch(fix);
  return e;
}

/** Runs a processor: a few records (fsync=always), then shutdown. Returns it. */
async function runProcessor(a: Arena, n = 3, extra: Record<string, unknown> = {}, beforeFirst?: (p: AuditLogRecordProcessor) => void): Promise<AuditLogRecordProcessor> {
  const p = new AuditLogRecordProcessor(options(a, { fsync: 'always', ...extra }));
  beforeFirst?.(p);
  const provider = new LoggerProvider({ processors: [p] });
  const logger = provider.getLogger('audit');
  for (let i = 0; i < n; i++)
    logger.emit({ attributes: { 'audit.actor.id': `u${i}`, 'audit.actor.type': 'user', 'audit.action': 'LOGIN', 'audit.outcome': 'success', 'audit.pad': 'x'.repeat(200) } });
  await provider.shutdown();
  return p;
}

const segment = (a: Arena, id = ORPHAN, n = 1): string => join(a.auditDir, `audit-${id}-${String(n).padStart(6, '0')}.jsonl`);
const stateDirOf = (a: Arena): string => join(a.auditDir, 'state');
const REMOVE = /remove it \(rm /;
const esc = (p: string): string => p.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const CHMOD = (p: string): RegExp => new RegExp(`chmod 700 ${esc(p)}`);

/**
 * Starts the built package in a child process against `dir` and reports what happened: a FIFO must neither
 * be followed nor block, so the attempt runs where a hang can be killed (15 s) instead of freezing the test.
 */
function startInChild(dir: string): { blocked: boolean; name?: string; message?: string; ok?: boolean } {
  const script = `
    import { AuditLogRecordProcessor } from ${JSON.stringify(DIST)};
    import { LoggerProvider } from '@opentelemetry/sdk-logs';
    try {
      const p = new AuditLogRecordProcessor({ dir: ${JSON.stringify(dir)}, fsync: 'always', exporter: { url: ${JSON.stringify(DEAD_ENDPOINT)} }, exportTimeoutMillis: 300 });
      const provider = new LoggerProvider({ processors: [p] });
      provider.getLogger('audit').emit({ attributes: { 'audit.actor.id': 'u', 'audit.actor.type': 'user', 'audit.action': 'X', 'audit.outcome': 'success' } });
      await provider.shutdown();
      console.log(JSON.stringify({ ok: true }));
    } catch (e) {
      console.log(JSON.stringify({ name: e.name, message: e.message }));
    }
    process.exit(0);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: join(import.meta.dirname, '../..'), timeout: 15_000, encoding: 'utf8' });
  if (r.signal !== null) return { blocked: true };
  const line = r.stdout.trim().split('\n').at(-1) ?? '{}';
  return { blocked: false, ...(JSON.parse(line) as { name?: string; message?: string; ok?: boolean }) };
}

function mkfifo(path: string): void {
  const r = spawnSync('mkfifo', ['-m', '600', path]);
  if (r.status !== 0) throw new Error(`mkfifo ${path} failed: ${r.stderr?.toString()}`);
}

/** A FIFO planted at `path`: start-up refused naming it, promptly (never blocked on it), nothing outside touched. */
function expectFifoRefused(a: Arena, path: string): void {
  if (!existsSync(DIST)) throw new Error(`${DIST} is missing: run \`npm run build\` first`);
  freeze(a);
  const r = startInChild(a.auditDir);
  expect(r.blocked, 'start-up blocked on a FIFO').toBe(false);
  expect(r.name).toBe('AuditConfigError');
  expect(r.message).toContain(path);
  expect(r.message).toMatch(/FIFO/);
  expect(lstatSync(path).isFIFO()).toBe(true); // left as it was
  expectOutsideUntouched(a);
}

describe('symbolic links planted in OTEL_AUDIT_DIR are never followed', () => {
  it('symlink at a segment name (orphan stream) → outside file: start-up refused, the target is not truncated', () => {
    const a = arena();
    // The reported attack: the victim ends without a newline, so a replay would "recover" its torn tail by truncating it.
    symlinkSync(a.victim, segment(a));
    freeze(a);
    expectRefused(a, segment(a), REMOVE);
    expectRefused(a, segment(a), REMOVE, { replay: false }); // the journal's own start-up check, without replay
    // `otel-audit replay` (the Replayer alone): refused before it reads or locks anything.
    const sender = { send: () => Promise.reject(new Error('not reached')) } as unknown as BatchSender;
    expect(() => new Replayer({ dir: a.auditDir, ownStreamId: '', sender, maxExportBatchSize: 10, retryMinMillis: 1, retryMaxMillis: 1 })).toThrow(AuditConfigError);
    expectOutsideUntouched(a);
  });

  it('symlink at state/<id>.state → outside file: start-up refused, the target is not read or replaced', () => {
    const a = arena();
    mkdirSync(stateDirOf(a), { mode: 0o700 });
    writeFileSync(segment(a), '{"resourceLogs":[]}\n', { mode: 0o600 });
    symlinkSync(a.victim, join(stateDirOf(a), `${ORPHAN}.state`));
    freeze(a);
    expectRefused(a, join(stateDirOf(a), `${ORPHAN}.state`), REMOVE);
    expectOutsideUntouched(a);
  });

  it('symlink at the live stream’s own state/<id>.state, planted after start-up: replaced by rename, never written through', async () => {
    const a = arena();
    let planted = '';
    freeze(a);
    await runProcessor(a, 3, {}, (p) => {
      planted = join(stateDirOf(a), `${p.streamId}.state`);
      mkdirSync(stateDirOf(a), { recursive: true, mode: 0o700 });
      symlinkSync(a.victim, planted);
      a.before = snapshot(a.root, a.auditDir);
    });
    expect(lstatSync(planted).isFile()).toBe(true); // the link itself was replaced
    expect(JSON.parse(readFileSync(planted, 'utf8'))).toMatchObject({ version: 1, ended: true });
    expectOutsideUntouched(a);
  });

  it('symlink at a predicted temp-file name (state/<id>.state.<pid>.tmp): never used — temp names are random and created O_EXCL', async () => {
    const a = arena();
    let planted = '';
    freeze(a);
    const p = await runProcessor(a, 3, {}, (proc) => {
      // What the old code wrote through: `${state}.${pid}.tmp`. Also the orphan-stream variant below.
      planted = join(stateDirOf(a), `${proc.streamId}.state.${process.pid}.tmp`);
      mkdirSync(stateDirOf(a), { recursive: true, mode: 0o700 });
      symlinkSync(a.victim, planted);
    });
    expectOutsideUntouched(a);
    expect(lstatSync(planted).isSymbolicLink()).toBe(true); // never used
    expect(readState(a.auditDir, p.streamId)).toMatchObject({ streamId: p.streamId, ended: true });
    // Planted before start-up (e.g. for an orphaned stream the next process will replay): refused outright.
    const b = arena();
    mkdirSync(stateDirOf(b), { mode: 0o700 });
    writeFileSync(segment(b), '{"resourceLogs":[]}\n', { mode: 0o600 });
    symlinkSync(b.victim, join(stateDirOf(b), `${ORPHAN}.state.${process.pid}.tmp`));
    freeze(b);
    expectRefused(b, join(stateDirOf(b), `${ORPHAN}.state.${process.pid}.tmp`), REMOVE);
    expectOutsideUntouched(b);
  });

  it('symlink at state/retention.log → outside file: start-up refused; planted later, retention keeps the segment and appends nothing', () => {
    const a = arena();
    mkdirSync(stateDirOf(a), { mode: 0o700 });
    symlinkSync(a.victim2, join(stateDirOf(a), 'retention.log'));
    freeze(a);
    expectRefused(a, join(stateDirOf(a), 'retention.log'), REMOVE);
    expectOutsideUntouched(a);
    // After start-up: an acknowledged (done) orphan stream that retention would delete, with a record to account for.
    const line = JSON.stringify({
      resourceLogs: [{ scopeLogs: [{ logRecords: [{ attributes: [
        { key: 'audit.sequence.stream_id', value: { stringValue: ORPHAN } },
        { key: 'audit.sequence.number', value: { intValue: '1' } },
      ] }] }] }],
    });
    rmSync(join(stateDirOf(a), 'retention.log'));
    writeFileSync(segment(a, ORPHAN, 1), line + '\n', { mode: 0o600 });
    writeFileSync(segment(a, ORPHAN, 2), line + '\n', { mode: 0o600 });
    writeState(a.auditDir, { ...newState(ORPHAN), done: true, ended: true });
    symlinkSync(a.victim2, join(stateDirOf(a), 'retention.log'));
    a.before = snapshot(a.root, a.auditDir);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    enforceRetention(a.auditDir, 0, { streamId: 'none', acked: 0, segments: [] });
    expect(existsSync(segment(a, ORPHAN, 1))).toBe(true); // kept: its cut could not be recorded
    expect(String(stderr.mock.calls.map((c) => c[0]).join(''))).toContain(join(stateDirOf(a), 'retention.log'));
    expect(readFileSync(a.victim2, 'utf8')).toBe('line 1\n');
    expectOutsideUntouched(a);
  });

  it.each(['quarantine', 'rejected', 'state'])('symlink in place of %s/ → a directory outside: start-up refused', (sub) => {
    const a = arena();
    symlinkSync(a.outside, join(a.auditDir, sub));
    freeze(a);
    expectRefused(a, join(a.auditDir, sub), REMOVE);
    expectOutsideUntouched(a);
  });

  it('symlink at a torn segment, opened for recovery: refused by the open itself (O_NOFOLLOW), the target not truncated', () => {
    const a = arena();
    symlinkSync(a.victim, segment(a));
    freeze(a);
    expect(() => recoverSegment(a.auditDir, segment(a))).toThrow(AuditConfigError);
    expect(existsSync(join(a.auditDir, 'quarantine'))).toBe(false);
    expectOutsideUntouched(a);
  });

  it('symlink at the live stream’s next segment name, planted after start-up: O_EXCL refuses it; reported, delivered from memory', async () => {
    const a = arena();
    let planted = '';
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    freeze(a);
    await runProcessor(a, 12, { maxFileBytes: 4096, replay: false }, (p) => {
      planted = segment(a, p.streamId, 2);
      symlinkSync(a.victim, planted);
      a.before = snapshot(a.root, a.auditDir);
    });
    expect(lstatSync(planted).isSymbolicLink()).toBe(true);
    expect(stderr.mock.calls.map((c) => String(c[0])).join('')).toContain('journal write failed (EEXIST)');
    expectOutsideUntouched(a);
  });
});

describe('FIFOs planted in OTEL_AUDIT_DIR: refused, never blocked on (each start-up runs in a child that would be killed after 15 s)', () => {
  it('FIFO at a segment name', () => {
    const a = arena();
    mkfifo(segment(a));
    expectFifoRefused(a, segment(a));
  });

  it('FIFO at state/<id>.state', () => {
    const a = arena();
    mkdirSync(stateDirOf(a), { mode: 0o700 });
    writeFileSync(segment(a), '{"resourceLogs":[]}\n', { mode: 0o600 });
    mkfifo(join(stateDirOf(a), `${ORPHAN}.state`));
    expectFifoRefused(a, join(stateDirOf(a), `${ORPHAN}.state`));
  });

  it('FIFO at state/retention.log', () => {
    const a = arena();
    mkdirSync(stateDirOf(a), { mode: 0o700 });
    mkfifo(join(stateDirOf(a), 'retention.log'));
    expectFifoRefused(a, join(stateDirOf(a), 'retention.log'));
  });

  it('FIFO at a predicted temp-file name in state/', () => {
    const a = arena();
    mkdirSync(stateDirOf(a), { mode: 0o700 });
    mkfifo(join(stateDirOf(a), `${ORPHAN}.state.4242.tmp`));
    expectFifoRefused(a, join(stateDirOf(a), `${ORPHAN}.state.4242.tmp`));
  });

  it('FIFO at state/<id>.lock', () => {
    const a = arena();
    mkdirSync(stateDirOf(a), { mode: 0o700 });
    writeFileSync(segment(a), '{"resourceLogs":[]}\n', { mode: 0o600 });
    mkfifo(join(stateDirOf(a), `${ORPHAN}.lock`));
    expectFifoRefused(a, join(stateDirOf(a), `${ORPHAN}.lock`));
  });

  it.each(['quarantine', 'rejected'])('FIFO in place of %s/', (sub) => {
    const a = arena();
    mkfifo(join(a.auditDir, sub));
    expectFifoRefused(a, join(a.auditDir, sub));
  });
});

describe('who may write the directory: as sshd StrictModes (owner = euid, not writable by group or others)', () => {
  it('group-writable OTEL_AUDIT_DIR (0770): start-up refused, “chmod 700 <dir>”', () => {
    const a = arena();
    chmodSync(a.auditDir, 0o770);
    freeze(a);
    const e = expectRefused(a, a.auditDir, CHMOD(a.auditDir));
    expect(e.message).toMatch(/writable by group or others \(mode 0770\)/);
    // OTEL_AUDIT_DIR itself: a directory of its own first; chmod only as it holds nothing but otel-audit's files.
    expect(e.message).toContain(`Fix: point OTEL_AUDIT_DIR at a directory of its own, e.g. ${join(a.auditDir, 'otel-audit')} (otel-audit creates it, mode 0700); or, as ${a.auditDir} holds nothing but otel-audit's files, chmod 700 ${a.auditDir}`);
    expectOutsideUntouched(a);
  });

  it('pre-existing world-writable OTEL_AUDIT_DIR (0777) with another user’s links at the temp and retention names: refused before anything is written', () => {
    const a = arena();
    chmodSync(a.auditDir, 0o777);
    // The tester's reproduction: uid 65534 plants links to root-owned 0600 files.
    mkdirSync(stateDirOf(a), { mode: 0o777 });
    writeFileSync(segment(a), '{"resourceLogs":[]}\n', { mode: 0o600 });
    const links = [join(stateDirOf(a), `${ORPHAN}.state.${process.pid}.tmp`), join(stateDirOf(a), 'retention.log')];
    symlinkSync(a.victim, links[0]!);
    symlinkSync(a.victim2, links[1]!);
    if (isRoot) {
      for (const l of links) lchownSync(l, NOBODY, NOBODY);
      chownSync(segment(a), NOBODY, NOBODY);
    }
    freeze(a);
    expectRefused(a, a.auditDir, CHMOD(a.auditDir));
    expectOutsideUntouched(a);
    expect(readFileSync(a.victim2, 'utf8')).toBe('line 1\n');
  });

  it('world-writable with the sticky bit (1777, like /tmp): still refused', () => {
    const a = arena();
    chmodSync(a.auditDir, 0o1777);
    freeze(a);
    expectRefused(a, a.auditDir, CHMOD(a.auditDir));
    expectOutsideUntouched(a);
  });

  it('OTEL_AUDIT_DIR set to a shared directory like /tmp (1777, holding files of others): the fix is a directory of its own, never chmod of the shared one', () => {
    const a = arena();
    writeFileSync(join(a.auditDir, 'someone-elses.sock'), '');
    mkdirSync(join(a.auditDir, '.X11-unix'));
    chmodSync(a.auditDir, 0o1777);
    freeze(a);
    const e = expectRefused(a, a.auditDir, new RegExp(`Fix: point OTEL_AUDIT_DIR at a directory of its own, e\\.g\\. ${esc(join(a.auditDir, 'otel-audit'))} \\(otel-audit creates it, mode 0700\\)$`));
    expect(e.message).toMatch(/writable by group or others \(mode 1777\)/);
    expect(e.message).not.toMatch(/chmod|rm /);
    expectOutsideUntouched(a);
  });

  it('OTEL_AUDIT_DIR set to a regular file (like /etc/hostname): the fix is a directory of its own, never rm of the file', () => {
    const a = arena({ createAudit: false });
    writeFileSync(a.auditDir, 'host\n', { mode: 0o644 });
    freeze(a);
    const e = expectRefused(a, a.auditDir, /Fix: point OTEL_AUDIT_DIR at a directory of its own \(a path that does not exist yet is created, mode 0700\)$/);
    expect(e.message).toMatch(/it is a regular file, where a directory is expected/);
    expect(e.message).not.toMatch(/rm |remove it/);
    expect(readFileSync(a.auditDir, 'utf8')).toBe('host\n');
  });

  it('world-writable state/ (0777) under a safe OTEL_AUDIT_DIR: refused, naming state/', () => {
    const a = arena();
    mkdirSync(stateDirOf(a), { mode: 0o700 });
    chmodSync(stateDirOf(a), 0o777);
    freeze(a);
    expectRefused(a, stateDirOf(a), CHMOD(stateDirOf(a)));
    expectOutsideUntouched(a);
  });

  it.skipIf(!isRoot)('OTEL_AUDIT_DIR owned by another user (uid 65534): refused, “chown”', () => {
    const a = arena();
    chownSync(a.auditDir, NOBODY, NOBODY);
    freeze(a);
    expectRefused(a, a.auditDir, /chown 0 /);
    expectOutsideUntouched(a);
  });

  it.skipIf(!isRoot)('rejected/ owned by another user: refused', () => {
    const a = arena();
    mkdirSync(join(a.auditDir, 'rejected'), { mode: 0o700 });
    chownSync(join(a.auditDir, 'rejected'), NOBODY, NOBODY);
    freeze(a);
    expectRefused(a, join(a.auditDir, 'rejected'), /chown 0 /);
    expectOutsideUntouched(a);
  });

  it.skipIf(!isRoot)('a segment file owned by another user: refused (its records are not ours to replay)', () => {
    const a = arena();
    writeFileSync(segment(a), '{"resourceLogs":[]}\n{"resou', { mode: 0o600 });
    chownSync(segment(a), NOBODY, NOBODY);
    freeze(a);
    const e = expectRefused(a, segment(a), REMOVE);
    expect(e.message).toMatch(/owned by uid 65534/);
    expect(readFileSync(segment(a), 'utf8')).toBe('{"resourceLogs":[]}\n{"resou'); // not "recovered" either
    expectOutsideUntouched(a);
  });

  it.skipIf(!isRoot)('a state file owned by another user claiming everything acknowledged: refused', () => {
    const a = arena();
    writeFileSync(segment(a), '{"resourceLogs":[]}\n', { mode: 0o600 });
    mkdirSync(stateDirOf(a), { mode: 0o700 });
    const forged = join(stateDirOf(a), `${ORPHAN}.state`);
    writeFileSync(forged, JSON.stringify({ ...newState(ORPHAN), acked: 1e9, done: true }), { mode: 0o600 });
    chownSync(forged, NOBODY, NOBODY);
    freeze(a);
    expectRefused(a, forged, /owned by uid 65534/);
    expect(readState(a.auditDir, ORPHAN)).toBeUndefined(); // and never trusted when read later
    expectOutsideUntouched(a);
  });
});

describe('hard links: a second name for a file elsewhere is never written through (st_nlink > 1 → refused)', () => {
  it('hard link to an outside file under a segment name: start-up refused, the file not truncated', () => {
    const a = arena();
    linkSync(a.victim, segment(a));
    freeze(a);
    const e = expectRefused(a, segment(a), REMOVE);
    expect(e.message).toMatch(/2 hard links/);
    expect(() => recoverSegment(a.auditDir, segment(a))).toThrow(/2 hard links/); // and by the open itself
    expectOutsideUntouched(a);
  });

  it('hard link to an outside file at state/retention.log: start-up refused, nothing appended', () => {
    const a = arena();
    mkdirSync(stateDirOf(a), { mode: 0o700 });
    linkSync(a.victim2, join(stateDirOf(a), 'retention.log'));
    freeze(a);
    expectRefused(a, join(stateDirOf(a), 'retention.log'), /2 hard links/);
    expectOutsideUntouched(a);
  });
});

describe('what otel-audit creates', () => {
  it('a missing OTEL_AUDIT_DIR (and parents) is created 0700, even with umask 000; files 0600', async () => {
    const a = arena({ createAudit: false });
    a.auditDir = join(a.root, 'deep', 'audit');
    freeze(a);
    const old = process.umask(0);
    try {
      await runProcessor(a, 2);
    } finally {
      process.umask(old);
    }
    for (const d of [join(a.root, 'deep'), a.auditDir, stateDirOf(a)]) expect(lstatSync(d).mode & 0o7777).toBe(0o700);
    for (const f of readdirSync(a.auditDir).filter((n) => n.endsWith('.jsonl'))) expect(lstatSync(join(a.auditDir, f)).mode & 0o777).toBe(0o600);
    for (const f of readdirSync(stateDirOf(a))) expect(lstatSync(join(stateDirOf(a), f)).mode & 0o777).toBe(0o600);
    a.before.set(join(a.root, 'deep'), snapshot(a.root, a.auditDir).get(join(a.root, 'deep'))!); // created by us, as asked
    expectOutsideUntouched(a);
  });

  it('OTEL_AUDIT_DIR as a link the operator made to a safe directory is used; one made by another user is refused', async () => {
    const a = arena({ createAudit: false });
    const real = join(a.outside, 'real-audit');
    mkdirSync(real, { mode: 0o700 });
    symlinkSync(real, a.auditDir);
    await runProcessor(a, 2, { replay: false });
    expect(readdirSync(real).some((n) => n.endsWith('.jsonl'))).toBe(true);
    if (isRoot) {
      const b = arena({ createAudit: false });
      const real2 = join(b.outside, 'real-audit');
      mkdirSync(real2, { mode: 0o700 });
      symlinkSync(real2, b.auditDir);
      lchownSync(b.auditDir, NOBODY, NOBODY);
      freeze(b);
      expectRefused(b, b.auditDir, /symbolic link owned by uid 65534/);
      expect(readdirSync(real2)).toEqual([]);
      expectOutsideUntouched(b);
    }
  });
});
