/**
 * The attributes the verifier reads from one record, and the checks made while its canonical text is at hand:
 * its MAC/signature (docs/integrity.md §4.3) and, for a checkpoint claim, its validity (docs/integrity.md §5.2).
 */
import {
  ATTR_CHECKPOINT_HEAD_HASH,
  ATTR_CHECKPOINT_INTERVAL,
  ATTR_CHECKPOINT_SEQUENCE,
  ATTR_CHECKPOINT_STREAM_ID,
  CHECKPOINT_PREFIX,
  EVENT_CHECKPOINT,
} from '../integrity/checkpoint.js';
import { keyFingerprint, type VerifyingKey } from '../integrity/keys.js';
import { ATTR_INTEGRITY_KEY_ID, INTEGRITY_SIGNER_PRODUCER, verifyRecordSignatureBy } from '../integrity/sign.js';
import {
  ATTR_INTEGRITY_ALGORITHM,
  ATTR_INTEGRITY_CANONICALIZATION,
  ATTR_INTEGRITY_SIGNER,
  ATTR_INTEGRITY_VALUE,
  ATTR_RECORD_ID,
  ATTR_SCHEMA_VERSION,
  ATTR_SEQ_END,
  ATTR_SEQ_NUMBER,
  ATTR_SEQ_PREVIOUS_HASH,
  ATTR_SEQ_PREVIOUS_RECORD_ID,
  ATTR_SEQ_STREAM_ID,
  EVENT_STREAM_END,
  INTEGRITY_PREFIX,
  systemRecordAttributes,
} from '../core/attributes.js';
import type { OtlpAnyValue, OtlpLogRecord } from '../otlp/types.js';
import { Attrs } from './attrs.js';
import { interestingKey } from './fast-otlp.js';
import type { CheckpointClaim, ReadOptions, SignatureCheck } from './read-items.js';

/** A sequence number must be a positive integer that a JS number holds exactly. */
export function seqOf(v: OtlpAnyValue | undefined): number | undefined {
  const raw = v?.intValue;
  const n = typeof raw === 'string' && /^[1-9][0-9]*$/.test(raw) ? Number(raw) : raw;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 1 ? n : undefined;
}

export const stringOf = (v: OtlpAnyValue | undefined): string | undefined =>
  typeof v?.stringValue === 'string' ? v.stringValue : undefined;

/** Present-but-not-a-string values stay "present" (their JSON text) so that they never link. */
export const linkValueOf = (v: OtlpAnyValue | undefined): string | undefined =>
  v === undefined ? undefined : (stringOf(v) ?? JSON.stringify(v));

export const HEX64 = /^[0-9a-f]{64}$/;

export function attrsOfRecord(r: OtlpLogRecord): Attrs {
  const a = new Attrs();
  for (const kv of r.attributes ?? []) if (interestingKey(kv.key)) a.note(kv.key, kv.value ?? {});
  return a;
}

/** docs/integrity.md §4.3. `undefined`: the record carries no audit.integrity.* attribute (unsigned). */
export function checkSignature(a: Attrs, canonical: string, opts: ResolvedOptions, keys: readonly VerifyingKey[]): SignatureCheck | undefined {
  if (!a.signed) return undefined;
  const algorithm = stringOf(a.integrityAlgorithm) ?? '';
  const keyId = stringOf(a.integrityKeyId) ?? '';
  // Without keys nothing is judged: the record is only known to be signed.
  if (!opts.checkSignatures) return { status: 'unchecked', algorithm, keyId, detail: '' };
  const bad = (detail: string): SignatureCheck => ({ status: 'bad', algorithm, keyId, detail });
  if (a.duplicate !== undefined && a.duplicate.startsWith(INTEGRITY_PREFIX)) return bad(`${a.duplicate} appears twice`);
  const required: Array<[string, OtlpAnyValue | undefined]> = [
    [ATTR_INTEGRITY_VALUE, a.integrityValue],
    [ATTR_INTEGRITY_SIGNER, a.integritySigner],
    [ATTR_INTEGRITY_CANONICALIZATION, a.integrityCanonicalization],
    [ATTR_INTEGRITY_ALGORITHM, a.integrityAlgorithm],
    [ATTR_INTEGRITY_KEY_ID, a.integrityKeyId],
  ];
  for (const [k, v] of required) {
    if (v === undefined) return bad(`${k} is missing`);
    if (stringOf(v) === undefined) return bad(`${k} is not a string`);
  }
  const signer = stringOf(a.integritySigner)!;
  if (signer !== INTEGRITY_SIGNER_PRODUCER) return bad(`${ATTR_INTEGRITY_SIGNER} is ${JSON.stringify(signer)}, not "producer"`);
  const canon = stringOf(a.integrityCanonicalization)!;
  if (canon !== 'jcs') return bad(`${ATTR_INTEGRITY_CANONICALIZATION} is ${JSON.stringify(canon)}, not "jcs"`);
  if (algorithm !== 'HMAC-SHA256' && algorithm !== 'EdDSA') return bad(`unknown algorithm ${JSON.stringify(algorithm)}`);
  const r = verifyRecordSignatureBy(canonical, { value: stringOf(a.integrityValue)!, algorithm, keyId }, keys);
  if (typeof r === 'object') return { status: 'ok', algorithm, keyId, detail: '', signedBy: keyFingerprint(r) };
  if (r === 'unknown_key') return { status: 'unknown_key', algorithm, keyId, detail: '' };
  return bad(`the ${algorithm === 'EdDSA' ? 'Ed25519 signature' : 'HMAC-SHA256 MAC'} does not verify under key ${JSON.stringify(keyId)}`);
}

