/**
 * Reads what is appended to one file, a complete line at a time, for `tail --follow`. Between reads it holds
 * its position, the bytes of an unfinished last line (a writer mid-line), so a line is handed on once, whole,
 * when its '\n' arrives, and the file open (as `tail -F` does): a file rotated by rename (a collector's file
 * exporter, logrotate) keeps being written under its new name until the writer reopens the path, and those last
 * lines are read from the held file before the new file at the path is read from its start. A file that shrank
 * (the journal cuts a torn last line on recovery) is re-read from the last complete line it still holds; so is
 * one rewritten in place (truncated and refilled past its old size between two polls, copytruncate-style), told
 * by the bytes before its position no longer being the ones read. The caller folds what it has already seen, or,
 * told by poll's `onRestart` before the first line read again, forgets it (retention-cuts.ts).
 *
 * At most MAX_HELD files are held open at once, those that grew (or were opened) last; another is reopened by its
 * name at its next poll only if it grew or was replaced (a rename in the meantime then costs what was appended to
 * it since its last read, which takeMissed() says).
 */
import type { BigIntStats } from 'node:fs';
import { stat, type FileHandle } from 'node:fs/promises';
import { MAX_LINE_BYTES, openRegularFile } from './safe-open.js';

const NL = 0x0a;
const CHUNK = 1 << 20;
/** Enough to tell a journal line from another: each ends with its records' ids and hashes. */
const MARK_BYTES = 64;
/** Files held open across polls, across every follower of the process: the ones that grew most recently. */
export const MAX_HELD = 64;
const held = new Set<FileFollower>();
/** Files read to their end under a name that then led to another file, by inode: where a follower of their new name starts. */
interface HandOff {
  consumed: number;
  lineNo: number;
  mark: Buffer | undefined;
  newlineDue: boolean;
}
const handedOff = new Map<string, HandOff>();
const MAX_HANDED_OFF = 256;
function handOff(inode: bigint, h: HandOff): void {
  if (handedOff.size >= MAX_HANDED_OFF) handedOff.delete(handedOff.keys().next().value!);
  handedOff.set(String(inode), h);
}
/** MAX_HELD, or fewer once an open ran out of file descriptors (ulimit -n below it). */
let cap = MAX_HELD;
/** Descriptors left free for the directory listing, the verifier's reads and the output, once the limit is known. */
const SPARE_DESCRIPTORS = 8;
let growth = 0;

export class FileFollower {
  /** Bytes of the file handed on as complete lines. */
  private consumed = 0;
  private lineNo = 0;
  private partial: Buffer[] = [];
  private partialBytes = 0;
  /** Inside a line longer than MAX_LINE_BYTES: dropped up to its '\n'. */
  private skipping = false;
  /** The file being read: its inode, and its handle while held open. */
  private inode: bigint | undefined;
  private fh: FileHandle | undefined;
  /** When it last grew (a process-wide count): the least recent one is closed first. */
  private grewAt = 0;
  /** Closed to stay within MAX_HELD (not drained and dropped): what it gets meanwhile is read by name. */
  private capClosed = false;
  private missed: 'gone' | 'rotated' | undefined;
  /** The last bytes handed on (up to MARK_BYTES, ending at `consumed`): still there, the file was only appended to. */
  private mark: Buffer | undefined;
  /** The last line was taken whole without its '\n' (finish): one that comes next ends it. */
  private newlineDue = false;
  /** The `onRestart` of the poll in progress. */
  private onRestart: (() => void) | undefined;

  /**
   * `keepWhenGone`: the one file tail follows (not a directory's): while its name leads nowhere, the file held open
   * is read on (renamed by a rotation, its writer still writes it until it reopens the name).
   */
  constructor(
    readonly path: string,
    private readonly followLink: boolean,
    private readonly keepWhenGone = false,
  ) {}

  /**
   * Reads up to the current end and calls `onLine` for each complete line (`bytes` undefined for one over
   * MAX_LINE_BYTES): first the rest of the file held open, then, if the name now leads to another file, that
   * one from its start. Resolves false when the file is gone (what the held file still had was read first);
   * rejects on other I/O errors. `onRestart` is called when lines already handed on are read again from the
   * file's start (it shrank below them, was rewritten in place, or the name leads to another file), before the
   * first of them.
   */
  async poll(onLine: (bytes: Buffer | undefined, line: number) => void, onRestart?: () => void): Promise<boolean> {
    this.onRestart = onRestart;
    try {
      return await this.pollOnce(onLine);
    } finally {
      this.onRestart = undefined;
    }
  }

