/**
 * Reads what is appended to one file, a complete line at a time, for `tail --follow`. Between reads it holds
 * only its position and the bytes of an unfinished last line (a writer mid-line), so a line is handed on
 * once, whole, when its '\n' arrives. A file that shrank (the journal cuts a torn last line on recovery) is
 * re-read from the last complete line it still holds, and a file replaced under the same name (another inode)
 * from the start; so is one rewritten in place (truncated and refilled past its old size between two polls,
 * copytruncate-style), told by the bytes before its position no longer being the ones read. The caller folds
 * what it has already seen.
 */
import { stat, type FileHandle } from 'node:fs/promises';
import { MAX_LINE_BYTES, openRegularFile } from './safe-open.js';

const NL = 0x0a;
const CHUNK = 1 << 20;
/** Enough to tell a journal line from another: each ends with its records' ids and hashes. */
const MARK_BYTES = 64;

export class FileFollower {
  /** Bytes of the file handed on as complete lines. */
  private consumed = 0;
  private lineNo = 0;
  private partial: Buffer[] = [];
  private partialBytes = 0;
  /** Inside a line longer than MAX_LINE_BYTES: dropped up to its '\n'. */
  private skipping = false;
  private inode: bigint | undefined;
  /** The last bytes handed on (up to MARK_BYTES, ending at `consumed`): still there, the file was only appended to. */
  private mark: Buffer | undefined;

  constructor(
    readonly path: string,
    private readonly followLink: boolean,
  ) {}

  /**
   * Reads up to the current end and calls `onLine` for each complete line (`bytes` undefined for one over
   * MAX_LINE_BYTES). Resolves false when the file is gone; rejects on other I/O errors.
   */
  async poll(onLine: (bytes: Buffer | undefined, line: number) => void): Promise<boolean> {
    let size: number;
    try {
      const st = await stat(this.path, { bigint: true });
      if (this.inode !== undefined && st.ino !== this.inode) this.reset(0);
      this.inode = st.ino;
      size = Number(st.size);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
    let pos = this.consumed + this.partialBytes;
    if (size < pos) {
      // Shrunk: what was pending is gone; re-read from the last complete line if the file still has it.
      this.reset(size >= this.consumed ? this.consumed : 0);
      pos = this.consumed;
    }
    if (size === pos) return true;
    let fh;
    try {
      fh = (await openRegularFile(this.path, this.followLink)).fh;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
    try {
      const mark = this.mark;
      if (mark !== undefined && this.consumed >= mark.length && !(await this.holds(fh, mark, this.consumed - mark.length))) {
        this.reset(0);
        pos = 0;
      }
      // An unfinished line cut back and written again (the journal's repair of a torn tail, an exit-path write):
      // the new line is read from its start, not spliced onto the old fragment.
      if (this.partialBytes > 0 && !this.skipping && !(await this.holds(fh, Buffer.concat(this.partial), this.consumed))) {
        this.reset(this.consumed);
        pos = this.consumed;
      }
      const buf = Buffer.allocUnsafe(CHUNK);
      while (pos < size) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, size - pos), pos);
        if (bytesRead === 0) break;
        this.take(buf.subarray(0, bytesRead), onLine);
        pos += bytesRead;
      }
    } finally {
      await fh.close();
    }
    return true;
  }

  /** Does the file still hold `bytes` at `at`? */
  private async holds(fh: FileHandle, bytes: Buffer, at: number): Promise<boolean> {
    const now = Buffer.allocUnsafe(bytes.length);
    const { bytesRead } = await fh.read(now, 0, bytes.length, at);
    return bytesRead === bytes.length && now.equals(bytes);
  }

  /** The unfinished last line, if any, as a final line (reading once, without --follow: the writer may be done). */
  finish(onLine: (bytes: Buffer | undefined, line: number) => void): void {
    if (this.partialBytes === 0 && !this.skipping) return;
    onLine(this.skipping ? undefined : Buffer.concat(this.partial), ++this.lineNo);
    this.reset(this.consumed + this.partialBytes);
  }

  private reset(consumed: number): void {
    if (consumed === 0) this.lineNo = 0;
    if (consumed !== this.consumed) this.mark = undefined;
    this.consumed = consumed;
    this.partial = [];
    this.partialBytes = 0;
    this.skipping = false;
  }

  private take(data: Buffer, onLine: (bytes: Buffer | undefined, line: number) => void): void {
    let start = 0;
    const last = data.lastIndexOf(NL);
    if (last >= 0) this.mark = Buffer.from(data.subarray(Math.max(0, last + 1 - MARK_BYTES), last + 1));
    for (let nl = data.indexOf(NL); nl >= 0; nl = data.indexOf(NL, start)) {
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
