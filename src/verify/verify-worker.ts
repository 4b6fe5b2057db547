/**
 * Entry of a verify worker thread (emitted as dist/verify-worker.js, see tsup.config.ts; started by
 * parallel-read.ts): parses, canonicalizes, hashes and checks the signatures of the lines it is given, the
 * expensive per-record part, and sends back their items. Nothing here judges a chain: the main thread does.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadVerifyingKeys } from '../integrity/keys.js';
import { errorText } from '../core/errors.js';
import { lineItemsOfBytes } from './line-items.js';
import type { ReadItem } from './read-items.js';
import { resolve } from './record-checks.js';
import { encodeItems, META_FIELDS, type Task, type WorkerInit, type WorkerMessage } from './worker-protocol.js';

const port = parentPort;
if (port === null) throw new Error('verify-worker.js runs only as a worker thread');
const init = workerData as WorkerInit;
const keys = loadVerifyingKeys(init.pemFile === undefined ? [] : [init.pemFile], init.hmacSecrets);
const opts = resolve({ keys, checkSignatures: init.checkSignatures });
const send = (m: WorkerMessage): void => port.postMessage(m);

port.on('message', (t: Task) => {
  try {
    const items: ReadItem[] = [];
    const emit = (i: ReadItem): void => void items.push(i);
    const bytes = Buffer.from(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
    const meta = t.meta;
    for (let k = 0; k < meta.length; k += META_FIELDS) {
      const start = meta[k]!;
      const line = start < 0 ? undefined : bytes.subarray(start, meta[k + 1]!);
      lineItemsOfBytes(t.file, line, meta[k + 2]!, meta[k + 3] === 1, opts, emit);
    }
    const back = t.bytes.buffer as ArrayBuffer;
    port.postMessage({ id: t.id, items: encodeItems(items), bytes: back } satisfies WorkerMessage, [back]);
  } catch (e) {
    // lineItemsOfBytes never throws for content; this is a bug or an exhausted heap, reported, never skipped.
    send({ id: t.id, error: errorText(e) });
  }
});
send({ ready: true });
