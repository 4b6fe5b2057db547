/**
 * Power-loss durability, checked from the real system calls (strace; test/helpers/strace.ts). On a file system
 * that drops unsynced writes at a power cut, only what was fsynced survives — file data and directory entries
 * alike. So, for a child process running the built package with OTEL_AUDIT_FSYNC=always:
 * - every journal write is fsynced before the emit that made it returns;
 * - a state file is fsynced before it is renamed into place, and its directory after;
 * - each new segment and each new directory is followed by an fsync of its parent before the next emit returns;
 * - torn bytes set aside in quarantine/ are fsynced (file and directory) before the segment is truncated;
 * - a batch set aside in rejected/, and a retention cut in state/retention.log, are fsynced before the state
 *   or the deletion that relies on them;
 * - everything created in the directory is created exclusively, 0600 (directories 0700), never through a link.
 * The child marks each emit in the trace (`@@begin N@@` / `@@end N@@`, written to its stdout file), so "before
 * the emit returns" is an order of system calls. Removing any fsync, or letting fsync=always return before its
 * write, fails a test here.
 */
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector, type CollectorHandle } from '../../src/collector/index.js';
import { runTraced, skipWithoutStrace, unquote, type FsEvent, type TracedRun } from '../helpers/strace.js';

const EMITTER = join(import.meta.dirname, 'emitter.mjs');
const DIST = join(import.meta.dirname, '../../dist/index.js');
const SEGMENT = /\/audit-[0-9a-f-]{36}-\d{6,}\.jsonl$/;
const STATE = /\/state\/[0-9a-f-]{36}\.state$/;
const ORPHAN = '0f0f0f0f-0000-4000-8000-00000000beef';

interface Mark {
  what: string;
  i: number;
  /** Trace position of the marker write. */
  at: number;
}

interface Run {
  name: string;
  sandbox: string;
  auditDir: string;
  t: TracedRun;
  marks: Mark[];
  /** Only the events on the audit directory tree. */
  ev: FsEvent[];
}

function marksOf(t: TracedRun): Mark[] {
  const out: Mark[] = [];
  for (const e of t.events) {
    if (e.kind !== 'write' || e.path !== t.stdoutPath) continue;
    const m = /^@@(\w+)(?: (\d+))?@@/.exec(unquote(e.call.args[1]) ?? '');
    if (m !== null) out.push({ what: m[1]!, i: Number(m[2] ?? -1), at: e.call.start });
  }
  return out;
}

/** Trace position by which something that happened at `pos` must be durable: the next emit's return. */
function deadline(r: Run, pos: number): number {
  return r.marks.find((m) => m.what === 'end' && m.at > pos)?.at ?? Number.POSITIVE_INFINITY;
}

const synced = (r: Run, path: string, after: number, before: number): FsEvent | undefined =>
  r.ev.find((e) => e.kind === 'sync' && e.ok && e.path === path && e.call.start > after && e.call.end < before);

/**
 * A file set aside (quarantine/, rejected/) whose final name matches `final`: never opened under that name, but
 * written and fsynced under a temporary one (created exclusively), linked to its name before `before`, the
 * temporary name removed — so that a crash never leaves it torn under its name (found in review: a SIGKILL while a
 * 7 MB batch was set aside left a torn rejected/ file that verify reported TORN ever after). Returns its name and
 * when the link returned.
 */
function wholeOrNothing(r: Run, final: RegExp, before: number): { path: string; linked: number } {
  expect(r.ev.filter((e) => e.kind === 'open' && final.test(e.path)), 'opened under its final name').toEqual([]);
  const link = r.ev.find((e) => e.kind === 'link' && e.ok && final.test(e.to ?? ''));
  expect(link, `no link to a name matching ${final}`).toBeDefined();
  const tmp = link!.path;
  const created = r.ev.find((e) => e.kind === 'open' && e.path === tmp && /O_CREAT/.test(e.flags ?? ''));
  expect(created?.flags).toMatch(/O_EXCL/);
  const wrote = r.ev.filter((e) => e.kind === 'write' && e.path === tmp).at(-1);
  expect(wrote, 'nothing written to the temporary file').toBeDefined();
  const sync = synced(r, tmp, wrote!.call.end, link!.call.start);
  expect(sync, 'the temporary file was not fsynced before its link').toBeDefined();
  expect(link!.call.end < before, 'linked too late').toBe(true);
  expect(r.ev.some((e) => e.kind === 'unlink' && e.ok && e.path === tmp)).toBe(true);
  return { path: link!.to!, linked: link!.call.end };
}

const where = (r: Run, e: FsEvent): string => `${r.name}: ${e.call.name} ${e.path} at trace line ${e.call.start + 1} (${r.t.tracePath})`;

const sandboxes: string[] = [];
const collectors: CollectorHandle[] = [];
const runs: Run[] = [];

