/**
 * The local journal (ARCHITECTURE.md §4): append-only OTLP/JSON lines in size-rotated segments, one writer per stream
 * so processes sharing a directory never interleave. Also the spool: what the collector has not acknowledged
 * is read back from here, located through a small in-memory line index (no re-parsing of JSON).
 *
 * Durability: `writeSync` (fsync policy `always`) returns after write(2)+fsync(2). `write` (policies `batch`
 * and `off`) is a group commit: everything queued while one write+fsync is in flight goes out together in
 * the next one, so under load the cost of fsync is shared by all records that waited for it. A failed write
 * is truncated back to the last whole line so a later line never lands after a fragment. A new segment's
 * directory entry is made durable too (the directory is fsynced after the create, unless the policy is `off`):
 * an fsynced file whose name did not survive a power cut is lost all the same.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { fsyncDir, O_NOFOLLOW } from './durable.js';
import { FILE_MODE, ensureDirs, prepareAuditDir, segmentName } from './files.js';

export type FsyncPolicy = 'always' | 'batch' | 'off';

const NEWLINE = Buffer.from('\n');
/** Buffers per writev(2) call, under IOV_MAX (1024 on Linux): two per line. */
const MAX_IOV = 512;

export interface JournalOptions {
  dir: string;
  streamId: string;
  maxFileBytes: number;
  fsync: FsyncPolicy;
  /**
   * Runs before each segment file of the stream is created, and throws to refuse it: that write then fails like
   * any other (the delivery stage makes sure the stream's state file, which names its live owner, exists first:
   * at the first segment, and in a directory re-created after it was removed underneath).
   */
  beforeSegment?: () => void;
}

/** One line to append: UTF-8 OTLP/JSON without the newline, and the sequence numbers it holds. */
export interface JournalLine {
  bytes: Buffer;
  first: number;
  last: number;
}

/** Where each line of a segment is and which sequence numbers it holds: 4 doubles per line. */
export class LineIndex {
  length = 0;
  private d = new Float64Array(4 * 64);

  push(start: number, end: number, first: number, last: number): void {
    if ((this.length + 1) * 4 > this.d.length) {
      const n = new Float64Array(this.d.length * 2);
      n.set(this.d);
      this.d = n;
    }
    const o = this.length++ * 4;
    this.d[o] = start;
    this.d[o + 1] = end;
    this.d[o + 2] = first;
    this.d[o + 3] = last;
  }

  start(i: number): number {
    return this.d[i * 4]!;
  }
  end(i: number): number {
    return this.d[i * 4 + 1]!;
  }
  first(i: number): number {
    return this.d[i * 4 + 2]!;
  }
  last(i: number): number {
    return this.d[i * 4 + 3]!;
  }

