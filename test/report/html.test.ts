/**
 * renderVerifyReport on its own (no browser): every string that comes from the input is escaped wherever it
 * lands, the page is self-contained, restarts link to the stream they continue, large reports stay bounded.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { commandLine, MAX_LISTED_FINDINGS, MAX_LISTED_STREAMS, renderVerifyReport, writeVerifyReportFile } from '../../src/report/index.js';
import { verifyFiles, type Problem, type StreamSummary, type VerifyReport } from '../../src/verify/index.js';
import { makeChain, toLines } from '../helpers/make-chain.js';
import { tempDir } from '../helpers/tmp.js';

const EVIL = `<script>alert("x")</script>'&"<img src=x onerror=alert(1)>\u202e\n`;

function stream(id: string, extra: Partial<StreamSummary> = {}): StreamSummary {
  return {
    streamId: id,
    first: 1,
    last: 10,
    count: 10,
    ended: true,
    files: [`dir/${id}.jsonl`],
    ok: true,
    coveredThrough: 0,
    signatures: { valid: 0, invalid: 0, unknownKey: 0, unchecked: 0, unsigned: 10 },
    checkpoints: { valid: 0, invalid: 0, unknownKey: 0, unchecked: 0 },
    ...extra,
  };
}

function page(report: VerifyReport, inputs = ['in'], command = 'otel-audit verify in'): string {
  return renderVerifyReport({ report, inputs, command, generatedAt: new Date('2026-11-28T12:00:00Z') });
}

describe('renderVerifyReport escaping', () => {
  // Each case puts the hostile string in one place; the page must never contain it raw.
  const cases: Array<[string, () => string]> = [
    ['stream id', () => page({ ok: true, files: 1, records: 10, nonAudit: 0, streams: [stream(EVIL)], problems: [] })],
    ['previous stream id', () => page({ ok: true, files: 1, records: 10, nonAudit: 0, streams: [stream('b', { previousStreamId: EVIL })], problems: [] })],
    ['stream file', () => page({ ok: true, files: 1, records: 10, nonAudit: 0, streams: [stream('a', { files: [EVIL] })], problems: [] })],
    ...(['stream', 'recordId', 'file', 'message', 'reason', 'kind'] as const).map((field): [string, () => string] => [
      `problem ${field}`,
      () => {
        const p = { kind: 'modified', severity: 'error', stream: 'a', seq: 3, recordId: 'r', file: 'f', line: 2, message: 'm', [field]: EVIL } as unknown as Problem;
        return page({ ok: false, files: 1, records: 10, nonAudit: 0, streams: [stream('a', { ok: false })], problems: [p] });
      },
    ]),
    ['duplicate file', () => page({ ok: true, files: 1, records: 10, nonAudit: 0, streams: [stream('a')], problems: [{ kind: 'duplicate', severity: 'info', stream: 'a', seq: 2, file: EVIL, line: 1, message: 'm' }] })],
    ['input path', () => page({ ok: true, files: 0, records: 0, nonAudit: 0, streams: [], problems: [] }, [EVIL])],
    ['command', () => page({ ok: true, files: 0, records: 0, nonAudit: 0, streams: [], problems: [] }, ['in'], commandLine(['otel-audit', 'verify', EVIL]))],
  ];

  it.each(cases)('%s', (_name, make) => {
    const html = make();
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<img/i);
    expect(html).not.toContain('\u202e');
    expect(html).toContain('&lt;script&gt;alert(');
    expect(html).toContain('\\u202e'); // the override shown, not applied
    // Nothing from the input ends up as an attribute of ours: only our own, known attribute names.
    const attrs = new Set([...html.matchAll(/<[a-z]+([^>]*)>/gi)].flatMap((m) => [...m[1]!.matchAll(/([a-z-]+)="[^"]*"/gi)].map((a) => a[1]!.toLowerCase())));
    for (const a of attrs) expect(['lang', 'charset', 'http-equiv', 'content', 'name', 'class', 'id', 'href', 'title', 'viewbox', 'width', 'height', 'role', 'aria-label', 'x', 'y', 'x1', 'y1', 'x2', 'y2', 'text-anchor', 'rx', 'd', 'cx', 'cy', 'r']).toContain(a);
  });
});

describe('renderVerifyReport content', () => {
  it('links a restart to the stream it continues, and back', () => {
    const html = page({ ok: true, files: 1, records: 20, nonAudit: 0, streams: [stream('aaaaaaaa-1'), stream('bbbbbbbb-2', { previousStreamId: 'aaaaaaaa-1' })], problems: [] });
    expect(html).toContain('continues <a href="#stream-0"');
    expect(html).toContain('continued by <a href="#stream-1"');
    expect(html).toMatch(/<path d="M[^"]+" class="restart">/);
    const missing = page({ ok: true, files: 1, records: 10, nonAudit: 0, streams: [stream('b', { previousStreamId: 'gone' })], problems: [] });
    expect(missing).toContain('(not among the inputs)');
  });

  it('says what checkpoints cover', () => {
    const s = (coveredThrough: number, valid: number, unchecked = 0) => stream('a', { coveredThrough, checkpoints: { valid, invalid: 0, unknownKey: 0, unchecked } });
    const at = (x: StreamSummary) => page({ ok: true, files: 1, records: 10, nonAudit: 0, streams: [x], problems: [] });
    expect(at(s(10, 3))).toContain('covered through seq 10 (every record)');
    expect(at(s(8, 2))).toContain('<b>seq 9–10 not yet covered</b>');
    expect(at(s(9, 2))).toContain('<b>seq 10 not yet covered</b>');
    expect(at(s(0, 0, 2))).toContain('not checked (no public key given)');
    expect(at(s(0, 0))).toContain('no record covered by a valid checkpoint');
  });

  it('bounds a huge report: errors listed up to the cap, duplicates summarized per stream, the timeline one marker per pixel', () => {
    const problems: Problem[] = [];
    for (let i = 1; i <= MAX_LISTED_FINDINGS + 100; i++) problems.push({ kind: 'modified', severity: 'error', stream: 'a', seq: i, message: 'm' });
    for (let i = 1; i <= 50_000; i++) problems.push({ kind: 'duplicate', severity: 'info', stream: 'a', seq: i, file: `f${i % 3}`, message: 'm' });
    const html = page({ ok: false, files: 3, records: 60_000, nonAudit: 0, streams: [stream('a', { last: MAX_LISTED_FINDINGS + 100, ok: false })], problems });
    expect((html.match(/<tr id="finding-/g) ?? []).length).toBe(MAX_LISTED_FINDINGS);
    expect(html).toContain('100 more not listed here');
    expect(html).toMatch(/<td class="num">50000<\/td><td class="num">1–50000<\/td>/);
    expect((html.match(/class="marker error"/g) ?? []).length).toBeLessThanOrEqual(1000);
    expect(html.length).toBeLessThan(5_000_000);
  });

  // Fixed bug, kept as a regression test: one row per stream, and 1,100,000 one-record streams made the page one
  // string longer than V8 allows ("Invalid string length"); the verify command then printed no verdict at all.
  it('bounds the streams and duplicates tables: the failed streams first, then others, up to the cap', () => {
    const n = MAX_LISTED_STREAMS + 2000;
    const streams = Array.from({ length: n }, (_, i) => stream(`s${i}`, { ok: i % 1000 !== 999 }));
    const problems: Problem[] = streams.flatMap((s) => [{ kind: 'duplicate' as const, severity: 'info' as const, stream: s.streamId, seq: 1, file: 'f', message: 'm' }]);
    const html = page({ ok: false, files: 1, records: n, nonAudit: 0, streams, problems });
    const rows = [...html.matchAll(/<tr id="stream-(\d+)">/g)].map((m) => Number(m[1]));
    expect(rows).toHaveLength(MAX_LISTED_STREAMS);
    // Every failed stream is among them (s999, s1999, …, the last ones included).
    for (let i = 999; i < n; i += 1000) expect(rows).toContain(i);
    expect(html).toContain(`${n - MAX_LISTED_STREAMS} more streams not listed here (0 failed ones)`);
    expect(html).toContain(`and ${n - MAX_LISTED_STREAMS} more streams with duplicates`);
  });

  // Found in review: every stream naming one as its previous stream was listed in that one cell, whether or not
  // those streams were themselves listed: 450,000 of them and the page could not be written at all.
  it('bounds the streams listed as continuing one stream', () => {
    const n = 20_000;
    const streams = [stream('root'), ...Array.from({ length: n }, (_, i) => stream(`next-${i}`, { previousStreamId: 'root' }))];
    const html = page({ ok: true, files: 1, records: 10 * (n + 1), nonAudit: 0, streams, problems: [] });
    const rootRow = html.slice(html.indexOf('<tr id="stream-0">'), html.indexOf('</tr>', html.indexOf('<tr id="stream-0">')));
    expect(rootRow.match(/continued by /g)).toHaveLength(6);
    expect(rootRow).toContain(`and ${n - 6} more streams that name it as their previous one`);
    expect(html.length).toBeLessThan(20 * 1024 * 1024);
  });

  it('the duplicates table says how many files hold copies, not how many it kept to show', () => {
    const problems: Problem[] = Array.from({ length: 61 }, (_, k) => ({ kind: 'duplicate', severity: 'info', stream: 'a', seq: k + 1, file: `seg-${k}.jsonl`, message: 'm' }));
    const html = page({ ok: true, files: 61, records: 61, nonAudit: 0, streams: [stream('a')], problems });
    expect(html).toContain('and 55 more');
  });

  it('no stream, no finding: still a complete page that says so', () => {
    const html = page({ ok: true, files: 1, records: 0, nonAudit: 3, streams: [], problems: [] });
    expect(html).toMatch(/^<!DOCTYPE html>/);
    expect(html).toContain('No audit record was found');
    expect(html).toContain('3 non-audit records ignored');
    expect(html.trimEnd().endsWith('</html>')).toBe(true);
  });
});

describe('writeVerifyReportFile', () => {
  it('writes the page whole, with the span times read from the inputs, or nothing at all', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      writeFileSync(join(dir, 'j.jsonl'), toLines(makeChain(5)).join('\n') + '\n');
      const report = await verifyFiles([join(dir, 'j.jsonl')]);
      const input = { report, inputs: [join(dir, 'j.jsonl')], command: 'otel-audit verify --report r.html j.jsonl', generatedAt: new Date() };
      await writeVerifyReportFile(join(dir, 'r.html'), input);
      const html = readFileSync(join(dir, 'r.html'), 'utf8');
      expect(html).toMatch(/^<!DOCTYPE html>/);
      // makeChain: seq n at 1_700_000_000_000_000_000 + n ms.
      expect(html).toContain('2023-11-14T22:13:20.001Z<br>→ 2023-11-14T22:13:20.005Z');
      await expect(writeVerifyReportFile(join(dir, 'missing', 'r.html'), input)).rejects.toThrow(/ENOENT/);
      expect(readdirSync(dir).sort()).toEqual(['j.jsonl', 'r.html']);

      // A stream id longer than the verifier keeps (256 characters): its times too. Fixed bug, kept as a
      // regression test: looked up by the raw id, it had none, and the timeline said no record had times.
      const long = 'x'.repeat(300);
      writeFileSync(join(dir, 'long.jsonl'), toLines(makeChain(3, { streamId: long })).join('\n') + '\n');
      const withLong = await verifyFiles([join(dir, 'long.jsonl')]);
      await writeVerifyReportFile(join(dir, 'r2.html'), { ...input, report: withLong, inputs: [join(dir, 'long.jsonl')] });
      expect(readFileSync(join(dir, 'r2.html'), 'utf8')).toContain('2023-11-14T22:13:20.001Z<br>→ 2023-11-14T22:13:20.003Z');
    } finally {
      await cleanup();
    }
  });
});
