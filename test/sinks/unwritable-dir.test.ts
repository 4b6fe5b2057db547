/**
 * OTEL_AUDIT_DIR checks that only a user other than root meets (root writes through any mode): the built package run
 * as uid 65534, for real.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tmp.js';

const NOBODY = 65534;
const index = join(import.meta.dirname, '..', '..', 'dist', 'index.cjs');

/** Starts a processor on `dir` as uid 65534: `started`, or the error's name and message. */
function startAsNobody(dir: string): string {
  const code = `try { new (require(${JSON.stringify(index)}).AuditLogRecordProcessor)({ dir: ${JSON.stringify(dir)}, exporter: { url: 'http://127.0.0.1:9/v1/logs' } }); console.log('started'); process.exit(0); } catch (e) { console.log(e.name + ': ' + e.message); }`;
  const r = spawnSync(process.execPath, ['-e', code], { uid: NOBODY, gid: NOBODY, encoding: 'utf8', timeout: 60_000 });
  return r.stdout.trim() || r.stderr.trim();
}

describe.skipIf(process.getuid?.() !== 0 || !existsSync(index))('OTEL_AUDIT_DIR for a user other than root', () => {
  let shared: string;
  let cleanup: () => Promise<void>;
  let runnable = false;
  beforeAll(async () => {
    ({ dir: shared, cleanup } = await tempDir('otel-audit-dir-nobody-'));
    chmodSync(shared, 0o755);
    // The user must be able to run this Node binary and load the built package (not so where Node or the checkout
    // sits under a 0700 directory, as in CI's second stage).
    runnable = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(index)})`], { uid: NOBODY, gid: NOBODY, timeout: 60_000 }).status === 0;
  });
  afterAll(() => cleanup());

  // Found in review: a directory of the user's own with mode 0500 passed start-up; every journal write then failed
  // (EACCES) and records lived in memory only, lost at shutdown during an outage.
  it('a directory of its own it cannot write in is refused at start-up, with the mode and the fix', (ctx) => {
    if (!runnable) ctx.skip();
    const dir = join(shared, 'readonly');
    mkdirSync(dir);
    chownSync(dir, NOBODY, NOBODY);
    chmodSync(dir, 0o500);
    expect(startAsNobody(dir)).toBe(
      `AuditConfigError: otel-audit: OTEL_AUDIT_DIR ${dir} exists but this process cannot create files in it (mode 0500, euid ${NOBODY}, or a read-only file system): chmod 700 ${dir}, or point OTEL_AUDIT_DIR at a writable directory`,
    );
    chmodSync(dir, 0o700);
    expect(startAsNobody(dir)).toBe('started');
  });

  // Found in review: for a root-owned 0755 directory the fix offered was a child of it "otel-audit creates", which
  // this user cannot create: the advice followed failed with EACCES.
  it('a root-owned directory: the fix offered is one this user can follow', (ctx) => {
    if (!runnable) ctx.skip();
    const dir = join(shared, 'root-owned');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    const said = startAsNobody(dir);
    expect(said).toContain(`the directory is owned by uid 0, not by this process (euid ${NOBODY})`);
    expect(said).not.toContain('otel-audit creates it');
    expect(said).toContain(`this process cannot create one in ${dir}; as root: mkdir -m 700 ${join(dir, 'otel-audit')} && chown ${NOBODY} ${join(dir, 'otel-audit')}`);
    // Followed, it works.
    mkdirSync(join(dir, 'otel-audit'), { mode: 0o700 });
    chownSync(join(dir, 'otel-audit'), NOBODY, NOBODY);
    expect(startAsNobody(join(dir, 'otel-audit'))).toBe('started');
    // Where the user can create it, the child directory is still the advice.
    const open = join(shared, 'nobody-owned-but-group-writable');
    mkdirSync(open);
    chownSync(open, NOBODY, NOBODY);
    chmodSync(open, 0o775);
    expect(startAsNobody(open)).toContain(`e.g. ${join(open, 'otel-audit')} (otel-audit creates it, mode 0700)`);
  });
});