  private async pollOnce(onLine: (bytes: Buffer | undefined, line: number) => void): Promise<boolean> {
    const wasHeld = this.fh !== undefined;
    if (wasHeld) await this.readHeld(onLine);
    // Gone before it was ever opened: nothing of it was read. (One closed for the cap had been read to the size
    // its last poll saw: reopened whenever it grew, so at most what came in its last interval is unread, as it
    // always was for a file read by name; a sealed segment, the usual one closed, has nothing more.)
    const neverOpened = !wasHeld && this.inode === undefined;
    const closedForCap = !wasHeld && this.capClosed;
    let st: BigIntStats;
    try {
      st = await stat(this.path, { bigint: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      if (neverOpened) this.missed = 'gone';
      // Renamed away (rotation): read to its end above, so a follower of its new name reads on from here (found in
      // review: it was read again from its start, and every record said to be a copy).
      if (wasHeld && (await this.stillLinked())) this.handOffHeld();
      // The one file named keeps its held file: a writer goes on writing it under its new name until it reopens
      // the path (found in review: those records were never shown, and every later one was broken, seq missing).
      // Not once no name leads to it (deleted): held, its space would not be freed (found in re-review).
      if (!this.keepWhenGone || (this.fh !== undefined && (await this.fh.stat()).nlink === 0)) await this.close();
      return false;
    }
    if (this.fh !== undefined && st.ino === this.inode) return true;
    // The name leads to another file now: what the writer wrote to the held one before it reopened the name, and
    // after the read above, is read before the new file (found in review: read after it, the stream looked cut).
    if (this.fh !== undefined) await this.readHeld(onLine);
    // Closed for the cap, the same file, nothing appended: left closed (a sealed segment is opened once).
    if (this.fh === undefined && st.ino === this.inode && Number(st.size) === this.consumed + this.partialBytes) return true;
    // Not held (first poll, closed for the cap, or drained above), or the name leads to another file now.
    const linked = wasHeld && (await this.stillLinked());
    await this.close();
    let fh: FileHandle;
    try {
      fh = await this.open();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      if (neverOpened) this.missed = 'gone';
      return false;
    }
    try {
      const opened = (await fh.stat({ bigint: true })).ino;
      if (this.inode !== undefined && opened !== this.inode) {
        // Another file under the name (replaced, rotated): read from its start. The old one was read to its end
        // if it was held (and is handed off: renamed to a name that is followed too, it is read on from there);
        // closed for the cap, what it got since its last read is not read.
        if (closedForCap) this.missed = 'rotated';
        else if (linked) this.handOffHeld();
        this.reset(0);
      } else if (this.inode === undefined) {
        // A file first seen here that another follower read under its old name (rotated to this one): on from there,
        // only if it holds, right before that point, the very bytes read there (an inode is reused once its file is
        // deleted, and a file that merely shares it must be read from its start).
        const h = handedOff.get(String(opened));
        handedOff.delete(String(opened));
        if (h !== undefined && (await this.holdsMark(fh, h.mark, h.consumed))) {
          this.consumed = h.consumed;
          this.lineNo = h.lineNo;
          this.mark = h.mark;
          this.newlineDue = h.newlineDue;
        }
      }
      this.inode = opened;
    } catch (e) {
      await fh.close();
      throw e;
    }
    this.fh = fh;
    this.capClosed = false;
    this.grewAt = ++growth;
    held.add(this);
    await this.readHeld(onLine);
    await keepWithinCap(this);
    return true;
  }

  /**
   * Does the held file still have a name? Only then can it have been renamed to one that is followed: a deleted one
   * (retention) hands nothing off, or a new file that reuses its inode would be read on from its offset (found in
   * review: a record of the new segment skipped, and every later one said broken).
   */
  private async stillLinked(): Promise<boolean> {
    return this.fh !== undefined && (await this.fh.stat()).nlink > 0;
  }

  /** The held file, read to its end, is where a follower of the name it was renamed to starts (see handedOff). */
  private handOffHeld(): void {
    if (this.inode !== undefined && this.partialBytes === 0) handOff(this.inode, { consumed: this.consumed, lineNo: this.lineNo, mark: this.mark, newlineDue: this.newlineDue });
  }

  /**
   * What the last poll could not read, once (then cleared): the file was gone before it was opened or while it
   * was closed for the cap, or replaced under its name while closed for the cap.
   */
  takeMissed(): 'gone' | 'rotated' | undefined {
    const m = this.missed;
    this.missed = undefined;
    return m;
  }

  /** Opens the file; out of file descriptors (EMFILE, ENFILE), it first closes the held file that grew longest ago. */
  private async open(): Promise<FileHandle> {
    for (let attempt = 0; ; attempt++) {
      try {
        return (await openRegularFile(this.path, this.followLink)).fh;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if ((code !== 'EMFILE' && code !== 'ENFILE') || attempt >= 8 || held.size === 0) throw e;
        // The process's limit is below MAX_HELD: hold fewer from now on, with room left for listing and stat.
        cap = Math.max(1, held.size - SPARE_DESCRIPTORS);
        await keepWithinCap(this);
      }
    }
  }

  get grownAt(): number {
    return this.grewAt;
  }

  /** @internal Closed to stay within MAX_HELD: read on by name at the next poll. */
  async closeForCap(): Promise<void> {
    this.capClosed = true;
    await this.close();
  }

  /** Closes the file if it is held open (the follower is dropped, or the command ends). */
  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    held.delete(this);
    await fh?.close();
  }

  /** Reads the held file from the position up to its current end. */
  private async readHeld(onLine: (bytes: Buffer | undefined, line: number) => void): Promise<void> {
    const fh = this.fh!;
    const size = Number((await fh.stat({ bigint: true })).size);
    let pos = this.consumed + this.partialBytes;
    if (size < pos) {
      // Shrunk: what was pending is gone; re-read from the last complete line if the file still has it.
      this.reset(size >= this.consumed ? this.consumed : 0);
      pos = this.consumed;
    }
    if (size === pos) return;
    if (this.mark !== undefined && !(await this.holdsMark(fh, this.mark, this.consumed))) {
      this.reset(0);
      pos = 0;
    }
    // An unfinished line cut back and written again (the journal's repair of a torn tail, an exit-path write):
    // the new line is read from its start, not spliced onto the old fragment.
    if (this.partialBytes > 0 && !this.skipping && !(await this.holds(fh, Buffer.concat(this.partial), this.consumed))) {
      this.reset(this.consumed);
      pos = this.consumed;
    }
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, size - pos));
    while (pos < size) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - pos), pos);
      if (bytesRead === 0) break;
      this.take(buf.subarray(0, bytesRead), onLine);
      pos += bytesRead;
    }
    this.grewAt = ++growth;
  }

  /** Does the file hold `mark` (the last bytes handed on) right before `end`? Not when there is no mark. */
  private async holdsMark(fh: FileHandle, mark: Buffer | undefined, end: number): Promise<boolean> {
    return mark !== undefined && end >= mark.length && (await this.holds(fh, mark, end - mark.length));
  }

  /** Does the file still hold `bytes` at `at`? */
  private async holds(fh: FileHandle, bytes: Buffer, at: number): Promise<boolean> {
    const now = Buffer.allocUnsafe(bytes.length);
    const { bytesRead } = await fh.read(now, 0, bytes.length, at);
    return bytesRead === bytes.length && now.equals(bytes);
  }

  /**
   * The unfinished last line, if any, as a final line: reading once, without --follow (the writer may be done); or,
   * following, when `whole` says it is complete without its '\n' — then a '\n' that comes after it ends it, and is
   * no line of its own.
   */
  finish(onLine: (bytes: Buffer | undefined, line: number) => void, whole?: (line: Buffer) => boolean): void {
    if (this.partialBytes === 0 && !this.skipping) return;
    const line = this.skipping ? undefined : Buffer.concat(this.partial);
    if (whole !== undefined && (line === undefined || !whole(line))) return;
    onLine(line, ++this.lineNo);
    const end = this.consumed + this.partialBytes;
    this.reset(end);
    if (whole !== undefined) {
      this.mark = Buffer.from(line!.subarray(Math.max(0, line!.length - MARK_BYTES)));
      this.newlineDue = true;
    }
  }

  private reset(consumed: number): void {
    this.newlineDue = false; // a '\n' that comes now is another file's, or another line's
    if (consumed === 0) {
      if (this.lineNo > 0) this.onRestart?.();
      this.lineNo = 0;
    }
    if (consumed !== this.consumed) this.mark = undefined;
    this.consumed = consumed;
    this.partial = [];
    this.partialBytes = 0;
    this.skipping = false;
  }

  private take(data: Buffer, onLine: (bytes: Buffer | undefined, line: number) => void): void {
    let start = 0;
    if (this.newlineDue && data.length > 0) {
      // The '\n' of the line finish() took whole: it ends that line, and starts none.
      this.newlineDue = false;
      if (data[0] === NL) {
        this.consumed++;
        start = 1;
      }
    }
    const last = data.lastIndexOf(NL);
    if (last >= 0) this.mark = Buffer.from(data.subarray(Math.max(0, last + 1 - MARK_BYTES), last + 1));
    for (let nl = data.indexOf(NL, start); nl >= 0; nl = data.indexOf(NL, start)) {
      const piece = data.subarray(start, nl);
      const over = this.skipping || this.partialBytes + piece.length > MAX_LINE_BYTES;
      // Copied: `data` is the read buffer, reused for the next chunk.
      const line = over ? undefined : Buffer.concat([...this.partial, piece]);
      this.consumed += this.partialBytes + piece.length + 1;
      this.partial = [];
      this.partialBytes = 0;
      this.skipping = false;
      onLine(line, ++this.lineNo);
      start = nl + 1;
    }
    if (start < data.length) {
      const rest = data.length - start;
      this.partialBytes += rest;
      if (this.skipping || this.partialBytes > MAX_LINE_BYTES) {
        this.skipping = true;
        this.partial = [];
      } else this.partial.push(Buffer.from(data.subarray(start)));
    }
  }
}

/** Closes the files that grew (or were opened) longest ago until at most MAX_HELD are held, never `keep`'s. */
async function keepWithinCap(keep: FileFollower): Promise<void> {
  while (held.size > cap && (await closeOldest(keep)));
}

/** Closes the held file (not `keep`'s) that grew or was opened longest ago; false when there is none. */
async function closeOldest(keep: FileFollower): Promise<boolean> {
  let oldest: FileFollower | undefined;
  for (const f of held) if (f !== keep && (oldest === undefined || f.grownAt < oldest.grownAt)) oldest = f;
  if (oldest === undefined) return false;
  await oldest.closeForCap();
  return true;
}
