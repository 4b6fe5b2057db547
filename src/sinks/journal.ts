/**
 * The local journal (DESIGN §4): append-only OTLP/JSON lines in size-rotated segments, one writer per stream
 * so processes sharing a directory never interleave. Also the spool: what the collector has not acknowledged
 * is read back from here (see journal-reader.ts).
 *
 * Durability: `writeSync` (fsync policy `always`) returns after write(2)+fsync(2); `write` (policies `batch`
 * and `off`) appends asynchronously, one write at a time, and resolves after the fsync (`batch`) or the write
 * (`off`). A failed write is truncated back to the last whole line so a later line never lands after a
 * fragment.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { FILE_MODE, ensureDirs, segmentName } from './files.js';

export type FsyncPolicy = 'always' | 'batch' | 'off';

export interface JournalOptions {
  dir: string;
  streamId: string;
  maxFileBytes: number;
  fsync: FsyncPolicy;
}

export interface SegmentInfo {
  readonly path: string;
  /** First and last sequence numbers written to it (0 when none yet). */
  first: number;
  last: number;
  /** Bytes of whole lines written (and, with fsync, synced) to it. */
  bytes: number;
}

export class JournalWriter {
  readonly segments: SegmentInfo[] = [];
  private fd = -1;
  private segmentNo = 0;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly options: JournalOptions) {}

  get current(): SegmentInfo | undefined {
    return this.segments[this.segments.length - 1];
  }

  /** Highest sequence number that is on disk (and synced, by policy). */
  get writtenSeq(): number {
    return this.current?.last ?? 0;
  }

  private openNext(): void {
    ensureDirs(this.options.dir);
    this.segmentNo++;
    const path = join(this.options.dir, segmentName(this.options.streamId, this.segmentNo));
    // O_EXCL: a segment name is never reused, even across a crash and restart (new stream id anyway).
    this.fd = fs.openSync(path, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_APPEND, FILE_MODE);
    this.segments.push({ path, first: 0, last: 0, bytes: 0 });
  }

  private rotateIfNeeded(len: number): void {
    const cur = this.current;
    if (this.fd < 0 || cur === undefined) return this.openNext();
    if (cur.bytes > 0 && cur.bytes + len > this.options.maxFileBytes) {
      fs.fsyncSync(this.fd);
      fs.closeSync(this.fd);
      this.fd = -1;
      this.openNext();
    }
  }

  private noteWritten(len: number, first: number, last: number): void {
    const cur = this.current!;
    if (cur.first === 0) cur.first = first;
    cur.last = last;
    cur.bytes += len;
  }

  private repair(len: number): void {
    // Cut a partial line so the next append starts on a line boundary.
    const cur = this.current;
    if (cur !== undefined && this.fd >= 0) {
      try {
        fs.ftruncateSync(this.fd, cur.bytes);
      } catch {
        /* the next start-up will find and set aside the torn tail */
      }
    }
    void len;
  }

  /** Appends lines (each ending in '\n') and fsyncs before returning. Throws on I/O error. */
  writeSync(text: string, first: number, last: number): void {
    if (this.closed) throw new Error('journal is closed');
    const buf = Buffer.from(text, 'utf8');
    this.rotateIfNeeded(buf.length);
    try {
      let off = 0;
      while (off < buf.length) off += fs.writeSync(this.fd, buf, off, buf.length - off);
      if (this.options.fsync !== 'off') fs.fsyncSync(this.fd);
    } catch (e) {
      this.repair(buf.length);
      throw e;
    }
    this.noteWritten(buf.length, first, last);
  }

  /** Appends lines asynchronously; writes are serialized in call order. */
  write(text: string, first: number, last: number): Promise<void> {
    const run = async (): Promise<void> => {
      if (this.closed) throw new Error('journal is closed');
      const buf = Buffer.from(text, 'utf8');
      this.rotateIfNeeded(buf.length);
      const fd = this.fd;
      try {
        let off = 0;
        while (off < buf.length) off += await writeAsync(fd, buf, off);
        if (this.options.fsync === 'batch' || this.options.fsync === 'always') await fsyncAsync(fd);
      } catch (e) {
        this.repair(buf.length);
        throw e;
      }
      this.noteWritten(buf.length, first, last);
    };
    const p = this.chain.then(run);
    this.chain = p.catch(() => undefined);
    return p;
  }

  /** Waits for queued writes, fsyncs and closes. Idempotent. */
  async close(): Promise<void> {
    await this.chain;
    if (this.closed) return;
    this.closed = true;
    if (this.fd >= 0) {
      try {
        fs.fsyncSync(this.fd);
      } finally {
        fs.closeSync(this.fd);
        this.fd = -1;
      }
    }
  }
}

function writeAsync(fd: number, buf: Buffer, off: number): Promise<number> {
  return new Promise((resolve, reject) =>
    fs.write(fd, buf, off, buf.length - off, null, (err, n) => (err ? reject(err) : resolve(n))),
  );
}

function fsyncAsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));
}
