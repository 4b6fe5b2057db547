/** Signatures and checkpoints of one stream (docs/integrity.md §7). */
import type { VerifyingKey } from '../integrity/keys.js';
import type { StreamProblems } from './problems.js';
import { F_CHECKPOINT, SIG_BAD, SIG_NONE, SIG_OK, SIG_UNCHECKED, SIG_UNKNOWN, type RecordStore } from './record-store.js';
import type { CheckpointCounts, SignatureCounts } from './summary.js';

/** Keys and switches for the integrity checks of one run. */
export interface IntegrityContext {
  keys: readonly VerifyingKey[];
  /** Record MACs/signatures are checked: some key was given, or --require-signatures. */
  checkSignatures: boolean;
  /** Checkpoints are checked: an Ed25519 public key was given. */
  checkCheckpoints: boolean;
  requireSignatures: boolean;
}

/** A valid checkpoint read from a `checkpointSources` file. */
export interface ExternalCheckpoint {
  seq: number;
  coveredSeq: number;
  headHash: string;
  /** audit.integrity.key_id of its signature. */
  keyId: string;
  file: string;
  line: number;
}

const SIG_NAME: Record<number, string> = { [SIG_OK]: 'valid', [SIG_BAD]: 'invalid', [SIG_UNKNOWN]: 'unknown key', [SIG_UNCHECKED]: 'not checked', [SIG_NONE]: 'unsigned' };

/** A valid checkpoint of the stream, in its chain or from a checkpoint source. */
interface Evidence {
  seq: number;
  coveredSeq: number;
  headHash: string;
  inChain: boolean;
  where: string;
  /** Index of the checkpoint record when in the chain. */
  index?: number;
  interval?: number;
}

/** Checks the signatures and checkpoints of a stream whose chain is chain[0 .. len); `rows` are all its copies. */
export function checkIntegrity(
  s: RecordStore,
  rows: Uint32Array,
  ic: IntegrityContext,
  external: readonly ExternalCheckpoint[],
  chain: Uint32Array,
  len: number,
  at: (seq: number) => number | undefined,
  sp: StreamProblems,
): { coveredThrough: number; signatures: SignatureCounts; checkpoints: CheckpointCounts } {
  const { signatures, checkpoints, anySigned } = countChain(s, chain, len);
  if (ic.keys.length > 0) signatures.verified = signatures.valid > 0;
  reportBadCopies(s, rows, ic, sp, () => checkpointKeyVerdict(s, chain, len));
  const reSigned = ic.keys.length > 0 ? reportKeyChanges(s, chain, len, sp) : undefined;
  reportUnhashed(s, rows, sp);
  if (ic.requireSignatures && !ic.checkCheckpoints) reportUncheckedCheckpoints(s, chain, len, sp);
  if (ic.checkSignatures) reportUnsignedRuns(s, chain, len, ic, anySigned, sp);
  const coveredThrough = ic.checkCheckpoints && len > 0 ? checkCheckpoints(s, external, chain, len, at, sp, reSigned) : 0;
  return { coveredThrough, signatures, checkpoints };
}

/** Counts, over the records of the chain. */
function countChain(s: RecordStore, chain: Uint32Array, len: number): { signatures: SignatureCounts; checkpoints: CheckpointCounts; anySigned: boolean } {
  const signatures: SignatureCounts = { valid: 0, invalid: 0, unknownKey: 0, unchecked: 0, unsigned: 0 };
  const checkpoints: CheckpointCounts = { valid: 0, invalid: 0, unknownKey: 0, unchecked: 0 };
  let anySigned = false;
  for (let k = 0; k < len; k++) {
    const i = chain[k]!;
    if (s.has(i, F_CHECKPOINT)) {
      const st = s.claims.get(i)!.status;
      if (st === 'valid') checkpoints.valid++;
      else if (st === 'invalid') checkpoints.invalid++;
      else if (st === 'unknown_key') checkpoints.unknownKey++;
      else checkpoints.unchecked++;
      continue;
    }
    switch (s.sig[i]) {
      case SIG_OK: signatures.valid++; anySigned = true; break;
      case SIG_BAD: signatures.invalid++; anySigned = true; break;
      case SIG_UNKNOWN: signatures.unknownKey++; anySigned = true; break;
      case SIG_UNCHECKED: signatures.unchecked++; anySigned = true; break;
      default: signatures.unsigned++;
    }
  }
  return { signatures, checkpoints, anySigned };
}

