import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import { hashCanonical } from '../../src/chain/hash.js';

// The runtime uses node:crypto; @noble/hashes is the independent SHA-256 it must agree with.
describe('hashCanonical', () => {
  it.each([
    ['', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'], // FIPS 180-4 empty message
    ['abc', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'], // FIPS 180-4 example
  ])('SHA-256(%j) is the published digest', (input, digest) => {
    expect(hashCanonical(input)).toBe(digest);
  });

  it('agrees with @noble/hashes on UTF-8 text of every kind', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const alphabet = ['a', 'Z', '0', '"', '\\', '\n', '\u0000', 'é', '€', '\u{1F600}', '\uFFFD', '中'];
    for (let n = 0; n < 300; n++) {
      let s = '';
      const len = Math.floor(rnd() * 2000);
      for (let i = 0; i < len; i++) s += alphabet[Math.floor(rnd() * alphabet.length)];
      expect(hashCanonical(s)).toBe(bytesToHex(sha256(utf8ToBytes(s))));
    }
  });
});
