/**
 * Reading with worker threads (`verify --jobs N`, N > 1). The main thread reads every file in order exactly as
 * the in-process reader does (safe-read.ts: same opening rules, same line splitting and numbering), copies runs
 * of whole lines into buffers of about BATCH_BYTES and transfers them to the workers (verify-worker.ts), which
 * make the items — the expensive part: parse, canonical form, SHA-256, signatures. Items come back in any order
 * and are handed to `onItem` in file and line order, so what the verifier builds from them is the same as with
 * one thread.
 *
 * Memory: at most `jobs × TASKS_PER_WORKER` batches are out (sent and not yet merged), and no more than
 * MAX_BYTES_OUT of line bytes unless a single line is larger (a line is at most MAX_LINE_BYTES). Reading waits
 * for the oldest batch to be merged when either bound is reached.
 *
 * A worker that dies, throws or cannot start fails the whole verification with VerifyWorkerError: a batch
 * never goes missing silently.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { keyMaterial, type VerifyingKey } from '../integrity/keys.js';
import { VANISHED, vanished, VerifyInputError, type InputFile, type SkipListener } from './inputs.js';
import { errorText } from '../core/errors.js';
import type { ReadItem } from './read-items.js';
import { openRegularFile, splitLines } from './safe-read.js';
import { decodeItems, type EncodedItems, type Task, type WorkerInit, type WorkerMessage } from './worker-protocol.js';

/** A worker thread failed (crashed, threw, could not start): the verification has no result. */
export class VerifyWorkerError extends Error {
  override name = 'VerifyWorkerError';
}

/**
 * 512 KiB: against 1 MiB, 4-5 % less CPU on the 300 MB bench set (32 records a line; bench/verify-ab.mjs, 18
 * alternated pairs) and 4 MiB cost 25 % more: a worker holds a task's items until it answers, and the longer
 * it holds them the more of them survive into the old generation, which is costly to collect.
 */
const BATCH_BYTES = 512 << 10;
const TASKS_PER_WORKER = 3;
const MAX_BYTES_OUT = 64 << 20;
const SPARE_BYTES = 16 << 20;

/** dist/verify-worker.js, beside the bundle that runs this code (import.meta.url is shimmed in the CommonJS build). */
export function defaultWorkerUrl(): URL {
  return new URL('./verify-worker.js', import.meta.url);
}

/** Is dist/verify-worker.js there (it is not when this module runs from the sources, under a test runner)? */
export function workerEntryInstalled(url: URL = defaultWorkerUrl()): boolean {
  return url.protocol !== 'file:' || existsSync(fileURLToPath(url));
}

