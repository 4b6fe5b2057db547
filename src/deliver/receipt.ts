/** What `AuditLogger.record()` resolves to once the record is durable by the configured policy. */
export interface AuditReceipt {
  recordId: string;
  streamId: string;
  sequence: number;
  /** Lowercase hex SHA-256 of the record's canonical form (the next record's `previous_hash`). */
  hash: string;
  /** Where it is durable: `journal` (written, and fsynced unless OTEL_AUDIT_FSYNC=off) or `collector` (acknowledged). */
  durability: 'journal' | 'collector';
}
