/** Public API of the chain verifier (DESIGN §7 `otel-audit verify`). */
export { readRecords } from './read-records.js';
export type { BadItem, NonAuditItem, ReadItem, RecordItem } from './read-records.js';
export { listInputFiles, verifyFiles, VerifyInputError } from './verifier.js';
export type { Problem, ProblemKind, Severity, StreamSummary, VerifyOptions, VerifyReport } from './verifier.js';
export { runVerifyCommand, VERIFY_USAGE } from './command.js';
