/**
 * Secrets never appear in what otel-audit writes, over a whole run configured the way users configure it (env
 * variables, a child process of the built package): an exporter header carrying a bearer token and an HMAC key
 * signing every record, a collector that refuses the first requests for good (so records are bisected and set
 * aside in rejected/, with their reasons on stderr), then stops (an outage, said on stderr) and comes back, with
 * OTEL_LOG_LEVEL=debug. Afterwards neither the child's stdout and stderr, nor the collector's log, nor any file
 * under the run's directory (journal segments, state files, rejected/, the collector's output) holds the token or
 * the key, in any of the forms it could be written in. Unit tests check each message that might quote them
 * (test/config, test/integrity); this checks the run as a whole.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { killAll, runNode } from '../helpers/child.js';
import { startTestCollector } from '../helpers/ports.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/until.js';

const EMITTER = join(import.meta.dirname, '../fixtures/emitter.mjs');
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  await killAll();
  for (const c of cleanups.splice(0).reverse()) await c();
});

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

it('a bearer token in OTEL_EXPORTER_OTLP_HEADERS and an HMAC key: in no output and no file, refusals and an outage included', async () => {
  const { dir, cleanup } = await tempDir('otel-audit-secrets-');
  cleanups.push(cleanup);
  const token = `sk-live-${randomBytes(16).toString('hex')}`;
  const key = randomBytes(32);
  const collectorLog: string[] = [];
  const collector = await startTestCollector({ outFile: join(dir, 'collector.jsonl'), fault: { mode: 'status', status: 400, times: 30 }, log: (m) => void collectorLog.push(m) });
  cleanups.push(() => collector.close());
  const auditDir = join(dir, 'audit');
  const child = runNode([EMITTER], {
    OTEL_AUDIT_DIR: auditDir,
    OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: collector.endpoint,
    OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer%20${token},x-api-key=${token}`,
    OTEL_AUDIT_HMAC_KEY: `base64:${key.toString('base64')}`,
    OTEL_EXPORTER_OTLP_TIMEOUT: '2000',
    OTEL_LOG_LEVEL: 'debug',
    EMIT_COUNT: '0', // until stopped
  });
  await child.waitFor((o) => o.event === 'started');
  // The refusals: bisected, set aside in rejected/, said on stderr.
  await until(() => readdirSync(auditDir).includes('rejected') && readdirSync(join(auditDir, 'rejected')).length > 0, 'records set aside in rejected/');
  await until(() => child.lines.filter((o) => o.durable !== undefined).length > 200, 'records durable');
  // An outage, said on stderr, then the collector back.
  await collector.stop();
  await until(() => child.stderr.some((l) => /has not taken audit records/.test(l)), 'the outage said on stderr');
  await collector.start();
  child.proc.kill('SIGTERM');
  await child.exited;

  // Whole, and any 8 bytes of the key or 16 characters of the token: a part of a secret is a leak too.
  const hex = key.toString('hex');
  const parts: string[] = [];
  for (let i = 0; i + 16 <= hex.length; i += 2) parts.push(hex.slice(i, i + 16), hex.slice(i, i + 16).toUpperCase());
  for (let i = 'sk-live-'.length; i + 16 <= token.length; i++) parts.push(token.slice(i, i + 16));
  const forms = [token, key.toString('base64'), key.toString('base64url'), key.toString('latin1'), ...parts];
  const outputs: [string, string][] = [
    ['stdout', child.lines.map((l) => JSON.stringify(l)).join('\n')],
    ['stderr', child.stderr.join('\n')],
    ['collector log', collectorLog.join('\n')],
    ...filesUnder(dir).map((f): [string, string] => [f, readFileSync(f, 'latin1')]),
  ];
  expect(outputs.length, 'journal, state, rejected/ and the collector output were written').toBeGreaterThan(5);
  expect(child.stderr.join('\n'), 'the run did print what happened').toMatch(/rejected|set aside/);
  for (const [where, text] of outputs) for (const f of forms) expect(text.includes(f), `${where} holds a secret (${f.includes(token.slice(-16)) || token.includes(f) ? 'the token' : 'the HMAC key'}: ${f.length} characters of it)`).toBe(false);
});
