/**
 * Builds ExportLogsServiceRequest lines (UTF-8 OTLP/JSON) incrementally, record by record, straight into a
 * shared arena buffer — the pino way: each record's text is encoded once, when it is accepted, and becomes
 * garbage at once (cheap for the young-generation GC), instead of surviving in memory until a flush. A cut
 * request is a zero-copy view of the arena; it is at the same time the journal line and the HTTP body.
 */
import type { RecordGroup } from '../chain/group.js';

const HEAD = '{"resourceLogs":[';
const TAIL = ']}';
const ARENA_BYTES = 1 << 20;

export class RequestBuilder {
  private arena: Buffer = Buffer.allocUnsafe(ARENA_BYTES);
  private pos = 0;
  /** Offset of the open request in the arena, -1 when none is open. */
  private start = -1;
  private group: RecordGroup | undefined;
  /** Records in the open request. */
  count = 0;

  /**
   * Appends one record's OTLP/JSON to the open request (opening one if needed). Returns false, writing
   * nothing, when the arena is full: the caller cuts the open request (its closing always fits) and adds
   * again, which opens the next request in a fresh arena — no copying of what was written.
   */
  add(json: string, group: RecordGroup): boolean {
    let text: string;
    if (this.start < 0) text = HEAD + group.prefix + json;
    else if (group !== this.group) text = this.group!.suffix + ',' + group.prefix + json;
    else text = ',' + json;
    const reserve = group.suffix.length + TAIL.length;
    if (!this.fits(text, reserve)) {
      if (this.start >= 0) return false;
      this.arena = Buffer.allocUnsafe(Math.max(ARENA_BYTES, 3 * (text.length + reserve)));
      this.pos = 0;
    }
    const at = this.pos;
    this.pos += this.arena.write(text, at, 'utf8');
    if (this.start < 0) this.start = at;
    this.group = group;
    this.count++;
    return true;
  }

  /** Closes the open request and returns its bytes (a view into the arena); undefined when none is open. */
  cut(): Buffer | undefined {
    if (this.start < 0) return undefined;
    // Room for this was reserved by every add().
    this.pos += this.arena.write(this.group!.suffix + TAIL, this.pos, 'utf8');
    const line = this.arena.subarray(this.start, this.pos);
    this.start = -1;
    this.group = undefined;
    this.count = 0;
    return line;
  }

  /** Does `text` fit, with `reserve` more characters' room left for closing the request? */
  private fits(text: string, reserve: number): boolean {
    // A JS string of n UTF-16 units is at most 3n bytes of UTF-8: a cheap bound, made exact only when needed.
    const room = this.arena.length - this.pos;
    if ((text.length + reserve) * 3 <= room) return true;
    return Buffer.byteLength(text) + reserve * 3 <= room;
  }
}
