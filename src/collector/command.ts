/**
 * `otel-audit collector`: runs the development OTLP/HTTP receiver in the foreground until SIGTERM/SIGINT.
 * The first stdout line is machine-readable (`{"event":"listening",...}`) so a parent process (demo, bench,
 * tests) can learn the ephemeral port; everything human goes to stderr.
 */
import { startCollector, type CollectorHandle, type CollectorOptions } from './collector.js';
import type { CollectorFault } from './fault.js';
import { isLoopbackHost } from './origin.js';
import { errorText } from '../core/errors.js';
// Arguments are quoted as the other commands quote them: a key pasted by mistake is not shown (found in review).
import { looksLikeKeyMaterial, quotedArgument } from '../integrity/keys.js';

export const COLLECTOR_USAGE = `Usage: otel-audit collector [options]

Development OTLP/HTTP logs receiver: POST /v1/logs as OTLP/JSON (Content-Type: application/json) or
OTLP/protobuf (Content-Type: application/x-protobuf), identity or gzip. Writes each request as one
OTLP/JSON line in the OTel Collector file-exporter format (a protobuf request gives the same records
as the same request sent as JSON; an empty list or a zero spelled out in JSON is absent in protobuf) and
answers in the request's format. For tests and demos; NOT a
production collector (no gRPC, no auth, no TLS).

Options:
  --port N           port to listen on (default 4318; 0 = any free port)
  --host H           address to bind (default 127.0.0.1; loopback only unless --allow-remote)
  --allow-remote     allow a non-loopback --host
  --out FILE         append received requests to FILE (0600); without it, only count. An unfinished last
                     line (a run killed mid-write, never acknowledged) is moved to FILE.torn first; a whole
                     JSON line without its newline gets one. One collector writes FILE at a time
                     (FILE.lock holds its pid; a dead one's lock is taken over)
  --fsync            fsync FILE after every write

Fault injection (at most one of --status, --delay, --drop, --partial):
  --status CODE      answer every request with HTTP CODE (200-599), writing nothing
  --retry-after S    with --status: send Retry-After: S
  --delay MS         write, then wait MS milliseconds before answering
  --drop             close the connection without answering or writing
  --partial N        write all but the last N records of each request, report them rejected
  --times N          apply the fault to the next N requests only, then behave normally

Control endpoints: GET /_stats, GET /_fault, POST /_fault (JSON fault, e.g. {"mode":"status","status":503},
sent with Content-Type: application/json, else 415).
Any request with a non-loopback Origin header is refused (403), and so is one with a non-loopback Host
while listening on loopback. Request bodies held in memory at once are bounded (256 MiB); past that the
receiver answers 503 with Retry-After: 1 and discards the body.
On start, prints {"event":"listening","url":...,"endpoint":...} as the first line on stdout.
`;

/** Where the command writes and how it is stopped; defaults are the process's streams and signals. */
export interface CollectorCommandIo {
  stdout?: (text: string) => void;
  stderr?: (text: string) => void;
  /** Stops the collector like SIGTERM does (for running the command in-process). */
  signal?: AbortSignal;
}

export type ParsedCollectorArgs =
  | { kind: 'help' }
  | { kind: 'run'; options: CollectorOptions & { host: string; port: number } }
  | { kind: 'error'; message: string };

/**
 * A host name or address as written (labels of at most 63 letters, digits and hyphens; IPv6 in brackets or not).
 * A dotted name or an address is shown as typed: the user needs to see which one was refused (found in re-review:
 * hidden as a key). A single word that reads like a key (looksLikeKeyMaterial: hex, or mixed case and digits) is
 * hidden as usage messages hide keys, even if it is a host name: a leak is worse than a hidden name.
 */
const HOST_NAME = /^(?:[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.?|\[?[0-9A-Fa-f:.]{2,45}\]?)$/;
const shownHost = (h: string): string => (HOST_NAME.test(h) && (/[.:]/.test(h) || !looksLikeKeyMaterial(h)) ? JSON.stringify(h) : quotedArgument(h));

const BOOLEAN_FLAGS = new Set(['--fsync', '--drop', '--allow-remote', '--help', '-h']);
const VALUE_FLAGS = new Set([
  '--port',
  '--host',
  '--out',
  '--status',
  '--retry-after',
  '--delay',
  '--partial',
  '--times',
]);

/** Parses `collector` arguments (those after the command name). Never throws. */
export function parseCollectorArgs(argv: readonly string[]): ParsedCollectorArgs {
  // A Map, not an object: flag names come from the user.
  const values = new Map<string, string>();
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (BOOLEAN_FLAGS.has(name)) {
      if (eq > 0) return usageError(`${name} takes no value`);
      flags.add(name);
    } else if (VALUE_FLAGS.has(name)) {
      let value: string | undefined;
      if (eq > 0) value = arg.slice(eq + 1);
      else {
        value = argv[i + 1];
        i++;
      }
      if (value === undefined || (eq < 0 && value.startsWith('--'))) return usageError(`${name} needs a value`);
      if (values.has(name)) return usageError(`${name} given more than once`);
      values.set(name, value);
    } else if (arg.startsWith('-')) {
      return usageError(`unknown option ${quotedArgument(arg)}`);
    } else {
      return usageError(`unexpected argument ${quotedArgument(arg)}`);
    }
  }
  if (flags.has('--help') || flags.has('-h')) return { kind: 'help' };

  try {
    const rawHost = values.get('--host') ?? '127.0.0.1';
    // "[::1]" as in a URL is accepted; listen() wants the bare address.
    const host = rawHost.startsWith('[') && rawHost.endsWith(']') ? rawHost.slice(1, -1) : rawHost;
    if (host === '') return usageError('--host needs an address');
    if (!isLoopbackHost(host) && !flags.has('--allow-remote')) {
      return usageError(
        `--host ${shownHost(rawHost)} is not a loopback address; this development receiver has no auth or TLS. ` +
          'Pass --allow-remote to bind it anyway',
      );
    }
    const port = intFlag(values, '--port', 0, 65535) ?? 4318;
    const options: CollectorOptions & { host: string; port: number } = { host, port };
    const out = values.get('--out');
    if (out !== undefined) {
      if (out === '') return usageError('--out needs a file name');
      options.outFile = out;
    }
    if (flags.has('--fsync')) {
      if (out === undefined) return usageError('--fsync needs --out FILE');
      options.fsync = true;
    }
    const fault = faultFromFlags(values, flags);
    if (fault) options.fault = fault;
    return { kind: 'run', options };
  } catch (err) {
    return usageError(errorText(err));
  }
}

