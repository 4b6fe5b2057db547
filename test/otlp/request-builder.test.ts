import { describe, expect, it } from 'vitest';
import type { RecordGroup } from '../../src/chain/group.js';
import { RequestBuilder } from '../../src/otlp/request-builder.js';
import type { ExportLogsServiceRequest } from '../../src/otlp/types.js';

const group = (name: string): RecordGroup => ({
  prefix: `{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"${name}"}}]},"scopeLogs":[{"scope":{"name":"audit"},"logRecords":[`,
  suffix: ']}]}',
});

const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');

const bodies = (req: ExportLogsServiceRequest): string[] =>
  (req.resourceLogs ?? []).flatMap((rl) => (rl.scopeLogs ?? []).flatMap((sl) => (sl.logRecords ?? []).map((r) => r.body?.stringValue ?? '')));

describe('RequestBuilder', () => {
  it('cuts valid ExportLogsServiceRequest lines, grouping consecutive records by resource/scope', () => {
    const b = new RequestBuilder();
    const [a, c] = [group('a'), group('c')];
    b.add(utf8('{"body":{"stringValue":"1"}}'), a);
    b.add(utf8('{"body":{"stringValue":"2"}}'), a);
    b.add(utf8('{"body":{"stringValue":"ünïcødé 😀"}}'), c);
    b.add(utf8('{"body":{"stringValue":"4"}}'), a);
    expect(b.count).toBe(4);
    const req = JSON.parse(b.cut()!.line.toString('utf8')) as ExportLogsServiceRequest;
    expect(req.resourceLogs).toHaveLength(3);
    expect(bodies(req)).toEqual(['1', '2', 'ünïcødé 😀', '4']);
    expect(b.cut()).toBeUndefined();
  });

  it('when the arena is full, refuses the record so the caller cuts; earlier lines stay intact', () => {
    const b = new RequestBuilder();
    const g = group('a');
    const big = 'x'.repeat(40_000);
    const lines: Buffer[] = [];
    const expected: string[][] = [];
    let open: string[] = [];
    for (let i = 0; i < 200; i++) {
      const json = utf8(`{"body":{"stringValue":"${i}-${big}"}}`);
      if (!b.add(json, g)) {
        lines.push(b.cut()!.line);
        expected.push(open);
        open = [];
        expect(b.add(json, g)).toBe(true);
      }
      open.push(`${i}-${big}`);
    }
    lines.push(b.cut()!.line);
    expected.push(open);
    expect(lines.length).toBeGreaterThan(3); // 8 MB through 1 MiB arenas
    // Every line, including those cut from arenas that were replaced since, still parses to its records.
    lines.forEach((line, k) => expect(bodies(JSON.parse(line.toString('utf8')) as ExportLogsServiceRequest)).toEqual(expected[k]));
  });

  it('takes a single record larger than an arena', () => {
    const b = new RequestBuilder();
    const huge = 'y'.repeat(3 << 20);
    expect(b.add(utf8(`{"body":{"stringValue":"${huge}"}}`), group('a'))).toBe(true);
    expect(bodies(JSON.parse(b.cut()!.line.toString('utf8')) as ExportLogsServiceRequest)).toEqual([huge]);
  });
});
