/**
 * The `otel-audit` command line: one subcommand per job, each in its own module.
 *   verify     check chains in the local journal or the collector's output   (cli/verify-command.ts)
 *   search     find audit records by actor, action, event, time…, each with its chain verdict (cli/search-command.ts)
 *   tail       the last records of a journal, and with --follow new ones as they come (cli/tail-command.ts)
 *   collector  development OTLP/HTTP receiver with fault injection            (collector/command.ts)
 *   replay     send a journal's unacknowledged records to the collector       (cli/replay-command.ts)
 *   demo       the whole job end to end on an embedded default                (cli/demo.ts)
 *   keygen     an Ed25519 key pair for signatures and checkpoints             (cli/keygen-command.ts)
 * Exit codes: 0 success, 1 integrity/delivery failure, 2 usage or I/O error.
 */
import { quotedArgument } from './arguments.js';
import type { CommandIo } from './search-command.js';
import { drainOf } from './streaming-io.js';
import { errorText } from '../core/errors.js';

// Each command's module is imported when that command runs: `verify` need not load the OTel SDK, the exporters
// and zod that replay, demo and the collector use (measured ~0.15 s of a verify run's start).

const USAGE = `Usage: otel-audit <command> [options]

Commands:
  verify <file|dir>...   verify hash chains (local journal or collector OTLP/JSON output)
  search <file|dir>...   find audit records (--actor, --action, --event, --since, --where …), each with its chain status
  tail [-f] <dir>        the last records of a journal; with -f (--follow) new ones as they are appended
  collector              run a development OTLP/HTTP receiver (not a production collector)
  replay                 send unacknowledged journal records to the collector, then exit
  demo                   run the end-to-end demo (collector outage, restart, verification)
  keygen --out-dir DIR   make an Ed25519 key pair for record signatures and signed checkpoints

Run 'otel-audit <command> --help' for the options of a command.
`;

/** The reader of stdout went away (`otel-audit verify … | head`): nothing more is written there. */
let stdoutGone = false;
const out = (s: string): void => {
  if (!stdoutGone) process.stdout.write(s);
};
/** An interrupted tail --follow gave up on its reader (CommandIo.abandon): the process exits when the command returns. */
let abandoned = false;
/** The reader of stderr went away (`… 2>&1 | true`): nothing more is written there. */
let stderrGone = false;
const err = (s: string): void => {
  if (!stderrGone) process.stderr.write(s);
};

/**
 * Every command: stderr closed by its reader is no crash (an unhandled 'error' event exited 1, "integrity
 * failure", for an intact input: found in review). The command runs on and exits with its own status.
 */
function quietWhenStderrGoes(): void {
  process.stderr.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') stderrGone = true;
  });
}

/**
 * For the commands that finish by themselves: a reader that goes away is no reason to crash with a stack trace
 * or to stop early. The command runs to its end and exits with its own status (verify's verdict), printing no
 * more to stdout.
 */
function quietWhenStdoutGoes(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') {
      stdoutGone = true;
      return;
    }
    err(`otel-audit: stdout: ${e.message}\n`);
    process.exit(2);
  });
}

/**
 * Output for search and tail, which may print without bound: waits for stdout to drain (so a slow pipe holds
 * the reading back instead of the heap), and ends quietly when the reader goes away (`… | head`).
 */
function streamingIo(): CommandIo {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    err(`otel-audit: stdout: ${e.message}\n`);
    process.exit(2);
  });
  return {
    out,
    err,
    drain: drainOf(process.stdout),
    // process.stdout cannot be destroyed (its handle stays): an interrupted tail exits at once instead, dropping
    // what an unread pipe holds.
    abandon: () => void (abandoned = true),
  };
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  quietWhenStderrGoes();
  if (cmd !== 'search' && cmd !== 'tail') quietWhenStdoutGoes();
  switch (cmd) {
    case 'verify':
      return (await import('./verify-command.js')).runVerifyCommand(rest, out, err);
    case 'search':
      return (await import('./search-command.js')).runSearchCommand(rest, streamingIo());
    case 'tail':
      return (await import('./tail-command.js')).runTailCommand(rest, streamingIo());
    case 'collector':
      return (await import('../collector/command.js')).runCollectorCommand(rest);
    case 'replay':
      return (await import('./replay-command.js')).runReplayCommand(rest, out, err);
    case 'demo':
      return (await import('./demo.js')).runDemo(rest, out, err);
    case 'keygen':
      return (await import('./keygen-command.js')).runKeygenCommand(rest, out, err);
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      out(USAGE);
      return cmd === undefined ? 2 : 0;
    default:
      err(`otel-audit: unknown command ${quotedArgument(cmd ?? '')}\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    if (abandoned) process.exit(code);
  },
  (e: unknown) => {
    const message = errorText(e);
    // Our own errors (AuditConfigError, …) already say "otel-audit…": no second prefix.
    err(`${message.startsWith('otel-audit') ? message : `otel-audit: ${message}`}\n`);
    process.exitCode = 2;
  },
);
