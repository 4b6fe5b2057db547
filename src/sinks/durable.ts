/**
 * Every file system primitive otel-audit writes OTEL_AUDIT_DIR with: safe against planted names, durable
 * against power loss.
 *
 * Safe: nothing inside the directory is ever followed or trusted by name. Files are opened with O_NOFOLLOW
 * (and O_NONBLOCK, so a FIFO planted under a file's name cannot hang the process), and what was opened is
 * checked with fstat: a regular file, owned by this process's euid, and — where we write to it — with a single
 * link, so a hard link to a file elsewhere is never written through. New files are created exclusively
 * (O_CREAT|O_EXCL|O_NOFOLLOW, 0600); temp files get unpredictable names. Directories must be ours and not
 * writable by group or others (as sshd's StrictModes); we create them 0700. Anything else is refused with an
 * AuditConfigError that names the path and the fix.
 *
 * Durable (ARCHITECTURE.md §5.7): a file's content is fsynced before it is renamed into place or relied on, and
 * the parent directory is fsynced after an entry is created or renamed in it — on file systems that drop unsynced
 * writes at a power cut, a rename or a new file is otherwise lost, or survives pointing at empty data.
 */
import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { AuditConfigError } from '../core/errors.js';

export const FILE_MODE = 0o600;
export const DIR_MODE = 0o700;

const C = fs.constants;
// Absent on Windows (0 there): the fstat/lstat checks still apply.
export const O_NOFOLLOW: number = C.O_NOFOLLOW ?? 0;
export const O_NONBLOCK: number = C.O_NONBLOCK ?? 0;
const O_DIRECTORY: number = C.O_DIRECTORY ?? 0;

const errCode = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | undefined)?.code;

/** The effective uid files and directories must belong to; undefined where there is none (Windows). */
const euid = (): number | undefined => process.geteuid?.();

function kindOf(st: fs.Stats): string {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device node';
  if (st.isDirectory()) return 'a directory';
  if (st.isFile()) return 'a regular file';
  return 'an unknown kind of file';
}

const refuse = (path: string, what: string, fix: string): AuditConfigError =>
  new AuditConfigError(`otel-audit: unsafe OTEL_AUDIT_DIR, refusing to use ${path}: ${what}. Fix: ${fix}`);

const removeFix = (path: string): string => `remove it (rm ${path}) — otel-audit never follows or writes through it`;

/**
 * The advice for the configured OTEL_AUDIT_DIR itself: it may be a directory the variable merely names by mistake
 * (/tmp, a home directory, a file), so the first fix is a directory of its own, which otel-audit creates 0700.
 * A chmod/chown of it (`local`) is offered only when it holds nothing but what otel-audit writes there.
 */
function topFix(path: string, local: string | undefined): string {
  const child = join(path, 'otel-audit');
  const me = euid();
  // Offered as one otel-audit creates only where this process may create it (a root-owned 0755 app directory, the
  // app running as another user, may not: the advice followed then failed with EACCES).
  const own = canWriteIn(path)
    ? `point OTEL_AUDIT_DIR at a directory of its own, e.g. ${child} (otel-audit creates it, mode 0700)`
    : `point OTEL_AUDIT_DIR at a directory of its own that this user owns or can create (this process cannot create one in ${path}; as root: mkdir -m 700 ${child} && chown ${me ?? '<user>'} ${child})`;
  return local !== undefined && holdsOnlyOurs(path) ? `${own}; or, as ${path} holds nothing but otel-audit's files, ${local}` : own;
}

