/**
 * Builds signed audit streams as OTLP/JSON records, sealed the way the processor does it: chain stamps first,
 * then the canonical form is hashed and signed, then the `audit.integrity.*` attributes are appended (they
 * are excluded from the canonical form, so the hash does not change). Checkpoints are ordinary records of the
 * stream, signed with the Ed25519 checkpoint key, after every `checkpointEvery` other records.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalFromOtlp } from '../../src/chain/canonical.js';
import { hashCanonical } from '../../src/chain/hash.js';
import { checkpointAttributes, EVENT_CHECKPOINT } from '../../src/integrity/checkpoint.js';
import { generateEd25519KeyPair, loadSigningKeys, loadVerifyingKeys, type VerifyingKey } from '../../src/integrity/keys.js';
import { createRecordSigner, integrityAttributes, type RecordSigner } from '../../src/integrity/sign.js';
import { restartAttributes } from '../../src/integrity/stream-link.js';
import {
  ATTR_ACTION,
  ATTR_ACTOR_ID,
  ATTR_ACTOR_TYPE,
  ATTR_OUTCOME,
  ATTR_RECORD_ID,
  ATTR_SCHEMA_VERSION,
  ATTR_SEQ_END,
  ATTR_SEQ_NUMBER,
  ATTR_SEQ_PREVIOUS_HASH,
  ATTR_SEQ_PREVIOUS_RECORD_ID,
  ATTR_SEQ_STREAM_ID,
  AUDIT_SCHEMA_VERSION,
  EVENT_STREAM_END,
} from '../../src/core/attributes.js';
import type { OtlpAnyValue, OtlpKeyValue, OtlpLogRecord } from '../../src/otlp/types.js';
import { testStreamId } from './make-chain.js';

/** An OTLP AnyValue for a JS scalar, as the processor's encoder writes it. */
export function anyValue(v: string | number | boolean): OtlpAnyValue {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
}

export const kvs = (attrs: Record<string, string | number | boolean>): OtlpKeyValue[] =>
  Object.entries(attrs).map(([key, v]) => ({ key, value: anyValue(v) }));

/** A fresh Ed25519 signer/verifier pair, with the PEM files written under `dir` (named by `name`). */
export function ed25519Keys(dir: string, name = 'ed'): { signer: RecordSigner; verifying: VerifyingKey[]; pubFile: string; privFile: string; keyId: string } {
  const pair = generateEd25519KeyPair();
  const privFile = join(dir, `${name}.key.pem`);
  const pubFile = join(dir, `${name}.pub.pem`);
  writeFileSync(privFile, pair.privateKeyPem, { mode: 0o600 });
  writeFileSync(pubFile, pair.publicKeyPem);
  const { checkpoint } = loadSigningKeys({ OTEL_AUDIT_SIGNING_KEY_FILE: privFile });
  return { signer: createRecordSigner(checkpoint!), verifying: loadVerifyingKeys([pubFile]), pubFile, privFile, keyId: pair.keyId };
}

/** An HMAC signer for `secret` (OTEL_AUDIT_HMAC_KEY notation). */
export function hmacSigner(secret: string, keyId?: string): RecordSigner {
  const env: NodeJS.ProcessEnv = { OTEL_AUDIT_HMAC_KEY: secret };
  if (keyId !== undefined) env['OTEL_AUDIT_KEY_ID'] = keyId;
  return createRecordSigner(loadSigningKeys(env).record!);
}

/** A deterministic 32-byte HMAC secret in base64 notation. */
export const hmacSecret = (n: number): string => `base64:${Buffer.alloc(32, n).toString('base64')}`;

export type Shutdown = 'none' | 'end' | 'checkpoint+end' | 'end-checkpoint';

export interface SignedChainOptions {
  streamId?: string;
  /** Ordinary (application) records. */
  n: number;
  /** Signs every record except checkpoints (per seq, for key rotation). Undefined: records unsigned. */
  recordSigner?: RecordSigner | ((seq: number) => RecordSigner | undefined);
  /** Ed25519 signer for checkpoints. Undefined: no checkpoints. */
  checkpointSigner?: RecordSigner;
  /** A checkpoint after every k ordinary records (needs checkpointSigner). */
  checkpointEvery?: number;
  /** Write audit.checkpoint.interval_records (default true). */
  declareInterval?: boolean;
  /**
   * How the stream closes: `none` (open), `end` (end record only), `checkpoint+end` (a final checkpoint, then
   * the end record), `end-checkpoint` (the end record is itself the final checkpoint). Default `none`.
   */
  shutdown?: Shutdown;
  /** Restart link stamped on seq 1. */
  previous?: { streamId: string; lastSeq?: number; lastHash?: string };
  /** Extra attributes of ordinary record number `i` (1-based among ordinary records). */
  extra?: (i: number) => Record<string, string | number | boolean>;
}

export interface SignedChain {
  streamId: string;
  records: OtlpLogRecord[];
  /** hashes[k] is the hash of records[k]. */
  hashes: string[];
  /** Sequence numbers of checkpoint records (including an end-checkpoint). */
  checkpointSeqs: number[];
}

const T0 = 1_700_000_000_000_000_000n;