/** Keys as a worker can load them: key material never leaves the process, but handles do not cross threads. */
async function workerKeys(keys: readonly VerifyingKey[], checkSignatures: boolean): Promise<{ init: WorkerInit; cleanup: () => Promise<void> }> {
  const pems: string[] = [];
  const hmacSecrets: string[] = [];
  for (const k of keys) {
    const m = keyMaterial(k);
    if (k.algorithm === 'EdDSA') pems.push(m.export({ type: 'spki', format: 'pem' }) as string);
    else hmacSecrets.push(`base64:${m.export().toString('base64')}`);
  }
  const init: WorkerInit = { hmacSecrets, checkSignatures };
  if (pems.length === 0) return { init, cleanup: async () => undefined };
  // loadVerifyingKeys reads public keys from files only: a private directory holds them while workers start.
  const dir = await mkdtemp(join(tmpdir(), 'otel-audit-verify-'));
  init.pemFile = join(dir, 'pubkeys.pem');
  await writeFile(init.pemFile, pems.join(''), { mode: 0o600 });
  return { init, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Lines of one file gathered into one transferable buffer. */
class Batch {
  /** Its own ArrayBuffer (never a slice of Buffer's shared pool), so that it can be transferred. */
  readonly memory: ArrayBuffer;
  /** Lines go into its first `size` bytes (a spare may be larger: a batch stays about BATCH_BYTES). */
  readonly bytes: Buffer;
  used = 0;
  meta: number[] = [];
  constructor(size: number, spares: Spares) {
    // Rounded up, so that the spare of one long line fits the next one, a few bytes longer.
    this.memory = spares.take(size) ?? new ArrayBuffer(Math.ceil(size / BATCH_BYTES) * BATCH_BYTES);
    this.bytes = Buffer.from(this.memory, 0, size);
  }
}

/**
 * Batch buffers the workers gave back, to be read into again: a fresh buffer costs a page fault per 4 KiB
 * (measured: a third of verify's system time on a set of ~1.5 MB lines, where each line is a batch of its own).
 * At most SPARE_BYTES are kept.
 */
class Spares {
  private readonly list: ArrayBuffer[] = [];
  private bytes = 0;
  take(size: number): ArrayBuffer | undefined {
    for (let i = this.list.length - 1; i >= 0; i--) {
      const b = this.list[i]!;
      if (b.byteLength < size) continue;
      this.list.splice(i, 1);
      this.bytes -= b.byteLength;
      return b;
    }
    return undefined;
  }
  give(b: ArrayBuffer): void {
    if (this.bytes + b.byteLength > SPARE_BYTES) return;
    this.list.push(b);
    this.bytes += b.byteLength;
  }
}

/** The worker threads, their outstanding tasks and the in-order merge of their answers. */
class Pool {
  private readonly workers: Worker[] = [];
  private readonly load: number[] = [];
  /** Per task out: the index of its file, and its size. */
  private readonly fileOf = new Map<number, number>();
  private readonly done = new Map<number, EncodedItems>();
  private readonly bytesOf = new Map<number, number>();
  private nextId = 0;
  private nextMerge = 0;
  private bytesOut = 0;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private ready = 0;
  /** Batch buffers the workers gave back, to be read into again. */
  readonly spares = new Spares();

  constructor(
    url: URL,
    jobs: number,
    init: WorkerInit,
    private readonly files: readonly string[],
    private readonly onItem: (fileIndex: number, item: ReadItem) => void,
  ) {
    for (let w = 0; w < jobs; w++) {
      const worker = new Worker(url, { workerData: init });
      worker.on('message', (m: WorkerMessage) => this.onMessage(w, m));
      worker.on('error', (e) => this.fail(`verify worker ${w + 1} failed: ${errorText(e)}`));
      worker.on('messageerror', (e) => this.fail(`verify worker ${w + 1} sent an unreadable message: ${errorText(e)}`));
      worker.on('exit', (code) => this.fail(`verify worker ${w + 1} exited (code ${code}) before the verification finished`));
      this.workers.push(worker);
      this.load.push(0);
    }
  }

  private onMessage(w: number, m: WorkerMessage): void {
    if ('ready' in m) {
      this.ready++;
    } else if ('error' in m) {
      this.fail(`verify worker ${w + 1} failed: ${m.error}`);
      return;
    } else {
      this.load[w]!--;
      this.spares.give(m.bytes);
      this.done.set(m.id, m.items);
      this.merge();
    }
    this.notify();
  }

  private merge(): void {
    for (let items = this.done.get(this.nextMerge); items !== undefined; items = this.done.get(this.nextMerge)) {
      this.done.delete(this.nextMerge);
      this.bytesOut -= this.bytesOf.get(this.nextMerge)!;
      this.bytesOf.delete(this.nextMerge);
      const f = this.fileOf.get(this.nextMerge)!;
      this.fileOf.delete(this.nextMerge);
      this.nextMerge++;
      decodeItems(this.files[f]!, items, (i) => this.onItem(f, i));
    }
  }

  private fail(message: string): void {
    this.failure ??= new VerifyWorkerError(message);
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** Resolves when `ok()` holds; rejects as soon as a worker fails. */
  private async until(ok: () => boolean): Promise<void> {
    for (;;) {
      if (this.failure !== undefined) throw this.failure;
      if (ok()) return;
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  /** Every worker has loaded its keys. */
  started(): Promise<void> {
    return this.until(() => this.ready === this.workers.length);
  }

  /** Sends a batch to the least busy worker once there is room for it. */
  async send(fileIndex: number, file: string, b: Batch): Promise<void> {
    const size = b.used;
    await this.until(() => this.nextId === this.nextMerge || (this.nextId - this.nextMerge < this.workers.length * TASKS_PER_WORKER && this.bytesOut + size <= MAX_BYTES_OUT));
    let w = 0;
    for (let k = 1; k < this.load.length; k++) if (this.load[k]! < this.load[w]!) w = k;
    const id = this.nextId++;
    const meta = new ArrayBuffer(b.meta.length * Float64Array.BYTES_PER_ELEMENT);
    new Float64Array(meta).set(b.meta);
    const task: Task = { id, file, bytes: new Uint8Array(b.memory, 0, size), meta: new Float64Array(meta) };
    this.load[w]!++;
    this.fileOf.set(id, fileIndex);
    this.bytesOf.set(id, size);
    this.bytesOut += size;
    this.workers[w]!.postMessage(task, [b.memory, meta]);
  }

  /** Every batch sent has been merged. */
  drained(): Promise<void> {
    return this.until(() => this.nextMerge === this.nextId);
  }

  async close(): Promise<void> {
    this.failure ??= new VerifyWorkerError('closed');
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/**
 * Reads `inputs` in order with `jobs` worker threads and calls `onItem(fileIndex, item)` for every item in
 * file order (line, then position in the line), as `scanRecords` does file by file. Rejects with
 * VerifyInputError for a file that cannot be read and VerifyWorkerError when a worker fails.
 */
export async function scanInWorkers(
  inputs: readonly InputFile[],
  keys: readonly VerifyingKey[],
  checkSignatures: boolean,
  jobs: number,
  onItem: (fileIndex: number, item: ReadItem) => void,
  onSkip: SkipListener = () => undefined,
  workerUrl: URL = defaultWorkerUrl(),
): Promise<void> {
  if (!workerEntryInstalled(workerUrl)) {
    throw new VerifyWorkerError(`worker entry ${fileURLToPath(workerUrl)} not found (run the built package, or use --jobs 1)`);
  }
  const { init, cleanup } = await workerKeys(keys, checkSignatures);
  const pool = new Pool(workerUrl, jobs, init, inputs.map((i) => i.path), onItem);
  try {
    await pool.started();
    await cleanup();
    for (let f = 0; f < inputs.length; f++) await readFile(pool, f, inputs[f]!, onSkip);
    await pool.drained();
  } finally {
    await pool.close();
    await cleanup();
  }
}

/** Reads one file into batches of whole lines and sends them, waiting whenever the pool is full. */
async function readFile(pool: Pool, f: number, input: InputFile, onSkip: SkipListener): Promise<void> {
  const file = input.path;
  let opened: Awaited<ReturnType<typeof openRegularFile>>;
  try {
    opened = await openRegularFile(file, input.follow);
  } catch (e) {
    if (vanished(e, input)) return onSkip(file, VANISHED);
    throw new VerifyInputError(`${file}: ${errorText(e)}`, { cause: e });
  }
  let batch = new Batch(BATCH_BYTES, pool.spares);
  const full: Batch[] = [];
  // Synchronous, as splitLines requires: `bytes` is valid only during the call, so it is copied here.
  const onLine = (bytes: Buffer | undefined, line: number, terminated: boolean): void => {
    const n = bytes?.length ?? 0;
    if (batch.used + n > batch.bytes.length) {
      if (batch.meta.length > 0) full.push(batch);
      batch = new Batch(Math.max(BATCH_BYTES, n), pool.spares);
    }
    const start = bytes === undefined ? -1 : batch.used;
    if (bytes !== undefined) batch.used += bytes.copy(batch.bytes, batch.used);
    batch.meta.push(start, batch.used, line, terminated ? 1 : 0);
  };
  try {
    for await (const _ of splitLines(opened.fh, onLine)) {
      for (let b = full.shift(); b !== undefined; b = full.shift()) await pool.send(f, file, b);
    }
    if (batch.meta.length > 0) await pool.send(f, file, batch);
  } catch (e) {
    if (e instanceof VerifyWorkerError) throw e;
    throw new VerifyInputError(`${file}: ${errorText(e)}`, { cause: e });
  } finally {
    await opened.fh.close();
  }
}
