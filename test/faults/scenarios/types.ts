/**
 * A fault scenario: what it runs (its parameters, short for the fault tests, long for `npm run faults`) and the
 * rows of the report it produces. Every number in a row is counted from the collector's output and the emitters'
 * own lines (accounting.ts), not from the processor's counters.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export type ScenarioKey = 'faults' | 'outage' | 'kill' | 'burst' | 'cluster' | 'disk';

export interface Row {
  /** Where the row goes in the table: by group, then rank. */
  group: number;
  rank?: number;
  scenario: string;
  emitted?: number;
  delivered?: number;
  duplicated?: number;
  /** Emitted but neither delivered nor set aside: must be 0. */
  lost?: number;
  setAside?: number;
  lostIds?: string[];
  maxRssMiB?: number;
  seconds?: number;
  /** Named checks besides "lost = 0"; the row fails if any is false. */
  checks?: Record<string, boolean>;
  notes?: string;
  /** Why the scenario could not run here. */
  skipped?: string;
}

/** Where a scenario runs: a directory of its own, and a progress log. */
export interface Ctx {
  root: string;
  log(line: string): void;
}

export interface Scenario<P> {
  key: ScenarioKey;
  /** Parameters of the fault tests: small counts, few iterations, seconds rather than minutes. */
  short: P;
  /** Parameters of `npm run faults`, from its environment (settings.ts). */
  long(s: Settings): P;
  run(ctx: Ctx, params: P): Promise<Row[]>;
}

/** `npm run faults`' environment (scripts/README.md). */
export interface Settings {
  scale: number;
  outageSeconds: number;
  kills: number;
  burst: number;
  only: Set<ScenarioKey>;
  /** Only the collector faults whose name contains this text. */
  fault: string | undefined;
  keep: boolean;
  json: string | undefined;
}

export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): Settings {
  const scale = Number(env.FAULTS_SCALE ?? '1');
  return {
    scale,
    outageSeconds: Number(env.FAULTS_OUTAGE_SECONDS ?? '120'),
    kills: Number(env.FAULTS_KILLS ?? String(Math.max(1, Math.round(60 * scale)))),
    burst: Number(env.FAULTS_BURST ?? '1000000'),
    only: new Set((env.FAULTS_ONLY ?? 'faults,outage,kill,burst,cluster,disk').split(',').map((s) => s.trim() as ScenarioKey)),
    fault: env.FAULTS_FAULT,
    keep: env.FAULTS_KEEP === '1',
    json: env.FAULTS_JSON,
  };
}

/** A row fails when a record was lost or a check did not hold. */
export const failed = (r: Row): boolean => (r.lost ?? 0) > 0 || Object.values(r.checks ?? {}).includes(false);

/** The failed checks of a row, by name (for assertions and notes). */
export const failedChecks = (r: Row): string[] => Object.entries(r.checks ?? {}).filter(([, ok]) => !ok).map(([k]) => k);

/** A scenario's own directory under the run's root. */
export function dirOf(ctx: Ctx, name: string): string {
  const d = join(ctx.root, name);
  mkdirSync(d, { recursive: true });
  return d;
}