/** Seals records one by one, as the processor does. */
export class StreamSealer {
  readonly streamId: string;
  readonly records: OtlpLogRecord[] = [];
  readonly hashes: string[] = [];
  private prevHash: string | undefined;
  private prevId: string | undefined;

  constructor(streamId: string = testStreamId()) {
    this.streamId = streamId;
  }

  get seq(): number {
    return this.records.length;
  }

  get lastHash(): string | undefined {
    return this.prevHash;
  }

  /** Appends one record with `attrs` (chain stamps added here), signed by `signer` if given. */
  seal(init: { eventName: string; body?: string; attrs: Record<string, string | number | boolean> }, signer?: RecordSigner): OtlpLogRecord {
    const seq = this.records.length + 1;
    const id = `${this.streamId.slice(-8)}-${String(seq).padStart(6, '0')}`;
    const attributes: OtlpKeyValue[] = kvs({ ...init.attrs, [ATTR_RECORD_ID]: id, [ATTR_SEQ_STREAM_ID]: this.streamId, [ATTR_SEQ_NUMBER]: seq });
    if (this.prevHash !== undefined) {
      attributes.push({ key: ATTR_SEQ_PREVIOUS_HASH, value: { stringValue: this.prevHash } });
      attributes.push({ key: ATTR_SEQ_PREVIOUS_RECORD_ID, value: { stringValue: this.prevId! } });
    }
    const t = (T0 + BigInt(seq) * 1_000_000n).toString();
    const record: OtlpLogRecord = { timeUnixNano: t, observedTimeUnixNano: t, severityNumber: 9 };
    if (init.body !== undefined) record.body = { stringValue: init.body };
    record.attributes = attributes;
    record.eventName = init.eventName;
    const canonical = canonicalFromOtlp(record);
    const hash = hashCanonical(canonical);
    if (signer !== undefined) attributes.push(...kvs(integrityAttributes(signer, signer.sign(canonical))));
    this.records.push(record);
    this.hashes.push(hash);
    this.prevHash = hash;
    this.prevId = id;
    return record;
  }

  /** A checkpoint covering the last record sealed. */
  checkpoint(signer: RecordSigner, interval?: number, extra: Record<string, string | number | boolean> = {}, eventName = EVENT_CHECKPOINT): OtlpLogRecord {
    return this.seal({ eventName, attrs: { ...checkpointAttributes(this.streamId, this.seq, this.prevHash!, interval), ...extra } }, signer);
  }
}

export function makeSignedChain(opts: SignedChainOptions): SignedChain {
  const sealer = new StreamSealer(opts.streamId);
  const signerFor = (seq: number): RecordSigner | undefined =>
    typeof opts.recordSigner === 'function' ? opts.recordSigner(seq) : opts.recordSigner;
  const k = opts.checkpointSigner === undefined ? 0 : (opts.checkpointEvery ?? 0);
  const interval = k > 0 && opts.declareInterval !== false ? k : undefined;
  const checkpointSeqs: number[] = [];
  let since = 0;
  for (let i = 1; i <= opts.n; i++) {
    const attrs: Record<string, string | number | boolean> = {
      [ATTR_ACTOR_ID]: `user-${i % 5}`,
      [ATTR_ACTOR_TYPE]: 'user',
      [ATTR_ACTION]: i % 3 === 0 ? 'DELETE' : 'UPDATE',
      [ATTR_OUTCOME]: i % 7 === 0 ? 'failure' : 'success',
      'audit.target.id': `doc-${i}`,
      'request.size': i * 10,
      'latency.ms': i + 0.5,
      ...(opts.extra?.(i) ?? {}),
    };
    if (i === 1 && opts.previous !== undefined) Object.assign(attrs, restartAttributes(opts.previous));
    sealer.seal({ eventName: 'document.update', body: `event ${i}`, attrs }, signerFor(sealer.seq + 1));
    if (k > 0 && ++since >= k) {
      sealer.checkpoint(opts.checkpointSigner!, interval);
      checkpointSeqs.push(sealer.seq);
      since = 0;
    }
  }
  const shutdown = opts.shutdown ?? 'none';
  const endAttrs = {
    [ATTR_ACTOR_ID]: 'otel-audit',
    [ATTR_ACTOR_TYPE]: 'system',
    [ATTR_ACTION]: 'STREAM_END',
    [ATTR_OUTCOME]: 'success',
    [ATTR_SCHEMA_VERSION]: AUDIT_SCHEMA_VERSION,
    [ATTR_SEQ_END]: true,
  };
  if (shutdown === 'checkpoint+end' && opts.checkpointSigner !== undefined && sealer.seq > 0) {
    sealer.checkpoint(opts.checkpointSigner, interval);
    checkpointSeqs.push(sealer.seq);
  }
  if (shutdown === 'end' || shutdown === 'checkpoint+end') {
    sealer.seal({ eventName: EVENT_STREAM_END, attrs: endAttrs }, signerFor(sealer.seq + 1));
  } else if (shutdown === 'end-checkpoint') {
    sealer.checkpoint(opts.checkpointSigner!, interval, endAttrs, EVENT_STREAM_END);
    checkpointSeqs.push(sealer.seq);
  }
  return { streamId: sealer.streamId, records: sealer.records, hashes: sealer.hashes, checkpointSeqs };
}
