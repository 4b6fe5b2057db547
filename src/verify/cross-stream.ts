/** What crosses streams: checkpoints read from other sources, and restart links between a process's streams. */
import { isSetAside, retainedAtEndWhileRead, setAsideHint, type CheckedStream } from './chain-check.js';
import type { RetentionCut } from './retention-log.js';
import { listInputs, VerifyInputError, type InputFile, type SkipListener } from './inputs.js';
import { errorText } from '../core/errors.js';
import type { ExternalCheckpoint, IntegrityContext } from './integrity-check.js';
import { clip, type Problem, type ProblemList } from './problems.js';
import { scanRecords } from './read-records.js';
import { keep, own, streamKey, type StreamLink } from './record-store.js';

/**
 * Valid checkpoints in `sources` (files not among `inputs`), by stream; invalid ones become problems. A source
 * may be a collector shared by several producers: a checkpoint under a key not given, of a stream with no record
 * in the inputs (`known`), is another producer's — info, not an error.
 */
export async function readCheckpointSources(
  sources: readonly string[],
  inputs: readonly InputFile[],
  known: ReadonlyMap<string, number>,
  ic: IntegrityContext,
  problems: ProblemList,
  onSkip: SkipListener,
): Promise<Map<string, ExternalCheckpoint[]>> {
  const byStream = new Map<string, ExternalCheckpoint[]>();
  if (sources.length === 0 || !ic.checkCheckpoints) return byStream;
  const already = new Set(inputs.map((f) => f.id));
  for (const { path: file, follow, id } of await listInputs(sources, onSkip)) {
    if (already.has(id)) continue; // its checkpoints are in the chain already
    try {
      await scanRecords(file, { keys: ic.keys, checkSignatures: true, checkpointsOnly: true, followSymlinks: follow }, (item) => {
        if (item.kind !== 'record' || item.checkpoint === undefined) return;
        const c = item.checkpoint;
        const key = streamKey(item.streamId);
        if (c.status === 'valid') {
          let l = byStream.get(key);
          if (l === undefined) byStream.set(own(key), (l = []));
          l.push({ seq: item.seq, coveredSeq: c.coveredSeq!, headHash: own(c.headHash!), keyId: keep(c.keyId), file, line: item.line });
        } else if (c.status === 'invalid' || c.status === 'unknown_key') {
          const foreign = c.status === 'unknown_key' && !known.has(key);
          problems.add({
            kind: 'bad_signature',
            severity: foreign ? 'info' : 'error',
            stream: own(key),
            seq: item.seq,
            ...(item.recordId === '' ? {} : { recordId: keep(item.recordId) }),
            file,
            line: item.line,
            reason: c.status === 'invalid' ? 'checkpoint_invalid' : 'checkpoint_unknown_key',
            message: clip(`checkpoint source: ${c.status === 'invalid' ? 'forged or malformed checkpoint' : 'checkpoint not trusted'}: ${c.detail}${foreign ? '; of a stream with no record among the inputs: another producer\'s (a shared collector), not evidence about the inputs' : ''}`),
          });
        }
      });
    } catch (e) {
      throw new VerifyInputError(`${file}: ${errorText(e)}`, { cause: e });
    }
  }
  return byStream;
}

/**
 * Restart links (docs/integrity.md §6): a stream whose first record names a previous stream of the same
 * process. Facts about the process are `restart` (info); records of the previous stream that the next one saw
 * but that are not held are `truncated`.
 */
