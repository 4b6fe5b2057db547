/**
 * Delivery state of one stream, persisted next to its journal: which sequence number the collector has
 * acknowledged, and which process owns the stream. Written atomically and durably (durableReplace: a temp
 * file with an unpredictable name, fsynced, renamed into place, directory fsynced) so a crash or a power cut
 * leaves either the old or the new state, never a torn or empty one. A stale `acked` only means re-sending
 * some records (at-least-once), never skipping one.
 */
import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { AuditConfigError } from '../core/errors.js';
import { sayLoudly } from '../core/say.js';
import { durableReplace, durableReplaceAsync, FILE_MODE, O_NOFOLLOW, O_NONBLOCK, readChecked, writeExclusive } from './durable.js';
import { ensureDirs, lockPath, stateDir, statePath } from './files.js';

export interface StreamState {
  version: 1;
  streamId: string;
  pid: number;
  host: string;
  /**
   * Start time of the owning process (field 22 of /proc/<pid>/stat: clock ticks since boot), where readable: a
   * later process that reuses the pid has another one, so it is not taken for the owner.
   */
  procStart?: string;
  /**
   * The owner's PID namespace (the target of /proc/self/ns/pid, `pid:[…]`), where readable: containers that share
   * a host name and a directory (a pod's containers, a shared volume) each have their own pids, so a pid from
   * another namespace cannot be asked; such an owner is judged by its lease, as one on another host.
   */
  pidNs?: string;
  /** The owner's network namespace (`net:[…]`), where readable: in the same one, its alive socket can be seen. */
  netNs?: string;
  /**
   * The owner listens on `state/<stream>.alive` (a Unix socket) while it owns the stream; this is that socket's
   * inode. From another PID namespace of the same network namespace (the containers of one pod), or another thread
   * of the same process, /proc/net/unix then says whether it lives.
   */
  aliveSocket?: string;
  startedAt: string;
  /** Highest sequence number acknowledged by the collector (0: none). */
  acked: number;
  /** Highest sequence number accepted by the processor, as far as known. */
  last: number;
  /** The stream was closed by shutdown (its end record is in the journal). */
  ended: boolean;
  /** Every record up to the stream's end is acknowledged: its segments may be deleted by retention. */
  done: boolean;
  /** The stream this process started after, when it replayed one (a restart link for readers). */
  previousStreamId?: string;
  /**
   * `host:pid` of the replayer that wrote this state: the owner above was judged gone, and the file's time is the
   * replayer's, not the owner's (ARCHITECTURE.md §5.2).
   */
  replayedBy?: string;
}

export function newState(streamId: string): StreamState {
  const procStart = procStartTime(process.pid);
  const pidNs = pidNamespace();
  const netNs = netNamespace();
  return {
    version: 1,
    streamId,
    pid: process.pid,
    host: hostname(),
    ...(procStart !== undefined ? { procStart } : {}),
    ...(pidNs !== undefined ? { pidNs } : {}),
    ...(netNs !== undefined ? { netNs } : {}),
    startedAt: new Date().toISOString(),
    acked: 0,
    last: 0,
    ended: false,
    done: false,
  };
}

/** `sync: false` (fsync policy off) keeps the replace atomic but skips its fsyncs. */
export function writeState(dir: string, state: StreamState, { sync = true }: { sync?: boolean } = {}): void {
  ensureDirs(dir);
  durableReplace(statePath(dir, state.streamId), JSON.stringify(state) + '\n', { sync });
}

/** `writeState`, durable, its I/O off the thread; not made (false) once `current()` no longer holds. */
export function writeStateAsync(dir: string, state: StreamState, current: () => boolean): Promise<boolean> {
  ensureDirs(dir);
  return durableReplaceAsync(statePath(dir, state.streamId), JSON.stringify(state) + '\n', current);
}

/**
 * Reads a state file; undefined when absent or unreadable (treated as "nothing acknowledged", which only means
 * re-sending). Something other than a regular file of ours there is never followed nor trusted (a planted state
 * could claim records acknowledged), and is reported.
 */
