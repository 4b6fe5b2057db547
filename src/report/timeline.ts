/**
 * The report's timeline, as inline SVG (no script, no external asset): one row per stream, a bar from its
 * first to its last record, a marker where each finding sits, and a dashed line from a stream to the one that
 * continues it after a restart.
 *
 * Axis: time, when every stream shown has the times of its first and last record; otherwise each bar spans
 * the full width by sequence number. Within a bar a finding is placed by its sequence number between the
 * stream's first and last (records are not evenly spaced in time, so this is where it sits in the stream, not
 * exactly when). Findings that land on the same pixel share one marker, which says how many it stands for.
 * Duplicates (identical copies, info) are not marked.
 */
import type { Problem, StreamSummary } from '../verify/verifier.js';
import { attr, text } from './escape.js';
import type { StreamTimes } from './stream-times.js';

export interface TimelineInput {
  streams: readonly StreamSummary[];
  problems: readonly Problem[];
  times: ReadonlyMap<string, StreamTimes>;
  /** Fragment id of a stream's row in the streams table / of a finding in the findings list, if shown. */
  streamAnchor: (streamIndex: number) => string;
  findingAnchor: (problemIndex: number) => string | undefined;
}

/** Rows drawn at most; a larger report says how many were left out. */
export const TIMELINE_MAX_STREAMS = 300;

const WIDTH = 1000;
const LABEL = 112;
const RIGHT = 16;
const ROW = 24;
const TOP = 12;
const AXIS = 44;

const isoSeconds = (ns: bigint): string => {
  const d = new Date(Number(ns / 1_000_000n));
  return Number.isNaN(d.getTime()) ? '?' : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
};

