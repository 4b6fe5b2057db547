/**
 * Waiting on a slow reader, for the commands that may print without bound (search, tail): resolves once the stream
 * takes more, or at once when `signal` aborts — an interrupt must not wait for a reader that stopped reading
 * (found in review: SIGINT did nothing while tail's stdout pipe was full).
 */
import type { Writable } from 'node:stream';

export function drainOf(stream: Writable): (signal?: AbortSignal) => Promise<void> {
  return (signal) => {
    if (!stream.writableNeedDrain || signal?.aborted === true) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        stream.off('drain', done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      stream.once('drain', done);
      signal?.addEventListener('abort', done, { once: true });
    });
  };
}