export function readState(dir: string, streamId: string): StreamState | undefined {
  let text: string;
  try {
    text = readChecked(statePath(dir, streamId)).toString('utf8');
  } catch (e) {
    if (e instanceof AuditConfigError) {
      sayLoudly(e.message);
    }
    return undefined;
  }
  try {
    const s = JSON.parse(text) as Partial<StreamState>;
    if (s.version !== 1 || s.streamId !== streamId || typeof s.acked !== 'number') return undefined;
    return s as StreamState;
  } catch {
    return undefined;
  }
}

/**
 * Streams (and replay claims) that a live processor of this very process owns. Kept on globalThis so the ESM and
 * CommonJS builds, loaded side by side, share it.
 */
const OWNED = Symbol.for('otel-audit.owned-streams');
const owned = (): Set<string> => ((globalThis as { [OWNED]?: Set<string> })[OWNED] ??= new Set());

/** A processor of this process owns `key` (its stream id) until `disown`: same-pid states with it are alive. */
export function own(key: string): void {
  owned().add(key);
}

export function disown(key: string): void {
  owned().delete(key);
}

let ownStart: string | undefined | null = null;

/**
 * The fields of /proc/<pid>/stat from field 3 (state) on, or undefined where there is no such file (not Linux,
 * or gone). proc(5): the command name (field 2) is in parentheses and may hold spaces or parentheses, so the
 * fields are counted after the last one.
 */
function procStat(pid: number): string[] | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Field 22 (starttime) of /proc/<pid>/stat, or undefined where there is no such file (not Linux, or gone). */
export function procStartTime(pid: number): string | undefined {
  if (pid === process.pid && ownStart !== null) return ownStart;
  const start = procStat(pid)?.[19];
  if (pid === process.pid) ownStart = start;
  return start;
}

const namespaces = new Map<string, string | undefined>();

/** The target of /proc/self/ns/<kind> (`pid:[4026531836]`), where readable (Linux); read once. */
function namespace(kind: 'pid' | 'net'): string | undefined {
  if (!namespaces.has(kind)) {
    let ns: string | undefined;
    try {
      ns = fs.readlinkSync(`/proc/self/ns/${kind}`);
    } catch {
      ns = undefined;
    }
    namespaces.set(kind, ns);
  }
  return namespaces.get(kind);
}

/** This process's PID namespace, where readable. */
export const pidNamespace = (): string | undefined => namespace('pid');
/** This process's network namespace, where readable. */
export const netNamespace = (): string | undefined => namespace('net');

/** Where the owner of a stream listens while it lives (see StreamState.aliveSocket). */
export const alivePath = (dir: string, streamId: string): string => resolve(stateDir(dir), `${streamId}.alive`);
/** sun_path holds 108 bytes with its terminating NUL; a longer path is not listened on (the lease is then all). */
const MAX_SOCKET_PATH = 107;

/** The listening sockets of this network namespace (/proc/net/unix): socket inode → bound path; undefined if unreadable. */
function listeningSockets(): Map<string, string> | undefined {
  let table: string;
  try {
    table = fs.readFileSync('/proc/net/unix', 'latin1');
  } catch {
    return undefined;
  }
  const out = new Map<string, string>();
  for (const line of table.split('\n')) {
    // Num RefCount Protocol Flags Type St Inode Path: Flags 00010000 is __SO_ACCEPTCON, a listening socket.
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || (Number.parseInt(f[3]!, 16) & 0x10000) === 0) continue;
    out.set(f[6]!, f.slice(7).join(' '));
  }
  return out;
}

/** The stream's alive socket: the server, and the socket's inode, which the state records (StreamState.aliveSocket). */
export interface AliveSocket {
  server: Server;
  inode: string;
}