/**
 * The attributes of a checkpoint the producer writes (docs/integrity.md §5.1): its checkpoint members, the system
 * record's fixed attributes (core/attributes.ts systemRecordAttributes, which the producer writes them from) and
 * the stamps.
 */
const CHECKPOINT_MEMBERS = new Set([
  ATTR_CHECKPOINT_STREAM_ID,
  ATTR_CHECKPOINT_SEQUENCE,
  ATTR_CHECKPOINT_HEAD_HASH,
  ATTR_CHECKPOINT_INTERVAL,
  ...Object.keys(systemRecordAttributes('')),
  ATTR_RECORD_ID,
  ATTR_SEQ_STREAM_ID,
  ATTR_SEQ_NUMBER,
  ATTR_SEQ_PREVIOUS_HASH,
  ATTR_SEQ_PREVIOUS_RECORD_ID,
]);
/** Event name of a producer checkpoint → its audit.action: a periodic checkpoint, or the stream's end marker. */
const CHECKPOINT_ACTIONS = new Map([
  [EVENT_CHECKPOINT, 'CHECKPOINT'],
  [EVENT_STREAM_END, 'STREAM_END'],
]);

/**
 * docs/integrity.md §5.2: without an Ed25519 key a claim cannot be checked, so it counts as an (unchecked)
 * checkpoint only when it is exactly what the producer writes as one: Ed25519-signed, the checkpoint members
 * consistent with the record's own stream, seq and previous hash, and nothing else but the system record's
 * fixed attributes. Anything else is judged as an ordinary record: a claim marker (an audit.checkpoint.*
 * attribute, the event name) must not take a record out of the MAC/signature checks of the keys given.
 */
export function isProducerCheckpointShape(a: Attrs, canonical: string, streamId: string, seq: number, previousHash: string | undefined): boolean {
  if (a.checkpoint === undefined || a.duplicate !== undefined || stringOf(a.integrityAlgorithm) !== 'EdDSA') return false;
  if (typeof claimMembers(a, streamId, seq, previousHash) === 'string') return false;
  let c: { event_name?: unknown; body?: unknown; attributes?: Record<string, OtlpAnyValue> };
  try {
    c = JSON.parse(canonical) as typeof c;
  } catch {
    return false;
  }
  const action = typeof c.event_name === 'string' ? CHECKPOINT_ACTIONS.get(c.event_name) : undefined;
  if (action === undefined || c.body !== undefined) return false;
  const at = c.attributes ?? {};
  const end = action === 'STREAM_END';
  for (const k of Object.keys(at)) if (!CHECKPOINT_MEMBERS.has(k) && !(end && k === ATTR_SEQ_END)) return false;
  const text = (k: string): string | undefined => (Object.hasOwn(at, k) ? stringOf(at[k]) : undefined);
  // The system record's values as the producer writes them; its schema version may be an older one.
  for (const [k, v] of Object.entries(systemRecordAttributes(action))) if (k !== ATTR_SCHEMA_VERSION && text(k) !== v) return false;
  return !end || at[ATTR_SEQ_END]?.boolValue === true;
}

/** A claim's checkpoint members, read and checked as far as that needs no key. */
interface ClaimMembers {
  coveredSeq: number;
  headHash: string;
  interval: number | undefined;
}

