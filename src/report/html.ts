/**
 * `otel-audit verify --report FILE.html`: the verifier's report as ONE self-contained HTML page for an auditor
 * — inline CSS and SVG, no script, no external asset, nothing fetched (a Content-Security-Policy of
 * `default-src 'none'` says so to the browser as well). Per stream: its span (first/last seq and time), record
 * count, checkpoint coverage, signatures, restarts (linked to the stream continued); a timeline of the
 * streams with a marker where each finding sits; each finding with kind, stream, sequence number, record id,
 * file and line; the exact command and inputs.
 *
 * Every string from the input goes through escape.ts (`text`/`attr`): file names, ids and messages are
 * attacker-controlled. Ids in the page's own links are indexes (`stream-3`, `finding-12`), never input.
 */
import { countProblems, inputsNotRead, seqSpan, unverifiedStreams, type Problem, type StreamSummary, type VerifyReport } from '../verify/verifier.js';
import { attr, text } from './escape.js';
import type { StreamTimes } from './stream-times.js';
import { TIMELINE_MAX_STREAMS, timelineSvg } from './timeline.js';

export interface VerifyReportPageInput {
  report: VerifyReport;
  /** The paths verified, as given. */
  inputs: string[];
  /** The command line as typed (see commandLine in command-line.ts). */
  command: string;
  generatedAt: Date;
  /** Times of each stream's first and last record (collectStreamTimes); without them spans show seq only. */
  streamTimes?: ReadonlyMap<string, StreamTimes>;
}

/** Findings listed at most per severity; the page says how many more the JSON report has. */
export const MAX_LISTED_FINDINGS = 5000;
/** Files listed per stream (a long rotated set is summarized). */
const MAX_FILES_PER_STREAM = 6;
/**
 * Streams listed as continuing one stream: an input may make any number of streams name one as their previous
 * stream, and listing them all in one cell made the page unbounded (found in review: 450,000 such streams and
 * the page could not be written at all).
 */
const MAX_SUCCESSORS_PER_STREAM = 6;
/** Rows of the streams table, and of the duplicates table, at most. */
export const MAX_LISTED_STREAMS = 5000;

const CSS = `
:root { color-scheme: light; --fg:#1d2430; --muted:#5b6576; --line:#d9dee7; --ok:#1b7f3b; --bad:#c62828; --info:#6b7280; --bg2:#f5f7fa; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 48px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--fg); background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 32px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
.meta { color: var(--muted); margin: 0 0 16px; }
.verdict { display: inline-block; padding: 6px 14px; border-radius: 6px; font-weight: 700; font-size: 15px; color: #fff; }
.verdict.ok { background: var(--ok); } .verdict.failed { background: var(--bad); }
code, .mono, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 12.5px; }
pre.cmd { background: var(--bg2); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; white-space: pre-wrap; word-break: break-all; margin: 0 0 8px; }
ul.inputs { margin: 4px 0 0; padding-left: 20px; } ul.inputs code { word-break: break-all; }
dl.summary { display: grid; grid-template-columns: max-content auto; gap: 4px 18px; margin: 0; }
dl.summary dt { color: var(--muted); } dl.summary dd { margin: 0; }
table { border-collapse: collapse; width: 100%; margin: 6px 0; }
th, td { text-align: left; vertical-align: top; padding: 5px 8px; border-bottom: 1px solid var(--line); }
th { background: var(--bg2); font-weight: 600; font-size: 12.5px; color: var(--muted); position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.id { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; word-break: break-all; }
td.file { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; word-break: break-all; max-width: 380px; }
td.msg { color: var(--muted); font-size: 12.5px; max-width: 420px; }
.status-ok { color: var(--ok); font-weight: 600; } .status-failed { color: var(--bad); font-weight: 600; }
.sev-error { color: var(--bad); font-weight: 700; } .sev-info { color: var(--info); }
tr.error td:first-child { border-left: 3px solid var(--bad); } tr.info td:first-child { border-left: 3px solid var(--line); }
tr:target { background: #fff7d6; }
.muted { color: var(--muted); }
.time { white-space: nowrap; font-variant-numeric: tabular-nums; font-size: 12.5px; }
.note { color: var(--muted); font-style: italic; }
.timeline-box { overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; padding: 8px; }
svg.timeline { display: block; font: 11px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
svg .axis { stroke: #8a94a6; stroke-width: 1; } svg .grid { stroke: #eceff4; stroke-width: 1; }
svg .tick { fill: var(--muted); } svg .label { fill: #2b3646; }
svg .bar.ok { fill: #7cc894; } svg .bar.failed { fill: #f3a6a6; }
svg .marker.error { fill: var(--bad); stroke: #fff; stroke-width: 1; } svg .marker.info { fill: var(--info); }
svg .restart { fill: none; stroke: #5b6576; stroke-width: 1.3; stroke-dasharray: 4 3; }
.legend { color: var(--muted); font-size: 12.5px; margin: 6px 0 0; }
.legend .tri { color: var(--bad); } .legend .dot { color: var(--info); }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
`;

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

