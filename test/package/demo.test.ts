/**
 * `otel-audit demo` from the installed package (README: `npx otel-audit demo`): the package as `npm pack` ships
 * it, laid out in a node_modules with the OTel packages of this checkout. The demo's service is shipped and runs
 * from there; without @opentelemetry/sdk-node (which it is built on) the demo says what to install. The whole
 * demo from a packed tarball is run by scripts/smoke-consumer.mjs (CI).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, realpathSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startCollector } from '../../src/collector/index.js';
import { killAll, runNode } from '../helpers/child.js';
import { tempDir } from '../helpers/tmp.js';

const root = join(import.meta.dirname, '../..');
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await killAll();
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** An app directory whose node_modules holds the packed otel-audit and this checkout's dependencies but `without`. */
async function installed(without: string[]): Promise<{ app: string; pkg: string }> {
  const { dir: app, cleanup } = await tempDir('otel-audit-demo-pkg-');
  cleanups.push(cleanup);
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const pkg = join(app, 'node_modules', 'otel-audit');
  for (const f of (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files) {
    mkdirSync(dirname(join(pkg, f.path)), { recursive: true });
    cpSync(join(root, f.path), join(pkg, f.path));
  }
  const deps = realpathSync(join(root, 'node_modules'));
  for (const name of readdirSync(deps)) {
    if (name === 'otel-audit' || name.startsWith('.')) continue;
    if (!name.startsWith('@')) {
      if (!without.includes(name)) symlinkSync(join(deps, name), join(app, 'node_modules', name));
      continue;
    }
    mkdirSync(join(app, 'node_modules', name));
    for (const sub of readdirSync(join(deps, name)))
      if (!without.includes(`${name}/${sub}`)) symlinkSync(join(deps, name, sub), join(app, 'node_modules', name, sub));
  }
  return { app, pkg };
}

describe('otel-audit demo from the installed package', () => {
  it('runs the shipped example service, which imports the installed otel-audit by name', async () => {
    const { app, pkg } = await installed([]);
    const { dir, cleanup } = await tempDir('otel-audit-demo-col-');
    const collector = await startCollector({ port: 0, outFile: join(dir, 'out.jsonl') });
    cleanups.push(cleanup, () => collector.close());
    // Not spawnSync: the collector answers from this process's event loop.
    const p = runNode([join(pkg, 'dist/examples/service.js')], {
      DEMO_EVENTS: '20',
      DEMO_RATE: '0',
      OTEL_AUDIT_DIR: join(app, 'audit'),
      OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: collector.endpoint,
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_LOGS_EXPORTER: 'none',
    });
    expect((await p.exited).code).toBe(0);
    expect(p.stderr).toEqual([]);
    expect(p.event('done')).toMatchObject({ emitted: 20, undelivered: 0, dropped: 0 });
    expect(collector.stats().records).toBe(21); // and the stream's end record
    const help = spawnSync(process.execPath, [join(pkg, 'dist/cli.js'), 'demo', '--help'], { cwd: app, encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('@opentelemetry/sdk-node');
  });

  it('without @opentelemetry/sdk-node it says what to install, exit 2', async () => {
    const { app, pkg } = await installed(['@opentelemetry/sdk-node']);
    const r = spawnSync(process.execPath, [join(pkg, 'dist/cli.js'), 'demo', '--dir', join(app, 'demo')], { cwd: app, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('npm install @opentelemetry/sdk-node');
    expect(r.stdout).toBe('');
  });
});
