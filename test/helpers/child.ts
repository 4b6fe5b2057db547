/** Child processes for tests: spawn with env, collect the JSON lines they print, kill, await exit. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface Proc {
  proc: ChildProcess;
  lines: Record<string, unknown>[];
  stderr: string[];
  /** Settles once the child has exited and all it wrote to stdout and stderr has been read. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitFor(pred: (o: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** The last line with this event name. */
  event(name: string): Record<string, unknown> | undefined;
}

const live = new Set<ChildProcess>();

/** SIGKILLs every child still running (started by `spawnJson`/`runNode`): call from afterEach, so a failed test leaves nothing behind. */
export async function killAll(): Promise<void> {
  await Promise.all(
    [...live].map(
      (p) => new Promise<void>((r) => (p.exitCode !== null || p.signalCode !== null ? r() : (p.once('exit', () => r()), p.kill('SIGKILL')))),
    ),
  );
  live.clear();
}

export function spawnJson(cmd: string, args: string[], env: Record<string, string | undefined>, cwd?: string): Proc {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env }, ...(cwd !== undefined ? { cwd } : {}) });
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  const lines: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  const watchers: { pred: (o: Record<string, unknown>) => boolean; resolve: (o: Record<string, unknown>) => void }[] = [];
  createInterface({ input: proc.stdout! }).on('line', (l) => {
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(l) as Record<string, unknown>;
    } catch {
      return;
    }
    lines.push(o);
    for (const w of [...watchers])
      if (w.pred(o)) {
        watchers.splice(watchers.indexOf(w), 1);
        w.resolve(o);
      }
  });
  createInterface({ input: proc.stderr! }).on('line', (l) => stderr.push(l));
  // 'close', not 'exit': at 'exit' the last lines the child wrote may not have been read yet (a loaded machine
  // delivers both at once); at 'close' its stdout and stderr have ended, so `lines` and `stderr` are complete.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('close', (code, signal) => resolve({ code, signal })));
  return {
    proc,
    lines,
    stderr,
    exited,
    event: (name) => lines.filter((o) => o.event === name).at(-1),
    waitFor(pred, timeoutMs = 30_000) {
      const hit = lines.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out waiting for a line; stderr: ${stderr.join('\n')}`)), timeoutMs);
        watchers.push({
          pred,
          resolve: (o) => {
            clearTimeout(t);
            resolve(o);
          },
        });
        // Every line it printed has been seen by then (`exited` waits for its output to end).
        void exited.then(() => {
          clearTimeout(t);
          reject(new Error(`child exited first; stderr: ${stderr.join('\n')}`));
        });
      });
    },
  };
}

/** A Node.js child running `args` (a script and its arguments). */
export function runNode(args: string[], env: Record<string, string | undefined>, cwd?: string): Proc {
  return spawnJson(process.execPath, args, env, cwd);
}

/** Kept for the tests that speak of a "Child". */
export type Child = Proc;
