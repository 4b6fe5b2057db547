/**
 * Splits a file into lines from 1 MiB chunks, holding only the current chunk and one unfinished line: memory
 * is bounded by the longest line, whatever the file size, and a line over MAX_LINE_BYTES is dropped as it
 * streams past. Each chunk's lines go to `onLine` synchronously; the generator yields once per chunk so the
 * caller can hand on what they produced.
 */
import type { FileHandle } from 'node:fs/promises';
import { MAX_LINE_BYTES } from './safe-open.js';

const CHUNK_BYTES = 1 << 20;
const NL = 0x0a;

/** `bytes` is undefined for a line over the limit; `terminated` is false only for a last line without '\n'. */
export type LineHandler = (bytes: Buffer | undefined, line: number, terminated: boolean) => void;

export async function* splitLines(fh: FileHandle, onLine: LineHandler, maxLineBytes = MAX_LINE_BYTES): AsyncGenerator<void> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let tooLong = false;
  let line = 0;
  for (;;) {
    // A fresh buffer per chunk: a pending line keeps a slice of it.
    const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    const { bytesRead } = await fh.read(chunk, 0, CHUNK_BYTES, null);
    if (bytesRead === 0) break;
    const data = chunk.subarray(0, bytesRead);
    let start = 0;
    for (let nl = data.indexOf(NL); nl >= 0; nl = data.indexOf(NL, start)) {
      const over = tooLong || pendingBytes + (nl - start) > maxLineBytes;
      const piece = data.subarray(start, nl);
      onLine(over ? undefined : pending.length === 0 ? piece : Buffer.concat([...pending, piece]), ++line, true);
      pending = [];
      pendingBytes = 0;
      tooLong = false;
      start = nl + 1;
    }
    if (start < data.length && !tooLong) {
      pendingBytes += data.length - start;
      if (pendingBytes > maxLineBytes) {
        tooLong = true;
        pending = [];
      } else pending.push(data.subarray(start));
    }
    yield;
  }
  if (tooLong || pendingBytes > 0) {
    onLine(tooLong ? undefined : Buffer.concat(pending), ++line, false);
    yield;
  }
}