/**
 * docs/integrity.md §5.2, the checks that need no key, in order: the claim's members, or the first thing wrong with
 * them. Shared by checkCheckpoint and isProducerCheckpointShape.
 */
function claimMembers(a: Attrs, streamId: string, seq: number, previousHash: string | undefined): ClaimMembers | string {
  const m = a.checkpoint ?? new Map<string, OtlpAnyValue>();
  if (a.duplicate !== undefined && a.duplicate.startsWith(CHECKPOINT_PREFIX)) return `${a.duplicate} appears twice`;
  const cpStream = stringOf(m.get(ATTR_CHECKPOINT_STREAM_ID));
  if (cpStream === undefined) return `${ATTR_CHECKPOINT_STREAM_ID} is missing or not a string`;
  if (cpStream !== streamId) return `${ATTR_CHECKPOINT_STREAM_ID} ${JSON.stringify(cpStream)} is not the record's own stream`;
  const coveredSeq = seqOf(m.get(ATTR_CHECKPOINT_SEQUENCE));
  if (coveredSeq === undefined) return `${ATTR_CHECKPOINT_SEQUENCE} is missing or not a positive integer`;
  if (coveredSeq !== seq - 1) return `${ATTR_CHECKPOINT_SEQUENCE} is ${coveredSeq}, not the checkpoint's own seq − 1 (${seq - 1})`;
  const headHash = stringOf(m.get(ATTR_CHECKPOINT_HEAD_HASH));
  if (headHash === undefined || !HEX64.test(headHash)) return `${ATTR_CHECKPOINT_HEAD_HASH} is missing or not 64 lowercase hex digits`;
  if (headHash !== previousHash) return `${ATTR_CHECKPOINT_HEAD_HASH} differs from the checkpoint's own ${ATTR_SEQ_PREVIOUS_HASH}`;
  let interval: number | undefined;
  const iv = m.get(ATTR_CHECKPOINT_INTERVAL);
  if (iv !== undefined) {
    interval = seqOf(iv);
    if (interval === undefined) return `${ATTR_CHECKPOINT_INTERVAL} is not a positive integer`;
  }
  return { coveredSeq, headHash, interval };
}

/** docs/integrity.md §5.2: a checkpoint claim checked on its own. */
export function checkCheckpoint(
  a: Attrs,
  streamId: string,
  seq: number,
  previousHash: string | undefined,
  sig: SignatureCheck | undefined,
  opts: ResolvedOptions,
): CheckpointClaim {
  const keyId = sig?.keyId ?? '';
  // Without an Ed25519 key a checkpoint proves nothing, and nothing about it is judged.
  if (!opts.checkCheckpoints) return { status: 'unchecked', keyId, detail: '' };
  const members = claimMembers(a, streamId, seq, previousHash);
  if (typeof members === 'string') return { status: 'invalid', keyId, detail: members };
  const { coveredSeq, headHash, interval } = members;
  const claim = (status: CheckpointClaim['status'], detail: string): CheckpointClaim => {
    const c: CheckpointClaim = { status, coveredSeq, headHash: headHash, keyId, detail };
    if (interval !== undefined) c.interval = interval;
    return c;
  };
  if (sig === undefined) return claim('invalid', 'the checkpoint carries no signature');
  if (sig.algorithm !== 'EdDSA' && sig.status !== 'bad') return claim('invalid', `the checkpoint is signed with ${sig.algorithm}, not EdDSA (Ed25519)`);
  if (sig.status === 'ok') return { ...claim('valid', ''), signedBy: sig.signedBy! };
  if (sig.status === 'unknown_key') return claim('unknown_key', `signed by key ${JSON.stringify(keyId)}, which is not among the trusted public keys`);
  return claim('invalid', sig.detail || 'the signature was not checked');
}

export interface ResolvedOptions {
  keys: readonly VerifyingKey[];
  checkSignatures: boolean;
  /** Ed25519 keys were given: checkpoint claims are checked. */
  checkCheckpoints: boolean;
  checkpointsOnly: boolean;
  fastPath: boolean;
  followSymlinks: boolean;
}

export function resolve(o: ReadOptions): ResolvedOptions {
  const keys = o.keys ?? [];
  return {
    keys,
    checkSignatures: o.checkSignatures ?? keys.length > 0,
    checkCheckpoints: keys.some((k) => k.algorithm === 'EdDSA'),
    checkpointsOnly: o.checkpointsOnly === true,
    fastPath: o.fastPath !== false,
    followSymlinks: o.followSymlinks !== false,
  };
}