/**
 * Listens on the stream's alive socket, for as long as this process owns the stream; undefined when it cannot
 * (path too long, not Linux, an error): the stream's state then does not claim one. The server keeps nothing
 * alive. Its inode (from /proc/net/unix) goes into the state: a prober takes only that very socket for the
 * owner, so no other process can make a dead owner look alive by binding a socket of the same name.
 */
export function listenAlive(dir: string, streamId: string): AliveSocket | undefined {
  const path = alivePath(dir, streamId);
  if (process.platform !== 'linux' || Buffer.byteLength(path) > MAX_SOCKET_PATH) return undefined;
  const server = createServer((socket) => socket.destroy());
  server.on('error', () => undefined); // an error after listening: the stream's lease still speaks for it
  try {
    server.listen(path); // a pathname socket binds at once (server.listening tells)
  } catch {
    return undefined;
  }
  let inode: string | undefined;
  if (server.listening) {
    for (const [ino, bound] of listeningSockets() ?? []) if (bound === path) inode = ino;
  }
  if (inode === undefined) {
    server.close();
    return undefined;
  }
  try {
    fs.chmodSync(path, FILE_MODE);
  } catch {
    /* inside a 0700 directory all the same */
  }
  server.unref();
  // close() unlinks it; process.exit and uncaught exceptions do not run close: the file goes on the way out too.
  aliveFiles.add(path);
  if (aliveFiles.size === 1) process.on('exit', unlinkAliveFiles);
  server.once('close', () => {
    aliveFiles.delete(path);
    if (aliveFiles.size === 0) process.off('exit', unlinkAliveFiles);
  });
  return { server, inode };
}

const aliveFiles = new Set<string>();
function unlinkAliveFiles(): void {
  for (const path of aliveFiles) {
    try {
      fs.unlinkSync(path);
    } catch {
      /* gone already */
    }
  }
}

/**
 * Removes alive socket files that nothing listens on (left by a SIGKILL): no prober looks at the file itself (it
 * reads /proc/net/unix), so a file removed under a live listener mounted elsewhere costs nothing either.
 */
export function removeDeadAliveFiles(where: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(where);
  } catch {
    return;
  }
  const dead = names.filter((n) => n.endsWith('.alive'));
  if (dead.length === 0) return;
  const sockets = listeningSockets();
  if (sockets === undefined) return;
  const bound = new Set(sockets.values());
  for (const name of dead) {
    const path = resolve(where, name);
    if (bound.has(path)) continue;
    try {
      const st = fs.lstatSync(path);
      if (st.isSocket() && st.uid === process.geteuid?.()) fs.unlinkSync(path);
    } catch {
      /* gone meanwhile */
    }
  }
}

/**
 * Is the alive socket `inode` of `streamId` listening in this network namespace (whatever path its directory has
 * in its owner's mounts)? undefined when /proc/net/unix cannot be read.
 */
export function aliveSocketListening(streamId: string, inode: string): boolean | undefined {
  const sockets = listeningSockets();
  if (sockets === undefined) return undefined;
  const bound = sockets.get(inode);
  return bound !== undefined && bound.endsWith(`/state/${streamId}.alive`);
}

/**
 * What the owner's alive socket says of it, where it can be seen: on this host, in this network namespace (a
 * container beside this one in its pod, this one's predecessor restarted, another thread of this process);
 * undefined where it cannot (no socket recorded, another network namespace, /proc unreadable).
 */
export function aliveBySocket(state: OwnerId, streamId: string): boolean | undefined {
  if (state.host !== hostname() || typeof state.aliveSocket !== 'string' || typeof state.netNs !== 'string' || state.netNs !== netNamespace()) return undefined;
  return aliveSocketListening(streamId, state.aliveSocket);
}

/** Who a state file or lock names as its process. */
export interface OwnerId {
  pid: number;
  host: string;
  procStart?: string | undefined;
  pidNs?: string | undefined;
  netNs?: string | undefined;
  aliveSocket?: unknown;
}