// One template on purpose: the SVG's layout (axes, lanes, marks) is read in the order it is drawn.
export function timelineSvg(input: TimelineInput): string {
  const shown = input.streams.slice(0, TIMELINE_MAX_STREAMS);
  const rowOf = new Map<string, number>();
  shown.forEach((s, i) => rowOf.set(s.streamId, i));
  const byTime = shown.length > 0 && shown.every((s) => input.times.get(s.streamId)?.first !== undefined && input.times.get(s.streamId)?.last !== undefined);
  let t0 = 0n;
  let t1 = 0n;
  if (byTime) {
    t0 = shown.reduce((m, s) => (input.times.get(s.streamId)!.first! < m ? input.times.get(s.streamId)!.first! : m), input.times.get(shown[0]!.streamId)!.first!);
    t1 = shown.reduce((m, s) => (input.times.get(s.streamId)!.last! > m ? input.times.get(s.streamId)!.last! : m), t0);
  }
  const timeAxis = byTime && t1 > t0;
  const plotW = WIDTH - LABEL - RIGHT;
  const tx = (t: bigint): number => LABEL + (timeAxis ? Number(((t - t0) * 1_000_000n) / (t1 - t0)) / 1_000_000 : 0) * plotW;
  const span = (s: StreamSummary): [number, number] => {
    if (!timeAxis) return [LABEL, LABEL + plotW];
    const t = input.times.get(s.streamId)!;
    const a = tx(t.first!);
    return [a, Math.max(tx(t.last!), a + 3)];
  };
  const xOf = (s: StreamSummary, seq: number | undefined): number => {
    const [a, b] = span(s);
    if (seq === undefined || s.last <= s.first) return seq !== undefined && seq > s.last ? b : a;
    const f = Math.min(1, Math.max(0, (seq - s.first) / (s.last - s.first)));
    return a + f * (b - a);
  };
  const height = TOP + shown.length * ROW + AXIS;
  const y = (row: number): number => TOP + row * ROW + ROW / 2;
  const parts: string[] = [];
  parts.push(
    `<svg class="timeline" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" role="img" aria-label="timeline of streams and findings">`,
  );
  // Grid and axis.
  const axisY = TOP + shown.length * ROW + 6;
  parts.push(`<line x1="${LABEL}" y1="${axisY}" x2="${LABEL + plotW}" y2="${axisY}" class="axis"/>`);
  if (timeAxis) {
    for (let k = 0; k <= 4; k++) {
      const x = LABEL + (plotW * k) / 4;
      const t = t0 + ((t1 - t0) * BigInt(k)) / 4n;
      const anchor = k === 0 ? 'start' : k === 4 ? 'end' : 'middle';
      parts.push(`<line x1="${x.toFixed(1)}" y1="${TOP - 4}" x2="${x.toFixed(1)}" y2="${axisY + 4}" class="grid"/>`);
      // The date once, at the start, and again only where it changes: labels stay short enough not to overlap.
      const full = isoSeconds(t);
      const label = k > 0 && full.slice(0, 10) === isoSeconds(t0).slice(0, 10) ? full.slice(11) : full;
      parts.push(`<text x="${x.toFixed(1)}" y="${axisY + 18}" text-anchor="${anchor}" class="tick">${text(label)}</text>`);
    }
  } else {
    parts.push(`<text x="${LABEL}" y="${axisY + 18}" class="tick">first record</text>`);
    parts.push(`<text x="${LABEL + plotW}" y="${axisY + 18}" text-anchor="end" class="tick">last record (each bar by sequence number${byTime ? '; all records at one instant' : '; no record times'})</text>`);
  }
  // Restart links, under the bars.
  shown.forEach((s, row) => {
    if (s.previousStreamId === undefined) return;
    const prev = rowOf.get(s.previousStreamId);
    if (prev === undefined) return;
    const [, pEnd] = span(shown[prev]!);
    const [bStart] = span(s);
    parts.push(
      `<path d="M${pEnd.toFixed(1)} ${y(prev)} C${(pEnd + 24).toFixed(1)} ${y(prev)} ${(bStart - 24).toFixed(1)} ${y(row)} ${bStart.toFixed(1)} ${y(row)}" class="restart"><title>${text(`restart: ${s.streamId} continues ${s.previousStreamId}`)}</title></path>`,
    );
  });
  // Bars and labels.
  shown.forEach((s, row) => {
    const [a, b] = span(s);
    const label = s.streamId.slice(0, 8);
    parts.push(
      `<a href="#${attr(input.streamAnchor(row))}"><text x="${LABEL - 8}" y="${y(row) + 4}" text-anchor="end" class="label">${text(label)}</text></a>`,
      `<rect x="${a.toFixed(1)}" y="${y(row) - 5}" width="${(b - a).toFixed(1)}" height="10" rx="3" class="${s.ok ? 'bar ok' : 'bar failed'}"><title>${text(
        `stream ${s.streamId}: seq ${s.first}–${s.last}, ${s.count} records${s.ok ? '' : ', integrity problems'}`,
      )}</title></rect>`,
    );
  });
  // Finding markers, one per pixel per stream and severity; errors drawn last (on top).
  const cells = new Map<string, { x: number; row: number; severity: Problem['severity']; first: number; kind: string; seq: number | undefined; n: number }>();
  input.problems.forEach((p, i) => {
    // Identical copies are what at-least-once delivery leaves: marking each would bury the findings that matter.
    if (p.stream === undefined || p.kind === 'duplicate') return;
    const row = rowOf.get(p.stream);
    if (row === undefined) return;
    const x = xOf(shown[row]!, p.seq);
    const key = `${row}:${Math.round(x)}:${p.severity}`;
    const c = cells.get(key);
    if (c === undefined) cells.set(key, { x, row, severity: p.severity, first: i, kind: p.kind, seq: p.seq, n: 1 });
    else c.n++;
  });
  const sorted = [...cells.values()].sort((a, b) => (a.severity === b.severity ? 0 : a.severity === 'info' ? -1 : 1));
  for (const c of sorted) {
    const label = `${c.severity === 'error' ? 'error' : 'info'}: ${c.kind}${c.seq === undefined ? '' : ` at seq ${c.seq}`}${c.n > 1 ? ` (and ${c.n - 1} more finding${c.n === 2 ? '' : 's'} here)` : ''}`;
    const cy = y(c.row);
    const shape =
      c.severity === 'error'
        ? `<path d="M${(c.x - 6).toFixed(1)} ${cy - 11} L${(c.x + 6).toFixed(1)} ${cy - 11} L${c.x.toFixed(1)} ${cy + 1} Z" class="marker error"/>`
        : `<circle cx="${c.x.toFixed(1)}" cy="${cy + 7}" r="3.5" class="marker info"/>`;
    const anchor = input.findingAnchor(c.first);
    const body = `<title>${text(label)}</title>${shape}`;
    parts.push(anchor === undefined ? `<g>${body}</g>` : `<a href="#${attr(anchor)}">${body}</a>`);
  }
  parts.push('</svg>');
  return parts.join('\n');
}