async function run(name: string, env: Record<string, string>, prepare?: (auditDir: string) => void): Promise<Run> {
  const sandbox = realpathSync(mkdtempSync(join(tmpdir(), 'otel-audit-durability-')));
  sandboxes.push(sandbox);
  const auditDir = join(sandbox, 'audit');
  prepare?.(auditDir);
  const t = await runTraced(
    EMITTER,
    { OTEL_AUDIT_DIR: auditDir, OTEL_AUDIT_FSYNC: 'always', OTEL_AUDIT_MAX_FILE_BYTES: '4096', OTEL_SERVICE_NAME: 'durability', ...env },
    sandbox,
  );
  expect(t.code, `${name}: the traced child failed: ${t.stderr}`).toBe(0);
  const ev = t.events.filter((e) => e.path === auditDir || e.path.startsWith(auditDir + '/') || e.to?.startsWith(auditDir + '/') === true);
  const r: Run = { name, sandbox, auditDir, t, marks: marksOf(t), ev };
  expect(r.marks.filter((m) => m.what === 'end').length, `${name}: markers missing from the trace`).toBe(Number(env.EMIT_COUNT));
  return r;
}

describe.skipIf(skipWithoutStrace('test/durability'))('power-loss durability, from the system calls of a child under strace (fsync=always)', () => {
  beforeAll(async () => {
    if (!existsSync(DIST)) throw new Error(`${DIST} is missing: run \`npm run build\` first (the child runs the built package)`);
    // 1. A fresh directory; the collector refuses the first requests for good (→ rejected/), then accepts,
    //    so state is saved as acknowledgements come in and retention (3 files) deletes acknowledged segments.
    const c1 = await startCollector({ port: 0, fault: { mode: 'status', status: 400, times: 3 } });
    collectors.push(c1);
    runs.push(
      await run('fresh directory', { OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: c1.endpoint, OTEL_AUDIT_MAX_FILES: '3', EMIT_COUNT: '30', EMIT_GAP_MS: '20' }),
    );
    // 2. A restart after a crash: an orphaned stream whose last line is torn (→ quarantine/, replay, its state).
    const c2 = await startCollector({ port: 0 });
    collectors.push(c2);
    runs.push(
      await run('restart after a crash', { OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: c2.endpoint, EMIT_COUNT: '12', EMIT_GAP_MS: '20' }, (auditDir) => {
        mkdirSync(auditDir, { mode: 0o700 });
        writeFileSync(join(auditDir, `audit-${ORPHAN}-000001.jsonl`), '{"resourceLogs":[]}\n{"resourceLogs":[{"resou', { mode: 0o600 });
      }),
    );
  }, 120_000);

  afterAll(async () => {
    for (const c of collectors) await c.close().catch(() => undefined);
    for (const s of sandboxes) rmSync(s, { recursive: true, force: true });
  });

  it('every journal write is fsynced (same fd) before the next emit returns', () => {
    for (const r of runs) {
      const writes = r.ev.filter((e) => e.kind === 'write' && SEGMENT.test(e.path));
      expect(writes.length, r.name).toBeGreaterThanOrEqual(Number(r.marks.filter((m) => m.what === 'end').length));
      for (const w of writes) expect(synced(r, w.path, w.call.end, deadline(r, w.call.end)), `not fsynced in time: ${where(r, w)}`).toBeDefined();
    }
  });

  it('fsync=always: each emit writes its record and fsyncs it before emit returns', () => {
    for (const r of runs) {
      const ends = r.marks.filter((m) => m.what === 'end');
      for (const end of ends) {
        const begin = r.marks.find((m) => m.what === 'begin' && m.i === end.i)!;
        const inside = r.ev.filter((e) => SEGMENT.test(e.path) && e.call.start > begin.at && e.call.end < end.at);
        const lastWrite = inside.filter((e) => e.kind === 'write').at(-1);
        expect(lastWrite, `${r.name}: emit ${end.i} returned without writing its record`).toBeDefined();
        expect(synced(r, lastWrite!.path, lastWrite!.call.end, end.at), `${r.name}: emit ${end.i} returned before the fsync of its write`).toBeDefined();
      }
    }
  });

  it('a state file is fsynced before its rename, and its directory after (before the next emit returns)', () => {
    for (const r of runs) {
      const renames = r.ev.filter((e) => e.kind === 'rename' && e.ok && STATE.test(e.to ?? ''));
      expect(renames.length, r.name).toBeGreaterThanOrEqual(2);
      for (const rn of renames) {
        const lastWrite = r.ev.filter((e) => e.kind === 'write' && e.path === rn.path && e.call.end < rn.call.start).at(-1);
        expect(lastWrite, `state temp file never written: ${where(r, rn)}`).toBeDefined();
        expect(synced(r, rn.path, lastWrite!.call.end, rn.call.start), `renamed before its fsync: ${where(r, rn)}`).toBeDefined();
        expect(synced(r, dirname(rn.to!), rn.call.end, deadline(r, rn.call.end)), `directory not fsynced after: ${where(r, rn)}`).toBeDefined();
        // The temp file: an unpredictable name, created exclusively, never through a link.
        expect(rn.path).toMatch(/\.state\.[0-9a-f]{24}\.tmp$/);
        const created = r.ev.find((e) => e.kind === 'open' && e.path === rn.path)!;
        expect(created.flags).toMatch(/O_CREAT/);
        expect(created.flags).toMatch(/O_EXCL/);
        expect(created.flags).toMatch(/O_NOFOLLOW/);
      }
    }
  });

  it('each new segment is followed by an fsync of the directory before the next emit returns', () => {
    for (const r of runs) {
      const created = r.ev.filter((e) => e.kind === 'open' && e.ok && SEGMENT.test(e.path) && /O_CREAT/.test(e.flags ?? ''));
      expect(created.length, `${r.name}: expected rotations`).toBeGreaterThanOrEqual(r.name === 'fresh directory' ? 3 : 2);
      for (const o of created) expect(synced(r, dirname(o.path), o.call.end, deadline(r, o.call.end)), `new segment's name not fsynced: ${where(r, o)}`).toBeDefined();
    }
  });

  it('each new directory (the audit dir, state/, quarantine/, rejected/) is followed by an fsync of its parent before the next emit returns', () => {
    const made = new Set<string>();
    for (const r of runs) {
      for (const m of r.t.events.filter((e) => e.kind === 'mkdir' && e.ok && (e.path === r.auditDir || e.path.startsWith(r.auditDir + '/')))) {
        made.add(m.path.slice(r.auditDir.length) || '/');
        const parent = r.t.events.find((e) => e.kind === 'sync' && e.ok && e.path === dirname(m.path) && e.call.start > m.call.end && e.call.end < deadline(r, m.call.end));
        expect(parent, `new directory's name not fsynced: ${where(r, m)}`).toBeDefined();
        expect(m.mode).toBe('0700');
      }
    }
    expect([...made].sort()).toEqual(['/', '/quarantine', '/rejected', '/state']);
  });

  it('torn bytes set aside are fsynced (file and quarantine/) before the segment is truncated', () => {
    const r = runs[1]!;
    const cut = r.ev.find((e) => e.kind === 'truncate' && e.path.endsWith(`audit-${ORPHAN}-000001.jsonl`));
    expect(cut, 'the torn segment was never truncated').toBeDefined();
    const torn = wholeOrNothing(r, /\/quarantine\/.*\.torn$/, cut!.call.start);
    expect(synced(r, dirname(torn.path), torn.linked, cut!.call.start), 'quarantine/ was not fsynced before the cut').toBeDefined();
  });

  it('a batch set aside in rejected/ is fsynced (file and directory) before the state moves past it', () => {
    const r = runs[0]!;
    const link = r.ev.find((e) => e.kind === 'link' && e.ok && /\/rejected\/.*\.jsonl$/.test(e.to ?? ''));
    expect(link, 'nothing set aside in rejected/').toBeDefined();
    const nextState = r.ev.find((e) => e.kind === 'rename' && STATE.test(e.to ?? '') && e.call.start > link!.call.end);
    const before = nextState?.call.start ?? Number.POSITIVE_INFINITY;
    const kept = wholeOrNothing(r, /\/rejected\/.*\.jsonl$/, before);
    expect(synced(r, dirname(kept.path), kept.linked, before)).toBeDefined();
  });

  it('a retention cut is fsynced to state/retention.log before the segment is deleted', () => {
    const r = runs[0]!;
    const deleted = r.ev.filter((e) => e.kind === 'unlink' && e.ok && SEGMENT.test(e.path));
    expect(deleted.length, 'retention deleted nothing').toBeGreaterThan(0);
    const log = join(r.auditDir, 'state', 'retention.log');
    for (const d of deleted) {
      const w = r.ev.filter((e) => e.kind === 'write' && e.path === log && e.call.end < d.call.start).at(-1);
      expect(w, `no retention entry before ${where(r, d)}`).toBeDefined();
      expect(synced(r, log, w!.call.end, d.call.start), `retention entry not fsynced before ${where(r, d)}`).toBeDefined();
    }
    const created = r.ev.find((e) => e.kind === 'open' && e.path === log && e.ok && /O_CREAT/.test(e.flags ?? ''))!;
    expect(synced(r, dirname(log), created.call.end, deleted[0]!.call.start), 'state/ not fsynced after retention.log was created').toBeDefined();
  });

  it('everything is created exclusively (files 0600, directories 0700) and no file in the directory is opened through a link', () => {
    for (const r of runs) {
      const opens = r.ev.filter((e) => e.kind === 'open' && !/O_DIRECTORY/.test(e.flags ?? ''));
      expect(opens.length).toBeGreaterThan(0);
      for (const o of opens) {
        expect(o.flags, where(r, o)).toMatch(/O_NOFOLLOW/);
        if (/O_CREAT/.test(o.flags ?? '')) {
          expect(o.flags, where(r, o)).toMatch(/O_EXCL/);
          expect(o.mode, where(r, o)).toBe('0600');
        }
      }
      for (const m of r.ev.filter((e) => e.kind === 'mkdir')) expect(m.mode, where(r, m)).toBe('0700');
    }
  });
});
