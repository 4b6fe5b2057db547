/**
 * `otel-audit replay [--dir DIR] [--endpoint URL] [--timeout SECONDS]`: sends what a journal directory holds
 * and the collector has not acknowledged (streams whose processes are gone), then exits. The same code a
 * restarting process runs in the background; useful to drain a spool from a host whose app will not start again.
 *
 * The export loop's backoff timers do not keep a process alive (a processor must not hold its application
 * open), so this command holds the event loop itself until the replay settles or `--timeout` stops it; it
 * then says what was and was not delivered, and exits 1 unless everything was.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { listStreams, stateDir } from '../sinks/files.js';
import { httpUrl } from '../core/http-url.js';
import { OtlpSender, type BatchSender, type SendResult } from '../deliver/otlp-sender.js';
import { Replayer } from '../deliver/replay.js';
import { resolveOptions } from '../config/options.js';
import { readState } from '../sinks/stream-state.js';
import { optionValue, seenBefore, walkArguments, quotedArgument } from './arguments.js';

export const DEFAULT_REPLAY_TIMEOUT_SECONDS = 30;

export const REPLAY_USAGE = `Usage: otel-audit replay [--dir DIR] [--endpoint URL] [--timeout SECONDS]

Re-sends unacknowledged records of finished streams in DIR (default: OTEL_AUDIT_DIR or ./.otel-audit)
to the collector, in sequence order, then exits.

  --endpoint URL       where to send (default: OTEL_EXPORTER_OTLP_[LOGS_]ENDPOINT, as the processor would).
                       For HTTP, a URL with no path (http://host:4318) is a base URL to which /v1/logs is
                       appended, like OTEL_EXPORTER_OTLP_ENDPOINT; a URL with a path is the full logs URL
                       (http://host:4318/v1/logs), like OTEL_EXPORTER_OTLP_LOGS_ENDPOINT. For grpc: host:port URL.
  --timeout SECONDS    stop retrying after this long (default ${DEFAULT_REPLAY_TIMEOUT_SECONDS}; 0: no limit). The export in flight
                       then ends within OTEL_EXPORTER_OTLP_[LOGS_]TIMEOUT; what was not delivered stays in DIR.

Prints one JSON line (event "replayed"); what was not delivered is also said on stderr. Exit 0 when
everything was delivered, 1 when some could not be (collector unreachable or refusing, records set aside
in DIR/rejected/, unreadable lines, timeout), 2 on usage errors.
`;

/**
 * The URL `--endpoint` stands for: for HTTP, a URL with no path gets `v1/logs` (as OTEL_EXPORTER_OTLP_ENDPOINT
 * does), one with a path is the logs URL itself (as OTEL_EXPORTER_OTLP_LOGS_ENDPOINT); gRPC takes it as is.
 * Undefined when an HTTP endpoint is not an http(s) URL.
 */
export function replayEndpoint(endpoint: string, protocol: string): string | undefined {
  if (protocol === 'grpc') return endpoint;
  const u = httpUrl(endpoint);
  if (u === undefined) return undefined;
  if (u.pathname !== '/' && u.pathname !== '') return endpoint;
  return `${endpoint.endsWith('/') ? endpoint : `${endpoint}/`}v1/logs`;
}

/** The longest --timeout: a timer's delay is a signed 32-bit number of milliseconds (Node clamps more to 1 ms). */
const MAX_TIMEOUT_SECONDS = Math.floor(0x7fffffff / 1000);

/** Seconds as given to --timeout: a non-negative decimal number, at most MAX_TIMEOUT_SECONDS. */
function parseSeconds(v: string): number | undefined {
  const s = /^\d+(\.\d+)?$/.test(v) ? Number(v) : undefined;
  return s !== undefined && s <= MAX_TIMEOUT_SECONDS ? s : undefined;
}

