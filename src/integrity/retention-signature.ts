/**
 * MAC/signature of a `state/retention.log` line (docs/integrity.md §4.4), with the producer's keys.
 *
 * A retention line says that the producer deleted a stream's head, seq 1–`last`, after the collector acknowledged
 * it. Unauthenticated, one line appended by hand made a head deletion read as retention in the local copy. Signed,
 * only the key's holder can say so.
 *
 * Input: the UTF-8 bytes of `otel-audit retention v1\n` followed by the JSON array
 * `[streamId, file, last, lastHash, deletedAt]` (JSON.stringify, no white space). The prefix keeps it apart from a
 * record's canonical form, which is a JSON object: a retention MAC is never a record MAC, nor the other way round.
 * Output: as for records (sign.ts), standard base64 of the HMAC-SHA256 tag or the Ed25519 signature.
 */
import type { VerifyingKey } from './keys.js';
import { verifyRecordSignatureBy, type RecordSigner } from './sign.js';

/** The fields of a retention line that are signed. */
export interface RetentionClaim {
  streamId: string;
  file: string;
  last: number;
  lastHash: string;
  deletedAt: string;
}

/** The `integrity` member of a signed retention line. */
export interface RetentionIntegrity {
  algorithm: string;
  keyId: string;
  value: string;
}

/** Domain separation from record canonical forms (which start with `{`). */
const PREFIX = 'otel-audit retention v1\n';

/** The text signed for a retention line. */
export function retentionSigningText(c: RetentionClaim): string {
  return PREFIX + JSON.stringify([c.streamId, c.file, c.last, c.lastHash, c.deletedAt]);
}

export function signRetention(signer: RecordSigner, c: RetentionClaim): RetentionIntegrity {
  return { algorithm: signer.algorithm, keyId: signer.keyId, value: signer.sign(retentionSigningText(c)) };
}

/**
 * The `integrity` of a line signed by each of `signers` (the record key and the checkpoint key, when both are set:
 * a verifier may hold either, e.g. only the Ed25519 public key): one entry, or a list of them.
 */
export function signRetentionWith(signers: readonly RecordSigner[], c: RetentionClaim): RetentionIntegrity | RetentionIntegrity[] {
  const all = signers.map((s) => signRetention(s, c));
  return all.length === 1 ? all[0]! : all;
}

/**
 * What a retention line's `integrity` says under the keys given:
 * - `ok`: it verifies under one of them;
 * - `absent`: the line carries none (unsigned producer, or stripped);
 * - `unchecked`: signed, no key given;
 * - `bad` / `unknown_key`: as for a record's signature (sign.ts).
 */
export type RetentionAuth = 'ok' | 'absent' | 'unchecked' | 'bad' | 'unknown_key';

export function verifyRetention(c: RetentionClaim, integrity: unknown, keys: readonly VerifyingKey[]): RetentionAuth {
  const r = verifyRetentionBy(c, integrity, keys);
  return typeof r === 'string' ? r : 'ok';
}

/**
 * verifyRetention, with the key it verified under in place of `ok`. A list (one entry per producer key) verifies
 * when one of its entries does; otherwise its first entry's outcome is said.
 */
export function verifyRetentionBy(c: RetentionClaim, integrity: unknown, keys: readonly VerifyingKey[]): VerifyingKey | Exclude<RetentionAuth, 'ok'> {
  if (Array.isArray(integrity)) {
    if (integrity.length === 0 || integrity.length > 4) return 'bad';
    let first: VerifyingKey | Exclude<RetentionAuth, 'ok'> | undefined;
    for (const entry of integrity) {
      const r = verifyOne(c, entry, keys);
      if (typeof r !== 'string') return r;
      first ??= r;
    }
    return first!;
  }
  return verifyOne(c, integrity, keys);
}

function verifyOne(c: RetentionClaim, integrity: unknown, keys: readonly VerifyingKey[]): VerifyingKey | Exclude<RetentionAuth, 'ok'> {
  if (integrity === undefined) return 'absent';
  if (typeof integrity !== 'object' || integrity === null) return 'bad';
  const { algorithm, keyId, value } = integrity as Partial<Record<keyof RetentionIntegrity, unknown>>;
  if (typeof algorithm !== 'string' || typeof keyId !== 'string' || typeof value !== 'string') return 'bad';
  if (keys.length === 0) return 'unchecked';
  return verifyRecordSignatureBy(retentionSigningText(c), { algorithm, keyId, value }, keys);
}
