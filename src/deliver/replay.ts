/**
 * Replay after a restart (ARCHITECTURE.md §5.2): streams left in the journal directory by processes that are gone are
 * re-sent to the collector, in sequence order, resuming after the last acknowledged record. Each orphaned
 * stream is claimed with a lock file first, so processes sharing the directory never replay it twice at once.
 */
import { diag } from '@opentelemetry/api';
import { canonicalFromOtlp } from '../chain/canonical.js';
import { hashCanonical } from '../chain/hash.js';
import { ATTR_SEQ_END, ATTR_SEQ_NUMBER, ATTR_SEQ_STREAM_ID } from '../core/attributes.js';
import { filterRequest, attribute, intAttribute, stringAttribute } from '../otlp/decode.js';
import type { ExportLogsServiceRequest, OtlpLogRecord } from '../otlp/types.js';
import { listStreams, prepareAuditDir } from '../sinks/files.js';
import { readLastLine, readLines } from '../sinks/journal-reader.js';
import { keepRejected, refusedForGood } from '../sinks/rejected.js';
import { bisectRefused } from './bisect.js';
import { recoverSegment, type TornTail } from '../sinks/recover.js';
import { claimReplay, isOwnerAlive, newState, readState, writeState, type StreamState } from '../sinks/stream-state.js';
import type { BatchSender } from './otlp-sender.js';

export interface ReplayOptions {
  dir: string;
  /** The live stream of this process: never replayed here. */
  ownStreamId: string;
  sender: BatchSender;
  maxExportBatchSize: number;
  retryMinMillis: number;
  retryMaxMillis: number;
}

export interface ReplayReport {
  streams: string[];
  records: number;
  /** Records the collector refused for good, kept in rejected/. */
  rejected: number;
  torn: TornTail[];
  malformedLines: number;
}

interface Claimed {
  streamId: string;
  paths: string[];
  state: StreamState;
  release: () => void;
}

/** Seq and hash of the highest record of `streamId` on the last whole line of its last segment. */
function lastRecordOf(streamId: string, paths: readonly string[]): { lastSeq?: number; lastHash?: string } {
  try {
    const line = readLastLine(paths[paths.length - 1]!);
    if (line === undefined) return {};
    const req = JSON.parse(line) as ExportLogsServiceRequest;
    let best: { seq: number; rec: OtlpLogRecord } | undefined;
    for (const rl of req.resourceLogs ?? [])
      for (const sl of rl.scopeLogs ?? [])
        for (const r of sl.logRecords ?? []) {
          const seq = intAttribute(r, ATTR_SEQ_NUMBER);
          if (stringAttribute(r, ATTR_SEQ_STREAM_ID) === streamId && seq !== undefined && (best === undefined || seq > best.seq)) best = { seq, rec: r };
        }
    return best === undefined ? {} : { lastSeq: best.seq, lastHash: hashCanonical(canonicalFromOtlp(best.rec)) };
  } catch {
    return {}; // unreadable tail: link by stream id only
  }
}

export class Replayer {
  private stopped = false;
  private wake: (() => void) | undefined;
  private readonly claimed: Claimed[];
  readonly report: ReplayReport = { streams: [], records: 0, rejected: 0, torn: [], malformedLines: 0 };

  /**
   * Claims, synchronously, the streams left unacknowledged by processes that are gone (so the new stream can
   * name its predecessor on its very first record); `run()` then replays them in the background. Throws
   * AuditConfigError when the directory is not safe to use (prepareAuditDir).
   */
  constructor(private readonly o: ReplayOptions) {
    this.claimed = [];
    // Before any file in the directory is read, locked or written: refuse (AuditConfigError) a directory
    // others can write, and any link, FIFO or foreign file planted where a segment or state file should be.
    prepareAuditDir(o.dir);
    for (const [streamId, paths] of listStreams(o.dir)) {
      if (streamId === o.ownStreamId) continue;
      const state = readState(o.dir, streamId);
      if (state?.done === true) continue;
      // A live owner is still delivering; but a stream it closed (ended) is final and can be replayed now.
      if (state !== undefined && !state.ended && isOwnerAlive(state)) continue;
      const release = claimReplay(o.dir, streamId);
      if (release === undefined) continue;
      this.claimed.push({ streamId, paths, state: state ?? { ...newState(streamId), pid: 0, startedAt: '' }, release });
    }
  }

  /**
   * The most recently started of the claimed streams — what this process's stream follows — with the seq and
   * hash of its last whole record in the journal, so a verifier can prove a crashed stream was not cut later.
   */
  get predecessor(): { streamId: string; lastSeq?: number; lastHash?: string } | undefined {
    let best: Claimed | undefined;
    for (const c of this.claimed) if (best === undefined || c.state.startedAt > best.state.startedAt) best = c;
    if (best === undefined) return undefined;
    return { streamId: best.streamId, ...lastRecordOf(best.streamId, best.paths) };
  }

