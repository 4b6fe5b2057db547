import { defineConfig, type Options } from 'tsup';

type Plugin = NonNullable<Options['esbuildPlugins']>[number];

/**
 * src/register.ts imports the main entry (`./index.js`): left as an import of the built dist/index.js (ESM) or
 * dist/index.cjs (CommonJS) rather than bundled a second time, so that the zero-code entry and the app's
 * `import 'otel-audit'` share one copy of every class (errors caught by class, the processor).
 */
const registerSharesIndex: Plugin = {
  name: 'register-shares-index',
  setup(build) {
    const path = build.initialOptions.format === 'cjs' ? './index.cjs' : './index.js';
    build.onResolve({ filter: /^\.\/index\.js$/ }, (args) => (args.importer.endsWith('register.ts') ? { path, external: true } : undefined));
  },
};

// Two builds from one source: ESM (.js) and CommonJS (.cjs), each with its own declarations, so both kinds
// of consumers get types. The CLI is ESM only (it is run, not imported).
export default defineConfig([
  {
    entry: { index: 'src/index.ts', register: 'src/register.ts' },
    format: ['esm', 'cjs'],
    // @internal members (the typed API's and the exit hooks' entry points into the processor) stay out of the types.
    dts: { compilerOptions: { stripInternal: true } },
    sourcemap: true,
    clean: true,
    target: 'node20',
    platform: 'node',
    splitting: false,
    esbuildPlugins: [registerSharesIndex],
    // import.meta.url in the CommonJS build (src/otel/logs-api.ts loads the 0.2xx Logs API with createRequire).
    shims: true,
  },
  {
    entry: { cli: 'src/cli/main.ts' },
    format: ['esm'],
    sourcemap: true,
    target: 'node20',
    platform: 'node',
    banner: { js: '#!/usr/bin/env node' },
  },
  {
    // The verify worker thread (src/verify/parallel-read.ts starts it as ./verify-worker.js beside the running
    // bundle): its own file, ESM, which a Worker loads from an ESM or a CommonJS parent alike.
    entry: { 'verify-worker': 'src/verify/verify-worker.ts' },
    format: ['esm'],
    sourcemap: true,
    target: 'node20',
    platform: 'node',
  },
  {
    // Examples import the package by its name, exactly as a user's code would (resolved by self-reference), and
    // the OTel packages from node_modules: nothing is bundled. (Not skipNodeModulesBundle: with it tsup bundles
    // whatever tsconfig "paths" names, i.e. a second copy of the whole library for `otel-audit`.) The demo's
    // service is shipped in the package (`otel-audit demo` runs it); see package.json "files".
    entry: { 'examples/service': 'examples/service.ts', 'examples/audited-cli': 'examples/audited-cli.ts' },
    format: ['esm'],
    target: 'node20',
    platform: 'node',
    external: ['otel-audit', /^@opentelemetry\//],
  },
]);
