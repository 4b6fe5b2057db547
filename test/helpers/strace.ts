/**
 * System-call traces for the durability tests (test/durability): runs a command under strace(1) and parses
 * what it really did — which files it opened and how, what it wrote, fsynced, renamed and created, in order.
 * Assertions then rest on the kernel's view, not on the package's own code paths: removing an fsync, or
 * letting `fsync=always` return before its write, shows up here even when every other test stays green.
 *
 * strace runs with `-f` (Node's fs work also happens on libuv threadpool threads) and `-y` (every fd argument
 * is printed with the path it refers to, so fd reuse never confuses the parser). Order: each call has the
 * position of its entry and of its exit in the trace; strace writes events in the order it sees them, so "A
 * returned before B was entered" is `a.end < b.start`, across threads too.
 *
 * strace is a Debian package (`apt-get install -y strace`). Where it is missing, `straceStatus()` says why:
 * the tests skip with that message, except under CI (`process.env.CI`), where they fail.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';

/** What is traced: every way of creating, writing, syncing, renaming and removing files and directories. */
export const TRACED_SYSCALLS = [
  'open',
  'openat',
  'creat',
  'write',
  'writev',
  'pwrite64',
  'pwritev',
  'pwritev2',
  'fsync',
  'fdatasync',
  'rename',
  'renameat',
  'renameat2',
  'mkdir',
  'mkdirat',
  'unlink',
  'unlinkat',
  'link',
  'linkat',
  'ftruncate',
] as const;

export type StraceStatus = { ok: true } | { ok: false; reason: string };

let cached: StraceStatus | undefined;

/** Is a working strace available here? Probed once (it also needs ptrace to be permitted). */
export function straceStatus(): StraceStatus {
  if (cached !== undefined) return cached;
  if (process.platform !== 'linux') return (cached = { ok: false, reason: 'the system-call tests need Linux and strace' });
  const r = spawnSync('strace', ['-f', '-qq', '-e', 'trace=fsync', '-o', '/dev/null', process.execPath, '-e', '0'], { stdio: 'ignore', timeout: 30_000 });
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT')
    return (cached = { ok: false, reason: 'strace is not installed (Debian: apt-get install -y strace)' });
  if (r.error !== undefined || r.status !== 0)
    return (cached = { ok: false, reason: `strace cannot trace here (exit ${String(r.status)}${r.error ? `, ${r.error.message}` : ''}; is ptrace permitted?)` });
  return (cached = { ok: true });
}

/** Skip (with the reason printed) unless strace works — but never under CI, where a missing strace must fail. */
export function skipWithoutStrace(suite: string): boolean {
  const s = straceStatus();
  if (s.ok || process.env.CI) return false;
  console.warn(`${suite}: SKIPPED — ${s.reason}. Under CI these tests fail instead.`);
  return true;
}

/** Throws (failing the test) unless strace works: what a test run under CI without strace gets. */
export function requireStrace(): void {
  const s = straceStatus();
  if (!s.ok) throw new Error(`${s.reason}; the system-call durability tests need it (CI must install it)`);
}

export interface Syscall {
  tid: number;
  name: string;
  /** Top-level arguments as strace printed them (strings still quoted, fds with their `<path>`). */
  args: string[];
  /** The return value as printed: `0`, `23</tmp/x>`, `-1 ENOENT (No such file or directory)`. */
  ret: string;
  /** The numeric result (-1 on error). */
  result: number;
  /** Line index of the call's entry and of its exit in the trace. */
  start: number;
  end: number;
}