/**
 * Every copy read that carries an `audit.integrity.*` attribute outside the five of docs/integrity.md §4.1. The
 * producer ships no other (a caller's goes under `audit.caller.*`), and that family is outside the hash, so such
 * an attribute was added after sealing and nothing vouches for it — with keys or without: no signature covers it.
 */
function reportUnhashed(s: RecordStore, rows: Uint32Array, sp: StreamProblems): void {
  if (s.unhashed.size === 0) return;
  for (const i of rows) {
    const key = s.unhashed.get(i);
    if (key === undefined) continue;
    sp.report(
      'modified',
      i,
      `it carries ${JSON.stringify(key)}, which no producer writes: audit.integrity.* attributes are outside the hash, so this one was added after the record was sealed, and nothing vouches for its value`,
      { seq: sp.seqOf(i), recordId: s.recordId(i), reason: 'unhashed_attribute' },
    );
  }
}

/**
 * 1. Every copy read: a record MAC/signature that does not verify, a checkpoint that is not valid. A checkpoint
 *    under a key not given is an error when `keyVerdict` says why (else the stream is only unverified: info).
 */
function reportBadCopies(s: RecordStore, rows: Uint32Array, ic: IntegrityContext, sp: StreamProblems, keyVerdict: () => string | undefined): void {
  const { seqOf, report } = sp;
  let verdict: { why: string | undefined } | undefined;
  for (const i of rows) {
    if (s.has(i, F_CHECKPOINT)) {
      if (!ic.checkCheckpoints) continue;
      const c = s.claims.get(i)!;
      if (c.status === 'invalid') {
        report('bad_signature', i, `forged or malformed checkpoint: ${c.detail}`, { seq: seqOf(i), recordId: s.recordId(i), reason: 'checkpoint_invalid' });
      } else if (c.status === 'unknown_key') {
        verdict ??= { why: keyVerdict() };
        const why = verdict.why;
        report('bad_signature', i, `checkpoint not trusted: ${c.detail}${why === undefined ? '' : `; ${why}`}`, {
          seq: seqOf(i),
          recordId: s.recordId(i),
          reason: 'checkpoint_unknown_key',
          severity: ic.requireSignatures || why !== undefined ? 'error' : 'info',
        });
      }
    } else if (ic.checkSignatures && s.sig[i] === SIG_BAD) {
      report('bad_signature', i, `record MAC/signature invalid: ${s.sigDetail.get(i) ?? 'malformed audit.integrity attributes'}`, {
        seq: seqOf(i),
        recordId: s.recordId(i),
        reason: 'invalid',
      });
    }
  }
}

const isEd25519 = (fingerprint: string): boolean => fingerprint.startsWith('EdDSA:');

/**
 * 1b. One stream, one key (docs/integrity.md §3.4): the producer signs a stream's records with one key and its
 * checkpoints with its one Ed25519 key, the same key when the records are Ed25519-signed. The first record and the
 * first checkpoint that verify set the stream's keys (in seq order); a record or checkpoint that verifies under
 * another given key was re-signed by that key's holder (another producer whose key is given for a shared
 * collector copy, or a retired key's): `bad_signature`, reason `key_changed`, runs of records as one problem.
 * Returns the checkpoints so reported: no evidence for coverage (§7.3 step 3).
 */
