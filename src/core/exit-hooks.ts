/**
 * Synchronous work to do when the process ends without a shutdown: journaling what was accepted (processor.ts).
 *
 * - `exit` fires on process.exit(), after an uncaught exception or an unhandled rejection, and when the event loop
 *   empties. The listener is prepended: an app's `exit` listener that throws or calls process.exit() stops the
 *   listeners after it (found in review: registered before the processor's, it skipped the journaling).
 * - A termination signal (SIGTERM, SIGINT, SIGHUP) with no listener ends the process at once, `exit` listeners not
 *   run (found in review: every `kubectl delete`, `docker stop` or Ctrl-C lost the records of the last moments,
 *   without a word). So otel-audit listens; when no other listener is there, it runs the hooks, stops listening and
 *   raises the signal again, so the process ends as it would have (the same signal, the same exit status). When
 *   another listener is there (the app's, or otel-audit/register's graceful shutdown), that one decides, and nothing
 *   is done here: a process.exit() it calls runs the `exit` hooks.
 *
 * One set of listeners per process, on globalThis (Symbol.for), shared by the ESM and CJS builds: two sets would
 * each see the other as "another listener", and neither would raise the signal again (a process SIGTERM no longer
 * ends). Signals reach the main thread only; in a worker thread nothing is installed for them.
 */
import { isMainThread } from 'node:worker_threads';

/** The signals whose default action ends the process. */
export const EXIT_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
export type ExitSignal = (typeof EXIT_SIGNALS)[number];

interface Hooks {
  run: Set<() => void>;
  /** The listener installed for each signal. */
  signal: Map<ExitSignal, () => void>;
}

const KEY = Symbol.for('otel-audit.exit-hooks');

function hooks(): Hooks {
  const g = globalThis as { [KEY]?: Hooks };
  let h = g[KEY];
  if (h !== undefined) return h;
  h = g[KEY] = { run: new Set(), signal: new Map() };
  const all = h;
  const runAll = (): void => {
    for (const fn of [...all.run]) fn();
  };
  process.prependListener('exit', runAll);
  if (isMainThread) {
    for (const sig of EXIT_SIGNALS) {
      const onSignal = (): void => {
        if (process.listenerCount(sig) > 1) return; // another listener decides what this signal does
        runAll();
        process.off(sig, onSignal);
        process.kill(process.pid, sig);
      };
      all.signal.set(sig, onSignal);
      process.on(sig, onSignal);
    }
  }
  return h;
}

/** Runs `fn` (synchronous work only) when the process ends without a shutdown; see above. */
export function onExitSync(fn: () => void): void {
  hooks().run.add(fn);
}

/**
 * For a listener of `sig` that has done its work and removed itself (otel-audit/register's graceful shutdown): when
 * no other listener is left, ends the process by `sig` as its default action would, after the hooks (as the
 * listener above does). otel-audit's own listener must go first: while one is attached the signal is an event, which
 * a process whose event loop has emptied never gets (found in test: it exited 0).
 */
export function endBySignal(sig: ExitSignal): void {
  const h = hooks();
  const ours = h.signal.get(sig);
  if (process.listeners(sig).some((l) => l !== ours)) return;
  if (ours !== undefined) ours();
  else process.kill(process.pid, sig);
}