export function checkStreamLinks(checked: Map<string, CheckedStream>, fileNames: readonly string[], retained: ReadonlyMap<string, readonly RetentionCut[]> = new Map()): Problem[] {
  const out: Problem[] = [];
  for (const [streamId, b] of checked) {
    const link = b.link;
    if (link === undefined) continue;
    const s = b.records;
    const i = link.index;
    const here = { file: fileNames[s.file[i]!]!, line: s.line[i]! };
    const recordId = s.recordId(i);
    const base = { stream: streamId, seq: 1, ...(recordId === '' ? {} : { recordId }), ...here };
    const a = checked.get(link.previousStreamId);
    const prevName = JSON.stringify(link.previousStreamId);
    if (a === undefined) {
      out.push({
        kind: 'restart',
        severity: 'info',
        ...base,
        reason: 'previous_missing',
        message: `the process restarted: this stream continues stream ${prevName}, which is not among the inputs`,
      });
      continue;
    }
    // The link is the word of this stream's seq-1 record: no evidence about A when this stream's own check named
    // that record as changed (seq 2 does not link to it, and neither a signature nor seq 3 says it is seq 2 that
    // changed). The link may be the very change.
    const doubted = linkDoubted(b);
    // Retention deleted the finished stream whole while this run read the directory: said as verify run again says
    // it (the stream deleted whole, a restart of a stream not among the inputs), not as a truncation.
    const raced = doubted ? undefined : retainedAtEnd(a, link, retained.get(link.previousStreamId) ?? []);
    if (raced !== undefined) {
      const aLast = a.summary.last;
      const L = link.previousStreamLast!;
      out.push(
        removedTail(link.previousStreamId, aLast, L, here, `(${raced.file}, ${raced.deletedAt}) after the collector acknowledged them, while this run read the directory: the next stream of the process (${streamId}, first record at ${here.file}:${here.line}) found it at seq ${L} with the hash the cut has, seq ${aLast} and the records before it were read from segments retention deleted too (state/retention.log has their cut through seq ${aLast}, with its hash), and none of them is in the directory any more; ${raced.stateFile} records seq ${raced.state!.acked} acknowledged`),
      );
      continue;
    }
    if (!a.summary.ended) {
      out.push({
        kind: 'restart',
        severity: 'info',
        ...base,
        reason: 'previous_unended',
        message: `the process restarted: this stream continues stream ${prevName}, which ends at seq ${a.summary.last} without an end record (the process stopped without shutting down)`,
      });
    }
    const L = link.previousStreamLast;
    if (L === undefined) continue;
    const doubt = (claim: string): Problem => ({
      kind: 'restart',
      severity: 'info',
      ...base,
      reason: 'link_doubted',
      message: `this record's restart link says ${claim}, but seq 2 of this stream does not link to this record: it was changed (reported at seq 1), and the link may be the change, so it is not taken as evidence about stream ${prevName}`,
    });
    const aLast = a.summary.last;
    // Only copies set aside in rejected/ held, and the stream's own check took the cut that accounts for the gaps
    // around them (chain-check.ts setAsideCut): through seq L, bound to the hash this link recorded, or further.
    const aside = a.summary.files.length > 0 && a.summary.files.every(isSetAside);
    const c = a.asideCut;
    const cut = aside && !doubted && c !== undefined && (L < c.last || (L === c.last && link.previousStreamHash === c.lastHash)) ? c : undefined;
    if (aLast < L && cut !== undefined) {
      out.push(
        removedTail(link.previousStreamId, aLast, L, here, `after the collector acknowledged them: the next stream of the process (${streamId}, first record at ${here.file}:${here.line}) found it at seq ${L}, and ${cut.log} has the cut through seq ${cut.last} (${cut.file}, ${cut.deletedAt}) that accounts for the stream's gaps (${cut.stateFile} records seq ${cut.state!.acked} acknowledged). The records held of it are copies set aside in rejected/ (refused by the collector for good, kept for ever)`),
      );
    } else if (aLast < L) {
      if (doubted) {
        out.push(doubt(`stream ${prevName} reached seq ${L}, while the records held end at seq ${aLast}`));
        continue;
      }
      out.push({
        kind: 'truncated',
        severity: 'error',
        stream: link.previousStreamId,
        seq: aLast + 1,
        ...(L === aLast + 1 ? {} : { through: L }),
        ...here,
        reason: 'previous_stream',
        message: `stream ${prevName} was truncated: the next stream of the process (${streamId}, first record at ${here.file}:${here.line}) found it at seq ${L}, but the records held end at seq ${aLast}${aside && a.asideWhy !== undefined ? setAsideHint(retained.get(link.previousStreamId) ?? [], L, a.asideWhy) : ''}`,
      });
      a.summary.ok = false;
    } else if (link.previousStreamHash !== undefined) {
      const j = a.at(L);
      if (j !== undefined && a.records.hashHex(j) !== link.previousStreamHash) {
        if (doubted) {
          out.push(doubt(`seq ${L} of stream ${prevName} has another hash than the one held`));
          continue;
        }
        const rid = a.records.recordId(j);
        out.push({
          kind: 'modified',
          severity: 'error',
          stream: link.previousStreamId,
          seq: L,
          ...(rid === '' ? {} : { recordId: rid }),
          file: fileNames[a.records.file[j]!]!,
          line: a.records.line[j]!,
          reason: 'previous_stream',
          message: `its hash does not match the one the next stream of the process (${streamId}, at ${here.file}:${here.line}) recorded for it: its content was changed`,
        });
        a.summary.ok = false;
      }
    }
  }
  return out;
}

