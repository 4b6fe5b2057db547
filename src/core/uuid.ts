/**
 * UUID v4 (RFC 9562 §5.4) from a pool of random bytes that is refilled asynchronously, before it runs dry.
 *
 * `crypto.randomUUID()` refills its cache of 128 UUIDs synchronously: measured here as a > 40 µs stall on
 * every 128th record, which alone put the p99 of `onEmit` above its budget. Same CSPRNG (OpenSSL via
 * `crypto.randomFill`), same format; only the refill moves off the caller's path.
 */
import { randomFill, randomFillSync } from 'node:crypto';

const POOL_BYTES = 16 * 4096;
/** ASCII codes of the hex digits of each byte value: the UUID text is assembled as bytes, then read once. */
const HEX_HI = new Uint8Array(256);
const HEX_LO = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  const h = i.toString(16).padStart(2, '0');
  HEX_HI[i] = h.charCodeAt(0);
  HEX_LO[i] = h.charCodeAt(1);
}
/** Scratch for one UUID's 36 characters; dashes stay where they are written here. */
const TEXT = Buffer.from('00000000-0000-0000-0000-000000000000', 'latin1');
/** Where the text of byte i of the UUID goes (RFC 9562 §4: 8-4-4-4-12 hex digits). */
const AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

let pool: Buffer = randomFillSync(Buffer.allocUnsafe(POOL_BYTES));
let offset = 0;
let next: Buffer | undefined;
let refilling = false;

function refillSoon(): void {
  if (refilling || next !== undefined) return;
  refilling = true;
  randomFill(Buffer.allocUnsafe(POOL_BYTES), (err, buf) => {
    refilling = false;
    if (err === null) next = buf;
  });
}

export function uuidV4(): string {
  if (offset + 16 > POOL_BYTES) {
    // Swap in the pool filled in the background; only if that is not there yet, fill one synchronously.
    pool = next ?? randomFillSync(Buffer.allocUnsafe(POOL_BYTES));
    next = undefined;
    offset = 0;
  }
  if (offset === POOL_BYTES / 2) refillSoon();
  const b = pool;
  const o = offset;
  offset += 16;
  for (let i = 0; i < 16; i++) {
    let v = b[o + i]!;
    // Version 4 in the high nibble of byte 6, variant 10xx in byte 8.
    if (i === 6) v = (v & 0x0f) | 0x40;
    else if (i === 8) v = (v & 0x3f) | 0x80;
    TEXT[AT[i]!] = HEX_HI[v]!;
    TEXT[AT[i]! + 1] = HEX_LO[v]!;
  }
  // One flat string, instead of a tree of 20 concatenations to be flattened later.
  return TEXT.toString('latin1', 0, 36);
}
