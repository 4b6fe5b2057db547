/**
 * The Logs API global of the installed OpenTelemetry JS line: `@opentelemetry/api` >= 1.10 (3.x) or
 * `@opentelemetry/api-logs` (0.2xx). CI runs this file on both lines; each run checks the line it has.
 */
import * as api from '@opentelemetry/api';
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { getAuditLogger } from '../../src/api/audit-logger.js';
import { logsApi, otelLine } from '../../src/otel/logs-api.js';
import { AuditLogRecordProcessor } from '../../src/processor.js';
import { journalRecords } from '../helpers/records.js';
import { stringAttribute } from '../../src/otlp/decode.js';
import { tempDir } from '../helpers/tmp.js';

interface LineLogs {
  setGlobalLoggerProvider(p: LoggerProvider): unknown;
  getLogger(name: string): { emit(r: { eventName?: string; attributes?: Record<string, unknown> }): void };
  disable(): void;
}
/** The Logs API exactly as an application on this line imports it. */
const lineLogs = (): LineLogs => (api as { logs?: LineLogs }).logs ?? (createRequire(import.meta.url)('@opentelemetry/api-logs') as { logs: LineLogs }).logs;

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

describe('the Logs API of the installed line', () => {
  it('is the one @opentelemetry/api carries on 3.x, and api-logs on 0.2xx', () => {
    const hasLogs = (api as { logs?: unknown }).logs !== undefined;
    expect(otelLine()).toBe(hasLogs ? '3.x' : '0.2xx');
    expect(logsApi()).toBe(lineLogs());
  });

  it('typed and raw records reach the processor through the global provider the application set', async () => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const processor = new AuditLogRecordProcessor({ dir: join(dir, 'audit'), replay: false, exporter: { url: 'http://127.0.0.1:9/v1/logs' }, fsync: 'always', exportTimeoutMillis: 300 });
    const provider = new LoggerProvider({ processors: [processor] });
    const logs = lineLogs();
    logs.setGlobalLoggerProvider(provider);
    try {
      // Typed: getAuditLogger() finds the global provider through logsApi().
      const receipt = await getAuditLogger({ processor }).record({ action: 'LOGIN', outcome: 'success', actor: { id: 'alice', type: 'user' } });
      expect(receipt.sequence).toBe(1);
      // Raw: the application's own Logs API import, as the README shows for each line.
      logs.getLogger('audit').emit({ eventName: 'file.read', attributes: { 'audit.action': 'READ', 'audit.outcome': 'success', 'audit.actor.id': 'svc', 'audit.actor.type': 'service' } });
      expect(processor.stats().accepted).toBe(2);
    } finally {
      await provider.shutdown();
      logs.disable();
    }
    // The two records, then the stream's end marker.
    const records = journalRecords(join(dir, 'audit'));
    expect(records.map((r) => stringAttribute(r, 'audit.action'))).toEqual(['LOGIN', 'READ', 'STREAM_END']);
  });
});

/**
 * A second copy of this line's Logs API package, as npm installs one beside the first when sdk-node pins another
 * version (the 0.2xx line): its own module instances (its own proxy provider), the one global on globalThis.
 */
function secondCopy(): LineLogs {
  const req = createRequire(import.meta.url);
  const pkg = (api as { logs?: unknown }).logs !== undefined ? '@opentelemetry/api' : '@opentelemetry/api-logs';
  // Its directory: up from its entry point to its package.json (api 1.10's "exports" does not export package.json).
  let root = dirname(req.resolve(pkg));
  while (!existsSync(join(root, 'package.json')) || (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name?: string }).name !== pkg) root = dirname(root);
  const kept = Object.entries(req.cache).filter(([k]) => k.startsWith(root));
  for (const [k] of kept) delete req.cache[k];
  try {
    return (req(pkg) as { logs: LineLogs }).logs;
  } finally {
    for (const [k, m] of kept) req.cache[k] = m;
  }
}