const isoOfNs = (ns: bigint | undefined): string | undefined => {
  if (ns === undefined) return undefined;
  const d = new Date(Number(ns / 1_000_000n));
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
};

function coverageCell(s: StreamSummary): string {
  const c = s.checkpoints;
  if (c.unchecked > 0 && c.valid + c.invalid + c.unknownKey === 0) return `<span class="muted">${plural(c.unchecked, 'checkpoint')}, not checked (no public key given)</span>`;
  const extra = c.invalid + c.unknownKey > 0 ? `<br><span class="sev-error">${c.invalid + c.unknownKey} not valid</span>` : '';
  if (s.coveredThrough === 0) return `<span class="muted">no record covered by a valid checkpoint</span>${extra}`;
  if (s.coveredThrough >= s.last) return `covered through seq ${s.coveredThrough} (every record)<br><span class="muted">${plural(c.valid, 'valid checkpoint')}</span>${extra}`;
  return `covered through seq ${s.coveredThrough}; <b>${seqSpan(s.coveredThrough + 1, s.last)} not yet covered</b><br><span class="muted">${plural(c.valid, 'valid checkpoint')}</span>${extra}`;
}

function signaturesCell(s: StreamSummary): string {
  const g = s.signatures;
  const parts: string[] = [];
  if (g.valid > 0) parts.push(`${g.valid} valid`);
  if (g.invalid > 0) parts.push(`<span class="sev-error">${g.invalid} invalid</span>`);
  if (g.unknownKey > 0) parts.push(`${g.unknownKey} unknown key`);
  if (g.unchecked > 0) parts.push(`${g.unchecked} not checked`);
  if (g.unsigned > 0) parts.push(`${g.unsigned} unsigned`);
  if (g.verified === false) parts.push('<b class="sev-error">none verified under the given keys</b>');
  return parts.length === 0 ? '<span class="muted">—</span>' : parts.join(', ');
}

/**
 * Keys were given and none of these streams' record MACs/signatures verified: verify's WARNING line. The page said
 * INTACT without it (found in review), while a stream whose signatures were stripped and hashes recomputed reads so.
 */
function unverifiedNote(n: number): string {
  if (n === 0) return '';
  return ` <p class="note"><b>${plural(n, 'stream')} with no record MAC/signature verified under the given keys</b>: a producer without a record key writes such a stream, and so does anyone who strips the signatures and recomputes the hashes, so ${n === 1 ? 'its chain vouches' : 'their chains vouch'} for nothing against that (marked in the table below; <code>--require-signatures</code> makes it an error).</p>`;
}

/** `total`: how many files there are, when `files` holds only the first of them. */
function filesCell(files: readonly string[], total = files.length): string {
  const shown = files.slice(0, MAX_FILES_PER_STREAM).map((f) => `<div>${text(f)}</div>`);
  if (total > MAX_FILES_PER_STREAM) shown.push(`<div class="muted">and ${total - MAX_FILES_PER_STREAM} more</div>`);
  return shown.join('');
}

