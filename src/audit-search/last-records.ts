/**
 * The last N records by time, kept in a min-heap of N while any number of records stream past (tail reads
 * every segment of a journal but holds only N). Ties, and records without a time, go by reading order:
 * a record without a time counts as older than any with one.
 */
import type { AuditRecord } from './audit-record.js';

interface Entry {
  record: AuditRecord;
  time: bigint;
  order: number;
}

const older = (a: Entry, b: Entry): boolean => a.time < b.time || (a.time === b.time && a.order < b.order);

export class LastRecords {
  private readonly heap: Entry[] = [];
  private order = 0;

  constructor(private readonly n: number) {}

  add(record: AuditRecord): void {
    const e: Entry = { record, time: record.timeUnixNano ?? -1n, order: this.order++ };
    const h = this.heap;
    if (this.n <= 0) return;
    if (h.length < this.n) {
      h.push(e);
      this.up(h.length - 1);
    } else if (older(h[0]!, e)) {
      h[0] = e;
      this.down(0);
    }
  }

  /** The records kept, oldest first. */
  sorted(): AuditRecord[] {
    return [...this.heap].sort((a, b) => (older(a, b) ? -1 : older(b, a) ? 1 : 0)).map((e) => e.record);
  }

  private up(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!older(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private down(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && older(h[l]!, h[m]!)) m = l;
      if (r < h.length && older(h[r]!, h[m]!)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}
