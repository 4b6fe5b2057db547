/**
 * What an operator must see even without a diag logger (the OTel SDK installs none by default): the diag log and
 * one line on stderr.
 */
import { diag } from '@opentelemetry/api';
import { diagLog } from './diag-log.js';
import { saidOnce, writeStderrSync } from './stderr.js';

export { writeStderrSync };

/**
 * `msg` in the diag log at `level` and as one line on stderr (`sync`: written at once, for the exit path). A
 * stderr that fails never throws here: the diag line is all there is then. A diag logger that wrote the line on
 * stderr itself (the API's DiagConsoleLogger, which the SDK installs for OTEL_LOG_LEVEL) is not doubled.
 */
export function sayLoudly(msg: string, level: 'error' | 'warn' = 'error', sync = false): void {
  if (diagOnStderr(level, msg)) return;
  if (sync) return writeStderrSync(msg + '\n');
  stderrLine(msg);
}

/**
 * `diag[level](msg)`, and whether the logger wrote the message on stderr while it ran (the API's
 * DiagConsoleLogger writes through `console.warn`/`console.error`, which it saved at load, so the stream is where
 * to see it). `process.stderr.write` is wrapped only for the duration of this synchronous call and always restored.
 */
function diagOnStderr(level: 'error' | 'warn', msg: string): boolean {
  let stream: NodeJS.WriteStream;
  try {
    stream = process.stderr;
  } catch {
    diagLog(level, msg);
    return false;
  }
  const own = Object.hasOwn(stream, 'write');
  const write = stream.write;
  let wrote = false;
  const watch = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]): boolean {
    if (!wrote) wrote = (typeof chunk === 'string' ? chunk : chunk instanceof Uint8Array ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString() : '').includes(msg);
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof stream.write;
  try {
    stream.write = watch;
  } catch {
    // An app that made stderr's write read-only: no watching; the line is written by us, maybe twice.
    diagLog(level, msg);
    return false;
  }
  if (stream.write !== watch) {
    // A setter that ignored it: nothing watched, nothing to restore.
    diagLog(level, msg);
    return false;
  }
  try {
    diag[level](msg);
  } catch {
    /* a diag logger that throws: the stderr line is all there is */
  } finally {
    try {
      if (own) stream.write = write;
      else delete (stream as { write?: unknown }).write;
    } catch {
      /* it took the wrapper, so it takes the original back; never thrown on the caller's path */
    }
  }
  return wrote;
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
  let onStderr = false;
  if (!loggedOnce.has(msg)) {
    loggedOnce.add(msg);
    onStderr = diagOnStderr('warn', msg);
  }
  if (saidOnce.has(msg)) return;
  saidOnce.add(msg);
  if (!onStderr) stderrLine(msg);
}
