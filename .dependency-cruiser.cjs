/**
 * The import rule of ARCHITECTURE.md §2.2, checked by dependency-cruiser (`npm run lint:deps`, part of
 * `npm test`): a module imports only from its own layer or the layers below it, and nothing is in a cycle.
 *
 * Layers, bottom up (a folder of src/, or a top-level file):
 *   0 core                       names everything shares: attributes, errors, ids
 *   1 otel, otlp                 the OTel JS line's types and Logs API; OTLP encoders
 *   2 select, map                pipeline stages 1–2: is it audit? event → attributes
 *   3 chain                      stage 3: canonical form, hash, seal
 *   4 integrity                  signatures, checkpoints, keys
 *   5 sinks                      journal, files, retention
 *   6 deliver                    export loop, replay, senders, loss, metrics
 *   7 config                     options and environment
 *   8 processor.ts               the LogRecordProcessor
 *   9 api, register.ts, index.ts the typed API and the entry points
 *  10 verify, audit-search, report, collector   tools over the files
 *  11 cli                        the command line
 */
const LAYERS = [
  ['core'],
  ['otel', 'otlp'],
  ['select', 'map'],
  ['chain'],
  ['integrity'],
  ['sinks'],
  ['deliver'],
  ['config'],
  ['processor\\.ts'],
  ['api', 'register\\.ts', 'index\\.ts'],
  ['verify', 'audit-search', 'report', 'collector'],
  ['cli'],
];

const path = (names) => `^src/(${names.join('|')})(/|$)`;

/** One rule per layer: nothing in it imports from a layer above. */
const upward = LAYERS.slice(0, -1).map((names, i) => ({
  name: `no-upward-import-from-${names.join('-').replace(/\\\\\./g, '.')}`,
  comment: `layer ${i} (${names.join(', ')}) must not import from a higher layer (ARCHITECTURE.md §2.2)`,
  severity: 'error',
  from: { path: path(names) },
  to: { path: path(LAYERS.slice(i + 1).flat()) },
}));

/** Within layer 10 the tools stand on verify: verify imports none of the others. */
const toolsOrder = [
  {
    name: 'verify-below-the-other-tools',
    comment: 'verify is the base of search, tail and the report, never the other way round',
    severity: 'error',
    from: { path: '^src/verify/' },
    to: { path: '^src/(audit-search|report|collector)/' },
  },
  {
    name: 'audit-search-below-report',
    severity: 'error',
    from: { path: '^src/audit-search/' },
    to: { path: '^src/report/' },
  },
];

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'no import cycle, between files or folders',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    ...upward,
    ...toolsOrder,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(dist|node_modules)/' },
  },
};
