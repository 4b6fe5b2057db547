/** Public API of the chain verifier (ARCHITECTURE.md §7 `otel-audit verify`; integrity checks: docs/integrity.md). */
export { readRecords, scanRecords } from './read-records.js';
export type { BadItem, CheckpointClaim, NonAuditItem, ReadItem, ReadOptions, RecordItem, SignatureCheck } from './read-records.js';
export { listInputFiles, MAX_KEPT_STRING_CHARS, MAX_LISTED_PROBLEMS, verifyFiles, VerifyInputError } from './verifier.js';
export { MAX_LINE_BYTES } from './safe-read.js';
export type {
  CheckpointCounts,
  Problem,
  ProblemKind,
  ProblemReason,
  Severity,
  SignatureCounts,
  SkipListener,
  StreamSummary,
  VerifyOptions,
  VerifyReport,
} from './verifier.js';
