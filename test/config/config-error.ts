import { AuditConfigError } from '../../src/core/errors.js';

/** Runs `fn`, which must throw an AuditConfigError, and returns it. */
export function configError(fn: () => unknown): AuditConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AuditConfigError) return err;
    throw err;
  }
  throw new Error('expected AuditConfigError');
}