/** Parses an `strace -f -y -o FILE` trace. Lines that are not system calls (signals, exits) are skipped. */
export function parseTrace(text: string): Syscall[] {
  const out: Syscall[] = [];
  const pending = new Map<number, { text: string; start: number }>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\d+)\s+(.*)$/.exec(lines[i]!);
    if (m === null) continue;
    const tid = Number(m[1]);
    let body = m[2]!;
    if (body.startsWith('+++') || body.startsWith('---')) continue;
    let start = i;
    const resumed = /^<\.\.\. (\w+) resumed>(.*)$/.exec(body);
    if (resumed !== null) {
      const p = pending.get(tid);
      if (p === undefined) continue;
      pending.delete(tid);
      body = p.text + resumed[2]!;
      start = p.start;
    }
    const unfinished = body.endsWith(' <unfinished ...>');
    if (unfinished) {
      pending.set(tid, { text: body.slice(0, -' <unfinished ...>'.length), start: i });
      continue;
    }
    const call = parseCall(body);
    if (call !== undefined) out.push({ tid, ...call, start, end: i });
  }
  return out;
}

function parseCall(body: string): Pick<Syscall, 'name' | 'args' | 'ret' | 'result'> | undefined {
  const open = body.indexOf('(');
  if (open <= 0) return undefined;
  const name = body.slice(0, open);
  if (!/^\w+$/.test(name)) return undefined;
  const args: string[] = [];
  let depth = 0;
  let cur = '';
  let i = open + 1;
  for (; i < body.length; i++) {
    const c = body[i]!;
    if (c === '"') {
      // A quoted string, with backslash escapes; a truncated one ends in `"...`.
      let j = i + 1;
      while (j < body.length && body[j] !== '"') j += body[j] === '\\' ? 2 : 1;
      cur += body.slice(i, j + 1);
      i = j;
      continue;
    }
    if (c === '(' || c === '[' || c === '{' || (c === '<' && /\d$/.test(cur))) depth++;
    else if (c === ']' || c === '}' || (c === '>' && depth > 0)) depth--;
    else if (c === ')') {
      if (depth === 0) break;
      depth--;
    } else if (c === ',' && depth === 0) {
      args.push(cur.trim());
      cur = '';
      continue;
    }
    cur += c;
  }
  if (cur.trim() !== '') args.push(cur.trim());
  const rm = /^\)\s*=\s*(.*)$/.exec(body.slice(i));
  if (rm === null) return undefined;
  const ret = rm[1]!.trim();
  return { name, args, ret, result: Number.parseInt(ret, 10) };
}

/** A C string as strace prints it, unquoted (`"..."...` when truncated: the part shown). */
export function unquote(arg: string | undefined): string | undefined {
  if (arg === undefined || !arg.startsWith('"')) return undefined;
  const end = arg.lastIndexOf('"');
  const s = arg.slice(1, end > 0 ? end : undefined);
  return s.replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)/g, (_m, e: string) => {
    if (e[0] === 'x') return String.fromCharCode(parseInt(e.slice(1), 16));
    if (/^[0-7]/.test(e)) return String.fromCharCode(parseInt(e, 8));
    return ({ n: '\n', t: '\t', r: '\r', v: '\v', f: '\f' } as Record<string, string>)[e] ?? e;
  });
}

/** The path strace printed for an fd argument or result (`23</tmp/x>`), without a ` (deleted)` suffix. */
export function fdPath(arg: string | undefined): string | undefined {
  const m = /^-?\d+<(.*)>$/.exec(arg ?? '');
  return m === null ? undefined : m[1]!.replace(/ \(deleted\)$/, '');
}

/** The path a call names: its string argument at `i`, resolved against the dirfd before it (`*at` calls). */
export function pathArg(c: Syscall, i: number): string | undefined {
  const p = unquote(c.args[i]);
  if (p === undefined || isAbsolute(p) || i === 0) return p;
  const base = fdPath(c.args[i - 1]);
  return base === undefined ? p : join(base, p);
}

/** What a call did, in the terms the tests use. */
export interface FsEvent {
  call: Syscall;
  kind: 'open' | 'write' | 'sync' | 'rename' | 'mkdir' | 'unlink' | 'link' | 'truncate';
  /** The file or directory acted on (for rename and link: the source). */
  path: string;
  /** rename/link: the new name. */
  to?: string;
  /** open: the flags as printed (`O_WRONLY|O_CREAT|...`) and the mode, when given. */
  flags?: string;
  mode?: string;
  ok: boolean;
}

