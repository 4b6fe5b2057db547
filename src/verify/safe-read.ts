/**
 * How `verify` touches the file system, so that hostile input directories cannot hang or exhaust it:
 * - only regular files are opened for reading; a FIFO, socket or device is refused without blocking
 *   (`openRegularFile`: O_NONBLOCK, then fstat on the opened descriptor);
 * - symbolic links inside input directories are never followed (`O_NOFOLLOW` on the last component, and the
 *   directory walk in verifier.ts skips link entries);
 * - lines are split from 1 MiB chunks and a line longer than `MAX_LINE_BYTES` is dropped as it streams past,
 *   never held whole (`splitLines`).
 */
import { constants, type BigIntStats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { fileKind } from '../core/file-kind.js';

export { fileKind };

/**
 * Longest line `verify` reads, in bytes, not counting its line break: 64 MiB. A longer line is reported as
 * `malformed` (with its file and line number) and skipped: at most its first MAX_LINE_BYTES are in memory
 * (until it is known to be too long), the rest streams past through two reused 1 MiB buffers. The journal
 * writes one batch of at most `OTEL_BLRP_MAX_EXPORT_BATCH_SIZE` records per line (a few MiB); a collector
 * writes one request per line, and the development collector takes requests of at most 20 MiB.
 */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;

export const CHUNK_BYTES = 1 << 20;
const LINES_PER_YIELD = 4096;
const JOIN_KEPT_BYTES = 8 << 20;
const MAX_FREE_CHUNKS = 3;
const NL = 0x0a;
const EMPTY = Buffer.alloc(0);

/** A path that exists but is not something `verify` reads (a FIFO, a device, a symbolic link…). */
export class NotRegularFileError extends Error {
  override name = 'NotRegularFileError';
}

/** Identity of a file (device and inode), so that one file reached by two paths is read once. */
export const fileIdentity = (st: BigIntStats): string => `${st.dev}:${st.ino}`;

/**
 * Opens `path` for reading and checks, on the opened descriptor, that it is a regular file. O_NONBLOCK
 * because opening a FIFO for reading otherwise waits for a writer, possibly forever; it changes nothing for
 * regular files. With `follow` false a symbolic link as the last component fails (O_NOFOLLOW) instead of
 * being followed. Throws NotRegularFileError for anything that is not a regular file, and the system error
 * otherwise.
 */
export async function openRegularFile(path: string, follow: boolean): Promise<{ fh: FileHandle; st: BigIntStats }> {
  const flags = constants.O_RDONLY | constants.O_NONBLOCK | (follow ? 0 : constants.O_NOFOLLOW);
  let fh: FileHandle;
  try {
    fh = await open(path, flags);
  } catch (e) {
    if (!follow && (e as NodeJS.ErrnoException).code === 'ELOOP') {
      throw new NotRegularFileError('is a symbolic link inside an input directory (not followed)', { cause: e });
    }
    throw e;
  }
  try {
    // fstat, not a stat of the path: what counts is the object actually opened (it may have been swapped).
    const st = await fh.stat({ bigint: true });
    if (!st.isFile()) throw new NotRegularFileError(`is a ${fileKind(st)}, not a regular file`);
    return { fh, st };
  } catch (e) {
    await fh.close();
    throw e;
  }
}

/** A regular file larger than the reader takes (a NotRegularFileError too: the key-file messages use both alike). */
export class FileTooLargeError extends NotRegularFileError {
  override name = 'FileTooLargeError';
}

/**
 * Reads a whole small regular file (key files, state files): at most `maxBytes`, never blocking on a FIFO;
 * `follow`: whether `path` itself may be a symbolic link (see openRegularFile); `opened` is given the stat of the
 * file read (its mode and owner, for a key file).
 */
export async function readSmallRegularFile(path: string, maxBytes: number, follow = true, opened?: (st: BigIntStats) => void): Promise<Buffer> {
  const { fh, st } = await openRegularFile(path, follow);
  opened?.(st);
  try {
    if (st.size > BigInt(maxBytes)) throw new FileTooLargeError(`is larger than ${maxBytes} bytes`);
    const buf = Buffer.alloc(maxBytes + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, null);
      if (bytesRead === 0) break;
      n += bytesRead;
      // The file may have grown since fstat.
      if (n > maxBytes) throw new FileTooLargeError(`is larger than ${maxBytes} bytes`);
    }
    return buf.subarray(0, n);
  } finally {
    await fh.close();
  }
}

