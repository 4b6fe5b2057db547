/**
 * Per-record MAC/signature over canonical form v1 (docs/integrity.md §4).
 *
 * Input: the UTF-8 bytes of the record's canonical form v1 (the same bytes that are hashed; `audit.integrity.*`
 * attributes are excluded from it, so adding them after hashing changes neither the hash nor the input).
 * Output: standard base64 (RFC 4648 §4, with padding) of the 32-byte HMAC-SHA256 tag or the 64-byte Ed25519
 * signature (RFC 8032, pure Ed25519).
 */
import { createHmac, sign as cryptoSign, timingSafeEqual, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { CANONICALIZATION_ID } from '../chain/canonical.js';
import {
  ATTR_INTEGRITY_ALGORITHM,
  ATTR_INTEGRITY_CANONICALIZATION,
  ATTR_INTEGRITY_SIGNER,
  ATTR_INTEGRITY_VALUE,
} from '../core/attributes.js';
import { keyMaterial, type IntegrityAlgorithm, type SigningKey, type VerifyingKey } from './keys.js';

/** Id of the key that made `audit.integrity.value` (not in core/attributes.ts, which predates key rotation). */
export const ATTR_INTEGRITY_KEY_ID = 'audit.integrity.key_id';
/** The only signer this version writes and accepts. */
export const INTEGRITY_SIGNER_PRODUCER = 'producer';

export interface RecordSigner {
  readonly keyId: string;
  readonly algorithm: IntegrityAlgorithm;
  /** MAC or signature of the canonical text (UTF-8), standard base64. */
  sign(canonical: string | Uint8Array): string;
}

export function createRecordSigner(key: SigningKey): RecordSigner {
  const k = keyMaterial(key);
  const { keyId, algorithm } = key;
  if (algorithm === 'HMAC-SHA256') {
    return Object.freeze({
      keyId,
      algorithm,
      sign: (canonical: string | Uint8Array): string => createHmac('sha256', k).update(canonical).digest('base64'),
    });
  }
  if (k.type !== 'private') throw new TypeError('an EdDSA signer needs a private key');
  return Object.freeze({
    keyId,
    algorithm,
    sign: (canonical: string | Uint8Array): string =>
      cryptoSign(null, typeof canonical === 'string' ? Buffer.from(canonical, 'utf8') : canonical, k).toString('base64'),
  });
}

/** The integrity attributes to add to a sealed record, in this order. */
export function integrityAttributes(signer: RecordSigner, value: string): Record<string, string> {
  return {
    [ATTR_INTEGRITY_VALUE]: value,
    [ATTR_INTEGRITY_SIGNER]: INTEGRITY_SIGNER_PRODUCER,
    [ATTR_INTEGRITY_CANONICALIZATION]: CANONICALIZATION_ID,
    [ATTR_INTEGRITY_ALGORITHM]: signer.algorithm,
    [ATTR_INTEGRITY_KEY_ID]: signer.keyId,
  };
}

const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const SIG_BYTES: Record<IntegrityAlgorithm, number> = { 'HMAC-SHA256': 32, EdDSA: 64 };

function check(algorithm: IntegrityAlgorithm, key: KeyObject, canonical: string, data: () => Buffer, sig: Buffer): boolean {
  if (algorithm === 'HMAC-SHA256') {
    return timingSafeEqual(createHmac('sha256', key).update(canonical, 'utf8').digest(), sig);
  }
  try {
    return cryptoVerify(null, data(), key, sig);
  } catch {
    return false;
  }
}

/**
 * Checks a record's MAC/signature (docs/integrity.md §4.3):
 * - `bad`: the algorithm is not HMAC-SHA256 or EdDSA, the value is not standard base64 of the right length,
 *   or it does not verify under any trusted key of that algorithm and key id;
 * - `unknown_key`: no trusted key of that algorithm has that key id (for HMAC-SHA256: and no trusted HMAC key
 *   verifies it either — an OTEL_AUDIT_KEY_ID label cannot be derived from the secret, so every HMAC key is
 *   tried);
 * - `ok`: it verifies.
 */
export function verifyRecordSignature(
  canonical: string,
  attrs: { value: string; algorithm: string; keyId: string },
  keys: readonly VerifyingKey[],
): 'ok' | 'bad' | 'unknown_key' {
  const r = verifyRecordSignatureBy(canonical, attrs, keys);
  return typeof r === 'string' ? r : 'ok';
}

/** verifyRecordSignature, with the trusted key it verified under in place of `ok`. */
export function verifyRecordSignatureBy(
  canonical: string,
  attrs: { value: string; algorithm: string; keyId: string },
  keys: readonly VerifyingKey[],
): VerifyingKey | 'bad' | 'unknown_key' {
  const algorithm = attrs.algorithm as IntegrityAlgorithm;
  if (algorithm !== 'HMAC-SHA256' && algorithm !== 'EdDSA') return 'bad';
  if (typeof attrs.value !== 'string' || !STRICT_BASE64.test(attrs.value)) return 'bad';
  const sig = Buffer.from(attrs.value, 'base64');
  if (sig.length !== SIG_BYTES[algorithm]) return 'bad';
  let bytes: Buffer | undefined;
  const data = (): Buffer => (bytes ??= Buffer.from(canonical, 'utf8'));
  let named = false;
  for (const k of keys) {
    if (k.algorithm !== algorithm || k.keyId !== attrs.keyId) continue;
    named = true;
    if (check(algorithm, keyMaterial(k), canonical, data, sig)) return k;
  }
  if (named) return 'bad';
  if (algorithm === 'HMAC-SHA256') {
    for (const k of keys) if (k.algorithm === algorithm && check(algorithm, keyMaterial(k), canonical, data, sig)) return k;
  }
  return 'unknown_key';
}
