/** Child processes for tests: spawn with env, collect JSON lines, kill, await exit. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface Child {
  proc: ChildProcess;
  lines: Record<string, unknown>[];
  stderr: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first JSON line matching `pred`. */
  waitFor(pred: (o: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
}

const live = new Set<ChildProcess>();

/** Kills every child still running (SIGKILL): call from afterEach so a failed test leaves nothing behind. */
export async function killAll(): Promise<void> {
  const waits = [...live].map((p) => new Promise<void>((r) => (p.exitCode !== null || p.signalCode !== null ? r() : (p.once('exit', () => r()), p.kill('SIGKILL')))));
  await Promise.all(waits);
  live.clear();
}

export function runNode(args: string[], env: Record<string, string | undefined>): Child {
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
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
    for (const w of [...watchers]) if (w.pred(o)) {
      watchers.splice(watchers.indexOf(w), 1);
      w.resolve(o);
    }
  });
  createInterface({ input: proc.stderr! }).on('line', (l) => stderr.push(l));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    proc,
    lines,
    stderr,
    exited,
    waitFor(pred, timeoutMs = 20_000) {
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
        void exited.then(() => setTimeout(() => reject(new Error(`child exited first; stderr: ${stderr.join('\n')}`)), 50));
      });
    },
  };
}