function reportKeyChanges(s: RecordStore, chain: Uint32Array, len: number, sp: StreamProblems): ReadonlySet<number> {
  const { seqOf, report } = sp;
  const reSigned = new Set<number>();
  let recordKey: string | undefined;
  let recordFrom = -1;
  let checkpointKey: string | undefined;
  let checkpointFrom = -1;
  // A fingerprint names the key by its derived key id (public for both kinds), whatever id it was given under.
  const keyName = (key: string): string => `${isEd25519(key) ? 'Ed25519 key' : 'HMAC key'} ${key.slice(key.indexOf(':') + 1)}`;
  const keyOf = (row: number, key: string): string => `${keyName(key)} (seq ${seqOf(row)} first)`;
  let runStart = -1;
  let runEnd = -1;
  let runCount = 0;
  let runKey = '';
  let runWhy = '';
  const flush = (): void => {
    if (runStart < 0) return;
    const first = seqOf(runStart);
    const last = seqOf(runEnd);
    const range = runCount === 1 ? `seq ${first} verifies` : `seq ${first}–${last} (${runCount} records) verify`;
    report('bad_signature', runStart, `${range} under a given key, ${keyName(runKey)}, but ${runWhy}: a stream does not change keys, so these were re-signed by the holder of that key`, {
      seq: first,
      recordId: s.recordId(runStart),
      reason: 'key_changed',
      through: last,
    });
    runStart = -1;
  };
  for (let k = 0; k < len; k++) {
    const i = chain[k]!;
    if (s.has(i, F_CHECKPOINT)) {
      const c = s.claims.get(i)!;
      if (c.status !== 'valid' || c.signedBy === undefined) continue;
      let why: string | undefined;
      // Every checkpoint against the records' Ed25519 key when they have one, else against the first checkpoint's.
      if (recordKey !== undefined && isEd25519(recordKey)) {
        if (c.signedBy !== recordKey) why = `the stream's records are signed with ${keyOf(recordFrom, recordKey)}`;
      } else if (checkpointKey === undefined) {
        checkpointKey = c.signedBy;
        checkpointFrom = i;
      } else if (c.signedBy !== checkpointKey) why = `the stream's checkpoints are signed with ${keyOf(checkpointFrom, checkpointKey)}`;
      if (why === undefined) continue;
      reSigned.add(i);
      report('bad_signature', i, `the checkpoint verifies under a given key, ${keyName(c.signedBy)}, but ${why}: a stream does not change keys, so it was signed by the holder of that key`, {
        seq: seqOf(i),
        recordId: s.recordId(i),
        reason: 'key_changed',
      });
      continue;
    }
    if (s.sig[i] !== SIG_OK) continue;
    const key = s.signers[s.signer[i]!]!;
    let why: string | undefined;
    if (recordKey === undefined) {
      recordKey = key;
      recordFrom = i;
      if (isEd25519(key) && checkpointKey !== undefined && checkpointKey !== key) why = `the stream's checkpoints are signed with ${keyOf(checkpointFrom, checkpointKey)}`;
    } else if (key !== recordKey) why = `the stream's records are signed with ${keyOf(recordFrom, recordKey)}`;
    if (why === undefined) {
      flush();
      continue;
    }
    if (runStart >= 0 && key === runKey) {
      runEnd = i;
      runCount++;
      continue;
    }
    flush();
    runStart = runEnd = i;
    runCount = 1;
    runKey = key;
    runWhy = why;
  }
  flush();
  return reSigned;
}

/**
 * 1c. With --require-signatures and no Ed25519 key, the chain's checkpoints cannot be verified: one problem for
 * them all (docs/integrity.md §7.3).
 */
function reportUncheckedCheckpoints(s: RecordStore, chain: Uint32Array, len: number, sp: StreamProblems): void {
  let n = 0;
  let first = -1;
  let last = -1;
  for (let k = 0; k < len; k++) {
    const i = chain[k]!;
    if (!s.has(i, F_CHECKPOINT)) continue;
    n++;
    if (first < 0) first = i;
    last = i;
  }
  if (n === 0) return;
  const { seqOf, report } = sp;
  const which = n === 1 ? `the checkpoint at seq ${seqOf(first)} carries an Ed25519 signature` : `${n} checkpoints (seq ${seqOf(first)}–${seqOf(last)}) carry Ed25519 signatures`;
  report('bad_signature', first, `${which} that cannot be verified without the producer's public key (--pubkey), and --require-signatures is set`, {
    seq: seqOf(first),
    recordId: s.recordId(first),
    reason: 'checkpoint_unknown_key',
    through: seqOf(last),
  });
}

