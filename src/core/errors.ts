/** Errors a user of the package can catch by class. None of their messages ever contains key material. */

/**
 * The package ships two builds (ESM and CommonJS), and one process can load both: a processor made by one throws
 * its errors to code that imports the other, whose classes are other objects. Each error carries its class name
 * under a key of the global symbol registry, and `instanceof` checks it when the prototype check fails, so
 * `e instanceof AuditLossError` holds whichever copy threw it.
 */
const BRAND: unique symbol = Symbol.for('otel-audit.error-class') as never;

function brand(e: Error, name: string): void {
  Object.defineProperty(e, BRAND, { value: name });
}

/**
 * `v instanceof cls`, or, for the class that defines the check (not a subclass a user made, which inherits it), an
 * error of its name from the other build. The class is not named in its own body: the bundler would rename it
 * (`class _AuditLossError`), and `constructor.name`, which loggers print, with it.
 */
function isInstance(cls: object, name: string, v: unknown): boolean {
  if (Function.prototype[Symbol.hasInstance].call(cls, v)) return true;
  return Object.hasOwn(cls, Symbol.hasInstance) && typeof v === 'object' && v !== null && (v as { [BRAND]?: unknown })[BRAND] === name;
}

export interface ValidationIssue {
  /** Dotted path of the offending field, e.g. `actor.type` or `details.amount`. */
  path: string;
  message: string;
}

/** An audit event failed validation; thrown synchronously by `AuditLogger.record()`. Lists every problem. */
export class AuditValidationError extends Error {
  override name = 'AuditValidationError';
  readonly issues: readonly ValidationIssue[];
  constructor(issues: readonly ValidationIssue[], options?: { cause?: unknown }) {
    super(`invalid audit event: ${issues.map((i) => `${i.path || '(event)'}: ${i.message}`).join('; ')}`, options);
    this.issues = issues;
    brand(this, 'AuditValidationError');
  }
  /** True for this class's errors from either build of the package (ESM or CommonJS). */
  static override [Symbol.hasInstance](v: unknown): boolean {
    return isInstance(this, 'AuditValidationError', v);
  }
}

/** A configuration value (env variable or option) is invalid; names the variable, the value and what is allowed. */
export class AuditConfigError extends Error {
  override name = 'AuditConfigError';
  constructor(message?: string, options?: { cause?: unknown }) {
    super(message, options);
    brand(this, 'AuditConfigError');
  }
  /** True for this class's errors from either build of the package (ESM or CommonJS). */
  static override [Symbol.hasInstance](v: unknown): boolean {
    return isInstance(this, 'AuditConfigError', v);
  }
}

/**
 * A record could not be made durable anywhere (collector unreachable and journal unwritable or full), or the
 * pipeline is shut down. With `OTEL_AUDIT_ON_LOSS=throw`, `record()` throws it and receipts reject with it.
 */
export class AuditLossError extends Error {
  override name = 'AuditLossError';
  readonly recordIds: readonly string[];
  constructor(message: string, recordIds: readonly string[] = []) {
    super(message);
    this.recordIds = recordIds;
    brand(this, 'AuditLossError');
  }
  /** True for this class's errors from either build of the package (ESM or CommonJS). */
  static override [Symbol.hasInstance](v: unknown): boolean {
    return isInstance(this, 'AuditLossError', v);
  }
}

/**
 * `forceFlush()` ran out of its timeout (exportTimeoutMillis / OTEL_BLRP_EXPORT_TIMEOUT) with records the collector
 * has not acknowledged. Nothing is lost by it: they are kept (in the journal, `journalDir`, when there is one) and
 * delivered when the collector answers, or replayed at the next start.
 */
export class AuditFlushTimeoutError extends Error {
  override name = 'AuditFlushTimeoutError';
  constructor(
    message: string,
    /** Records accepted and not yet acknowledged by the collector when the flush gave up. */
    readonly undelivered: number,
    /** The journal directory that keeps them, or undefined with OTEL_AUDIT_FILE=off (memory only). */
    readonly journalDir: string | undefined,
  ) {
    super(message);
    brand(this, 'AuditFlushTimeoutError');
  }
  /** True for this class's errors from either build of the package (ESM or CommonJS). */
  static override [Symbol.hasInstance](v: unknown): boolean {
    return isInstance(this, 'AuditFlushTimeoutError', v);
  }
}

/** The message of something thrown: an Error's message, anything else as a string. */
export const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));
