/**
 * What `npm pack` ships must be usable: every file a shipped entry point or declaration imports relatively is
 * shipped too (tsup splits shared declarations into chunks), nothing of the tests or examples is but the demo's
 * service (`otel-audit demo` runs it), and no shipped module is unreachable (an unused copy of the library).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');

describe('the published package', () => {
  it('ships every relative import of its entry points and declarations, and no tests or examples', () => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const files = new Set((JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path));
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, Record<string, Record<string, string>>>; bin: Record<string, string> };
    const entries = new Set<string>();
    for (const cond of Object.values(pkg.exports)) {
      if (typeof cond !== 'object') continue;
      for (const target of Object.values(cond)) for (const f of Object.values(target)) entries.add(normalize(f));
    }
    for (const b of Object.values(pkg.bin)) entries.add(normalize(b));
    // Loaded by path at run time: the verify worker (src/verify/parallel-read.ts) and the demo's service (src/cli/demo.ts);
    // run by path: the command wrapper (README "For command-line tools").
    entries.add('dist/verify-worker.js');
    entries.add('dist/examples/service.js');
    entries.add('dist/examples/audited-cli.js');
    const missing: string[] = [];
    const seen = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      if (!files.has(file)) {
        missing.push(file);
        return;
      }
      const text = readFileSync(join(root, file), 'utf8');
      for (const m of text.matchAll(/from\s+['"](\.{1,2}\/[^'"]+)['"]|require\(['"](\.{1,2}\/[^'"]+)['"]\)|import\(['"](\.{1,2}\/[^'"]+)['"]\)/g)) {
        let target = normalize(join(dirname(file), m[1] ?? m[2] ?? m[3]!));
        // Declarations import chunk "x.js"/"x.cjs": the types live in "x.d.ts"/"x.d.cts".
        if (file.endsWith('.d.ts')) target = target.replace(/\.js$/, '.d.ts');
        if (file.endsWith('.d.cts')) target = target.replace(/\.c?js$/, '.d.cts');
        visit(target);
      }
    };
    for (const e of entries) visit(e);
    expect(missing).toEqual([]);
    expect([...files].filter((f) => f.startsWith('test/') || f.startsWith('src/') || f.startsWith('examples/'))).toEqual([]);
    expect([...files].filter((f) => f.startsWith('dist/examples/')).sort()).toEqual(['dist/examples/audited-cli.js', 'dist/examples/service.js']);
    // Every shipped module is reached from an entry point: no chunk shipped for nothing.
    expect([...files].filter((f) => /\.(c?js)$/.test(f) && !seen.has(f))).toEqual([]);
    // The examples import the package by its name and the OTel packages a user installs, not a bundled copy.
    const bareImports = (file: string): string[] =>
      [...readFileSync(join(root, file), 'utf8').matchAll(/from\s+['"]([^'".][^'"]*)['"]/g)].map((m) => m[1]!).filter((m) => !/^(node:)?(child_process|os|path)$/.test(m)).sort();
    expect(bareImports('dist/examples/service.js')).toEqual(['@opentelemetry/sdk-node', 'otel-audit']);
    expect(bareImports('dist/examples/audited-cli.js')).toEqual(['@opentelemetry/sdk-logs', 'otel-audit']);
  });
});