  /** Replays the claimed streams, oldest first, releasing each claim when done (or stopped). */
  async run(): Promise<ReplayReport> {
    for (const c of this.claimed) {
      try {
        if (!this.stopped) await this.replayStream(c.streamId, c.paths, c.state);
      } finally {
        c.release();
      }
    }
    return this.report;
  }

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  private async replayStream(streamId: string, paths: string[], state: StreamState): Promise<void> {
    const torn = recoverSegment(this.o.dir, paths[paths.length - 1]!);
    if (torn !== undefined) {
      this.report.torn.push(torn);
      const msg = `otel-audit: torn last line in ${torn.file} (${torn.bytes} bytes at offset ${torn.offset}) set aside to ${torn.quarantinedTo}`;
      diag.error(msg);
      process.stderr.write(msg + '\n');
    }
    this.report.streams.push(streamId);
    let acked = state.acked;
    let ended = state.ended;
    let requests: ExportLogsServiceRequest[] = [];
    let count = 0;
    let last = acked;
    const flush = async (): Promise<boolean> => {
      if (count === 0) return true;
      const body = JSON.stringify({ resourceLogs: requests.flatMap((r) => r.resourceLogs ?? []) });
      const outcome = await this.sendUntilOk(streamId, body, count, acked + 1, last);
      if (outcome === 'stopped') return false;
      if (outcome === 'acked') this.report.records += count;
      acked = last;
      writeState(this.o.dir, { ...state, acked, last: Math.max(state.last, acked) });
      requests = [];
      count = 0;
      return true;
    };
    for (const path of paths) {
      for await (const line of readLines(path)) {
        let req: ExportLogsServiceRequest;
        try {
          req = JSON.parse(line.text) as ExportLogsServiceRequest;
        } catch {
          this.report.malformedLines++;
          continue; // left in place: `otel-audit verify` reports it as malformed
        }
        const f = filterRequest(req, streamId, (s) => s > acked);
        if (f === undefined) continue;
        for (const rl of f.request.resourceLogs ?? [])
          for (const sl of rl.scopeLogs ?? [])
            for (const r of sl.logRecords ?? []) if (attribute(r, ATTR_SEQ_END)?.boolValue === true) ended = true;
        requests.push(f.request);
        count += f.count;
        last = Math.max(last, f.last);
        if (count >= this.o.maxExportBatchSize && !(await flush())) return;
      }
    }
    if (!(await flush())) return;
    // The owner is gone: nothing more will be appended, so the stream is complete once all is acknowledged.
    writeState(this.o.dir, { ...state, acked, last: Math.max(state.last, acked), ended, done: true });
  }

  /** Sends until acknowledged — or refused for good, then kept in rejected/ like the live stream does. */
  /** Keeps refused records in rejected/ and says so. */
  private keepAside(streamId: string, body: string, first: number, last: number, count: number, why: string): void {
    const where = keepRejected(this.o.dir, streamId, first, last, body);
    this.report.rejected += count;
    const msg = `otel-audit: the collector refused replayed records ${first}–${last} of stream ${streamId} for good (${why}); kept in ${where}`;
    diag.error(msg);
    process.stderr.write(msg + '\n');
  }

  /** 'acked-parts' / 'bisected': refused whole, then split; the parts' records are already counted. */
  private async sendUntilOk(
    streamId: string,
    body: string,
    count: number,
    first: number,
    last: number,
  ): Promise<'acked' | 'set-aside' | 'stopped' | 'acked-parts' | 'bisected'> {
    let delay = this.o.retryMinMillis;
    let attempts = 0;
    while (!this.stopped) {
      const r = await this.o.sender.send(body, count);
      if (r.ok) return 'acked';
      if (refusedForGood(r, ++attempts)) {
        if (count > 1) {
          // Only the records the collector refuses are set aside (deliver/bisect.ts); a retryable failure
          // meanwhile sends the whole batch again (at-least-once).
          let setAside = 0;
          const outcome = await bisectRefused({
            sender: this.o.sender,
            streamId,
            body,
            onAcked: (_last, n) => (this.report.records += n),
            onRefused: (part, partFirst, partLast, n, message) => {
              setAside++;
              this.keepAside(streamId, part, partFirst, partLast, n, message);
            },
          });
          if (outcome === 'done') return setAside > 0 ? 'bisected' : 'acked-parts';
          attempts = 0;
          continue;
        }
        this.keepAside(streamId, body, first, last, count, r.message);
        return 'set-aside';
      }
      diag.warn(`otel-audit: replay export failed (${r.message}); retrying in ${delay} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay);
        t.unref();
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      delay = Math.min(delay * 2, this.o.retryMaxMillis);
    }
    return 'stopped';
  }
}
