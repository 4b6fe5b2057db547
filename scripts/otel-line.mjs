#!/usr/bin/env node
/**
 * Switches a checkout's development dependencies to one OpenTelemetry JS line, so the whole suite can run
 * against it. The repository's own package.json and package-lock.json are the 0.2xx line (Node >= 20.19);
 * `ci/otel-3/` holds the 3.x line's devDependencies and lockfile (api 1.10 carrying the Logs API, sdk-logs 3.x,
 * sdk-node 0.30x, Node >= 22.15).
 *
 *   node scripts/otel-line.mjs 3            rewrite package.json + package-lock.json for the 3.x line (then `npm ci`)
 *   node scripts/otel-line.mjs 3 --update   the same, but resolve afresh and save the new lockfile into ci/otel-3/
 *
 * Meant for a scratch copy of the repository (CI copies it first): it overwrites package.json in place.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const [line, flag] = process.argv.slice(2);
if (line !== '3') {
  process.stderr.write('usage: node scripts/otel-line.mjs 3 [--update]\n');
  process.exit(2);
}
const spec = JSON.parse(readFileSync(join(root, 'ci/otel-3/dev-dependencies.json'), 'utf8'));
const pkgPath = join(root, 'package.json');
const pkg = JSON.parse(readFileSync(pkgPath, 'utf8'));
for (const name of spec.remove) delete pkg.devDependencies[name];
Object.assign(pkg.devDependencies, spec.set);
writeFileSync(pkgPath, `${JSON.stringify(pkg, null, 2)}\n`);
const lock = join(root, 'ci/otel-3/package-lock.json');
if (flag === '--update') {
  execFileSync('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  copyFileSync(join(root, 'package-lock.json'), lock);
  process.stdout.write(`saved ${lock}\n`);
} else {
  copyFileSync(lock, join(root, 'package-lock.json'));
  process.stdout.write('package.json and package-lock.json now describe the OpenTelemetry JS 3.x line: run npm ci\n');
}
