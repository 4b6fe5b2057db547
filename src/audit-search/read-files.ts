/**
 * Streams the audit records of the input files in reading order (files in the verifier's order, then line,
 * then position in the line), one array per 1 MiB chunk: memory is bounded by the longest line, whatever the
 * size of the files. Files are opened the way `verify` opens them: regular files only, never
 * blocking on a FIFO, symbolic links followed only for a file named by the caller (safe-open.ts).
 */
import { MAX_LINE_BYTES, openRegularFile } from './safe-open.js';
import { splitLines } from '../verify/safe-read.js';
import type { AuditRecord } from './audit-record.js';
import { parseLine, type ReadCounts } from './parse-line.js';
import type { RefusedLine } from './refused-lines.js';
import { errorText } from '../core/errors.js';
import { VANISHED, vanished } from '../verify/inputs.js';

/** A file that could not be opened or read (vanished, permissions, not a regular file, EIO): an I/O error. */
export class InputReadError extends Error {
  override name = 'InputReadError';
}

export interface InputFile {
  path: string;
  /** Named by the caller (follow a symbolic link), rather than found inside an input directory. */
  follow: boolean;
}

const CR = 0x0d;
// fatal: a line that is not UTF-8 is unreadable here, as it is malformed for the verifier.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Decodes one line (a trailing CR dropped); undefined when it is not UTF-8. */
export function decodeLine(bytes: Buffer): string | undefined {
  let end = bytes.length;
  if (end > 0 && bytes[end - 1] === CR) end--;
  try {
    return utf8.decode(bytes.subarray(0, end));
  } catch {
    return undefined;
  }
}

/**
 * Yields the records of `files`, a chunk at a time; a line `refused` says the verifier refuses is skipped (counted
 * unreadable), a file deleted since it was listed is told to `onSkip`. Rejects only on I/O errors: InputReadError,
 * naming the file.
 */
export async function* readAuditRecords(
  files: readonly InputFile[],
  counts: ReadCounts,
  refused?: RefusedLine,
  onSkip: (path: string, reason: string) => void = () => undefined,
): AsyncGenerator<AuditRecord[]> {
  for (const f of files) {
    let batch: AuditRecord[] = [];
    const emit = (r: AuditRecord): void => void batch.push(r);
    const onLine = (bytes: Buffer | undefined, line: number): void => {
      if (bytes === undefined) {
        counts.unreadable++; // longer than MAX_LINE_BYTES: dropped as it streamed past
        return;
      }
      const text = decodeLine(bytes);
      const refusal = text === undefined || (refused?.(f.path, line, text) ?? false);
      if (refusal === true) counts.unreadable++;
      else parseLine(text!, f.path, line, counts, emit, refusal === false ? undefined : refusal);
    };
    const fail = (e: unknown): Error => new InputReadError(`${f.path}: ${errorText(e)}`, { cause: e });
    let fh;
    try {
      fh = (await openRegularFile(f.path, f.follow)).fh;
    } catch (e) {
      if (vanished(e, f)) {
        // Deleted by retention since it was listed (verify/inputs.ts): its records are not searched, and that is said.
        onSkip(f.path, VANISHED);
        continue;
      }
      throw fail(e);
    }
    try {
      const lines = splitLines(fh, onLine, MAX_LINE_BYTES);
      for (;;) {
        let step: IteratorResult<void>;
        try {
          step = await lines.next();
        } catch (e) {
          throw fail(e); // a read error (EIO), named with its file
        }
        if (step.done === true) break;
        if (batch.length === 0) continue;
        yield batch;
        batch = [];
      }
    } finally {
      await fh.close();
    }
  }
}
