/**
 * The real components the fault scenarios run against, shared by the fault tests and `npm run faults`: the fault
 * emitter and the development collector in child processes (the built package, dist/), `otel-audit verify` run
 * on what arrived, loopback ports nobody listens on, and tmpfs mounts that are always undone.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { CollectorFault } from '../../../src/collector/index.js';
import { spawnJson, type Proc } from '../../helpers/child.js';

export { killAll, spawnJson, type Proc } from '../../helpers/child.js';

export const ROOT = join(import.meta.dirname, '../../..');
export const CLI = join(ROOT, 'dist/cli.js');
export const EMITTER = join(ROOT, 'test/fixtures/fault-emitter.mjs');

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
export const rand = (a: number, b: number): number => a + Math.random() * (b - a);

/** Long enough for any wait of the long runs (an outage of minutes, a million-record backlog). */
export const LONG_WAIT = 900_000;

/** The fault emitter (test/fixtures/fault-emitter.mjs) in a child process, optionally run through `wrapper`. */
export function emitter(env: Record<string, string | undefined>, wrapper: string[] = []): Proc {
  return wrapper.length === 0 ? spawnJson(process.execPath, [EMITTER], env) : spawnJson(wrapper[0]!, [...wrapper.slice(1), process.execPath, EMITTER], env);
}

/** The development collector (`otel-audit collector`) in its own process; `stop()` is a real outage. */
export interface CollectorProcess {
  readonly outFile: string;
  readonly endpoint: string;
  /** Starts it again, on the same port. */
  start(): Promise<void>;
  stop(): Promise<void>;
  fault(f: CollectorFault): Promise<void>;
  /** The fault in force ({mode: 'ok'} while stopped). */
  currentFault(): Promise<CollectorFault>;
  /** Requests received since the process started. */
  requests(): Promise<number>;
}

export async function collectorProcess(outFile: string): Promise<CollectorProcess> {
  let port = 0;
  let url = '';
  let endpoint = '';
  let p: Proc | undefined;
  const get = async <T>(path: string): Promise<T> => (await fetch(`${url}${path}`)).json() as Promise<T>;
  const c: CollectorProcess = {
    outFile,
    get endpoint() {
      return endpoint;
    },
    async start() {
      p = spawnJson(process.execPath, [CLI, 'collector', '--port', String(port), '--out', outFile], {});
      const l = await p.waitFor((o) => o.event === 'listening', 20_000);
      url = String(l.url);
      endpoint = String(l.endpoint);
      port = Number(new URL(url).port);
    },
    async stop() {
      const q = p;
      p = undefined;
      if (q === undefined) return;
      q.proc.kill('SIGTERM');
      await q.exited;
    },
    async fault(f) {
      if (p === undefined) return;
      const r = await fetch(`${url}/_fault`, { method: 'POST', body: JSON.stringify(f), headers: { 'content-type': 'application/json' } });
      if (!r.ok) throw new Error(`setting fault ${JSON.stringify(f)}: HTTP ${r.status}`);
    },
    currentFault: async () => (p === undefined ? { mode: 'ok' } : get<CollectorFault>('/_fault')),
    requests: async () => (p === undefined ? 0 : (await get<{ requests: number }>('/_stats')).requests),
  };
  await c.start();
  return c;
}

/** A loopback endpoint nobody listens on: connection refused. */
export async function deadEndpoint(): Promise<string> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return `http://127.0.0.1:${port}/v1/logs`;
}

/** Runs `fn` over `items`, `n` at a time; results in the order of `items`. */
export async function pool<T, R>(items: T[], n: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

/** `otel-audit verify` (the built CLI, its own process) over `files`: exit 0 means intact. */
export function verifyCli(files: string[]): boolean {
  if (files.length === 0) return true;
  return tryRun(process.execPath, [CLI, 'verify', ...files]);
}

// ---- mounts (we run as root in CI; every mount is undone by unmountAll) ------------------------------

const mounted: string[] = [];

function tryRun(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore', maxBuffer: 1 << 26 });
    return true;
  } catch {
    return false;
  }
}

/** Can this process mount a tmpfs? (root with CAP_SYS_ADMIN, Linux.) Probed once, leaves nothing behind. */
export const canMount: boolean = (() => {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return false;
  const probe = join('/tmp', `otel-audit-mount-probe-${process.pid}`);
  try {
    mkdirSync(probe, { recursive: true });
    if (!tryRun('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe])) return false;
    tryRun('umount', [probe]);
    return true;
  } finally {
    tryRun('rmdir', [probe]);
  }
})();

/** Can a child run without CAP_DAC_OVERRIDE (so that permission bits apply to root too)? */
export const canDropDacOverride: boolean = (() => {
  if (process.platform !== 'linux') return false;
  if (process.getuid?.() !== 0) return true; // not root: permission bits apply anyway
  return tryRun('setpriv', ['--bounding-set', '-dac_override,-dac_read_search', '--', process.execPath, '-e', '0']);
})();

/** The wrapper that runs a command without the capabilities that let root ignore permission bits. */
export const NO_DAC_OVERRIDE: string[] = process.getuid?.() === 0 ? ['setpriv', '--bounding-set', '-dac_override,-dac_read_search', '--'] : [];

export function mountTmpfs(dir: string, size: string): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir]);
  mounted.push(dir);
}

/** A read-only bind mount of `src` on `dir` (stacked: files already open for writing keep working). */
export function bindReadOnly(src: string, dir: string): void {
  execFileSync('mount', ['--bind', src, dir]);
  mounted.push(dir);
  execFileSync('mount', ['-o', 'remount,bind,ro', dir]);
}

/** Unmounts the most recent mount of `dir`. */
export function unmount(dir: string): void {
  const i = mounted.lastIndexOf(dir);
  if (i !== -1) mounted.splice(i, 1);
  execFileSync('umount', [dir]);
}

/** Undoes every mount made by these helpers (lazily if busy); call from afterEach / afterAll. */
export function unmountAll(): void {
  while (mounted.length > 0) {
    const dir = mounted.pop()!;
    if (!tryRun('umount', [dir])) tryRun('umount', ['-l', dir]);
  }
}