/** Runs the collector until SIGTERM/SIGINT (or `io.signal`). Resolves the exit code: 0, 1 (failed to start), 2 (usage). */
export async function runCollectorCommand(argv: string[], io: CollectorCommandIo = {}): Promise<number> {
  const stdout = io.stdout ?? ((text: string) => void process.stdout.write(text));
  const stderr = io.stderr ?? ((text: string) => void process.stderr.write(text));

  const parsed = parseCollectorArgs(argv);
  if (parsed.kind === 'help') {
    stdout(COLLECTOR_USAGE);
    return 0;
  }
  if (parsed.kind === 'error') {
    stderr(`otel-audit collector: ${parsed.message}\nRun "otel-audit collector --help" for usage.\n`);
    return 2;
  }

  const options = parsed.options;
  let handle: CollectorHandle;
  try {
    handle = await startCollector({ ...options, log: (line) => stderr(`otel-audit ${line}\n`) });
  } catch (err) {
    const msg = errorText(err);
    stderr(`otel-audit collector: could not start on ${options.host}:${options.port}: ${msg}\n`);
    return 1;
  }

  stdout(`${JSON.stringify({ event: 'listening', url: handle.url, endpoint: handle.endpoint })}\n`);
  const target = options.outFile === undefined ? 'counting only (no --out)' : `writing ${options.outFile}`;
  stderr(
    `otel-audit collector: DEVELOPMENT OTLP/HTTP receiver for tests and demos, not a production collector; ` +
      `${handle.endpoint}, ${target}\n`,
  );

  await waitForStop(io.signal);
  await handle.close();
  const s = handle.stats();
  stderr(`otel-audit collector: closed (${s.requests} requests, ${s.records} records written)\n`);
  return 0;
}

function waitForStop(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      process.off('SIGTERM', done);
      process.off('SIGINT', done);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    process.once('SIGTERM', done);
    process.once('SIGINT', done);
    if (signal?.aborted) done();
    else signal?.addEventListener('abort', done);
  });
}

function faultFromFlags(values: Map<string, string>, flags: Set<string>): CollectorFault | undefined {
  const chosen = ['--status', '--delay', '--partial'].filter((f) => values.has(f));
  if (flags.has('--drop')) chosen.push('--drop');
  if (chosen.length > 1) throw new Error(`${chosen.join(' and ')} cannot be combined; choose one fault`);
  const times = intFlag(values, '--times', 1, Number.MAX_SAFE_INTEGER);
  const retryAfter = intFlag(values, '--retry-after', 0, 86_400);
  if (retryAfter !== undefined && !values.has('--status')) throw new Error('--retry-after needs --status CODE');
  if (times !== undefined && chosen.length === 0) throw new Error('--times needs a fault (--status, --delay, --drop or --partial)');
  const withTimes = times === undefined ? {} : { times };

  const status = intFlag(values, '--status', 200, 599);
  if (status !== undefined) {
    return retryAfter === undefined
      ? { mode: 'status', status, ...withTimes }
      : { mode: 'status', status, retryAfterSeconds: retryAfter, ...withTimes };
  }
  const delayMs = intFlag(values, '--delay', 0, 3_600_000);
  if (delayMs !== undefined) return { mode: 'delay', delayMs, ...withTimes };
  const rejected = intFlag(values, '--partial', 1, Number.MAX_SAFE_INTEGER);
  if (rejected !== undefined) return { mode: 'partial', rejected, ...withTimes };
  if (flags.has('--drop')) return { mode: 'drop', ...withTimes };
  return undefined;
}

function intFlag(values: Map<string, string>, name: string, min: number, max: number): number | undefined {
  const raw = values.get(name);
  if (raw === undefined) return undefined;
  const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new Error(`${name} ${quotedArgument(raw)} is not an integer from ${min} to ${max}`);
  }
  return n;
}

function usageError(message: string): ParsedCollectorArgs {
  return { kind: 'error', message };
}
