/**
 * Reading journal segments back, line by line, with bounded memory: for replay after an outage or a restart.
 * Only whole lines ('\n'-terminated) are returned; a trailing fragment is reported as `torn` (see recover.ts).
 */
import { close, closeSync, constants, fstatSync, openSync, read, readSync } from 'node:fs';
import { promisify } from 'node:util';
import { open } from 'node:fs/promises';
import { checkFile, O_NOFOLLOW, O_NONBLOCK, openChecked } from './durable.js';

/** Never through a link planted under a segment's name, never blocked by a FIFO there. */
const READ_FLAGS = constants.O_RDONLY | O_NOFOLLOW | O_NONBLOCK;

export interface LineRead {
  text: string;
  /** Byte offsets of the line in the file; `end` is just past its '\n'. */
  start: number;
  end: number;
}

const CHUNK = 1 << 20;

const readAt = promisify(read);

/** Yields the whole lines of `path` between byte offsets `from` and `to` (default: end of file). */
export async function* readLines(path: string, from = 0, to?: number): AsyncGenerator<LineRead> {
  const fh = await open(path, READ_FLAGS);
  try {
    const st = await fh.stat();
    checkFile(path, st, { singleLink: false }); // a regular file of ours (segments of other streams are read here)
    const limit = to ?? st.size;
    let pos = from;
    let carry: Buffer = Buffer.alloc(0);
    let carryStart = from;
    while (pos < limit) {
      const want = Math.min(CHUNK, limit - pos);
      const buf = Buffer.allocUnsafe(want);
      const { bytesRead } = await fh.read(buf, 0, want, pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      const data: Buffer = carry.length > 0 ? Buffer.concat([carry, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
      let lineStart = 0;
      for (let nl = data.indexOf(10); nl !== -1; nl = data.indexOf(10, lineStart)) {
        yield {
          text: data.toString('utf8', lineStart, nl),
          start: carryStart + lineStart,
          end: carryStart + nl + 1,
        };
        lineStart = nl + 1;
      }
      carry = Buffer.from(data.subarray(lineStart));
      carryStart += lineStart;
    }
  } finally {
    await fh.close();
  }
}

/**
 * Is this line (without its '\n') a whole JSON text? What tells a line cut short (a torn write) from one that is only
 * missing its newline or was written whole, for the journal's recovery, the dev collector's `--out` and tail.
 */
export function isWholeLine(bytes: Uint8Array): boolean {
  try {
    JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
    return true;
  } catch {
    return false;
  }
}

/**
 * Offset of the last '\n' before byte offset `before` in an open file, or -1: a backwards scan in chunks, for
 * finding the last line of a segment without reading the whole of it (recovery, replay links, retention).
 */
export function lastNewlineBefore(fd: number, before: number): number {
  const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(before, 1)));
  for (let pos = before; pos > 0; ) {
    const len = Math.min(buf.length, pos);
    pos -= len;
    readSync(fd, buf, 0, len, pos);
    const nl = buf.lastIndexOf(10, len - 1);
    if (nl !== -1) return pos + nl;
  }
  return -1;
}

/** The last whole line of a file ('\n'-terminated), without its newline; undefined when there is none. */
export function readLastLine(path: string): string | undefined {
  const fd = openChecked(path, constants.O_RDONLY, { singleLink: false });
  try {
    // A trailing fragment (torn tail) is skipped: the last whole line ends at the last '\n'.
    const end = lastNewlineBefore(fd, fstatSync(fd).size);
    if (end === -1) return undefined;
    const start = lastNewlineBefore(fd, end) + 1;
    const line = Buffer.allocUnsafe(end - start);
    readSync(fd, line, 0, line.length, start);
    return line.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * `length` bytes of `path` from `offset` (for whole lines located through the journal's line index).
 *
 * Opened synchronously and closed without waiting: every await here costs a turn of the event loop, and on a
 * busy producer a turn lasts as long as emitting and sealing a chunk of records. Open, read and close as three
 * awaits were most of the idle time between one request's acknowledgement and the next (bench/README.md). The
 * open is a synchronous call on the caller's thread, like the journal writer's own opens at rotation.
 */
export async function readRange(path: string, offset: number, length: number, alloc: (bytes: number) => Buffer = Buffer.allocUnsafe): Promise<Buffer> {
  const fd = openSync(path, READ_FLAGS); // our own segment, created exclusively by this process
  try {
    const buf = alloc(length).subarray(0, length);
    let got = 0;
    while (got < length) {
      const { bytesRead } = await readAt(fd, buf, got, length - got, offset + got);
      if (bytesRead === 0) throw new Error(`${path}: ${length - got} bytes missing at offset ${offset + got}`);
      got += bytesRead;
    }
    return buf;
  } finally {
    close(fd, () => undefined);
  }
}
