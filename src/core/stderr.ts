/**
 * stderr without the OTel diag log, for code the CLI loads too (`verify` loads no OpenTelemetry package):
 * core/say.ts adds the diag line for the processor.
 */
import { writeSync } from 'node:fs';

/** stderr, written now: on the way out ('exit') there is no event loop to flush a stream. Never throws. */
export function writeStderrSync(text: string): void {
  try {
    writeSync(2, text);
  } catch {
    /* stderr closed: nothing else to say it with */
  }
}

/** Messages written on stderr once in this process, by `stderrOnce` and core/say.ts `sayOnce`. */
export const saidOnce = new Set<string>();

/** `msg` as one line on stderr, once per process (`loadSigningKeys` called again for a second processor). */
export function stderrOnce(msg: string): void {
  if (saidOnce.has(msg)) return;
  saidOnce.add(msg);
  writeStderrSync(msg + '\n');
}
