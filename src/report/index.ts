/** The HTML report of `otel-audit verify --report FILE.html`. */
export { commandLine } from './command-line.js';
export { MAX_LISTED_FINDINGS, MAX_LISTED_STREAMS, renderVerifyReport } from './html.js';
export type { VerifyReportPageInput } from './html.js';
export { collectStreamTimes } from './stream-times.js';
export type { StreamTimes } from './stream-times.js';
export { writeNoVerdictReportFile, writeVerifyReportFile } from './write-report.js';