/**
 * Is that process out of reach of our pids: on another host, or in another PID namespace of this one (both
 * known)? Then only its lease (its file's time) can say it lives.
 */
export function elsewhere(owner: Pick<OwnerId, 'host' | 'pidNs'>): boolean {
  if (owner.host !== hostname()) return true;
  const ours = pidNamespace();
  return typeof owner.pidNs === 'string' && ours !== undefined && owner.pidNs !== ours;
}

/** How a message names where that process is. */
export function whereOwner(owner: Pick<OwnerId, 'host' | 'pidNs'>): string {
  return owner.host !== hostname() ? `on host ${JSON.stringify(owner.host)}` : `on this host in another PID namespace (${owner.pidNs ?? '?'})`;
}

/**
 * A live owner rewrites its state file (a replayer touches its lock) at least this often, even with nothing new to
 * say: the only sign of life another host can read (ARCHITECTURE.md §5.2).
 */
export const OWNER_HEARTBEAT_MS = 15_000;
/**
 * An owner on another host whose file was last written this long ago is gone. Twenty heartbeats: a slow disk, a
 * long GC pause, an event loop blocked for a minute or clocks a few seconds apart do not make a live owner look
 * gone (its stream would be re-sent and, once acknowledged, retention would delete its files under it).
 */
export const OWNER_LEASE_MS = 5 * 60_000;

