/** The start and the end every scenario shares: a clock, a directory and a collector; then a row counted from the output. */
import { join } from 'node:path';
import { account, delivered, maxRssMiB, type Delivered } from './accounting.js';
import { collectorProcess, verifyCli, type CollectorProcess, type Proc } from './system.js';
import { dirOf, type Ctx, type Row } from './types.js';

export interface Started {
  t0: number;
  dir: string;
  /** The journal of the emitting process(es). */
  auditDir: string;
  /** What the collector writes. */
  out: string;
  c: CollectorProcess;
}

/** A scenario's start: its clock, its directory (the journal in audit/) and a collector writing collector.jsonl there. */
export async function begin(ctx: Ctx, name: string): Promise<Started> {
  const t0 = performance.now();
  const dir = dirOf(ctx, name);
  const out = join(dir, 'collector.jsonl');
  return { t0, dir, auditDir: join(dir, 'audit'), out, c: await collectorProcess(out) };
}

export interface Outcome {
  group: number;
  rank?: number;
  scenario: string;
  t0: number;
  /** Record ids that must be at the collector (or set aside). */
  expected: Iterable<string>;
  /** The collector's output. */
  out: string;
  /** What was set aside in rejected/ (counted as such, and verified with the output). */
  aside?: { files: string[]; got: Delivered };
  procs: Proc[];
  /** Peak RSS, when not the emitters' whole-run peak. */
  maxRssMiB?: number;
  checks?: Record<string, boolean>;
  notes?: string;
}

/**
 * The row of a scenario whose collector has stopped: emitted / delivered / lost counted from the output, the
 * order of each stream checked, `otel-audit verify` run on the output (with what was set aside).
 */
export function finish(o: Outcome): Row {
  const got = delivered([o.out], { hash: false, keep: false });
  const a = account(o.expected, got, o.aside?.got);
  return {
    group: o.group,
    ...(o.rank !== undefined ? { rank: o.rank } : {}),
    scenario: o.scenario,
    ...a,
    duplicated: got.duplicates,
    maxRssMiB: o.maxRssMiB ?? maxRssMiB(o.procs.map((p) => p.lines)),
    seconds: (performance.now() - o.t0) / 1000,
    checks: { 'in order': got.inOrder, 'verify passes': verifyCli([o.out, ...(o.aside?.files ?? [])]), ...o.checks },
    ...(o.notes !== undefined ? { notes: o.notes } : {}),
  };
}
