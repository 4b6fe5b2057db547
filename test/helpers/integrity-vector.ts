/** The format of one file of test/vectors/integrity: written by generate-vectors.test.ts, read by vectors.test.ts. */

export interface ExpectedProblem {
  kind: string;
  /** Absent for malformed/torn lines, whose stream is unknown. */
  stream?: string;
  seq?: number;
  through?: number;
  file: string;
  line: number;
  reason?: string;
}

export interface IntegrityVector {
  description: string;
  files: Record<string, string[]>;
  checkpointFiles?: Record<string, string[]>;
  keys: { pubkeys?: string[]; hmac?: string[] };
  requireSignatures?: boolean;
  allowReorder?: boolean;
  expect: {
    ok: boolean;
    errors: ExpectedProblem[];
    info: ExpectedProblem[];
    streams: Array<{ streamId: string; first: number; last: number; ended: boolean; coveredThrough: number }>;
  };
}