/** The sender, remembering the last failure (SendResult.message is safe to print: no headers, no body). */
class WatchedSender implements BatchSender {
  lastFailure: string | undefined;
  failures = 0;
  constructor(
    private readonly inner: BatchSender,
    private readonly err: (s: string) => void,
  ) {}
  async send(body: Uint8Array | string, count: number): Promise<SendResult> {
    const r = await this.inner.send(body, count);
    if (!r.ok) {
      this.failures++;
      this.lastFailure = r.message;
      this.err(`otel-audit replay: export of ${count} record(s) failed: ${r.message}\n`);
    }
    return r;
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}

export async function runReplayCommand(argv: string[], out: (s: string) => void, err: (s: string) => void): Promise<number> {
  let dir: string | undefined;
  let endpoint: string | undefined;
  let timeoutSeconds = DEFAULT_REPLAY_TIMEOUT_SECONDS;
  const operands: string[] = [];
  const usage = (msg: string): number => {
    err(`otel-audit replay: ${msg}\n${REPLAY_USAGE}`);
    return 2;
  };
  const again = seenBefore();
  const stopped = walkArguments<number>(argv, operands, (o) => {
    if (o.name === '--help' || o.name === '-h') {
      out(REPLAY_USAGE);
      return 0;
    }
    if (o.name !== '--dir' && o.name !== '--endpoint' && o.name !== '--timeout') return usage(`unknown argument ${quotedArgument(o.name)}`);
    if (again(o.name)) return usage(`${o.name} given more than once`);
    const v = optionValue(o);
    if (v === undefined) return usage(`${o.name} needs a value`);
    if (o.name === '--dir') dir = v;
    else if (o.name === '--endpoint') endpoint = v;
    else {
      const s = parseSeconds(v);
      if (s === undefined) return usage(`--timeout takes a number of seconds up to ${MAX_TIMEOUT_SECONDS} (0: no limit), not ${quotedArgument(v)}`);
      timeoutSeconds = s;
    }
    return undefined;
  });
  if (stopped !== undefined) return stopped;
  if (operands.length > 0) return usage(`unexpected argument ${quotedArgument(operands[0]!)} (the directory is given with --dir)`);

  const o = resolveOptions({ ...(dir !== undefined ? { dir } : {}), retryMaxMillis: 2000 });
  // A mistyped directory must not be created (prepareAuditDir would) and reported as replayed, wherever it came
  // from: --dir, OTEL_AUDIT_DIR, or the default ./.otel-audit.
  const named = dir !== undefined ? `--dir ${quotedArgument(dir)}` : process.env.OTEL_AUDIT_DIR?.trim() ? `OTEL_AUDIT_DIR (${JSON.stringify(o.dir)})` : `the default directory ${JSON.stringify(o.dir)}`;
  let isDir = false;
  try {
    isDir = statSync(o.dir).isDirectory();
  } catch (e) {
    return usage(`${named}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : ((e as NodeJS.ErrnoException).code ?? 'cannot be read')}`);
  }
  if (!isDir) return usage(`${named} is not a directory`);
  // A directory this user cannot list would otherwise read as one holding no journal (found in review).
  try {
    readdirSync(o.dir);
  } catch (e) {
    return usage(`${named}: ${(e as NodeJS.ErrnoException).code ?? 'cannot be read'}`);
  }
  // Nor is a directory that holds no journal (a mistyped `--dir ~`) given a state/ and reported as replayed.
  if (listStreams(o.dir).size === 0 && !existsSync(stateDir(o.dir))) return usage(`${named} holds no otel-audit journal (no journal segment, no state/): nothing to replay`);
  let url: string | undefined;
  if (endpoint !== undefined) {
    url = replayEndpoint(endpoint, o.exporter.protocol);
    // The value is not echoed: a URL may carry credentials.
    if (url === undefined) return usage('--endpoint takes an http:// or https:// URL');
  }
  const sender = new WatchedSender(new OtlpSender(url !== undefined ? { ...o.exporter, url } : o.exporter), err);
  // Held until the replay settles: the export loop's backoff timers are unref'd, and without this the process
  // would exit 0 in the middle of an outage, saying nothing and leaving its locks behind.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  let timedOut = false;
  let replayer: Replayer | undefined;
  const deadline =
    timeoutSeconds > 0
      ? setTimeout(() => {
          timedOut = true;
          replayer?.stop();
        }, timeoutSeconds * 1000)
      : undefined;
  const stop = (): void => replayer?.stop();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    replayer = new Replayer({
      dir: o.dir,
      ownStreamId: '',
      sender,
      maxExportBatchSize: o.maxExportBatchSize,
      retryMinMillis: 250,
      retryMaxMillis: 2000,
    });
    const r = await replayer.run();
    // The streams this run was to deliver, as the Replayer chose them (one another replayer holds counts too).
    // A stream a live process on another host still delivers is not this run's to deliver (aliveElsewhere).
    const undelivered = replayer.orphans
      .filter((streamId) => !replayer!.aliveElsewhere.includes(streamId))
      .map((streamId) => ({ streamId, state: readState(o.dir, streamId) }))
      .filter((s) => s.state?.done !== true)
      .map((s) => ({ streamId: s.streamId, deliveredThrough: s.state?.acked ?? 0 }));
    const complete = undelivered.length === 0 && r.rejected === 0 && r.malformedLines === 0;
    out(
      JSON.stringify({
        event: 'replayed',
        dir: o.dir,
        complete,
        streams: r.streams.length,
        records: r.records,
        rejected: r.rejected,
        torn: r.torn.length,
        malformedLines: r.malformedLines,
        undelivered,
        // Streams of a process on another host that was still renewing its lease: its own to deliver.
        ...(replayer.aliveElsewhere.length > 0 ? { aliveElsewhere: replayer.aliveElsewhere } : {}),
        // Streams of a live process of this host, which delivers them itself (found in review: not named at all).
        ...(replayer.aliveHere.length > 0 ? { aliveHere: replayer.aliveHere } : {}),
        ...(timedOut ? { timedOut: true } : {}),
        ...(sender.lastFailure !== undefined ? { lastError: sender.lastFailure } : {}),
      }) + '\n',
    );
    for (const id of replayer.aliveHere) err(`otel-audit replay: stream ${id} not replayed: the process that writes it is alive (on this host, or a neighbour seen by its socket) and delivers it itself\n`);
    if (complete) return 0;
    const why: string[] = [];
    if (timedOut) why.push(`stopped after --timeout ${timeoutSeconds} s`);
    if (sender.lastFailure !== undefined) why.push(`last export error: ${sender.lastFailure}`);
    for (const u of undelivered) {
      // Another replay of this host holds it (found in review: "run replay again" only, as if this one had failed).
      const held = replayer.heldHere.includes(u.streamId) ? '; another replay on this host holds it and delivers it' : '';
      err(`otel-audit replay: stream ${u.streamId} not delivered after seq ${u.deliveredThrough}${held}: its records stay in ${o.dir}; run replay again${why.length > 0 ? ` (${why.join('; ')})` : ''}\n`);
    }
    if (r.rejected > 0) err(`otel-audit replay: ${r.rejected} record(s) refused for good by the collector, set aside in ${o.dir}/rejected/\n`);
    if (r.malformedLines > 0) err(`otel-audit replay: ${r.malformedLines} unreadable journal line(s) not sent (otel-audit verify ${o.dir} reports them)\n`);
    return 1;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    if (deadline !== undefined) clearTimeout(deadline);
    try {
      await sender.shutdown();
    } finally {
      clearInterval(keepAlive);
    }
  }
}