/** When the file at `path` was last written (ms since the epoch, the file system's clock); undefined if unknown. */
export function writtenAt(path: string): number | undefined {
  try {
    return fs.lstatSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

/**
 * Is the process that wrote this state (or lock) still alive? `key` is what it would own if it were this process
 * (the stream id, or the lock's nonce). On this host: same pid as ours is this process only when a live processor
 * here owns `key`; otherwise it was an earlier process with the same pid (pid 1 in a container, restarted). Another
 * pid is alive when it exists, is no zombie, and, where both are known, started when the owner did (not a later
 * process that reused the pid). On another host, or in another PID namespace (`elsewhere`) — a shared directory, a container
 * beside this one under the same host name, or this container's predecessor, which had another host
 * name — no pid can be asked: the owner is alive while its file (`written`, see writtenAt) is fresher than
 * OWNER_LEASE_MS, and taken for alive when that is unknown.
 */
export function isOwnerAlive(state: OwnerId, key: string, written?: number): boolean {
  if (elsewhere(state)) {
    const seen = aliveBySocket(state, key);
    if (seen !== undefined) return seen;
    return written === undefined || Date.now() - written < OWNER_LEASE_MS;
  }
  // This pid: a processor of this process, in this thread (owned) or another one (its socket).
  if (state.pid === process.pid) return owned().has(key) || aliveBySocket(state, key) === true;
  const stat = procStat(state.pid);
  // A zombie (Z) or a dying process (X) has ended: it writes nothing more, though signal 0 still reaches it
  // until its parent reaps it (a parent that never does: a shell's `exec`, an init that does not reap).
  if (stat !== undefined && (stat[0] === 'Z' || stat[0] === 'X')) return false;
  if (typeof state.procStart === 'string') {
    const now = stat?.[19];
    if (now !== undefined && now !== state.procStart) return false;
  }
  try {
    process.kill(state.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Claims the right to replay an orphaned stream: a lock file holding our pid and a nonce, created atomically
 * complete (written to a temp file, then link(2)ed into place: it exists whole or not at all). A lock whose
 * holder died is taken over by renaming it away and checking that what was renamed is the very lock that
 * was judged stale — so two processes never both end up holding the claim. Returns a release function, or
 * undefined when another live process holds it.
 */
export function claimReplay(dir: string, streamId: string): (() => void) | undefined {
  ensureDirs(dir);
  return claimLockFile(lockPath(dir, streamId));
}

/**
 * The lock file at `path`, claimed as claimReplay claims a stream's (its doc comment): created whole, a dead or
 * (another host's, by its lease) silent holder's taken over by rename-and-check, released only while it is still
 * ours. A holder on another host or PID namespace is alive while it renews the lock (touchLockFile) within
 * OWNER_LEASE_MS. Returns the release, or undefined when a live holder has it.
 */
export function claimLockFile(path: string): (() => void) | undefined {
  const nonce = randomBytes(8).toString('hex');
  const procStart = procStartTime(process.pid);
  const pidNs = pidNamespace();
  const mine = JSON.stringify({ pid: process.pid, host: hostname(), nonce, ...(procStart !== undefined ? { procStart } : {}), ...(pidNs !== undefined ? { pidNs } : {}) });
  const tmp = `${path}.${process.pid}.${randomBytes(12).toString('hex')}.tmp`;
  writeExclusive(tmp, mine); // a lock need not survive a power cut: its holder would not either
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        fs.linkSync(tmp, path);
        own(nonce);
        return () => {
          disown(nonce);
          // Release only our own lock (not one a takeover put in its place).
          try {
            if (readLock(path) === mine) fs.rmSync(path, { force: true });
          } catch {
            /* already gone */
          }
        };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      let text: string;
      try {
        text = readLock(path);
      } catch {
        continue; // released meanwhile: try again
      }
      let holder: (OwnerId & { nonce?: string }) | undefined;
      try {
        holder = JSON.parse(text) as OwnerId & { nonce?: string };
      } catch {
        holder = undefined; // never torn (created whole), but be safe: unreadable counts as stale
      }
      if (holder !== undefined && isOwnerAlive(holder, String(holder.nonce), writtenAt(path))) return undefined;
      // Take over: move the stale lock aside, then make sure it was the one we read (not a fresh one).
      const aside = `${path}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
      try {
        fs.renameSync(path, aside);
      } catch {
        continue; // someone else moved it: retry the whole claim
      }
      const moved = readLock(aside);
      if (moved !== text) {
        // We moved a fresh lock of a live claimant: put it back if its place is still free, and yield.
        try {
          fs.linkSync(aside, path);
        } catch {
          /* its owner will find its lock gone on release; it still holds the claim it made */
        }
        fs.rmSync(aside, { force: true });
        return undefined;
      }
      fs.rmSync(aside, { force: true });
    }
    return undefined;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** Who holds the replay claim of a stream, and when its lock was last renewed; undefined when none can be read. */
export function claimHolder(dir: string, streamId: string): { host: string; pidNs?: string; written: number } | undefined {
  const path = lockPath(dir, streamId);
  try {
    const holder = JSON.parse(readLock(path)) as { host?: unknown; pidNs?: unknown };
    const written = writtenAt(path);
    if (typeof holder.host !== 'string' || written === undefined) return undefined;
    return { host: holder.host, ...(typeof holder.pidNs === 'string' ? { pidNs: holder.pidNs } : {}), written };
  } catch {
    return undefined;
  }
}

/** Renews a claim's lease (its lock's time), so that a replayer on another host does not take it for stale. */
export function touchClaim(dir: string, streamId: string): void {
  touchLockFile(lockPath(dir, streamId));
}

/** Renews a lock's lease (claimLockFile): its time, which a holder elsewhere is judged alive by. */
export function touchLockFile(path: string): void {
  const now = new Date();
  try {
    fs.lutimesSync(path, now, now);
  } catch {
    /* gone or unwritable: the lock then looks stale to another host after the lease */
  }
}

/**
 * A lock's content, read by name without following a link or blocking on a FIFO planted there (O_NOFOLLOW |
 * O_NONBLOCK; an empty read counts as a stale lock). Only a liveness claim, so no owner check: what matters is
 * never to follow or hang. (@types/node declares only string flags; Node takes numeric ones.)
 */
const LOCK_READ_FLAG = (fs.constants.O_RDONLY | O_NOFOLLOW | O_NONBLOCK) as unknown as string;
export const readLock = (path: string): string => fs.readFileSync(path, { encoding: 'utf8', flag: LOCK_READ_FLAG });
