// A/B of two builds of `otel-audit verify` on the same files, for a machine too noisy for absolute MB/s:
//
//   node bench/verify-ab.mjs OLD_DIST NEW_DIST PATH [RUNS] [-- verify options…]
//
// e.g. `cp -r dist /tmp/dist-old`, change and `npm run build`, then
// `node bench/verify-ab.mjs /tmp/dist-old dist /tmp/otel-audit-bench-verify-XXXX/journal 10 -- --jobs 1`
// (a set kept by `BENCH_VERIFY_KEEP=1 node bench/verify.mjs`). Runs OLD and NEW alternately RUNS times (default
// 8), each `node DIST/cli.js verify --json OPTIONS PATH` in a child process, and prints per build the medians of
// wall time, CPU time (user + system of the whole process: every worker thread included) and peak RSS, then the
// median of the paired NEW/OLD ratios (run k of NEW against run k of OLD: both saw about the same load). Both
// builds must print the same report, or it stops: a faster build that reports differently is no result.
import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync, statSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const dash = process.argv.indexOf('--');
const args = process.argv.slice(2, dash < 0 ? undefined : dash);
const options = dash < 0 ? [] : process.argv.slice(dash + 1);
if (args.length < 3) throw new Error('usage: node bench/verify-ab.mjs OLD_DIST NEW_DIST PATH [RUNS] [-- verify options…]');
const [oldDist, newDist, path] = args.map((a, k) => (k < 3 ? resolve(a) : a));
const RUNS = Number(args[3] ?? 8);

// The child reports its own rusage at exit: process-wide, so the worker threads' CPU is in it.
const dir = mkdtempSync(join(tmpdir(), 'otel-audit-verify-ab-'));
const wrapper = join(dir, 'child.mjs');
writeFileSync(
  wrapper,
  `import { pathToFileURL } from 'node:url';
const cli = process.argv[2];
process.argv.splice(1, 2, cli);
process.on('exit', () => {
  const u = process.resourceUsage();
  process.stderr.write('\\nAB ' + JSON.stringify([u.userCPUTime + u.systemCPUTime, u.maxRSS]) + '\\n');
});
await import(pathToFileURL(cli).href);
`,
);

const bytes = (p) => (statSync(p).isDirectory() ? readdirSync(p).reduce((n, f) => n + bytes(join(p, f)), 0) : statSync(p).size);
const size = bytes(path);

function run(dist) {
  const cli = join(dist, 'cli.js');
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [wrapper, cli, 'verify', '--json', ...options, path], { encoding: 'utf8', maxBuffer: 1 << 30 });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const m = /\nAB (\[.*\])\n/.exec(r.stderr);
  if (m === null) throw new Error(`${cli}: no usage reported (exit ${r.status}): ${r.stderr.slice(0, 500)}`);
  const [cpuMicros, rssKb] = JSON.parse(m[1]);
  return { wall, cpu: cpuMicros / 1e6, rss: rssKb / 1024, out: r.stdout };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 === 1 ? s[h] : (s[h - 1] + s[h]) / 2;
};

const results = { old: [], new: [] };
try {
  for (let k = 0; k < RUNS; k++) {
    for (const [name, dist] of k % 2 === 0 ? [['old', oldDist], ['new', newDist]] : [['new', newDist], ['old', oldDist]]) results[name].push(run(dist));
    if (results.old[k].out !== results.new[k].out) throw new Error(`run ${k + 1}: the two builds printed different reports`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(`${(size / 1e6).toFixed(1)} MB, ${RUNS} alternated runs each, verify ${options.join(' ') || '(default options)'}; Node ${process.version}`);
for (const name of ['old', 'new']) {
  const r = results[name];
  const wall = median(r.map((x) => x.wall));
  console.log(`${name}: median wall ${wall.toFixed(3)} s (${(size / 1e6 / wall).toFixed(1)} MB/s), CPU ${median(r.map((x) => x.cpu)).toFixed(3)} s, peak RSS ${median(r.map((x) => x.rss)).toFixed(0)} MB`);
}
const ratio = (f) => median(results.new.map((x, k) => f(x) / f(results.old[k])));
console.log(`new/old, median of paired ratios: wall ${ratio((x) => x.wall).toFixed(3)}, CPU ${ratio((x) => x.cpu).toFixed(3)}`);
