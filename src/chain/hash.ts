/**
 * SHA-256 (FIPS 180-4) of the UTF-8 bytes of a canonical form, as lowercase hex — the link of the chain.
 * @noble/hashes: audited, dependency-free, identical in every runtime.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';

export const HASH_ALGORITHM = 'SHA-256';

export function hashCanonical(canonical: string): string {
  return bytesToHex(sha256(utf8ToBytes(canonical)));
}
