/**
 * Read-back (ARCHITECTURE.md §5.4): records evicted from memory while the collector was slow or down are read
 * back from this process's own journal when their turn comes — whole lines located through the journal's line
 * index and merged as text; only a line that straddles the range is parsed and filtered.
 */
import { filteredBody } from '../otlp/decode.js';
import type { ExportLogsServiceRequest } from '../otlp/types.js';
import { readRange } from '../sinks/journal-reader.js';
import type { SegmentInfo } from '../sinks/journal.js';
import { concatInner, innerOf, REQUEST_HEAD, REQUEST_TAIL } from './batch.js';

export interface ReadBackRequest {
  body: Buffer;
  count: number;
  last: number;
}

/** Records [from, until) should be in the journal and are not: the caller reports them. */
export type OnGap = (from: number, until: number) => void;

/**
 * One request of records [from, until), at most `maxCount` records unless a single line holds more, read back
 * from `segments`. Records missing from the journal are passed to `gap` (before the request, when some are
 * found after them); undefined when none was found. The lines are read into a buffer from `alloc` (the
 * delivery's BodyScratch); when the range ends inside a line, the body is a fresh buffer.
 */
export async function readBack(
  segments: readonly SegmentInfo[],
  streamId: string,
  from: number,
  until: number,
  maxCount: number,
  gap: OnGap,
  alloc?: (bytes: number) => Buffer,
): Promise<ReadBackRequest | undefined> {
  const si = segments.findIndex((s) => s.lines.length > 0 && s.lines.last(s.lines.length - 1) >= from);
  if (si === -1) return void gap(from, until);
  const seg = segments[si]!;
  const idx = seg.lines;
  const l0 = idx.find(from);
  if (idx.first(l0) >= until) return void gap(from, until);
  // Whole lines from l0 while the batch has room and they stay below `until`.
  let l1 = l0;
  let count = 0;
  while (l1 < idx.length && idx.first(l1) < until) {
    const n = Math.min(idx.last(l1), until - 1) - Math.max(idx.first(l1), from) + 1;
    if (l1 > l0 && count + n > maxCount) break;
    count += n;
    l1++;
  }
  const start = idx.start(l0);
  let text: Buffer;
  try {
    text = await readRange(seg.path, start, idx.end(l1 - 1) - start, alloc);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e; // transient: the loop backs off and retries
    // The segment was deleted underneath us: what it held (and memory no longer has) is gone. Say so.
    return void gap(from, Math.min(until, idx.last(l1 - 1) + 1));
  }
  const whole = idx.first(l0) >= from && idx.last(l1 - 1) < until;
  if (whole) {
    if (idx.first(l0) > from) gap(from, idx.first(l0));
    return { body: joinInPlace(text, idx, l0, l1), count, last: idx.last(l1 - 1) };
  }
  const parts: Buffer[] = [];
  let last = 0;
  let pos = 0;
  for (let l = l0; l < l1; l++) {
    const len = idx.end(l) - idx.start(l);
    const line = text.subarray(pos, pos + len - 1);
    pos += len;
    if (idx.first(l) >= from && idx.last(l) < until) {
      parts.push(innerOf(line));
      last = idx.last(l);
      continue;
    }
    const f = filteredBody(JSON.parse(line.toString('utf8')) as ExportLogsServiceRequest, streamId, (s) => s >= from && s < until);
    if (f === undefined) continue;
    parts.push(innerOf(Buffer.from(f.body, 'utf8')));
    last = Math.max(last, f.last);
  }
  if (parts.length === 0 || last < from) return void gap(from, until);
  if (idx.first(l0) > from) gap(from, idx.first(l0));
  return { body: concatInner(parts), count, last };
}

/**
 * Lines l0..l1-1 of `text` (`{"resourceLogs":[…]}\n` each) as one request, joined inside `text` itself: each
 * line's inner list moves down over the previous line's closing and the newline (a memmove within pages already
 * read), instead of a fresh buffer and a second copy of every byte.
 */
function joinInPlace(text: Buffer, idx: SegmentInfo['lines'], l0: number, l1: number): Buffer {
  const head = REQUEST_HEAD.length;
  const tail = REQUEST_TAIL.length;
  let out = idx.end(l0) - idx.start(l0) - 1 - tail; // the first line keeps its head, in place
  let pos = idx.end(l0) - idx.start(l0);
  for (let l = l0 + 1; l < l1; l++) {
    const len = idx.end(l) - idx.start(l);
    text[out++] = 0x2c;
    out += text.copy(text, out, pos + head, pos + len - 1 - tail);
    pos += len;
  }
  out += REQUEST_TAIL.copy(text, out);
  return text.subarray(0, out);
}
