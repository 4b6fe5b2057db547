/**
 * `otel-audit replay [--dir DIR] [--endpoint URL]`: sends what a journal directory holds and the collector
 * has not acknowledged (streams whose processes are gone), then exits. The same code a restarting process
 * runs in the background; useful to drain a spool from a host whose app will not start again.
 */
import { OtlpSender } from '../deliver/otlp-sender.js';
import { Replayer } from '../deliver/replay.js';
import { resolveOptions } from '../config/options.js';

export const REPLAY_USAGE = `Usage: otel-audit replay [--dir DIR] [--endpoint URL]

Re-sends unacknowledged records of finished streams in DIR (default: OTEL_AUDIT_DIR or ./.otel-audit)
to the collector (default: OTEL_EXPORTER_OTLP_[LOGS_]ENDPOINT, as the processor would), in sequence
order, then exits. Exit 0 when everything was delivered, 1 when some could not be, 2 on usage errors.
`;

export async function runReplayCommand(argv: string[], out: (s: string) => void, err: (s: string) => void): Promise<number> {
  let dir: string | undefined;
  let endpoint: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') {
      out(REPLAY_USAGE);
      return 0;
    }
    const v = argv[i + 1];
    if ((a === '--dir' || a === '--endpoint') && (v === undefined || v.startsWith('--'))) {
      err(`otel-audit replay: ${a} needs a value\n`);
      return 2;
    }
    if (a === '--dir') dir = argv[++i];
    else if (a === '--endpoint') endpoint = argv[++i];
    else {
      err(`otel-audit replay: unknown argument ${JSON.stringify(a)}\n${REPLAY_USAGE}`);
      return 2;
    }
  }
  const o = resolveOptions({ ...(dir !== undefined ? { dir } : {}), retryMaxMillis: 2000 });
  const sender = new OtlpSender(endpoint !== undefined ? { ...o.exporter, url: endpoint } : o.exporter);
  const replayer = new Replayer({
    dir: o.dir,
    ownStreamId: '',
    sender,
    maxExportBatchSize: o.maxExportBatchSize,
    retryMinMillis: 250,
    retryMaxMillis: 2000,
  });
  const stop = (): void => replayer.stop();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const r = await replayer.run();
    out(JSON.stringify({ event: 'replayed', dir: o.dir, streams: r.streams.length, records: r.records, torn: r.torn.length, malformedLines: r.malformedLines }) + '\n');
    return r.malformedLines > 0 ? 1 : 0;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await sender.shutdown();
  }
}
