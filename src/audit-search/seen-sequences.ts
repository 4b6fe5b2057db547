/**
 * Which (stream, sequence number) pairs have been seen, to fold the copies that at-least-once delivery
 * leaves (a collector copy repeats batches after retries, and journal plus collector copy hold every record
 * twice) into one: the first copy in reading order is the one shown.
 *
 * Memory is per stream, not per record: each stream keeps its seen numbers as sorted, disjoint ranges
 * [lo, hi]. A stream read in order is one range, however long; batches out of order or gaps add one range
 * each until they close up.
 */
export class SeenSequences {
  private readonly streams = new Map<string, { lo: number[]; hi: number[] }>();

  /** Marks `seq` of `streamId` seen; true when it was not seen before. */
  add(streamId: string, seq: number): boolean {
    let r = this.streams.get(streamId);
    if (r === undefined) {
      this.streams.set(streamId, { lo: [seq], hi: [seq] });
      return true;
    }
    const { lo, hi } = r;
    const n = lo.length;
    // The usual case first: the next number of a stream read in order.
    if (seq === hi[n - 1]! + 1) {
      hi[n - 1] = seq;
      return true;
    }
    // k = number of ranges with lo <= seq (binary search); range k-1 is the only one that can hold seq.
    let a = 0;
    let b = n;
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (lo[mid]! <= seq) a = mid + 1;
      else b = mid;
    }
    const k = a;
    if (k > 0 && seq <= hi[k - 1]!) return false;
    const joinsLeft = k > 0 && hi[k - 1]! + 1 === seq;
    const joinsRight = k < n && lo[k]! - 1 === seq;
    if (joinsLeft && joinsRight) {
      hi[k - 1] = hi[k]!;
      lo.splice(k, 1);
      hi.splice(k, 1);
    } else if (joinsLeft) hi[k - 1] = seq;
    else if (joinsRight) lo[k] = seq;
    else {
      lo.splice(k, 0, seq);
      hi.splice(k, 0, seq);
    }
    return true;
  }

  /** Ranges held, all streams together (for tests of the memory bound). */
  get ranges(): number {
    let n = 0;
    for (const r of this.streams.values()) n += r.lo.length;
    return n;
  }
}
