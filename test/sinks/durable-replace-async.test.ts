/**
 * durableReplaceAsync (src/sinks/durable.ts), the background state save: a save that a newer synchronous one
 * overtook while its write and fsync ran is not renamed into place — the file keeps the newer content — and leaves
 * no temporary file; one that nothing overtook replaces the file. Real files.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { durableReplace, durableReplaceAsync } from '../../src/sinks/durable.js';
import { tempDir } from '../helpers/tmp.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await tempDir()));
afterEach(async () => cleanup());

describe('durableReplaceAsync', () => {
  it.each([
    ['overtaken by a synchronous save meanwhile: not renamed, the newer content stays', true, 'newer'],
    ['not overtaken: renamed into place', false, 'background'],
  ])('%s', async (_what, overtaken, expected) => {
    const path = join(dir, 'x.state');
    durableReplace(path, 'older');
    let writes = 1;
    const mine = ++writes;
    const p = durableReplaceAsync(path, 'background', () => mine === writes);
    if (overtaken) {
      writes++;
      durableReplace(path, 'newer');
    }
    expect(await p).toBe(!overtaken);
    expect(readFileSync(path, 'utf8')).toBe(expected);
    expect(readdirSync(dir)).toEqual(['x.state']);
  });
});
