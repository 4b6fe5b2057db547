/**
 * Synchronous work to do when the process ends without a shutdown: journaling what was accepted (processor.ts).
 *
 * - `exit` fires on process.exit(), after an uncaught exception or an unhandled rejection, and when the event loop
 *   empties. The listener is prepended: an app's `exit` listener that throws or calls process.exit() stops the
 *   listeners after it (found in review: registered before the processor's, it skipped the journaling).
 * - A termination signal (SIGTERM, SIGINT, SIGHUP) with no listener ends the process at once, `exit` listeners not
 *   run (found in review: every `kubectl delete`, `docker stop` or Ctrl-C lost the records of the last moments,
 *   without a word). So otel-audit listens — but only while no one else does: it runs the hooks, stops listening and
 *   raises the signal again, so the process ends as it would have (the same signal, the same status). Another
 *   listener (the app's, otel-audit/register's, a library's) decides alone and never sees this one: found in review
 *   of a first version that stayed beside them, signal-exit (under execa, write-file-atomic, nyc…) re-raises only
 *   when its own listeners are the only ones, so neither raised the signal and SIGTERM no longer ended the process;
 *   and an app's `once` listener, removed as it is called, left this one alone to end the process under it. When
 *   the other listeners are removed, this one listens again. A process.exit() the other calls runs the `exit` hooks;
 *   so does the signal raised again once the other stopped listening (signal-exit's way): this one is back for it.
 *   A listener that ends the process otherwise (SIGKILL, process.abort()) leaves it to fsync `always`.
 * - No SIGINT listener without a main script (the REPL, `node -e`): to interrupt an evaluation the REPL removes every
 *   SIGINT listener, and one that comes back kills it instead (found in review).
 *
 * One set of listeners per process, on globalThis (Symbol.for), shared by the ESM and CJS builds. Signals reach the
 * main thread only; in a worker thread nothing is installed for them (processor.ts writes through there instead).
 */
import { isMainThread } from 'node:worker_threads';

/** The signals whose default action ends the process. */
export const EXIT_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
export type ExitSignal = (typeof EXIT_SIGNALS)[number];

interface Hooks {
  run: Set<() => void>;
  /** The listener installed for each signal. */
  signal: Map<ExitSignal, (name: unknown, signum: unknown) => void>;
  /**
   * otel-audit/register's graceful shutdown (flush, close the stream) for a signal: awaited before the hooks, by the
   * listener that listens only while no one else does, so register follows the same rule (found in review: with
   * signal-exit loaded, or an app's `once` handler, register kept the process alive, or cut the handler off).
   */
  graceful: Map<ExitSignal, { shutdown: () => Promise<void>; boundMillis: number }>;
}

const KEY = Symbol.for('otel-audit.exit-hooks');

/**
 * Is a REPL to come (no main script and no `-e`/`-p`/stdin script, or `-i`)? To interrupt an evaluation it removes
 * every SIGINT listener, and one that comes back ends it instead (found in review).
 */
const replAhead = (): boolean =>
  (process.argv[1] === undefined && (process as { _eval?: unknown })._eval === undefined) || process.execArgv.some((a) => a === '-i' || a === '--interactive');

function hooks(): Hooks {
  const g = globalThis as { [KEY]?: Hooks };
  let h = g[KEY];
  if (h !== undefined) return h;
  h = g[KEY] = { run: new Set(), signal: new Map(), graceful: new Map() };
  const all = h;
  const runAll = (): void => {
    for (const fn of [...all.run]) fn();
  };
  process.prependListener('exit', runAll);
  if (isMainThread) {
    /** Our own removal at the end (not to be undone by the removeListener hook below). */
    let ending = false;
    const signals = EXIT_SIGNALS.filter((sig) => sig !== 'SIGINT' || !replAhead());
    for (const sig of signals) {
      let busy = false;
      // Whatever a hook or another `removeListener` observer throws, the signal is raised again (found in review:
      // the first SIGTERM was survived, and the flag left set kept ours from coming back).
      const end = (): void => {
        try {
          runAll();
        } finally {
          ending = true;
          try {
            process.off(sig, onSignal);
          } finally {
            ending = false;
            process.kill(process.pid, sig);
          }
        }
      };
      const onSignal = (_name: unknown, signum: unknown): void => {
        if (typeof signum !== 'number') return; // process.emit(sig) by code: no signal was received
        if (busy) return; // a second one during the graceful shutdown (Ctrl-C: the terminal's and npm's): taken by it
        if (process.listenerCount(sig) > 1) return; // another came in this very turn (see newListener below)
        const graceful = all.graceful.get(sig);
        if (graceful === undefined) {
          end();
          return;
        }
        busy = true;
        let done = false;
        const finish = (): void => {
          if (done) return;
          done = true;
          busy = false;
          clearTimeout(backstop);
          // A listener that came meanwhile (signal-exit loaded lazily, say) never saw this signal: raised again for
          // it to decide (found in review: it was swallowed, and the process lived on with its pipeline shut down).
          if (process.listeners(sig).some((l) => l !== onSignal)) process.kill(process.pid, sig);
          else end();
        };
        // A shutdown that never settles (a stalled disk) must not keep the process from ending: a second bound.
        const backstop = setTimeout(finish, graceful.boundMillis + BACKSTOP_MILLIS);
        backstop.unref();
        void Promise.resolve()
          .then(graceful.shutdown)
          .catch(() => undefined)
          .then(finish);
      };
      all.signal.set(sig, onSignal);
      if (process.listenerCount(sig) === 0) process.on(sig, onSignal);
    }
    // Emitted before a listener is added, after one is removed; our own additions and removals are ignored. Ours goes
    // once the other is in: removed before, the count would drop to 0 and Node stop catching the signal, which the
    // other's addition, already past Node's check, would not restart (found in test: the app's handler never ran).
    process.on('newListener', (event: string | symbol, listener: unknown) => {
      const ours = all.signal.get(event as ExitSignal);
      if (ours === undefined || listener === ours) return;
      queueMicrotask(() => {
        if (process.listeners(event as ExitSignal).some((l) => l !== ours)) process.off(event as ExitSignal, ours);
      });
    });
    // Back when no one else listens — also after `removeAllListeners(sig)`, which took ours too (found in review).
    process.on('removeListener', (event: string | symbol) => {
      const ours = all.signal.get(event as ExitSignal);
      if (ours !== undefined && !ending && process.listenerCount(event) === 0) process.on(event as ExitSignal, ours);
    });
  }
  return h;
}

/** Runs `fn` (synchronous work only) when the process ends without a shutdown; see above. */
export function onExitSync(fn: () => void): void {
  hooks().run.add(fn);
}

/**
 * otel-audit/register: on `signals`, while no other listener is there, `shutdown` runs first (the app goes on
 * meanwhile; a second signal is taken by it), then the hooks, and the process ends by the signal — at the latest
 * BACKSTOP_MILLIS past `boundMillis`, the shutdown's own bound.
 */
export function onSignalGracefully(signals: readonly ExitSignal[], shutdown: () => Promise<void>, boundMillis: number): void {
  const h = hooks();
  for (const sig of signals) h.graceful.set(sig, { shutdown, boundMillis });
}

/** How long past its own bound a graceful shutdown may run before the signal is raised again regardless. */
const BACKSTOP_MILLIS = 5000;
