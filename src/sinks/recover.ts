/**
 * Crash recovery of a journal segment (ARCHITECTURE.md §5.3): after `kill -9` the last line may be torn. The torn
 * bytes are moved to `quarantine/` (never silently kept, never silently dropped) and the segment is cut
 * back to its last whole line, so the rest verifies and replays. The set-aside copy is durable (fsynced, and
 * its directory too) before the segment is cut: a power cut in between must not lose the bytes from both.
 * The segment is opened without following a link and only if it is a regular file of ours with one link,
 * so a name planted in the directory can never make us truncate a file elsewhere.
 */
import * as fs from 'node:fs';
import { basename } from 'node:path';
import { durableCreateUnique, openChecked } from './durable.js';
import { ensureSubdir, quarantineDir } from './files.js';
import { isWholeLine, lastNewlineBefore } from './journal-reader.js';

export interface TornTail {
  file: string;
  /** Byte offset where the torn tail began (the file's new size). */
  offset: number;
  bytes: number;
  quarantinedTo: string;
}

/** Returns the torn tail that was set aside, or undefined when the segment ends on a whole, parsable line. */
export function recoverSegment(dir: string, path: string): TornTail | undefined {
  const fd = openChecked(path, fs.constants.O_RDWR, { singleLink: true });
  try {
    const size = fs.fstatSync(fd).size;
    if (size === 0) return undefined;
    // The last line starts after the last '\n' before it (its own terminating '\n' excluded).
    const last = Buffer.allocUnsafe(1);
    fs.readSync(fd, last, 0, 1, size - 1);
    const endsWithNewline = last[0] === 10;
    const lineStart = lastNewlineBefore(fd, endsWithNewline ? size - 1 : size) + 1;
    let tornFrom: number | undefined;
    if (!endsWithNewline) tornFrom = lineStart;
    else {
      const line = Buffer.alloc(size - lineStart);
      fs.readSync(fd, line, 0, line.length, lineStart);
      if (!isWholeLine(line)) tornFrom = lineStart; // whole-looking but unparsable: a torn page, set aside as well
    }
    if (tornFrom === undefined) return undefined;
    const tail = Buffer.alloc(size - tornFrom);
    fs.readSync(fd, tail, 0, tail.length, tornFrom);
    ensureSubdir(dir, quarantineDir(dir));
    // Never over an earlier copy (a crash between this and the cut sets the same bytes aside again).
    const target = durableCreateUnique(quarantineDir(dir), `${basename(path)}.${tornFrom}`, '.torn', tail);
    fs.ftruncateSync(fd, tornFrom);
    fs.fsyncSync(fd);
    return { file: path, offset: tornFrom, bytes: tail.length, quarantinedTo: target };
  } finally {
    fs.closeSync(fd);
  }
}