/** The calls of a trace as file system events (unresolvable ones dropped). */
export function fsEvents(calls: readonly Syscall[]): FsEvent[] {
  const out: FsEvent[] = [];
  for (const c of calls) {
    const ok = c.result >= 0;
    const ev = (e: { kind: FsEvent['kind']; path: string | undefined; to?: string | undefined; flags?: string | undefined; mode?: string | undefined }): void => {
      if (e.path !== undefined) out.push({ ...e, path: e.path, call: c, ok });
    };
    switch (c.name) {
      case 'open':
        ev({ kind: 'open', path: pathArg(c, 0), flags: c.args[1], mode: c.args[2] });
        break;
      case 'openat':
        ev({ kind: 'open', path: pathArg(c, 1), flags: c.args[2], mode: c.args[3] });
        break;
      case 'creat':
        ev({ kind: 'open', path: pathArg(c, 0), flags: 'O_WRONLY|O_CREAT|O_TRUNC', mode: c.args[1] });
        break;
      case 'write':
      case 'writev':
      case 'pwrite64':
      case 'pwritev':
      case 'pwritev2':
        ev({ kind: 'write', path: fdPath(c.args[0]) });
        break;
      case 'fsync':
      case 'fdatasync':
        ev({ kind: 'sync', path: fdPath(c.args[0]) });
        break;
      case 'ftruncate':
        ev({ kind: 'truncate', path: fdPath(c.args[0]) });
        break;
      case 'rename':
        ev({ kind: 'rename', path: pathArg(c, 0), to: pathArg(c, 1) });
        break;
      case 'renameat':
      case 'renameat2':
        ev({ kind: 'rename', path: pathArg(c, 1), to: pathArg(c, 3) });
        break;
      case 'link':
        ev({ kind: 'link', path: pathArg(c, 0), to: pathArg(c, 1) });
        break;
      case 'linkat':
        ev({ kind: 'link', path: pathArg(c, 1), to: pathArg(c, 3) });
        break;
      case 'mkdir':
        ev({ kind: 'mkdir', path: pathArg(c, 0), mode: c.args[1] });
        break;
      case 'mkdirat':
        ev({ kind: 'mkdir', path: pathArg(c, 1), mode: c.args[2] });
        break;
      case 'unlink':
        ev({ kind: 'unlink', path: pathArg(c, 0) });
        break;
      case 'unlinkat':
        ev({ kind: 'unlink', path: pathArg(c, 1) });
        break;
    }
  }
  return out;
}

export interface TracedRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The child's stdout, written to a file (so its writes show in the trace with that path). */
  stdout: string;
  stdoutPath: string;
  stderr: string;
  calls: Syscall[];
  events: FsEvent[];
  tracePath: string;
}

/**
 * Runs `node <script>` under strace in `workDir` (trace and stdout files go there) with `env` added, and
 * returns the parsed trace once it exits. Throws when strace is unavailable (see `requireStrace`).
 */
export async function runTraced(script: string, env: Record<string, string | undefined>, workDir: string, timeoutMs = 60_000): Promise<TracedRun> {
  requireStrace();
  const tracePath = join(workDir, 'strace.txt');
  const stdoutPath = join(workDir, 'stdout.txt');
  const outFd = openSync(stdoutPath, 'w');
  const args = ['-f', '-y', '-qq', '-s', '128', '-e', `trace=${TRACED_SYSCALLS.join(',')}`, '-o', tracePath, process.execPath, script];
  const child = spawn('strace', args, { stdio: ['ignore', outFd, 'pipe'], env: { ...process.env, ...env } });
  closeSync(outFd);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (c, s) => resolve({ code: c, signal: s })),
  );
  clearTimeout(timer);
  const calls = parseTrace(readFileSync(tracePath, 'utf8'));
  return { code, signal, stdout: readFileSync(stdoutPath, 'utf8'), stdoutPath, stderr, calls, events: fsEvents(calls), tracePath };
}
