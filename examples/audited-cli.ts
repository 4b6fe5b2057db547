/**
 * An audited command wrapper, in the spirit of Volt's audit: runs a command and records one audit record per
 * invocation — who ran it (the OS user), on which host, the command and its arguments, the outcome, the error
 * and how long it took. Configured by the environment like any otel-audit set-up (OTEL_AUDIT_DIR,
 * OTEL_EXPORTER_OTLP_ENDPOINT, …); the actor defaults to the OS user, as OTEL_AUDIT_DEFAULT_ACTOR=os-user would.
 *
 *   node dist/examples/audited-cli.js -- tar czf backup.tgz /etc/app
 *
 * Exits with the command's own exit code (128 + signal number when it was killed, 127 when it could not start).
 * A CLI starts and ends quickly, so it uses a plain LoggerProvider (no NodeSDK) and shuts it down before
 * exiting: the record is in the journal (fsync=always) before the command's result is returned, and delivered
 * to the collector if one answers within OTEL_BLRP_EXPORT_TIMEOUT — else the next run replays it. When that
 * variable is unset the wait is 3 s, not the processor's default 30 s: a command should not hang that long on
 * a collector outage.
 */
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { basename } from 'node:path';
import { AuditLogRecordProcessor, getAuditLogger, withOsIdentity } from 'otel-audit';

const argv = process.argv.slice(2);
const command = argv[0] === '--' ? argv.slice(1) : argv;
if (command.length === 0) {
  process.stderr.write('usage: audited-cli [--] <command> [args...]\n');
  process.exit(2);
}
const [file, ...args] = command as [string, ...string[]];

const processor = new AuditLogRecordProcessor({
  defaultActor: 'os-user',
  fsync: 'always',
  // Only a default: a code option would override the variable.
  ...(process.env.OTEL_BLRP_EXPORT_TIMEOUT ? {} : { exportTimeoutMillis: 3000 }),
});
const provider = new LoggerProvider({ processors: [processor] });
const audit = getAuditLogger({ processor, loggerProvider: provider });

const started = performance.now();
const result = await new Promise<{ code: number; error?: string; reason?: string }>((resolve) => {
  const child = spawn(file, args, { stdio: 'inherit' });
  child.once('error', (e: NodeJS.ErrnoException) => resolve({ code: 127, error: e.code ?? 'SpawnError', reason: e.message }));
  child.once('exit', (code, signal) => {
    if (signal !== null) resolve({ code: 128 + (constants.signals[signal] ?? 0), error: signal, reason: `killed by ${signal}` });
    else resolve({ code: code ?? 1, ...(code !== 0 ? { error: 'NonZeroExit', reason: `exit code ${code}` } : {}) });
  });
});
const durationMs = Math.round(performance.now() - started);

// withOsIdentity: the OS user as actor (login name, uid as process.user.id) and this host as source.
const receipt = await audit.record(
  withOsIdentity({
    name: 'command.execute',
    action: 'EXECUTE',
    outcome: result.code === 0 ? 'success' : 'failure',
    target: { id: file, type: 'command', name: basename(file) },
    ...(result.reason !== undefined ? { reason: result.reason } : {}),
    ...(result.error !== undefined ? { error: { type: result.error } } : {}),
    details: {
      'process.command': file,
      'process.command_args': [file, ...args],
      'process.exit.code': result.code,
      'cli.duration_ms': durationMs,
    },
  }),
);
const report = await processor.shutdownWithReport();
await provider.shutdown();
process.stderr.write(
  `audited-cli: recorded ${receipt.recordId} (stream ${receipt.streamId} seq ${receipt.sequence}, ${receipt.durability}; ${report.exported === report.emitted ? 'at the collector' : 'in the journal, for replay'})\n`,
);
process.exit(result.code);