/** Can this process create entries in the directory (write and search permission)? */
export function canWriteIn(path: string): boolean {
  try {
    fs.accessSync(path, fs.constants.W_OK | fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Names otel-audit creates directly in OTEL_AUDIT_DIR. */
const OUR_TOP_NAME = /^(state|quarantine|rejected|audit-[^/]*\.jsonl)$/;

/** True if the directory is empty or holds only names otel-audit creates (false when it cannot be read). */
function holdsOnlyOurs(path: string): boolean {
  try {
    return fs.readdirSync(path).every((n) => OUR_TOP_NAME.test(n));
  } catch {
    return false;
  }
}

/**
 * A directory otel-audit may write in: a real directory (a symbolic link only for OTEL_AUDIT_DIR itself, when
 * `top`, and only one owned by us or root), owned by our euid, not writable by group or others. The fix a refusal
 * names is a chmod/chown/rm only for what otel-audit creates; for OTEL_AUDIT_DIR itself, a directory of its own.
 */
export function checkDir(path: string, { top = false }: { top?: boolean } = {}): void {
  let st = fs.lstatSync(path);
  if (st.isSymbolicLink()) {
    const me = euid();
    // The operator may point OTEL_AUDIT_DIR at another place; a link someone else made there may not.
    if (!top) throw refuse(path, 'it is a symbolic link, where a directory of otel-audit is expected', removeFix(path));
    if (me !== undefined && st.uid !== me && st.uid !== 0)
      throw refuse(
        path,
        `it is a symbolic link owned by uid ${st.uid}, not by this process (euid ${me}) or root`,
        'point OTEL_AUDIT_DIR at the real directory (or at a new directory of its own, which otel-audit creates 0700)',
      );
    st = fs.statSync(path);
  }
  if (!st.isDirectory()) {
    throw refuse(
      path,
      `it is ${kindOf(st)}, where a directory is expected`,
      top ? 'point OTEL_AUDIT_DIR at a directory of its own (a path that does not exist yet is created, mode 0700)' : removeFix(path),
    );
  }
  const me = euid();
  if (me !== undefined && st.uid !== me) {
    const local = `chown ${me} ${path} (or run as its owner), then chmod 700 ${path}`;
    throw refuse(
      path,
      `the directory is owned by uid ${st.uid}, not by this process (euid ${me}); its owner could replace any audit file in it`,
      top ? topFix(path, local) : local,
    );
  }
  if (process.platform !== 'win32' && (st.mode & 0o022) !== 0) {
    const local = `chmod 700 ${path}`;
    throw refuse(
      path,
      `the directory is writable by group or others (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}); ` +
        'they could plant links or files under the names otel-audit writes',
      top ? topFix(path, local) : local,
    );
  }
}

/**
 * A file otel-audit may read or write: a regular file owned by our euid; with `singleLink`, also its only
 * name (st_nlink 1), so that writing or truncating it cannot reach a file elsewhere through a hard link.
 */
export function checkFile(path: string, st: fs.Stats, { singleLink }: { singleLink: boolean }): void {
  if (!st.isFile()) throw refuse(path, `it is ${kindOf(st)}, where a regular file of otel-audit is expected`, removeFix(path));
  const me = euid();
  if (me !== undefined && st.uid !== me) throw refuse(path, `the file is owned by uid ${st.uid}, not by this process (euid ${me})`, removeFix(path));
  if (singleLink && st.nlink > 1)
    throw refuse(path, `the file has ${st.nlink} hard links (another name, maybe outside OTEL_AUDIT_DIR, points at the same data)`, removeFix(path));
}

/**
 * Opens an existing file without following a symbolic link or blocking on a FIFO, and checks what was opened
 * (`checkFile`) — the object, not the name. Throws AuditConfigError for anything else.
 */
export function openChecked(path: string, flags: number, { singleLink }: { singleLink: boolean }): number {
  let fd: number;
  try {
    fd = fs.openSync(path, flags | O_NOFOLLOW | O_NONBLOCK);
  } catch (e) {
    // ELOOP: O_NOFOLLOW met a symbolic link. ENXIO: a FIFO or socket with no reader, opened for writing.
    if (errCode(e) === 'ELOOP') throw refuse(path, 'it is a symbolic link, where a regular file of otel-audit is expected', removeFix(path));
    if (errCode(e) === 'ENXIO') throw refuse(path, 'it is a FIFO or socket, where a regular file of otel-audit is expected', removeFix(path));
    throw e;
  }
  try {
    checkFile(path, fs.fstatSync(fd), { singleLink });
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
  return fd;
}

/** The whole content of a file opened with `openChecked` (reading: extra hard links do no harm). */
export function readChecked(path: string): Buffer {
  const fd = openChecked(path, C.O_RDONLY, { singleLink: false });
  try {
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Open flags of a new file: never an existing name, never through a link. */
const EXCLUSIVE = C.O_WRONLY | C.O_CREAT | C.O_EXCL | O_NOFOLLOW;

/** Creates a new file exclusively: never an existing name, never through a link. Returns its fd. */
export function createExclusive(path: string, mode: number = FILE_MODE): number {
  return fs.openSync(path, EXCLUSIVE, mode);
}

function writeAll(fd: number, data: Uint8Array): void {
  for (let done = 0; done < data.length; ) done += fs.writeSync(fd, data, done, data.length - done);
}

const bytesOf = (data: Uint8Array | string): Uint8Array => (typeof data === 'string' ? Buffer.from(data) : data);

/**
 * fsync(2) of a directory, so that entries created, renamed or removed in it survive a power cut. Where the
 * platform or file system cannot sync a directory at all (Windows, EINVAL), there is nothing more to do.
 */
export function fsyncDir(path: string): void {
  if (process.platform === 'win32') return;
  let fd: number;
  try {
    fd = fs.openSync(path, C.O_RDONLY | O_DIRECTORY);
  } catch (e) {
    if (errCode(e) === 'EACCES') return; // a directory we may write but not read (mode -wx): cannot be opened to sync
    throw e;
  }
  try {
    fs.fsyncSync(fd);
  } catch (e) {
    if (!cannotSyncDir(e)) throw e;
  } finally {
    fs.closeSync(fd);
  }
}

/** The file system cannot sync a directory at all: nothing more to do. */
const cannotSyncDir = (e: unknown): boolean => errCode(e) === 'EINVAL' || errCode(e) === 'ENOTSUP';

/**
 * mkdir 0700, parents first; fsyncs the parent of each directory it created. True if `path` was created.
 * After ENOENT it creates the missing parents and tries once more: ENOENT again means the parent exists but takes
 * no new directories (a virtual file system such as /proc), and is thrown as one error naming the directory and
 * the errno, instead of recursing until the stack overflows.
 */
export function mkdirDurable(path: string): boolean {
  try {
    fs.mkdirSync(path, { mode: DIR_MODE });
  } catch (e) {
    if (errCode(e) === 'EEXIST') return false;
    if (errCode(e) !== 'ENOENT' || dirname(path) === path) throw e;
    mkdirDurable(dirname(path));
    try {
      fs.mkdirSync(path, { mode: DIR_MODE });
    } catch (again) {
      if (errCode(again) === 'EEXIST') return false; // made meanwhile by another process
      if (errCode(again) !== 'ENOENT') throw again;
      throw new Error(
        `ENOENT: cannot create the directory ${path}: its parent ${dirname(path)} exists but takes no new directories (a virtual or special file system?); choose a directory on a writable file system`,
        { cause: again },
      );
    }
  }
  fsyncDir(dirname(path));
  return true;
}

/**
 * Makes sure `path` is a directory otel-audit may write in (`checkDir`), creating it (0700, durably) when
 * missing. `top`: it is OTEL_AUDIT_DIR itself (which may be a link placed by the operator). True if created.
 */
export function ensureDir(path: string, opts: { top?: boolean } = {}): boolean {
  const created = mkdirDurable(path);
  checkDir(path, opts);
  return created;
}

/**
 * Durable create: a new file (0600) holding `data`, whole or not at all (durableCreateNew: written and fsynced
 * under a temporary name, then linked to its own), its directory fsynced. If the name exists, a random suffix is
 * put before `ext` rather than touching what is there. Returns the path.
 *
 * Whole or not at all: a file written under its own name and cut by a crash (SIGKILL while a large batch was
 * set aside in rejected/) stayed there torn, and verify reported it TORN on every run after.
 */
export function durableCreateUnique(dir: string, stem: string, ext: string, data: Uint8Array | string): string {
  const bytes = bytesOf(data);
  for (let attempt = 0; ; attempt++) {
    const path = join(dir, attempt === 0 ? `${stem}${ext}` : `${stem}.${randomBytes(6).toString('hex')}${ext}`);
    try {
      durableCreateNew(path, bytes, FILE_MODE);
      return path;
    } catch (e) {
      if (errCode(e) === 'EEXIST' && attempt < 8) continue;
      throw e;
    }
  }
}

/**
 * Durable replace: `data` goes to a temp file with an unpredictable name (created exclusively, 0600), which is
 * fsynced, renamed over `path` (rename replaces the name: never writes through a link planted there), and the
 * directory is fsynced. After a crash `path` holds the old content or the new one, whole. `sync: false`
 * (fsync policy off) skips both fsyncs, keeping the atomicity.
 */
export function durableReplace(path: string, data: Uint8Array | string, { sync = true }: { sync?: boolean } = {}): void {
  const tmp = `${path}.${randomBytes(12).toString('hex')}.tmp`;
  const fd = createExclusive(tmp);
  try {
    try {
      writeAll(fd, bytesOf(data));
      if (sync) fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, path);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  if (sync) fsyncDir(dirname(path));
}

/**
 * `durableReplace` with its writes and fsyncs off the thread (the libuv pool): for saves a caller should not wait
 * on. The rename stays synchronous and is made only while `current()` holds, so that a newer content written
 * meanwhile by `durableReplace` is never replaced by this older one. False when it was not made (the temporary file
 * removed).
 */
export async function durableReplaceAsync(path: string, data: Uint8Array | string, current: () => boolean): Promise<boolean> {
  const tmp = `${path}.${randomBytes(12).toString('hex')}.tmp`;
  const fh = await fs.promises.open(tmp, EXCLUSIVE, FILE_MODE);
  try {
    try {
      await fh.writeFile(bytesOf(data));
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (!current()) {
      await fs.promises.rm(tmp, { force: true });
      return false;
    }
    fs.renameSync(tmp, path);
  } catch (e) {
    await fs.promises.rm(tmp, { force: true });
    throw e;
  }
  if (process.platform !== 'win32') {
    const dir = await fs.promises.open(dirname(path), C.O_RDONLY | O_DIRECTORY).catch(() => undefined); // EACCES: see fsyncDir
    if (dir !== undefined) {
      try {
        await dir.sync();
      } catch (e) {
        if (!cannotSyncDir(e)) throw e;
      } finally {
        await dir.close();
      }
    }
  }
  return true;
}

/**
 * Durable create of a new name: `path` appears holding all of `data` with exactly `mode`, or not at all, and
 * never over an existing name (EEXIST). `data` is written and fsynced under an unpredictable temporary name
 * (exclusive; its mode set on the descriptor, whatever the umask, never through a path that could be swapped), then
 * linked to `path` — link(2) fails on an existing name where rename(2) would replace it — the temporary name removed
 * and the directory fsynced. A crash leaves at most a stray temporary file, never a partial `path`. Where the file
 * system has no hard links, the rename follows a check that `path` is free (a race there can only replace a file
 * created in that instant).
 */
export function durableCreateNew(path: string, data: Uint8Array | string, mode: number): void {
  const tmp = `${path}.${randomBytes(12).toString('hex')}.tmp`;
  const fd = createExclusive(tmp);
  try {
    try {
      fs.fchmodSync(fd, mode);
      writeAll(fd, bytesOf(data));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    try {
      fs.linkSync(tmp, path);
    } catch (e) {
      const code = errCode(e);
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw e;
      if (nameTaken(path)) throw Object.assign(new Error(`EEXIST: file already exists, '${path}'`), { code: 'EEXIST' });
      fs.renameSync(tmp, path);
    }
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  fsyncDir(dirname(path));
}

/** Is there an entry at `path`, of any kind (a dangling symbolic link included)? */
const nameTaken = (path: string): boolean => {
  try {
    fs.lstatSync(path);
    return true;
  } catch {
    return false;
  }
};

/**
 * Durable append: appends `data` to `path` (created exclusively when missing, else opened with the checks of
 * `openChecked`, single link), fsyncs it, and fsyncs the directory when the file was created. A failed append leaves
 * the file as it was.
 */
export function durableAppend(path: string, data: Uint8Array | string): void {
  let fd: number;
  let created = true;
  try {
    fd = fs.openSync(path, C.O_WRONLY | C.O_APPEND | C.O_CREAT | C.O_EXCL | O_NOFOLLOW, FILE_MODE);
  } catch (e) {
    if (errCode(e) !== 'EEXIST') throw e;
    created = false;
    fd = openChecked(path, C.O_WRONLY | C.O_APPEND, { singleLink: true });
  }
  try {
    const size = fs.fstatSync(fd).size;
    try {
      writeAll(fd, bytesOf(data));
      fs.fsyncSync(fd);
    } catch (e) {
      // A write that failed part-way (ENOSPC) must not leave a fragment: the next append would land on the same
      // line, and both entries would be unreadable. Cut back to the last whole line (as JournalWriter.repair does).
      try {
        fs.ftruncateSync(fd, size);
        fs.fsyncSync(fd);
      } catch {
        /* the error that matters is the write's */
      }
      throw e;
    }
  } finally {
    fs.closeSync(fd);
  }
  if (created) fsyncDir(dirname(path));
}

/** A fresh exclusive file holding `data` (no fsync: for files whose durability does not matter, e.g. locks). */
export function writeExclusive(path: string, data: Uint8Array | string): void {
  const fd = createExclusive(path);
  try {
    writeAll(fd, bytesOf(data));
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(path, { force: true });
    throw e;
  }
  fs.closeSync(fd);
}
