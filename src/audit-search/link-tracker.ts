/**
 * Chain verdicts for records that arrive while `tail --follow` runs, checked link by link as they come: per
 * stream only its highest record so far (to hash when its successor arrives) and its verdict. A record is
 * `verified` when its stream was verified up to its predecessor and it links to it (next seq, previous_hash
 * = the predecessor's hash, per docs/integrity.md §7.2); the first record that does not link breaks its
 * stream from there on: a gap is `deleted`, a link to other content `modified`, a record after the end
 * record `inserted`, an unseen lower seq `reordered`. A stream first seen past seq 1 is `unknown`. A gap that a
 * retention cut accounts for is no break, as verify says `deleted (info)` of it: the cut ends at the record before
 * the gap, with the hash this record links to, and is backed by the state file (retention-cuts.ts); and, as verify
 * takes a cut only at a stream's start, no file the stream's earlier records were read from is still in the
 * directory (retention deletes a stream's oldest segment first; found in review: a segment deleted from the middle
 * of a stream, with a line appended to retention.log, passed). The records from there on are `unknown`, as those
 * of a stream first seen past its start: verify also weighs what tail does not read (earlier records copied or
 * renamed to other files, copies set aside in rejected/; found in re-review), so tail vouches for no record after a
 * cut.
 * The verifier over the whole files remains the reference; this is the running view.
 */
import { ATTR_SEQ_END, ATTR_SEQ_PREVIOUS_HASH } from '../core/attributes.js';
import type { OtlpLogRecord } from '../otlp/types.js';
import { attributeValue, type AuditRecord } from './audit-record.js';
import type { ChainProblemRef, ChainStatus, ChainVerdict } from './chain-status.js';
import { hashOrNull } from './copy-check.js';
import type { RetentionCuts } from './retention-cuts.js';

export interface LinkTrackerOptions {
  /** The retention cuts of the directory followed; none: every gap is a deletion. */
  retention?: {
    cuts: RetentionCuts;
    /** Is the file still in the directory (in its last listing)? */
    listed(file: string): boolean;
    /** Told of each gap a cut accounted for: records `from`..`to` of the stream, deleted by retention. */
    onRetained(streamId: string, from: number, to: number): void;
  };
}

interface StreamHead {
  seq: number;
  record: OtlpLogRecord;
  /** Hash of `record`, computed when first needed; null when it has no canonical form. */
  hash: string | null | undefined;
  ended: boolean;
  chain: ChainStatus;
  problem: ChainProblemRef | undefined;
}

const isEnd = (r: OtlpLogRecord): boolean => attributeValue(r.attributes, ATTR_SEQ_END)?.boolValue === true;

function hashOf(head: StreamHead): string | null {
  if (head.hash === undefined) head.hash = hashOrNull(head.record);
  return head.hash;
}

export class LinkTracker {
  private readonly heads = new Map<string, StreamHead>();
  /** With `retention`: per stream, the files its records were read from that were listed at the last prune. */
  private readonly filesOf = new Map<string, Set<string>>();

  constructor(private readonly o: LinkTrackerOptions = {}) {}

  /**
   * Notes a record the verifier read, with its verdict, as its stream's head if it is the highest so far:
   * its successors are checked against it and inherit the verdict.
   */
  seed(r: AuditRecord, verdict: ChainVerdict): void {
    const h = this.heads.get(r.streamId);
    this.noteFile(r);
    if (h !== undefined && h.seq >= r.sequence) return;
    this.heads.set(r.streamId, { seq: r.sequence, record: r.record, hash: undefined, ended: isEnd(r.record), chain: verdict.chain, problem: verdict.problem });
  }

  /** The verdict of a new record (not seen before), which becomes its stream's head if it is the highest. */
  check(r: AuditRecord): ChainVerdict {
    const h = this.heads.get(r.streamId);
    const prevHash = attributeValue(r.record.attributes, ATTR_SEQ_PREVIOUS_HASH);
    let chain: ChainStatus;
    let problem: ChainProblemRef | undefined;
    if (h === undefined) {
      chain = r.sequence === 1 && prevHash === undefined ? 'verified' : r.sequence === 1 ? 'broken' : 'unknown';
      if (chain === 'broken') problem = { kind: 'modified', seq: 1 };
    } else if (r.sequence < h.seq) {
      chain = 'broken';
      problem = h.problem ?? { kind: 'reordered', seq: r.sequence };
    } else {
      const at = (kind: ChainProblemRef['kind'], seq: number): void => {
        chain = 'broken';
        problem = h.problem ?? { kind, seq };
      };
      chain = h.chain;
      problem = h.problem;
      if (h.ended) at('inserted', r.sequence);
      else if (r.sequence > h.seq + 1) {
        if (this.retainedBefore(r, prevHash?.stringValue)) {
          this.o.retention!.onRetained(r.streamId, h.seq + 1, r.sequence - 1);
          if (chain !== 'broken') chain = 'unknown';
        } else at('deleted', h.seq + 1);
      }
      // The predecessor's hash no longer matches what this record recorded: the predecessor was changed (as verify names it).
      else if (prevHash?.stringValue !== hashOf(h)) at('modified', h.seq);
    }
    this.noteFile(r);
    if (h === undefined || r.sequence > h.seq) {
      this.heads.set(r.streamId, { seq: r.sequence, record: r.record, hash: undefined, ended: isEnd(r.record), chain, problem });
    }
    const v: ChainVerdict = { chain };
    if (problem !== undefined && chain === 'broken') v.problem = problem;
    return v;
  }

  /** A later copy of a record already seen, read from `r.file`: that file holds the stream's records too. */
  noteCopy(r: AuditRecord): void {
    this.noteFile(r);
  }

  /** Forgets the files no longer listed (deleted by retention, or renamed away): called after each listing. */
  pruneFiles(): void {
    const listed = this.o.retention?.listed;
    if (listed === undefined) return;
    for (const [streamId, files] of this.filesOf) {
      for (const f of files) if (!listed(f)) files.delete(f);
      if (files.size === 0) this.filesOf.delete(streamId);
    }
  }

  private noteFile(r: AuditRecord): void {
    if (this.o.retention === undefined) return;
    let files = this.filesOf.get(r.streamId);
    if (files === undefined) this.filesOf.set(r.streamId, (files = new Set()));
    files.add(r.file);
  }

  /** Did retention delete the records of `r`'s stream before it (the gap), and every one before them? */
  private retainedBefore(r: AuditRecord, prevHash: string | undefined): boolean {
    const ret = this.o.retention;
    if (ret === undefined || prevHash === undefined) return false;
    // An earlier record still in the directory (or in r's own file: retention deletes whole files) is no start.
    for (const f of this.filesOf.get(r.streamId) ?? []) if (f === r.file || ret.listed(f)) return false;
    return ret.cuts.isCut(r.streamId, r.sequence - 1, prevHash);
  }
}
