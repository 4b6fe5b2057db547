/**
 * Crash recovery of a journal segment (DESIGN §5.3): after `kill -9` the last line may be torn. The torn
 * bytes are moved to `quarantine/` (never silently kept, never silently dropped) and the segment is cut
 * back to its last whole line, so the rest verifies and replays.
 */
import * as fs from 'node:fs';
import { basename, join } from 'node:path';
import { DIR_MODE, FILE_MODE, quarantineDir } from './files.js';

export interface TornTail {
  file: string;
  /** Byte offset where the torn tail began (the file's new size). */
  offset: number;
  bytes: number;
  quarantinedTo: string;
}

const TAIL_SCAN = 1 << 20;

/** Returns the torn tail that was set aside, or undefined when the segment ends on a whole, parsable line. */
export function recoverSegment(dir: string, path: string): TornTail | undefined {
  const fd = fs.openSync(path, 'r+');
  try {
    const size = fs.fstatSync(fd).size;
    if (size === 0) return undefined;
    // Find the start of the last line (after the last '\n' before EOF-1).
    let lineStart = 0;
    let endsWithNewline = false;
    for (let pos = size; pos > 0; ) {
      const len = Math.min(TAIL_SCAN, pos);
      pos -= len;
      const buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, pos);
      if (pos + len === size) endsWithNewline = buf[len - 1] === 10;
      const searchEnd = pos + len === size && endsWithNewline ? len - 2 : len - 1;
      const nl = searchEnd >= 0 ? buf.lastIndexOf(10, searchEnd) : -1;
      if (nl !== -1) {
        lineStart = pos + nl + 1;
        break;
      }
    }
    let tornFrom: number | undefined;
    if (!endsWithNewline) tornFrom = lineStart;
    else {
      const last = Buffer.alloc(size - lineStart);
      fs.readSync(fd, last, 0, last.length, lineStart);
      try {
        JSON.parse(last.toString('utf8'));
      } catch {
        tornFrom = lineStart; // whole-looking but unparsable: a torn page, set aside as well
      }
    }
    if (tornFrom === undefined) return undefined;
    const tail = Buffer.alloc(size - tornFrom);
    fs.readSync(fd, tail, 0, tail.length, tornFrom);
    fs.mkdirSync(quarantineDir(dir), { recursive: true, mode: DIR_MODE });
    const target = join(quarantineDir(dir), `${basename(path)}.${tornFrom}.torn`);
    fs.writeFileSync(target, tail, { mode: FILE_MODE });
    fs.ftruncateSync(fd, tornFrom);
    fs.fsyncSync(fd);
    return { file: path, offset: tornFrom, bytes: tail.length, quarantinedTo: target };
  } finally {
    fs.closeSync(fd);
  }
}
