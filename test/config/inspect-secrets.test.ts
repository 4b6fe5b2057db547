/**
 * `processor.options` is public, and a processor gets logged (console.log while debugging a set-up). Found in review:
 * util.inspect of it showed the exporter's headers and the URL's password. Header values and URL credentials are
 * hidden whenever the processor or its options are printed, at any depth, and in JSON; reading them is unchanged.
 */
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditLogRecordProcessor } from '../../src/processor.js';
import { tempDir } from '../helpers/tmp.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

describe('a printed processor shows no secret', () => {
  it.each(['http/json', 'grpc'] as const)('%s: inspect (any depth) and JSON hide header values and URL credentials', async (protocol) => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const url = protocol === 'grpc' ? 'http://otel:PASSWORD1@127.0.0.1:9' : 'http://otel:PASSWORD1@127.0.0.1:9/v1/logs?token=TOKEN2';
    const processor = new AuditLogRecordProcessor({ dir, replay: false, exporter: { protocol, url, headers: { authorization: 'Bearer TOPSECRET' } } });
    cleanups.push(() => processor.shutdown());
    for (const text of [inspect(processor), inspect(processor, { depth: Infinity }), inspect(processor.options, { depth: Infinity }), JSON.stringify(processor.options)]) {
      expect(text).not.toMatch(/TOPSECRET|PASSWORD1|TOKEN2/);
    }
    expect(inspect(processor.options.exporter)).toContain("authorization: '(hidden)'");
    expect(processor.options.exporter.headers).toEqual({ authorization: 'Bearer TOPSECRET' });
    expect(processor.options.exporter.url).toBe(url);
  });
});
