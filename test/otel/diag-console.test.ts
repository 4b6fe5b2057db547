import { spawnSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sayLoudly } from '../../src/core/say.js';
import { tempDir } from '../helpers/tmp.js';

type TempDir = Awaited<ReturnType<typeof tempDir>>;

const app = join(import.meta.dirname, '../fixtures/diag-console-app.mjs');

// What otel-audit must say (a key file others can read, records left unacknowledged at shutdown) goes to the diag
// log and to stderr. With the diag logger OTEL_LOG_LEVEL installs (DiagConsoleLogger, which writes on stderr), the
// operator used to read every such line twice.
describe('lines said loudly, with a diag logger that writes on stderr', () => {
  let tmp: TempDir;
  let key: string;
  beforeAll(async () => {
    tmp = await tempDir();
    key = join(tmp.dir, 'hmac.key');
    writeFileSync(key, `${'k'.repeat(44)}\n`);
    chmodSync(key, 0o644);
  });
  afterAll(() => tmp.cleanup());

  it.each([
    ['no diag logger', undefined],
    ['DiagConsoleLogger at WARN', 'WARN'],
    ['DiagConsoleLogger at ERROR (the warning is below its level)', 'ERROR'],
    ['DiagConsoleLogger at ALL', 'ALL'],
  ])('%s: each line once on stderr', (_label, level) => {
    const r = spawnSync(process.execPath, [app, join(tmp.dir, `audit-${level ?? 'none'}`)], {
      env: { ...process.env, DIAG_LEVEL: level, OTEL_AUDIT_HMAC_KEY_FILE: key, OTEL_LOG_LEVEL: undefined },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status).toBe(0);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('otel-audit: '));
    const warning = lines.filter((l) => l.includes('OTEL_AUDIT_HMAC_KEY_FILE') && l.includes('mode 0644'));
    const shutdown = lines.filter((l) => l.includes('not acknowledged by the collector'));
    expect(warning).toHaveLength(1);
    expect(shutdown).toHaveLength(1);
  });
});

// Found in review: watching the diag call's stderr write replaced process.stderr.write, outside any try; an app that
// had made it read-only got a TypeError out of onEmit.
describe('an app whose process.stderr.write cannot be replaced', () => {
  it.each([
    ['read-only', (mine: unknown) => ({ value: mine, writable: false, configurable: true })],
    ['a getter without a setter', (mine: unknown) => ({ get: () => mine, configurable: true })],
  ])('%s: the line is still written once, nothing thrown, the app\'s write left in place', (_label, descriptor) => {
    const said: string[] = [];
    const original = process.stderr.write;
    const mine = function (this: NodeJS.WriteStream, chunk: unknown): boolean {
      said.push(String(chunk));
      return true;
    };
    Object.defineProperty(process.stderr, 'write', descriptor(mine));
    try {
      expect(() => sayLoudly('otel-audit: review probe line')).not.toThrow();
      expect(process.stderr.write).toBe(mine);
    } finally {
      delete (process.stderr as { write?: unknown }).write;
    }
    expect(process.stderr.write).toBe(original);
    expect(said).toEqual(['otel-audit: review probe line\n']);
  });
});
