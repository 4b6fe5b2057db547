/**
 * Streaming reader for OTLP/JSON lines (the local journal and the Collector's file exporter output): yields
 * one small item per audit record, per non-audit record and per bad line, never the parsed request itself, so
 * memory stays bounded by the longest line whatever the file size.
 *
 * Bad content never throws: a final line without '\n' that does not parse is `torn` (a crash mid-write), any
 * other unparsable line, one that is not a logs request, one longer than MAX_LINE_BYTES (safe-read.ts) or one
 * that repeats a JSON member name in an object is `malformed`. Only I/O errors (missing file, permissions, not
 * a regular file) reject the iteration.
 *
 * Speed: lines are split and handled synchronously per 1 MiB chunk; each line first goes through the fast
 * path (fast-otlp.ts: canonical form straight from the text), and only what it declines through JSON.parse and
 * canonicalFromOtlp, which stay the reference for every error.
 *
 * Integrity attributes are read here, while the canonical text is at hand: each record's MAC/signature and each
 * checkpoint claim is checked at once (docs/integrity.md §7.1), and only the outcome is kept.
 */
import type { ReadItem, ReadOptions } from './read-items.js';
import { lineItemsOfBytes } from './line-items.js';
import { resolve } from './record-checks.js';
import { openRegularFile, splitLines } from './safe-read.js';

export type { BadItem, CheckpointClaim, NonAuditItem, ReadItem, ReadOptions, RecordItem, SignatureCheck } from './read-items.js';

/** Items of `file`, one array per chunk read, in file order. */
async function* itemChunks(file: string, options: ReadOptions): AsyncGenerator<ReadItem[]> {
  const opts = resolve(options);
  let items: ReadItem[] = [];
  const emit = (i: ReadItem): void => void items.push(i);
  const onLine = (bytes: Buffer | undefined, line: number, terminated: boolean): void =>
    lineItemsOfBytes(file, bytes, line, terminated, opts, emit);
  const { fh } = await openRegularFile(file, opts.followSymlinks);
  try {
    for await (const _ of splitLines(fh, onLine)) {
      if (items.length === 0) continue;
      yield items;
      items = [];
    }
  } finally {
    await fh.close();
  }
}

/**
 * Calls `onItem` for every item of `file` in file order (line, then position in the line). Rejects only on
 * I/O errors.
 */
export async function scanRecords(file: string, options: ReadOptions, onItem: (item: ReadItem) => void): Promise<void> {
  for await (const items of itemChunks(file, options)) for (const i of items) onItem(i);
}

/** Yields every item of `file` in file order (line, then position in the line). */
export async function* readRecords(file: string, options: ReadOptions = {}): AsyncGenerator<ReadItem> {
  for await (const items of itemChunks(file, options)) yield* items;
}
