import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLastLine } from '../../src/sinks/journal-reader.js';
import { recoverSegment } from '../../src/sinks/recover.js';
import { tempDir } from '../helpers/tmp.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('otel-audit-tail-'));
});
afterAll(async () => cleanup());

const big = '{"x":"' + 'y'.repeat(3 << 20) + '"}'; // a line longer than the 1 MiB scan chunk
let n = 0;
const file = (content: string): string => {
  const p = join(dir, `seg-${n++}.jsonl`);
  writeFileSync(p, content);
  return p;
};

describe('the last line of a segment', () => {
  it.each([
    ['empty file', '', undefined],
    ['one whole line', '{"a":1}\n', '{"a":1}'],
    ['a fragment only', '{"a":', undefined],
    ['whole lines then a torn fragment', '{"a":1}\n{"b":2}\n{"c":', '{"b":2}'],
    ['a last line longer than the scan chunk', `{"a":1}\n${big}\n`, big],
    ['a long line followed by a fragment', `${big}\n{"c"`, big],
  ])('readLastLine: %s', (_name, content, expected) => {
    expect(readLastLine(file(content))).toBe(expected);
  });

  it.each([
    ['whole lines: nothing set aside', '{"a":1}\n{"b":2}\n', undefined, '{"a":1}\n{"b":2}\n'],
    ['a torn fragment after whole lines', '{"a":1}\n{"b":', '{"b":', '{"a":1}\n'],
    ['a fragment only', '{"a":', '{"a":', ''],
    ['a whole-looking but unparsable last line', '{"a":1}\n{"b":2\n', '{"b":2\n', '{"a":1}\n'],
    ['a long torn line spanning chunks', `{"a":1}\n${big.slice(0, -3)}`, big.slice(0, -3), '{"a":1}\n'],
  ])('recoverSegment: %s', (_name, content, torn, kept) => {
    const sub = join(dir, `d${n}`);
    const p = file(content);
    const r = recoverSegment(sub, p);
    expect(readFileSync(p, 'utf8')).toBe(kept);
    if (torn === undefined) expect(r).toBeUndefined();
    else {
      expect(r).toMatchObject({ offset: kept.length, bytes: Buffer.byteLength(torn) });
      expect(readFileSync(r!.quarantinedTo, 'utf8')).toBe(torn);
      expect(readdirSync(join(sub, 'quarantine'))).toHaveLength(1);
    }
  });
});
