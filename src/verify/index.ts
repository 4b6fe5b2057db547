/** Public API of the chain verifier (DESIGN §7 `otel-audit verify`; integrity checks: docs/integrity.md). */
export { readRecords, scanRecords } from './read-records.js';
export type { BadItem, CheckpointClaim, NonAuditItem, ReadItem, ReadOptions, RecordItem, SignatureCheck } from './read-records.js';
export { listInputFiles, verifyFiles, VerifyInputError } from './verifier.js';
export type {
  CheckpointCounts,
  Problem,
  ProblemKind,
  ProblemReason,
  Severity,
  SignatureCounts,
  StreamSummary,
  VerifyOptions,
  VerifyReport,
} from './verifier.js';
export { runVerifyCommand, VERIFY_USAGE } from './command.js';