/**
 * Why a run of unknown_key records is an error even without --require-signatures (docs/integrity.md §7.3, step 2),
 * or undefined when it is only info: a stream has one producer key (§3.4: rotating a key restarts the producer,
 * which starts a new stream), so a stream whose other records verify under a given key, or whose records name
 * several unknown keys, had records relabelled — the forgery an attacker without the key can make.
 */
function unknownKeyVerdict(s: RecordStore, chain: Uint32Array, len: number): string | undefined {
  let okRow = -1;
  let badRow = -1;
  let unknownKey = -1;
  for (let k = 0; k < len; k++) {
    const i = chain[k]!;
    if (s.has(i, F_CHECKPOINT)) continue;
    const st = s.sig[i]!;
    if (st === SIG_OK && okRow < 0) okRow = i;
    else if (st === SIG_BAD && badRow < 0) badRow = i;
    else if (st === SIG_UNKNOWN) {
      if (unknownKey < 0) unknownKey = s.sigKey[i]!;
      else if (s.sigKey[i] !== unknownKey) return 'the stream\'s records name more than one unknown key; a stream does not change keys, so key ids were relabelled';
    }
  }
  if (okRow >= 0) {
    return `the stream's other records verify under a given key (seq ${s.seq[okRow]} first, key id ${JSON.stringify(s.keyIds[s.sigKey[okRow]!] ?? '')}); a stream does not change keys, so these were relabelled or forged`;
  }
  if (badRow >= 0) return `seq ${s.seq[badRow]} of the stream carries an invalid MAC/signature; only a stream whose every signed record names one key the verifier lacks is merely unverified`;
  return undefined;
}

/**
 * Why a checkpoint under a key not given is an error, or undefined when the stream is only unverified: another
 * producer's, whose key was not given (a collector copy several producers share). That needs the stream to look
 * like one: its signed records — there must be some — pass the rule for records (unknownKeyVerdict: one unknown
 * key, none checked under a given key), and its checkpoints name that same key and none is checked under a given
 * key. Checkpoints re-signed by someone else over unsigned records, or over records signed with another key, are
 * errors, as before.
 */
function checkpointKeyVerdict(s: RecordStore, chain: Uint32Array, len: number): string | undefined {
  const records = unknownKeyVerdict(s, chain, len);
  if (records !== undefined) return records;
  let checkpointKey: string | undefined;
  let recordKey: string | undefined;
  for (let k = 0; k < len; k++) {
    const i = chain[k]!;
    if (!s.has(i, F_CHECKPOINT)) {
      // Past unknownKeyVerdict, every signed record checked names one unknown key: the first tells which.
      if (recordKey === undefined && s.sig[i] === SIG_UNKNOWN) recordKey = s.keyIds[s.sigKey[i]!] ?? '';
      continue;
    }
    const c = s.claims.get(i)!;
    if (c.status === 'valid' || c.status === 'invalid') return `the stream's checkpoint at seq ${s.seq[i]} is checked under a given key (${JSON.stringify(c.keyId)}); a stream does not change keys`;
    if (c.status !== 'unknown_key') continue;
    checkpointKey ??= c.keyId;
    if (c.keyId !== checkpointKey) return 'the stream\'s checkpoints name more than one unknown key; a stream does not change keys, so key ids were relabelled';
  }
  if (recordKey === undefined) return 'no record of the stream is signed with that key, so nothing shows the stream is another producer\'s: its checkpoints were signed by someone else';
  if (checkpointKey !== undefined && recordKey !== checkpointKey) return `its records name key ${JSON.stringify(recordKey)}, its checkpoints ${JSON.stringify(checkpointKey)}: one producer signs both with one key`;
  return undefined;
}