/** Seq `aLast`+1 .. `L` of the previous stream, which the restart link at `here` names, removed by retention `why` (info). */
function removedTail(previousStreamId: string, aLast: number, L: number, here: { file: string; line: number }, why: string): Problem {
  const prevName = JSON.stringify(previousStreamId);
  return {
    kind: 'deleted',
    severity: 'info',
    stream: previousStreamId,
    seq: aLast + 1,
    ...(L === aLast + 1 ? {} : { through: L }),
    ...here,
    message: `${aLast + 1 === L ? `seq ${L} of stream ${prevName} was` : `seq ${aLast + 1}–${L} of stream ${prevName} were`} removed by retention ${why}`,
  };
}

/**
 * The link is the word of stream b's seq-1 record: no evidence about the previous stream when b's own check named
 * that record as changed.
 */
const linkDoubted = (b: CheckedStream): boolean => b.problems.some((p) => p.seq === 1 && p.severity === 'error' && (p.kind === 'modified' || p.kind === 'inserted'));

/** chain-check.ts `retainedAtEndWhileRead` for the records of `a` held short of where a restart link (not doubted) found it. */
function retainedAtEnd(a: CheckedStream, link: StreamLink, retained: readonly RetentionCut[]): RetentionCut | undefined {
  const L = link.previousStreamLast;
  if (L === undefined || a.summary.last >= L || a.summary.count === 0) return undefined;
  return retainedAtEndWhileRead(a, retained, L, link.previousStreamHash, a.summary.last);
}

/**
 * Streams known only from checkpoint sources (not in `known`): every record of them is missing from the inputs —
 * unless no checkpoint of it is under a key some record or claim of the inputs verified under (`inputKeyIds`, when
 * there is one): then it is another producer's stream, in a collector several producers share (info).
 */
export function streamsOnlyInSources(external: ReadonlyMap<string, readonly ExternalCheckpoint[]>, known: ReadonlyMap<string, number>, inputKeyIds: ReadonlySet<string>): Problem[] {
  const out: Problem[] = [];
  for (const [streamId, list] of external) {
    if (known.has(streamId)) continue;
    const furthest = list.reduce((a, b) => (b.seq > a.seq ? b : a));
    const foreign = inputKeyIds.size > 0 && !list.some((c) => inputKeyIds.has(c.keyId));
    out.push({
      kind: 'truncated',
      severity: foreign ? 'info' : 'error',
      stream: streamId,
      seq: 1,
      ...(furthest.seq === 1 ? {} : { through: furthest.seq }),
      file: furthest.file,
      line: furthest.line,
      reason: 'records_missing',
      message: `no record of this stream is among the inputs, but a valid checkpoint (seq ${furthest.seq}, at ${furthest.file}:${furthest.line}) proves it reached seq ${furthest.seq}${foreign ? `; it is signed by key ${JSON.stringify(furthest.keyId)}, which no stream of the inputs uses: another producer's stream (a shared collector)` : ''}`,
    });
  }
  return out;
}
