/**
 * One process can load both builds of the package (ESM dist/index.js and CommonJS dist/index.cjs: an ESM app with a
 * CommonJS dependency that also uses otel-audit). The processor is shared between them, so an error thrown by one
 * copy reaches code holding the other copy's classes: `instanceof` must hold across them (found in review: it was
 * false for all four classes, in both directions).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const dist = join(import.meta.dirname, '..', '..', 'dist');
type ErrorClasses = Record<'AuditValidationError' | 'AuditConfigError' | 'AuditLossError' | 'AuditFlushTimeoutError', new (...args: never[]) => Error>;

describe.skipIf(!existsSync(join(dist, 'index.cjs')))('the error classes across the ESM and CommonJS builds', () => {
  const make = (c: ErrorClasses): Record<keyof ErrorClasses, Error> => ({
    AuditValidationError: new (c.AuditValidationError as unknown as new (i: unknown[]) => Error)([{ path: 'x', message: 'm' }]),
    AuditConfigError: new (c.AuditConfigError as unknown as new (m: string) => Error)('bad'),
    AuditLossError: new (c.AuditLossError as unknown as new (m: string, ids: string[]) => Error)('lost', ['r1']),
    AuditFlushTimeoutError: new (c.AuditFlushTimeoutError as unknown as new (m: string, n: number, d: string | undefined) => Error)('late', 1, undefined),
  });

  it.each(['AuditValidationError', 'AuditConfigError', 'AuditLossError', 'AuditFlushTimeoutError'] as const)('%s: instanceof holds both ways, and for no other class', async (name) => {
    const esm = (await import(pathToFileURL(join(dist, 'index.js')).href)) as ErrorClasses;
    const cjs = createRequire(import.meta.url)(join(dist, 'index.cjs')) as ErrorClasses;
    expect(esm[name]).not.toBe(cjs[name]); // two copies, as in an app that loads both
    // Their names as loggers print them (found in review: the bundler renamed a class named in its own body).
    expect([esm[name].name, cjs[name].name, make(esm)[name].constructor.name]).toEqual([name, name, name]);
    const fromEsm = make(esm)[name];
    const fromCjs = make(cjs)[name];
    expect(fromEsm).toBeInstanceOf(cjs[name]);
    expect(fromCjs).toBeInstanceOf(esm[name]);
    expect(fromEsm).toBeInstanceOf(Error);
    for (const other of ['AuditValidationError', 'AuditConfigError', 'AuditLossError', 'AuditFlushTimeoutError'] as const) {
      if (other === name) continue;
      expect(fromCjs instanceof esm[other]).toBe(false);
      expect(fromEsm instanceof cjs[other]).toBe(false);
    }
    expect(({ name } as object) instanceof esm[name]).toBe(false);
    // A class a user derives from it keeps the plain check: the other build's error is not one of its.
    class Mine extends cjs[name] {}
    expect(fromEsm instanceof Mine).toBe(false);
    expect(fromCjs instanceof Mine).toBe(false);
  });
});