  /** Index of the first line whose last sequence number is >= seq, or `length` when none. */
  find(seq: number): number {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.last(mid) < seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

export interface SegmentInfo {
  readonly path: string;
  /** First and last sequence numbers written to it (0 when none yet). */
  first: number;
  last: number;
  /** Bytes of whole lines written (and, with fsync, synced) to it. */
  bytes: number;
  readonly lines: LineIndex;
}

interface Pending {
  lines: JournalLine[];
  /** Their bytes in the file, newlines included (counted in `unwritten` until written or given up). */
  bytes: number;
  resolve: () => void;
  reject: (e: Error) => void;
}

export class JournalWriter {
  /** This writer's segments still on disk, oldest first (retention's deletions are forgotten: `forget`). */
  private segs: SegmentInfo[] = [];
  /** Highest sequence number whose line is in the file (written; fsynced or not). */
  private written = 0;
  /**
   * Highest sequence number of a line queued or written: the journal only appends after it, so that its files and
   * line indexes stay in sequence order. A line whose write failed is not written later, behind newer ones.
   */
  private sequenced = 0;
  private fd = -1;
  /** The segment syncBeforeRotation fsynced for its rotation, at this size: nextRun then closes it without another. */
  private syncedForRotation: SegmentInfo | undefined;
  private syncedBytes = 0;
  private segmentNo = 0;
  private queue: Pending[] = [];
  /** Bytes of the lines queued or in flight, not yet in the file (the disk bound counts them: deliver/spool.ts). */
  private unwritten = 0;
  /** The lines the running drain took and the first of them not yet in the file (`unwrittenAfter`). */
  private draining: readonly JournalLine[] = [];
  private drainingFrom = 0;
  private writing = false;
  private idleWrites: Promise<void> = Promise.resolve();
  private idleResolve: (() => void) | undefined;
  private closed = false;
  /** The run an async writev is writing right now: on the exit path, did it land? */
  private inflight: { fd: number; start: number; size: number; lines: readonly JournalLine[]; i: number; j: number; sizes: number[] } | undefined;

  /** Checks OTEL_AUDIT_DIR at start-up (prepareAuditDir): throws AuditConfigError when it is not safe to write. */
  constructor(private readonly options: JournalOptions) {
    prepareAuditDir(options.dir);
  }

  get segments(): readonly SegmentInfo[] {
    return this.segs;
  }

  get current(): SegmentInfo | undefined {
    return this.segs[this.segs.length - 1];
  }

  /** Only lines of records after this one may be appended (`sequenced`). */
  get sequencedUpTo(): number {
    return this.sequenced;
  }

  /** Is the line starting at sequence number `first` in one of the segments? */
  holds(first: number): boolean {
    for (let k = this.segs.length - 1; k >= 0; k--) {
      const seg = this.segs[k]!;
      if (seg.lines.length === 0 || first > seg.last) continue;
      const i = seg.lines.find(first);
      if (i < seg.lines.length && seg.lines.first(i) === first) return true;
    }
    return false;
  }

  /** Claims the lines' place in sequence order, or throws when one is not after every line before it. */
  private sequence(lines: readonly JournalLine[]): void {
    let after = this.sequenced;
    for (const l of lines) {
      if (l.first <= after) throw new Error(`journal: records ${l.first}–${l.last} would land out of sequence order (after ${after})`);
      after = l.last;
    }
    this.sequenced = after;
  }

  /**
   * Retention deleted this closed segment: its entry and line index go (a long-running process would otherwise keep
   * one of each per segment ever written). A new array, so a read-back walking the old one is not disturbed.
   */
  forget(path: string): void {
    const cur = this.current;
    this.segs = this.segs.filter((s) => s.path !== path || s === cur);
  }

  private openNext(): void {
    ensureDirs(this.options.dir);
    this.options.beforeSegment?.();
    this.segmentNo++;
    const path = join(this.options.dir, segmentName(this.options.streamId, this.segmentNo));
    // O_EXCL: a segment name is never reused, even across a crash and restart (new stream id anyway), and
    // nothing planted under it (a link, a FIFO) is ever opened; O_NOFOLLOW says so explicitly.
    const C = fs.constants;
    const fd = fs.openSync(path, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_APPEND | O_NOFOLLOW, FILE_MODE);
    try {
      // The new name must survive a power cut before any record in it is reported durable.
      if (this.options.fsync !== 'off') fsyncDir(this.options.dir);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
    this.fd = fd;
    this.segs.push({ path, first: 0, last: 0, bytes: 0, lines: new LineIndex() });
  }

  /** Makes sure the current segment can take `len` more bytes (a line larger than a segment gets one alone). */
  private rotateIfNeeded(len: number): void {
    const cur = this.current;
    if (this.fd < 0 || cur === undefined) return this.openNext();
    if (this.rotationDue(cur, len)) {
      // Synced by syncBeforeRotation when nothing was written since; else now (the synchronous writers).
      if (this.syncedForRotation !== cur || this.syncedBytes !== cur.bytes) fs.fsyncSync(this.fd);
      fs.closeSync(this.fd);
      this.fd = -1;
      this.openNext();
    }
  }

  private rotationDue(cur: SegmentInfo, len: number): boolean {
    return cur.bytes > 0 && cur.bytes + len > this.options.maxFileBytes;
  }

  /**
   * The group commit's part of a rotation: the full segment's fsync, off the app's thread, before nextRun closes it
   * (found in a profile under load: a 12 ms fsyncSync on the main thread at each rotation, more on a busy disk).
   * The exit path (writeOnExit) may write and rotate while this waits: then it has synced the segment itself.
   */
  private async syncBeforeRotation(len: number): Promise<void> {
    const cur = this.current;
    if (this.fd < 0 || cur === undefined || !this.rotationDue(cur, len)) return;
    const bytes = cur.bytes;
    await this.syncCurrent();
    if (this.current === cur && cur.bytes === bytes) {
      this.syncedForRotation = cur;
      this.syncedBytes = bytes;
    }
  }

  /**
   * The next run of `lines` from `i` that fits the current segment (rotating first if needed; a line larger
   * than a segment gets one alone), as the buffers to append: each line and its newline, gathered by
   * writev(2) rather than copied into one buffer (the lines are already in memory once; a copy of every
   * record also meant fresh pages, and page faults, on the application's thread).
   */
  private nextRun(lines: readonly JournalLine[], i: number): { j: number; parts: Buffer[]; size: number; sizes: number[] } {
    this.rotateIfNeeded(lines[i]!.bytes.length + 1);
    const cur = this.current!;
    let j = i;
    let size = 0;
    const sizes: number[] = [];
    const parts: Buffer[] = [];
    while (j < lines.length && parts.length < MAX_IOV) {
      const len = lines[j]!.bytes.length + 1;
      if (j > i && cur.bytes + size + len > this.options.maxFileBytes) break;
      sizes.push(len);
      size += len;
      parts.push(lines[j]!.bytes, NEWLINE);
      j++;
    }
    return { j, parts, size, sizes };
  }

  /** Records lines [i, j) as written to the current segment. */
  private commitRun(lines: readonly JournalLine[], i: number, j: number, sizes: readonly number[]): void {
    const cur = this.current!;
    let off = cur.bytes;
    for (let k = i; k < j; k++) {
      const l = lines[k]!;
      const len = sizes[k - i]!;
      cur.lines.push(off, off + len, l.first, l.last);
      off += len;
      if (cur.first === 0) cur.first = l.first;
      cur.last = Math.max(cur.last, l.last);
      this.written = Math.max(this.written, l.last);
    }
    cur.bytes = off;
  }

  /**
   * A segment whose directory entry is gone (directory removed underneath) would swallow writes: start a
   * fresh segment (recreating the directory). What was in the old one is reported when it is needed.
   */
  private reopenIfUnlinked(): void {
    if (this.fd < 0) return;
    let gone: boolean;
    try {
      gone = fs.fstatSync(this.fd).nlink === 0;
    } catch {
      gone = true;
    }
    if (!gone) return;
    try {
      fs.closeSync(this.fd);
    } catch {
      /* already unusable */
    }
    this.fd = -1; // the next write opens a new segment
  }

  /** Cut a partial line so the next append starts on a line boundary. */
  private repair(): void {
    const cur = this.current;
    if (cur === undefined || this.fd < 0) return;
    try {
      fs.ftruncateSync(this.fd, cur.bytes);
    } catch {
      /* the next start-up finds and sets aside the torn tail */
    }
  }

  /** No write of `write` is queued or in flight: a line appended now lands after every line written before it. */
  get idle(): boolean {
    return !this.writing && this.queue.length === 0;
  }

  /**
   * Appends lines and fsyncs (unless the policy is `off`) before returning. Throws on I/O error, and when writes
   * of `write` are still queued or in flight (check `idle`): appended now, these lines would land before them,
   * out of sequence order in the file and in the line index.
   */
  writeSync(lines: readonly JournalLine[], fsync = true): void {
    if (!this.idle) throw new Error('journal: a synchronous write while queued writes are pending would reorder the journal');
    this.appendSync(lines, fsync);
  }

  /**
   * fsync of the segment written now, off the thread (after `writeSync(lines, false)`). A segment closed since by
   * rotation was fsynced then.
   */
  fsyncAsync(): Promise<void> {
    if (this.closed || this.fd < 0 || this.options.fsync === 'off') return Promise.resolve();
    return this.syncCurrent();
  }

  /** fsync of the current segment, off the thread, whatever the policy (the caller decides). */
  private syncCurrent(): Promise<void> {
    const segment = this.current;
    // A segment rotated (or the journal closed) meanwhile was fsynced then, and its fd closed (its number perhaps
    // reused by the next segment: the segment, not the number, tells): an error there is no failure of these lines
    // (found in review: a false "journal write failed", and write-through fell back to group commits).
    return fsyncAsync(this.fd).catch((e: unknown) => {
      if (segment !== this.current || this.closed) return;
      throw e;
    });
  }

  private appendSync(lines: readonly JournalLine[], fsync = true): void {
    if (this.closed) throw new Error('journal is closed');
    this.sequence(lines);
    this.reopenIfUnlinked();
    for (let i = 0; i < lines.length; ) {
      const { j, parts, size, sizes } = this.nextRun(lines, i);
      try {
        // After a short write (rare on a regular file), the rest, from where it stopped.
        let done = 0;
        while (done < size) done += fs.writevSync(this.fd, rest(parts, done));
        if (fsync && this.options.fsync !== 'off') fs.fsyncSync(this.fd);
      } catch (e) {
        this.repair();
        throw e;
      }
      this.commitRun(lines, i, j, sizes);
      i = j;
    }
  }

  /** Queues lines; resolves once they are written (and fsynced, unless the policy is `off`). */
  write(lines: JournalLine[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('journal is closed'));
    try {
      this.sequence(lines);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    let bytes = 0;
    for (const l of lines) bytes += l.bytes.length + 1;
    this.unwritten += bytes;
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ lines, bytes, resolve, reject });
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    this.idleWrites = new Promise((r) => (this.idleResolve = r));
    while (this.queue.length > 0) {
      const group = this.queue;
      this.queue = [];
      this.reopenIfUnlinked();
      const lines = group.length === 1 ? group[0]!.lines : group.flatMap((g) => g.lines);
      let left = 0;
      for (const g of group) left += g.bytes;
      this.draining = lines;
      this.drainingFrom = 0;
      try {
        for (let i = 0; i < lines.length; ) {
          await this.syncBeforeRotation(lines[i]!.bytes.length + 1);
          const { j, parts, size, sizes } = this.nextRun(lines, i);
          this.inflight = { fd: this.fd, start: this.current!.bytes, size, lines, i, j, sizes };
          try {
            let done = 0;
            while (done < size) done += await writevAsync(this.fd, rest(parts, done));
          } catch (e) {
            this.repair();
            throw e;
          } finally {
            this.inflight = undefined;
          }
          this.commitRun(lines, i, j, sizes);
          this.unwritten -= size;
          left -= size;
          i = this.drainingFrom = j;
        }
        if (this.options.fsync !== 'off') await fsyncAsync(this.fd);
        for (const g of group) g.resolve();
      } catch (e) {
        for (const g of group) g.reject(e as Error);
      } finally {
        this.unwritten -= left; // the lines a failed write left out: in memory, not on their way to the file
        this.draining = [];
      }
    }
    this.writing = false;
    this.idleResolve?.();
  }

  /** Bytes of lines queued or in flight, not yet in the file. */
  get unwrittenBytes(): number {
    return this.unwritten;
  }

  /**
   * The same, of the lines that hold a record after `acked` only: the collector may acknowledge a line before the
   * journal has written it (export does not wait for the write), and such bytes are not owed to the disk bound.
   */
  unwrittenAfter(acked: number): number {
    let bytes = 0;
    for (let i = this.drainingFrom; i < this.draining.length; i++) if (this.draining[i]!.last > acked) bytes += this.draining[i]!.bytes.length + 1;
    for (const g of this.queue) for (const l of g.lines) if (l.last > acked) bytes += l.bytes.length + 1;
    return bytes;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * The process is exiting (no event loop any more, ARCHITECTURE.md §5.6): makes the given lines durable now,
   * synchronously, except those already in the file. A run an async writev had in flight is waited for (up to
   * `waitMillis`) and counted when it landed; a fragment of it is cut back to the last whole line. Only a run
   * that lands after the wait can be in the file twice (an identical duplicate, which verify reports as info).
   * Returns the lines it could not write: neither in the file nor appendable in sequence order (their own write
   * failed earlier and later lines are in the file after them). Throws on I/O error.
   */
  writeOnExit(lines: readonly JournalLine[], waitMillis = 1000): JournalLine[] {
    if (this.closed) throw new Error('journal is closed');
    const f = this.inflight;
    if (f !== undefined && f.fd === this.fd) {
      const want = f.start + f.size;
      const deadline = Date.now() + waitMillis;
      let size = fs.fstatSync(this.fd).size;
      while (size < want && Date.now() < deadline) {
        sleepSync(1);
        size = fs.fstatSync(this.fd).size;
      }
      if (size >= want) this.commitRun(f.lines, f.i, f.j, f.sizes);
      else if (size > f.start) fs.ftruncateSync(this.fd, f.start);
      this.inflight = undefined;
    }
    // No queued write will run any more: from here on only what is in the file is sequenced.
    const written = (this.sequenced = this.written);
    this.unwritten = 0;
    const todo = lines.filter((l) => l.first > written);
    const missed = lines.filter((l) => l.first <= written && !this.holds(l.first));
    if (todo.length > 0) this.appendSync(todo);
    else if (this.fd >= 0 && this.options.fsync !== 'off') fs.fsyncSync(this.fd); // the group's fsync may not have run
    return missed;
  }

  /** Waits for queued writes, fsyncs and closes. Idempotent. */
  async close(): Promise<void> {
    if (this.writing) await this.idleWrites;
    if (this.closed) return;
    this.closed = true;
    if (this.fd >= 0) {
      try {
        fs.fsyncSync(this.fd);
      } finally {
        fs.closeSync(this.fd);
        this.fd = -1;
      }
    }
  }
}

/** Blocks the thread for `ms` (the exit path has no event loop to wait on). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function writevAsync(fd: number, parts: readonly Buffer[]): Promise<number> {
  return new Promise((resolve, reject) => fs.writev(fd, parts, (err, n) => (err ? reject(err) : resolve(n))));
}

/** What is left of `parts` after the first `skip` bytes (after a short writev). Exported for its test. */
export function rest(parts: readonly Buffer[], skip: number): readonly Buffer[] {
  if (skip === 0) return parts;
  const out: Buffer[] = [];
  for (const p of parts) {
    if (skip >= p.length) {
      skip -= p.length;
      continue;
    }
    out.push(skip > 0 ? p.subarray(skip) : p);
    skip = 0;
  }
  return out;
}

function fsyncAsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));
}
