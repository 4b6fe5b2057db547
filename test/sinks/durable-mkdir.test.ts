/**
 * OTEL_AUDIT_DIR under a parent that exists but takes no new directories (/proc): mkdir gives ENOENT however
 * often the parents are made. One clear error naming the directory and the errno, reported as a journal
 * failure at the first write; no endless recursion ("Maximum call stack size exceeded").
 */
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ensureDir } from '../../src/sinks/durable.js';
import { loginEvent } from '../helpers/pipeline.js';
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

  it('the first record emitted: the journal reports that write failure once, and the record is delivered from memory', async () => {
    const lines: string[] = [];
    let said: () => void = () => undefined;
    const reported = new Promise<void>((r) => (said = r));
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      if (String(chunk).includes('journal write failed')) said();
      return true;
    });
    p = await faultPipeline({}, DIR);
    const receipt = p.audit.record({ ...loginEvent(0), id: 'c1-0' });
    await reported; // bounded by the test timeout
    const failures = lines.filter((l) => l.includes('journal write failed'));
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatch(MESSAGE);
    expect(lines.join('')).not.toMatch(/call stack/);
    // The collector is up: the record still gets there, from memory.
    await expect(receipt).resolves.toMatchObject({ recordId: 'c1-0' });
  });
});
