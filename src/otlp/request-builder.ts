/**
 * Builds ExportLogsServiceRequest lines (UTF-8 OTLP/JSON) incrementally, record by record, straight into a
 * shared arena buffer — the pino way: each record's bytes are copied in when it is accepted, so nothing of it
 * survives in the JS heap until a flush (cheap for the young-generation GC). A cut
 * request is a zero-copy view of the arena; it is at the same time the journal line and the HTTP body.
 * Arenas come from a pool and return to it once nothing reads from them (arena.ts).
 */
import { Arena, ArenaPool } from './arena.js';
import type { RecordGroup } from './types.js';

const HEAD = '{"resourceLogs":[';
const TAIL = ']}';

/** A cut request: its bytes, and the arena they are in, held once for the caller. */
export interface CutRequest {
  readonly line: Buffer;
  readonly arena: Arena;
}

/** UTF-8 bytes that close a request whose last group is `group`: its suffix, then the request's tail. */
const closingBytesOf = (group: RecordGroup): number => Buffer.byteLength(group.suffix) + TAIL.length;

export class RequestBuilder {
  private readonly pool = new ArenaPool();
  private current: Arena = this.pool.take(0);
  private arena: Buffer = this.current.bytes;
  private pos = 0;
  /** Offset of the open request in the arena, -1 when none is open. */
  private start = -1;
  private group: RecordGroup | undefined;
  /** Records in the open request. */
  count = 0;

  /** Bytes of the open request so far (without its closing), 0 when none is open. */
  get bytes(): number {
    return this.start < 0 ? 0 : this.pos - this.start;
  }

  /** UTF-8 bytes of the open group's suffix and closing (`closedBytes`), kept while the group stays the same. */
  private closingBytes = 0;

  /**
   * Bytes the open request would take, closed, with a record of `recordBytes` of `group` added: the group switch
   * or the comma before it and the closing after it included (a new group's texts are measured: rare).
   */
  closedBytesWith(recordBytes: number, group: RecordGroup): number {
    let before: number;
    let closing: number;
    if (group === this.group) {
      before = 1;
      closing = this.closingBytes;
    } else {
      before = this.start < 0 ? Buffer.byteLength(HEAD) + Buffer.byteLength(group.prefix) : Buffer.byteLength(this.group!.suffix) + 1 + Buffer.byteLength(group.prefix);
      closing = closingBytesOf(group);
    }
    return this.bytes + before + recordBytes + closing;
  }

  /**
   * Appends one record's OTLP/JSON (UTF-8) to the open request (opening one if needed). Returns false, writing
   * nothing, when the arena is full: the caller cuts the open request (its closing always fits) and adds
   * again, which opens the next request in a fresh arena — no copying of what was written.
   */
  add(record: Uint8Array, group: RecordGroup): boolean {
    // Text before the record: a group boundary (rare) or just the comma between two records.
    let before: string | undefined;
    if (this.start < 0) before = HEAD + group.prefix;
    else if (group !== this.group) before = this.group!.suffix + ',' + group.prefix;
    const reserve = 3 * (group.suffix.length + TAIL.length);
    const need = (before === undefined ? 1 : 3 * before.length) + record.length + reserve;
    if (need > this.arena.length - this.pos) {
      if (this.start >= 0) return false;
      this.current.retire();
      this.current = this.pool.take(need); // `need` is already a bound in bytes
      this.arena = this.current.bytes;
      this.pos = 0;
    }
    const at = this.pos;
    if (before === undefined) this.arena[this.pos++] = 0x2c;
    else this.pos += this.arena.write(before, this.pos, 'utf8');
    this.arena.set(record, this.pos);
    this.pos += record.length;
    if (this.start < 0) this.start = at;
    if (group !== this.group) this.closingBytes = closingBytesOf(group);
    this.group = group;
    this.count++;
    return true;
  }

  /**
   * Closes the open request and returns its bytes (a view into the arena), with one hold on the arena that the
   * caller gives back (`arena.release()`) once nothing reads the bytes any more; undefined when none is open.
   */
  cut(): CutRequest | undefined {
    if (this.start < 0) return undefined;
    // Room for this was reserved by every add().
    this.pos += this.arena.write(this.group!.suffix + TAIL, this.pos, 'utf8');
    const line = this.arena.subarray(this.start, this.pos);
    this.start = -1;
    this.group = undefined;
    this.count = 0;
    this.current.hold();
    return { line, arena: this.current };
  }

}
