/** Test helper: an orphaned stream on disk (dead owner), built from sealedInStream records. */
import { hostname } from 'node:os';
import { JournalWriter } from '../../src/sinks/journal.js';
import { newState, writeState, type StreamState } from '../../src/sinks/stream-state.js';
import type { BatchSender, SendResult } from '../../src/deliver/otlp-sender.js';
import { sealedInStream, seqsOf } from './sealed.js';

/** A pid no process has (above any pid_max). */
export const DEAD_PID = 0x3fffffff;

/** One request line holding records [from..to] of `streamId`; `extra(seq)` adds attributes. */
export function lineOf(streamId: string, seqs: number[], extra: (seq: number) => string = () => ''): Buffer {
  const recs = seqs.map((s) => sealedInStream(s, streamId, extra(s)).bytes.toString('utf8')).join(',');
  return Buffer.from(`{"resourceLogs":[{"scopeLogs":[{"scope":{"name":"audit"},"logRecords":[${recs}]}]}]}`);
}

/** Writes the stream's state (dead owner, `ended`) and its journal: one line per group of seqs. */
export async function orphanStream(dir: string, streamId: string, lines: number[][], extra?: (seq: number) => string, maxFileBytes = 1 << 20): Promise<StreamState> {
  const state: StreamState = { ...newState(streamId), pid: DEAD_PID, host: hostname(), ended: true };
  delete (state as { procStart?: string }).procStart;
  writeState(dir, state);
  const j = new JournalWriter({ dir, streamId, maxFileBytes, fsync: 'batch' });
  for (const seqs of lines) await j.write([{ bytes: lineOf(streamId, seqs, extra), first: seqs[0]!, last: seqs[seqs.length - 1]! }]);
  await j.close();
  return state;
}

/** A sender that acknowledges every request and keeps the seqs of each (`got`, in order sent). */
export function capturingSender(): { sender: BatchSender; got: number[][] } {
  const got: number[][] = [];
  const sender = {
    send: (body: Uint8Array | string): Promise<SendResult> => {
      got.push(seqsOf(Buffer.from(body).toString('utf8')));
      return Promise.resolve({ ok: true, retryable: true, rejected: 0, message: 'ok' });
    },
    shutdown: () => Promise.resolve(),
  } as BatchSender;
  return { sender, got };
}