/**
 * Splits the rest of `fh` into lines with only the current chunk and one partial line in memory. Each
 * chunk's lines go to `onLine` synchronously, with their bytes (without the '\n'), their 1-based number and
 * whether a '\n' ended them (false only for a final line without one); `bytes` is undefined for a line
 * longer than `maxLineBytes`, whose bytes were dropped as they were read. `bytes` is valid only during the
 * call (its buffer is read into again). The generator yields once per chunk and every LINES_PER_YIELD lines,
 * so that the caller can hand on what `onLine` produced; it closes nothing.
 */
export async function* splitLines(
  fh: FileHandle,
  onLine: (bytes: Buffer | undefined, line: number, terminated: boolean) => void,
  maxLineBytes: number = MAX_LINE_BYTES,
): AsyncGenerator<void> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  /** Inside a line already over the limit: the rest of it is dropped up to its '\n'. */
  let tooLong = false;
  let line = 0;
  /**
   * A line that spans chunks is joined in one buffer kept from line to line (its bytes are valid only during
   * onLine): a fresh buffer per line cost a page fault per 4 KiB on lines of ~1.5 MB, which the journal writes
   * under load. One that grew past JOIN_KEPT_BYTES is not kept.
   */
  let joined: Buffer | undefined;
  const take = (tail: Buffer): Buffer => {
    if (pending.length === 0) return tail;
    const n = pendingBytes + tail.length;
    const into = joined !== undefined && joined.length >= n ? joined : Buffer.allocUnsafeSlow(Math.max(n, CHUNK_BYTES * 2));
    joined = into.length <= JOIN_KEPT_BYTES ? into : undefined;
    let at = 0;
    for (const piece of pending) at += piece.copy(into, at);
    at += tail.copy(into, at);
    return into.subarray(0, at);
  };
  /**
   * Chunk buffers no line holds a slice of any more, to read into again: a fresh 1 MiB buffer per chunk costs
   * 256 page faults, and a line dropped as too long would otherwise leave a trail of them for the collector.
   */
  const free: Buffer[] = [];
  const release = (piece: Buffer): void => {
    // Every chunk is a whole ArrayBuffer of its own (allocUnsafeSlow), so a slice names its chunk.
    if (free.length < MAX_FREE_CHUNKS && piece.buffer.byteLength === CHUNK_BYTES) free.push(Buffer.from(piece.buffer, 0, CHUNK_BYTES));
  };
  const read = async (): Promise<Buffer> => {
    const chunk = free.pop() ?? Buffer.allocUnsafeSlow(CHUNK_BYTES);
    const { bytesRead } = await fh.read(chunk, 0, CHUNK_BYTES, null);
    return chunk.subarray(0, bytesRead);
  };
  // One read ahead, so the disk works while this chunk's lines are parsed (as a read stream would).
  let next = read();
  try {
    for (;;) {
      const data = await next;
      if (data.length === 0) break;
      next = read();
      let start = 0;
      let lines = 0;
      for (let nl = data.indexOf(NL, start); nl >= 0; nl = data.indexOf(NL, start)) {
        line++;
        const over = tooLong || pendingBytes + (nl - start) > maxLineBytes;
        onLine(over ? undefined : take(data.subarray(start, nl)), line, true);
        // The line's earlier pieces were copied (or dropped): their chunks can be read into again.
        for (const piece of pending) release(piece);
        pending = [];
        pendingBytes = 0;
        tooLong = false;
        start = nl + 1;
        // A chunk of tiny lines is half a million of them: hand on what they produced every so often.
        if (++lines % LINES_PER_YIELD === 0) yield;
      }
      let kept = false;
      if (start < data.length && !tooLong) {
        pendingBytes += data.length - start;
        if (pendingBytes > maxLineBytes) {
          tooLong = true;
          pending = [];
        } else {
          pending.push(data.subarray(start));
          kept = true;
        }
      }
      // Lines were decoded synchronously by onLine; only a pending slice can still refer to this buffer.
      if (!kept && pending.length === 0) release(data);
      yield;
    }
  } finally {
    // Settle the read ahead before the caller closes the file (and never leave its rejection unhandled).
    await next.catch(() => undefined);
  }
  if (tooLong || pendingBytes > 0) {
    line++;
    onLine(tooLong ? undefined : take(EMPTY), line, false);
    yield;
  }
}
