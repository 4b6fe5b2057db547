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

  /** Appends one record's OTLP/JSON to the open request (opening one if needed). */
  add(json: string, group: RecordGroup): void {
    let text: string;
    if (this.start < 0) text = HEAD + group.prefix + json;
    else if (group !== this.group) text = this.group!.suffix + ',' + group.prefix + json;
    else text = ',' + json;
    const at = this.write(text, group.suffix.length + TAIL.length);
    if (this.start < 0) this.start = at;
    this.group = group;
    this.count++;
  }

  /** Closes the open request and returns its bytes (a view into the arena); undefined when none is open. */
  cut(): Buffer | undefined {
    if (this.start < 0) return undefined;
    this.write(this.group!.suffix + TAIL, 0);
    const line = this.arena.subarray(this.start, this.pos);
    this.start = -1;
    this.group = undefined;
    this.count = 0;
    return line;
  }

  /** Writes `text` at the end, keeping `reserve` more characters' room for closing; returns where it went. */
  private write(text: string, reserve: number): number {
    // A JS string of n UTF-16 units is at most 3n bytes of UTF-8: a cheap bound, exact only when needed.
    let need = (text.length + reserve) * 3;
    if (this.pos + need > this.arena.length) {
      need = Buffer.byteLength(text) + reserve * 3;
      if (this.pos + need > this.arena.length) this.grow(need);
    }
    const at = this.pos;
    this.pos += this.arena.write(text, at, 'utf8');
    return at;
  }

  /** Moves the open request to a fresh arena big enough for it and `need` more bytes. */
  private grow(need: number): void {
    const open = this.start < 0 ? 0 : this.pos - this.start;
    const next = Buffer.allocUnsafe(Math.max(ARENA_BYTES, 2 * (open + need)));
    if (open > 0) this.arena.copy(next, 0, this.start, this.pos);
    this.arena = next;
    if (this.start >= 0) this.start = 0;
    this.pos = open;
  }
}