/** 2. Runs of chain records that are unsigned or signed with an unknown key. */
function reportUnsignedRuns(s: RecordStore, chain: Uint32Array, len: number, ic: IntegrityContext, anySigned: boolean, sp: StreamProblems): void {
  const { seqOf, report } = sp;
  // Computed once, when the first unknown_key run is flushed.
  let verdict: { why: string | undefined } | undefined;
  let runStart = -1;
  let runEnd = -1;
  let runState = -1;
  let runKey = 0;
  let runCount = 0;
  const flush = (): void => {
    if (runStart < 0) return;
    const first = seqOf(runStart);
    const last = seqOf(runEnd);
    const range = runCount === 1 ? `seq ${first}` : `seq ${first}–${last} (${runCount} records)`;
    if (runState === SIG_UNKNOWN) {
      const keyId = s.keyIds[runKey] ?? '';
      verdict ??= { why: unknownKeyVerdict(s, chain, len) };
      const why = verdict.why;
      report('bad_signature', runStart, `${range} signed with key ${JSON.stringify(keyId)}, which is not among the given keys: not verified${why === undefined ? '' : `; ${why}`}`, {
        seq: first,
        recordId: s.recordId(runStart),
        severity: ic.requireSignatures || why !== undefined ? 'error' : 'info',
        reason: 'unknown_key',
        through: last,
      });
    } else if (runState === SIG_NONE && (ic.requireSignatures || anySigned)) {
      const carry = runCount === 1 ? 'carries' : 'carry';
      const why = ic.requireSignatures
        ? `${carry} no MAC/signature, and --require-signatures is set`
        : `${carry} no MAC/signature although other records of this stream do: the signature was removed`;
      report('bad_signature', runStart, `${range} ${why}`, { seq: first, recordId: s.recordId(runStart), reason: 'unsigned', through: last });
    }
    runStart = -1;
  };
  for (let k = 0; k < len; k++) {
    const i = chain[k]!;
    if (s.has(i, F_CHECKPOINT)) continue; // checkpoints are judged as checkpoints
    const st = s.sig[i]!;
    const key = st === SIG_UNKNOWN ? s.sigKey[i]! : 0;
    if (runStart >= 0 && st === runState && key === runKey) {
      runEnd = i;
      runCount++;
      continue;
    }
    flush();
    if (st === SIG_UNKNOWN || st === SIG_NONE) {
      runStart = runEnd = i;
      runState = st;
      runKey = key;
      runCount = 1;
    }
  }
  flush();
}

