/**
 * What an operator must see even without a diag logger (the OTel SDK installs none by default): the diag log and
 * one line on stderr.
 */
import { diag } from '@opentelemetry/api';
import { saidOnce, writeStderrSync } from './stderr.js';

export { writeStderrSync };

/**
 * `msg` in the diag log at `level` and as one line on stderr (`sync`: written at once, for the exit path). A
 * stderr that fails never throws here: the diag line is all there is then.
 */
export function sayLoudly(msg: string, level: 'error' | 'warn' = 'error', sync = false): void {
  diag[level](msg);
  if (sync) return writeStderrSync(msg + '\n');
  stderrLine(msg);
}

/** One line on stderr, through the stream; a stderr that fails never throws here. */
function stderrLine(msg: string): void {
  try {
    process.stderr.write(msg + '\n');
  } catch {
    /* stderr gone */
  }
}

/** Messages `sayOnce` has put in the diag log. */
const loggedOnce = new Set<string>();

/**
 * `sayLoudly` at warn, once per process for a given message (a start-up warning met again by a second processor).
 * The stderr line is not repeated after core/stderr.ts `stderrOnce` wrote it (loadSigningKeys, then the processor
 * reading the same key file), but the diag line is still written once.
 */
export function sayOnce(msg: string): void {
  if (!loggedOnce.has(msg)) {
    loggedOnce.add(msg);
    diag.warn(msg);
  }
  if (saidOnce.has(msg)) return;
  saidOnce.add(msg);
  stderrLine(msg);
}
