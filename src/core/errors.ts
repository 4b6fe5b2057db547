/** Errors a user of the package can catch by class. None of their messages ever contains key material. */

export interface ValidationIssue {
  /** Dotted path of the offending field, e.g. `actor.type` or `details.amount`. */
  path: string;
  message: string;
}

/** An audit event failed validation; thrown synchronously by `AuditLogger.record()`. Lists every problem. */
export class AuditValidationError extends Error {
  override name = 'AuditValidationError';
  readonly issues: readonly ValidationIssue[];
  constructor(issues: readonly ValidationIssue[]) {
    super(`invalid audit event: ${issues.map((i) => `${i.path || '(event)'}: ${i.message}`).join('; ')}`);
    this.issues = issues;
  }
}

/** A configuration value (env variable or option) is invalid; names the variable, the value and what is allowed. */
export class AuditConfigError extends Error {
  override name = 'AuditConfigError';
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
  }
}

/** The message of something thrown: an Error's message, anything else as a string. */
export const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));