/** 3. Checkpoints: coverage, truncation, rewritten chains, removed checkpoints. Returns coveredThrough. */
function checkCheckpoints(
  s: RecordStore,
  external: readonly ExternalCheckpoint[],
  chain: Uint32Array,
  len: number,
  at: (seq: number) => number | undefined,
  sp: StreamProblems,
  reSigned: ReadonlySet<number> | undefined,
): number {
  const { seqOf, report } = sp;
  const last = seqOf(chain[len - 1]!);
  const { evidence, claimSeqs } = collectEvidence(s, external, chain, len, sp, reSigned);
  const breakSeq = firstBreak(s, chain, len, sp);
  // Records missing at the end: the furthest valid checkpoint beyond the last record held.
  let furthest: Evidence | undefined;
  for (const e of evidence) if (e.seq > last && (furthest === undefined || e.seq > furthest.seq)) furthest = e;
  if (furthest !== undefined) {
    const lastIdx = chain[len - 1]!;
    const missing = furthest.seq - last;
    report(
      'truncated',
      lastIdx,
      `the stream was truncated: a valid checkpoint (seq ${furthest.seq}, at ${furthest.where}) proves it reached seq ${furthest.seq}, ` +
        `but the records held end at seq ${last}: ${missing === 1 ? `seq ${furthest.seq} is` : `seq ${last + 1}–${furthest.seq} (${missing} records) are`} missing`,
      { seq: last + 1, through: furthest.seq, reason: 'records_missing' },
    );
  }
  let coveredThrough = 0;
  for (const e of evidence) {
    const idx = at(e.coveredSeq);
    if (idx === undefined) continue; // a gap: reported as deleted
    if (s.hashHex(idx) !== e.headHash) {
      // In the chain, the broken link into the checkpoint is already reported as modified.
      if (!e.inChain) {
        report(
          'truncated',
          idx,
          `the chain was rewritten: a valid checkpoint (seq ${e.seq}, at ${e.where}) certifies hash ${e.headHash} for seq ${e.coveredSeq}, ` +
            `but the record held has hash ${s.hashHex(idx)}; records up to seq ${e.coveredSeq} are not the ones that were signed`,
          { seq: e.coveredSeq, reason: 'head_mismatch' },
        );
      }
      continue;
    }
    if (e.coveredSeq >= breakSeq) continue;
    const through = e.inChain ? e.seq : e.coveredSeq;
    if (through > coveredThrough) coveredThrough = through;
  }
  // A producer that declares interval N checkpoints at least after every N other records, so the record at
  // seq c + N + 1 after a valid checkpoint at c is a checkpoint; an ordinary record there means checkpoints
  // were removed and the chain after c rewritten.
  for (const e of evidence) {
    if (!e.inChain || e.interval === undefined) continue;
    const limit = e.seq + e.interval + 1;
    const next = claimSeqs.find((q) => q > e.seq);
    if (next !== undefined && next <= limit) continue;
    const idx = at(limit);
    if (idx === undefined) continue;
    report(
      'truncated',
      idx,
      `a checkpoint is missing: the valid checkpoint at seq ${e.seq} (${e.where}) declares one at least every ${e.interval} records, ` +
        `so seq ${limit} must be a checkpoint, but it is an ordinary record (${SIG_NAME[s.sig[idx]!] ?? ''} signature): ` +
        `checkpoints were removed and the records after seq ${e.seq} cannot be trusted`,
      { seq: limit, reason: 'checkpoint_missing' },
    );
  }
  return coveredThrough;
}

/** The valid checkpoints of the stream (its chain's, then the external ones), and the seqs of all its checkpoint claims. */
function collectEvidence(
  s: RecordStore,
  external: readonly ExternalCheckpoint[],
  chain: Uint32Array,
  len: number,
  sp: StreamProblems,
  reSigned: ReadonlySet<number> | undefined,
): { evidence: Evidence[]; claimSeqs: number[] } {
  const { seqOf, where } = sp;
  const evidence: Evidence[] = [];
  const claimSeqs: number[] = [];
  for (let k = 0; k < len; k++) {
    const i = chain[k]!;
    if (!s.has(i, F_CHECKPOINT)) continue;
    claimSeqs.push(seqOf(i));
    const c = s.claims.get(i)!;
    if (c.status !== 'valid' || reSigned?.has(i) === true) continue;
    const e: Evidence = { seq: seqOf(i), coveredSeq: c.coveredSeq!, headHash: c.headHash!, inChain: true, where: where(i), index: i };
    if (c.interval !== undefined) e.interval = c.interval;
    evidence.push(e);
  }
  for (const x of external) {
    evidence.push({ seq: x.seq, coveredSeq: x.coveredSeq, headHash: x.headHash, inChain: false, where: `${x.file}:${x.line}` });
  }
  return { evidence, claimSeqs };
}

/** Seq of the first record after a gap or a broken link (Infinity if none). */
function firstBreak(s: RecordStore, chain: Uint32Array, len: number, sp: StreamProblems): number {
  const { seqOf } = sp;
  // Coverage is a prefix: records first…N are proven only if the chain has no gap and no broken link up to N.
  let breakSeq = Infinity;
  for (let k = 1; k < len; k++) {
    const p = chain[k - 1]!;
    const q = chain[k]!;
    if (seqOf(q) !== seqOf(p) + 1 || !s.linked(p, q)) {
      breakSeq = seqOf(q);
      break;
    }
  }
  return breakSeq;
}
