/**
 * UUID v4 (RFC 9562 §5.4) from a pool of random bytes that is refilled asynchronously, before it runs dry.
 *
 * `crypto.randomUUID()` refills its cache of 128 UUIDs synchronously: measured here as a > 40 µs stall on
 * every 128th record, which alone put the p99 of `onEmit` above its budget. Same CSPRNG (OpenSSL via
 * `crypto.randomFill`), same format; only the refill moves off the caller's path.
 */
import { randomFill, randomFillSync } from 'node:crypto';

const POOL_BYTES = 16 * 4096;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

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
  // Version 4 in the high nibble of byte 6, variant 10xx in byte 8.
  const b6 = (b[o + 6]! & 0x0f) | 0x40;
  const b8 = (b[o + 8]! & 0x3f) | 0x80;
  return (
    HEX[b[o]!]! + HEX[b[o + 1]!]! + HEX[b[o + 2]!]! + HEX[b[o + 3]!]! + '-' +
    HEX[b[o + 4]!]! + HEX[b[o + 5]!]! + '-' +
    HEX[b6]! + HEX[b[o + 7]!]! + '-' +
    HEX[b8]! + HEX[b[o + 9]!]! + '-' +
    HEX[b[o + 10]!]! + HEX[b[o + 11]!]! + HEX[b[o + 12]!]! + HEX[b[o + 13]!]! + HEX[b[o + 14]!]! + HEX[b[o + 15]!]!
  );
}
