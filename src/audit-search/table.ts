/**
 * An aligned text table that streams: rows are held only until the first block (BLOCK_ROWS rows, or the end)
 * is complete, its column widths are fixed from that block (within per-column caps), and every later row is
 * printed at once in those widths, a longer value cut with '…'. So output starts early and memory stays
 * bounded, and a table of up to BLOCK_ROWS rows is exactly aligned. The last column is never cut or padded.
 */
import { printable } from './printable.js';

export interface TableColumn {
  title: string;
  /** Widest the column gets; longer values are cut. */
  max: number;
  /** Narrowest it gets (so rows that come later, as in `tail --follow`, have room). */
  min?: number;
  align?: 'left' | 'right';
  /**
   * Never cut: a longer value is printed whole and pushes the rest of its row right (a sequence number cut to
   * `100…` could not be told from the next one).
   */
  whole?: boolean;
}

const BLOCK_ROWS = 1000;
const GAP = '  ';

/** Width of a string in terminal columns, near enough: code points (no East Asian width table). */
const width = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

function fit(s: string, w: number, align: 'left' | 'right', whole: boolean): string {
  const n = width(s);
  if (n > w) return whole ? s : [...s].slice(0, Math.max(0, w - 1)).join('') + '…';
  const pad = ' '.repeat(w - n);
  return align === 'right' ? pad + s : s + pad;
}

export class TableWriter {
  private pending: string[][] | undefined = [];
  private widths: number[] = [];

  constructor(
    private readonly columns: readonly TableColumn[],
    private readonly write: (text: string) => void,
  ) {}

  add(cells: readonly string[]): void {
    const row = cells.map(printable);
    if (this.pending === undefined) {
      this.write(this.format(row));
      return;
    }
    this.pending.push(row);
    if (this.pending.length >= BLOCK_ROWS) this.flush();
  }

  /**
   * Fixes the widths (if not yet) and prints what is held, with the header. Call at the end, and before
   * waiting for more rows. With no row yet, prints nothing unless `header` (then the widths are the minimums).
   */
  flush(header = false): void {
    if (this.pending === undefined || (this.pending.length === 0 && !header)) return;
    const rows = this.pending;
    this.pending = undefined;
    this.widths = this.columns.map((c, i) => {
      let w = Math.max(width(c.title), c.min ?? 0);
      for (const r of rows) w = Math.max(w, width(r[i] ?? ''));
      return Math.min(w, Math.max(c.max, width(c.title)));
    });
    let text = this.format(this.columns.map((c) => c.title));
    for (const r of rows) text += this.format(r);
    this.write(text);
  }

  private format(row: readonly string[]): string {
    const last = this.columns.length - 1;
    const cells = this.columns.map((c, i) => (i === last ? (row[i] ?? '') : fit(row[i] ?? '', this.widths[i]!, c.align ?? 'left', c.whole === true)));
    return `${cells.join(GAP).trimEnd()}\n`;
  }
}

/** The columns of search and tail (match.ts TABLE_COLUMNS). */
export const MATCH_COLUMNS: readonly TableColumn[] = [
  // Minimums, for `tail -f` started before any record exists (widths are fixed at the header then).
  { title: 'TIME', max: 24, min: 24 },
  { title: 'STREAM', max: 8, min: 8 },
  { title: 'SEQ', max: 12, min: 7, align: 'right', whole: true },
  { title: 'EVENT', max: 32, min: 16 },
  { title: 'ACTOR', max: 24, min: 10 },
  { title: 'ACTION', max: 16, min: 10 },
  { title: 'TARGET', max: 32, min: 10 },
  { title: 'OUTCOME', max: 8 },
  { title: 'CHAIN', max: Number.MAX_SAFE_INTEGER },
];
