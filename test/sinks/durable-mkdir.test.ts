/**
 * OTEL_AUDIT_DIR under a parent that exists but takes no new directories (/proc): mkdir gives ENOENT however
 * often the parents are made. One clear error naming the directory and the errno, and start-up refused; no endless
 * recursion ("Maximum call stack size exceeded").
 */
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ensureDir } from '../../src/sinks/durable.js';
import { AuditConfigError } from '../../src/core/errors.js';
import { faultPipeline, type FaultPipeline } from '../faults/_lib.js';

const hasProc = existsSync('/proc/self');
const DIR = '/proc/otel-audit-nope/x';
const MESSAGE = /ENOENT: cannot create the directory \/proc\/otel-audit-nope: its parent \/proc exists but takes no new directories/;

let p: FaultPipeline | undefined;
afterEach(async () => {
  await p?.dispose().catch(() => undefined);
  p = undefined;
  vi.restoreAllMocks();
});

describe.skipIf(!hasProc)('a directory that cannot be created although its parent exists (/proc)', () => {
  it('ensureDir throws the mkdir error, naming the directory and the errno', () => {
    let err: unknown;
    try {
      ensureDir(DIR, { top: true });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(RangeError);
    expect((err as Error).message).toMatch(MESSAGE);
    expect(((err as Error).cause as NodeJS.ErrnoException).code).toBe('ENOENT');
  });

  // Found by review: start-up went on, and the records were lost at shutdown when the collector was down. A path
  // no write will ever get past is a configuration error, like a directory others can write.
  it('the processor refuses to start, naming the directory, the errno and the fix', async () => {
    const err = await faultPipeline({}, DIR).then(
      (made) => ((p = made), undefined),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AuditConfigError);
    expect((err as Error).message).toMatch(MESSAGE);
    expect((err as Error).message).toMatch(/OTEL_AUDIT_DIR \/proc\/otel-audit-nope\/x does not exist and cannot be created .*: create it, owned by the user the app runs as, mode 0700, or point OTEL_AUDIT_DIR at a writable directory/);
  });
});