/** The page's head and header, with `verdict` (HTML) under the title. */
function pageStart(title: string, generatedAt: Date, verdict: string): string[] {
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="referrer" content="no-referrer">',
    `<title>${text(`otel-audit verify report — ${title}`)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    '<header>',
    '<h1>otel-audit verify report</h1>',
    `<p class="meta">generated ${text(generatedAt.toISOString())}</p>`,
    verdict,
    '</header>',
  ];
}

/** The command as typed and the inputs as given; the section is left open (the caller may add to it). */
function commandSection(out: string[], command: string, inputs: readonly string[]): void {
  out.push('<section id="command">', '<h2>Command and inputs</h2>', `<pre class="cmd">${text(command)}</pre>`, '<div class="muted">inputs:</div>', '<ul class="inputs">');
  for (const p of inputs) out.push(`<li><code>${text(p)}</code></li>`);
  out.push('</ul>');
}

/** What the page of a run that reached no verdict shows. */
export interface NoVerdictPageInput {
  /** Why there is no verdict: the message verify printed on stderr. */
  reason: string;
  inputs: readonly string[];
  command: string;
  generatedAt: Date;
}

/**
 * The page of a run that reached no verdict (exit status 2: an input or key that cannot be read, nothing to
 * verify). It replaces the file named by --report all the same: an earlier run's page left there, INTACT say,
 * would otherwise pass for this run's.
 */
export function renderNoVerdictPage(input: NoVerdictPageInput): string {
  const out = pageStart('NO VERDICT', input.generatedAt, '<span class="verdict failed">NO VERDICT — the verification did not complete</span>');
  commandSection(out, input.command, input.inputs);
  out.push('</section>');
  out.push('<section id="reason">', '<h2>Why</h2>', `<pre class="cmd">${text(input.reason)}</pre>`);
  out.push('<p class="note">Nothing was judged: this page says neither that the inputs are intact nor that they were tampered with. Fix the cause and run verify again.</p>');
  out.push('</section>', '<footer>', 'Written by otel-audit verify.', '</footer>', '</body>', '</html>', '');
  return out.join('\n');
}

// One template on purpose: the page reads top to bottom as the HTML it writes; every value in it goes through
// the escaping helpers above.
export function renderVerifyReport(input: VerifyReportPageInput): string {
  const { report } = input;
  const times = input.streamTimes ?? new Map<string, StreamTimes>();
  // Streams listed: the failed ones first, then ok ones, at most MAX_LISTED_STREAMS in all (a page of a million rows
  // is one string too long for V8, and no one's to read); links go only to listed ones.
  const failed = report.streams.flatMap((s, i) => (s.ok ? [] : [i]));
  const okOnes = report.streams.flatMap((s, i) => (s.ok ? [i] : []));
  const listedStreams = [...failed.slice(0, MAX_LISTED_STREAMS), ...okOnes.slice(0, Math.max(0, MAX_LISTED_STREAMS - failed.length))].sort((a, b) => a - b);
  const streamIndex = new Map<string, number>();
  for (const i of listedStreams) streamIndex.set(report.streams[i]!.streamId, i);
  const streamAnchor = (i: number): string => `stream-${i}`;
  const streamLink = (id: string | undefined, full = false): string => {
    if (id === undefined) return '<span class="muted">—</span>';
    const i = streamIndex.get(id);
    const label = text(full ? id : id.slice(0, 8) + (id.length > 8 ? '…' : ''));
    return i === undefined ? `<span title="${attr(id)}">${label}</span>` : `<a href="#${streamAnchor(i)}" title="${attr(id)}">${label}</a>`;
  };

  // Which findings are listed: errors first (they decide the verdict), each severity capped. Identical
  // duplicates (at-least-once delivery) are counted per stream instead of listed one by one.
  const errors: number[] = [];
  const infos: number[] = [];
  // `files`: the first of them (enough to show), `fileCount`: how many there are.
  const duplicates = new Map<string, { n: number; lo: number; hi: number; files: Set<string>; fileCount: number }>();
  const dupFiles = new Map<string, Set<string>>(); // per stream, every file (its count, bounded by the inputs)
  report.problems.forEach((p, i) => {
    if (p.severity === 'info' && p.kind === 'duplicate' && p.stream !== undefined) {
      const d = duplicates.get(p.stream) ?? { n: 0, lo: Number.POSITIVE_INFINITY, hi: 0, files: new Set<string>(), fileCount: 0 };
      d.n++;
      if (p.seq !== undefined) {
        d.lo = Math.min(d.lo, p.seq);
        d.hi = Math.max(d.hi, p.seq);
      }
      if (p.file !== undefined) {
        if (d.files.size <= MAX_FILES_PER_STREAM) d.files.add(p.file);
        const all = dupFiles.get(p.stream) ?? new Set<string>();
        all.add(p.file);
        dupFiles.set(p.stream, all);
        d.fileCount = all.size;
      }
      duplicates.set(p.stream, d);
      return;
    }
    (p.severity === 'error' ? errors : infos).push(i);
  });
  const listed = new Set<number>([...errors.slice(0, MAX_LISTED_FINDINGS), ...infos.slice(0, MAX_LISTED_FINDINGS)]);
  const findingAnchor = (i: number): string | undefined => (listed.has(i) ? `finding-${i}` : undefined);

  const { errors: errorCount, byKind } = countProblems(report.problems);
  const continuedBy = new Map<string, string[]>();
  for (const s of report.streams) {
    if (s.previousStreamId === undefined) continue;
    const l = continuedBy.get(s.previousStreamId) ?? [];
    l.push(s.streamId);
    continuedBy.set(s.previousStreamId, l);
  }

  const notRead = inputsNotRead(report);
  const unverified = unverifiedStreams(report).length;
  const verdict =
    (report.ok
      ? `<span class="verdict ok">INTACT — every chain verifies</span>`
      : `<span class="verdict failed">FAILED — ${plural(errorCount, 'integrity problem')}</span>`) +
    // The verdict covers what was read: inputs found and not read are said beside it, not only on stderr.
    (notRead === 0 ? '' : ` <p class="note">${plural(notRead, 'input')} found and not read: not covered by this verdict (<a href="#skipped">listed below</a>).</p>`) +
    unverifiedNote(unverified);
  const out = pageStart(report.ok ? 'intact' : 'FAILED', input.generatedAt, verdict);
  commandSection(out, input.command, input.inputs);
  if (report.skipped !== undefined) {
    out.push('<div class="muted" id="skipped">found and not read:</div>', '<ul class="inputs">');
    for (const k of report.skipped) out.push(`<li><code>${text(k.path)}</code> — ${text(k.reason)}</li>`);
    if (notRead > report.skipped.length) out.push(`<li class="muted">and ${notRead - report.skipped.length} more</li>`);
    out.push('</ul>');
  }
  out.push('</section>');

  out.push('<section id="summary">', '<h2>Summary</h2>', '<dl class="summary">');
  out.push(`<dt>verdict</dt><dd>${report.ok ? '<span class="status-ok">intact</span>' : `<span class="status-failed">failed: ${plural(errorCount, 'error')}</span>`}</dd>`);
  out.push(`<dt>files read</dt><dd>${report.files}</dd>`);
  out.push(`<dt>audit records</dt><dd>${report.records} (every copy counted)${report.nonAudit > 0 ? `; ${report.nonAudit} non-audit records ignored` : ''}</dd>`);
  out.push(`<dt>streams</dt><dd>${report.streams.length} (${report.streams.filter((s) => !s.ok).length} with integrity problems${unverified === 0 ? '' : `; <b>${unverified} with no record signature verified under the given keys</b>`})</dd>`);
  const kinds = [...byKind].map(([k, n]) => `${n} ${text(k)}`).join(', ');
  out.push(`<dt>findings</dt><dd>${kinds === '' ? 'none' : kinds}</dd>`);
  out.push('</dl>', '</section>');

  out.push('<section id="timeline-section">', '<h2>Timeline</h2>', '<div class="timeline-box">');
  out.push(timelineSvg({ streams: report.streams, problems: report.problems, times, streamAnchor, findingAnchor }));
  out.push('</div>');
  out.push(
    '<p class="legend">One bar per stream (green: intact, red: integrity problems), from its first to its last record. ' +
      '<span class="tri">▼</span> error finding, <span class="dot">●</span> info finding, placed by sequence number within the stream; ' +
      'dashed line: the stream continues an earlier one after a restart. Duplicates (identical copies) are not marked. ' +
      'Markers and labels link to the lists below.</p>',
  );
  if (report.streams.length > TIMELINE_MAX_STREAMS) out.push(`<p class="note">The timeline shows the first ${TIMELINE_MAX_STREAMS} of ${report.streams.length} streams; the table below lists ${report.streams.length > MAX_LISTED_STREAMS ? `the failed ones and up to ${MAX_LISTED_STREAMS} in all` : 'all'}.</p>`);
  out.push('</section>');

  out.push('<section id="streams">', '<h2>Streams</h2>');
  if (report.streams.length === 0) out.push('<p class="note">No audit record was found in the inputs.</p>');
  else {
    out.push(
      '<table>',
      '<thead><tr><th>stream</th><th>span</th><th>records</th><th>end</th><th>checkpoint coverage</th><th>signatures</th><th>restart</th><th>files</th><th>status</th></tr></thead>',
      '<tbody>',
    );
    for (const i of listedStreams) {
      const s = report.streams[i]!;
      const t = times.get(s.streamId);
      const first = isoOfNs(t?.first);
      const last = isoOfNs(t?.last);
      const span =
        seqSpan(s.first, s.last) + (first !== undefined || last !== undefined ? `<br><span class="muted time">${text(first ?? '?')}<br>→ ${text(last ?? '?')}</span>` : '');
      const restart: string[] = [];
      if (s.previousStreamId !== undefined) {
        restart.push(`continues ${streamLink(s.previousStreamId)}${streamIndex.has(s.previousStreamId) ? '' : ' <span class="muted">(not among the inputs)</span>'}`);
      }
      const successors = continuedBy.get(s.streamId) ?? [];
      for (const next of successors.slice(0, MAX_SUCCESSORS_PER_STREAM)) restart.push(`continued by ${streamLink(next)}`);
      if (successors.length > MAX_SUCCESSORS_PER_STREAM) {
        restart.push(`<span class="muted">and ${successors.length - MAX_SUCCESSORS_PER_STREAM} more streams that name it as their previous one (otel-audit verify --json lists every stream)</span>`);
      }
      out.push(
        `<tr id="${streamAnchor(i)}">`,
        `<td class="id">${text(s.streamId)}</td>`,
        `<td>${span}</td>`,
        `<td class="num">${s.count}</td>`,
        `<td>${s.ended ? 'ended' : '<span class="muted">open (no end record)</span>'}</td>`,
        `<td>${coverageCell(s)}</td>`,
        `<td>${signaturesCell(s)}</td>`,
        `<td>${restart.length === 0 ? '<span class="muted">—</span>' : restart.join('<br>')}</td>`,
        `<td class="file">${filesCell(s.files)}</td>`,
        `<td>${s.ok ? '<span class="status-ok">ok</span>' : '<span class="status-failed">FAILED</span>'}</td>`,
        '</tr>',
      );
    }
    out.push('</tbody>', '</table>');
    const unlisted = report.streams.length - listedStreams.length;
    if (unlisted > 0) {
      out.push(`<p class="note">${unlisted} more streams not listed here (${plural(failed.length - Math.min(failed.length, MAX_LISTED_STREAMS), 'failed one')}); <code>otel-audit verify --json</code> lists every one.</p>`);
    }
  }
  out.push('</section>');

  const findingsTable = (title: string, idx: readonly number[]): void => {
    out.push(`<h3>${text(title)} (${idx.length})</h3>`);
    if (idx.length === 0) {
      out.push('<p class="note">None.</p>');
      return;
    }
    out.push(
      '<table>',
      '<thead><tr><th>#</th><th>kind</th><th>stream</th><th>seq</th><th>record id</th><th>file</th><th>line</th><th>what was found</th></tr></thead>',
      '<tbody>',
    );
    for (const i of idx.slice(0, MAX_LISTED_FINDINGS)) out.push(findingRow(report.problems[i]!, i, streamLink));
    out.push('</tbody>', '</table>');
    if (idx.length > MAX_LISTED_FINDINGS) {
      out.push(`<p class="note">${idx.length - MAX_LISTED_FINDINGS} more not listed here; <code>otel-audit verify --json</code> lists every one.</p>`);
    }
  };
  out.push('<section id="findings">', '<h2>Findings</h2>');
  findingsTable('Errors', errors);
  findingsTable('Info (do not fail verification)', infos);
  const dupTotal = [...duplicates.values()].reduce((n, d) => n + d.n, 0);
  out.push(`<h3>Duplicates (info) (${dupTotal})</h3>`);
  if (dupTotal === 0) out.push('<p class="note">None.</p>');
  else {
    out.push(
      '<p class="muted">Identical copies of records already read, as at-least-once delivery leaves them (retries, or the same record in two copies given together). They do not fail verification.</p>',
      '<table>',
      '<thead><tr><th>stream</th><th>copies</th><th>seq range</th><th>files holding copies</th></tr></thead>',
      '<tbody>',
    );
    let rows = 0;
    for (const [stream, d] of duplicates) {
      if (++rows > MAX_LISTED_STREAMS) {
        out.push(`<tr class="info"><td colspan="4" class="muted">and ${duplicates.size - MAX_LISTED_STREAMS} more streams with duplicates; <code>otel-audit verify --json</code> lists every copy</td></tr>`);
        break;
      }
      out.push(
        `<tr class="info"><td class="id">${streamLink(stream, true)}</td><td class="num">${d.n}</td><td class="num">${d.hi === 0 ? '—' : `${d.lo}–${d.hi}`}</td><td class="file">${filesCell([...d.files], d.fileCount)}</td></tr>`,
      );
    }
    out.push('</tbody>', '</table>');
  }
  out.push('</section>');

  out.push(
    '<footer>',
    'Written by otel-audit verify. The verification algorithm is docs/integrity.md §7 of otel-audit. ',
    'This page is self-contained: no script, no external resource.',
    '</footer>',
    '</body>',
    '</html>',
    '',
  );
  return out.join('\n');
}

function findingRow(p: Problem, i: number, streamLink: (id: string | undefined, full?: boolean) => string): string {
  const seq = p.seq === undefined ? '<span class="muted">—</span>' : `${p.seq}${p.through === undefined ? '' : `–${p.through}`}`;
  const kind = `<span class="sev-${p.severity}">${text(p.kind)}</span>${p.reason === undefined ? '' : `<br><span class="muted">${text(p.reason)}</span>`}`;
  return [
    `<tr id="finding-${i}" class="${p.severity}">`,
    `<td class="num">${i + 1}</td>`,
    `<td>${kind}</td>`,
    `<td class="id">${streamLink(p.stream, true)}</td>`,
    `<td class="num">${seq}</td>`,
    `<td class="id">${p.recordId === undefined ? '<span class="muted">—</span>' : text(p.recordId)}</td>`,
    `<td class="file">${p.file === undefined ? '<span class="muted">—</span>' : text(p.file)}</td>`,
    `<td class="num">${p.line ?? ''}</td>`,
    `<td class="msg">${text(p.message)}</td>`,
    '</tr>',
  ].join('');
}