// Found by review: on the 0.2xx line a helper module's `getAuditLogger()`, run before `sdk.start()`, kept this
// copy's proxy logger, which NodeSDK (setting the provider through its own copy) never connects: every record()
// threw a set-up error that sent the user the wrong way.
describe('two copies of the Logs API package', () => {
  it('an AuditLogger made before the provider was set through the other copy still reaches the processor', async () => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const processor = new AuditLogRecordProcessor({ dir: join(dir, 'audit'), replay: false, exporter: { url: 'http://127.0.0.1:9/v1/logs' }, fsync: 'always', exportTimeoutMillis: 300 });
    const audit = getAuditLogger({ processor }); // before any provider is set: this copy's proxy
    const other = secondCopy();
    expect(other).not.toBe(lineLogs());
    const provider = new LoggerProvider({ processors: [processor] });
    other.setGlobalLoggerProvider(provider); // as NodeSDK does, through its own copy
    try {
      const receipt = await audit.record({ action: 'LOGIN', outcome: 'success', actor: { id: 'alice', type: 'user' } });
      expect(receipt).toMatchObject({ sequence: 1, durability: 'journal' });
    } finally {
      await provider.shutdown();
      other.disable();
    }
  });
});

// Found by review of the change above: asked again at every record, a logger whose records reached processor A
// moved to the global provider an app set later (with its own processor B): record() threw a set-up error while
// B journaled the record.
describe('an AuditLogger whose records reached its processor', () => {
  it('keeps that provider when the app sets another global one later', async () => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const make = (name: string): AuditLogRecordProcessor =>
      new AuditLogRecordProcessor({ dir: join(dir, name), replay: false, exporter: { url: 'http://127.0.0.1:9/v1/logs' }, fsync: 'always', exportTimeoutMillis: 300 });
    const a = make('a');
    const b = make('b');
    const pa = new LoggerProvider({ processors: [a] });
    const pb = new LoggerProvider({ processors: [b] });
    const logs = lineLogs();
    logs.setGlobalLoggerProvider(pa);
    try {
      const audit = getAuditLogger({ processor: a });
      const event = { action: 'LOGIN', outcome: 'success', actor: { id: 'alice', type: 'user' } } as const;
      expect((await audit.record(event)).streamId).toBe(a.streamId);
      logs.disable();
      logs.setGlobalLoggerProvider(pb);
      expect((await audit.record(event)).streamId).toBe(a.streamId);
      expect(b.stats().accepted).toBe(0);
    } finally {
      logs.disable();
      await pa.shutdown();
      await pb.shutdown();
    }
  });
});

// Found in review: from JavaScript, null or a look-alike was a TypeError from deep inside.
describe('getAuditLogger given what JavaScript may pass', () => {
  it.each([
    ['null', null, 'getAuditLogger takes an options object { processor?, loggerProvider? }, not null'],
    ['a string', 'audit', 'getAuditLogger takes an options object { processor?, loggerProvider? }, not a string'],
    ['something else as the processor', { processor: {} }, 'getAuditLogger: options.processor is not an AuditLogRecordProcessor'],
    ['a provider without getLogger', { loggerProvider: {} }, 'getAuditLogger: options.loggerProvider has no getLogger(): pass an OpenTelemetry LoggerProvider'],
  ])('%s: AuditConfigError saying what it takes', (_what, options, message) => {
    expect(() => getAuditLogger(options as never)).toThrow(message);
  });
});

// Found in review of the check above: a processor of the package's other build (CommonJS here, the logger from ESM)
// was refused by an instanceof test, though getAuditLogger() without it finds that very instance.
it("getAuditLogger({ processor }) takes a processor of the package's other build", async () => {
  const { execFileSync } = await import('node:child_process');
  const { dir, cleanup } = await tempDir();
  try {
    const dist = join(import.meta.dirname, '../../dist');
    const script = `import { createRequire } from 'node:module';
const cjs = createRequire(${JSON.stringify(join(dist, 'index.cjs'))})(${JSON.stringify(join(dist, 'index.cjs'))});
const esm = await import(${JSON.stringify(pathToFileURL(join(dist, 'index.js')).href)});
const processor = new cjs.AuditLogRecordProcessor({ dir: ${JSON.stringify(dir)}, replay: false, exporter: { url: 'http://127.0.0.1:9/v1/logs' } });
esm.getAuditLogger({ processor });
console.log('taken');
await processor.shutdown();`;
    expect(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 }).trim()).toBe('taken');
  } finally {
    await cleanup();
  }
});
