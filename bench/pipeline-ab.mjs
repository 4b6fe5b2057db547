// A/B of two builds of the emitting pipeline, for a machine too noisy for one run's absolute figures:
//
//   node --expose-gc bench/pipeline-ab.mjs OLD_ROOT NEW_ROOT [RUNS] [SHAPE] [VARIANT]
//
// Each ROOT is a checkout with `dist/` built and `bench/` (e.g. `git worktree add /tmp/old <commit>`, then
// `npm run build` there with node_modules linked). One minimal receiver (bench/minimal-receiver.mjs of NEW_ROOT)
// serves both; each run is a fresh bench child (`bench/variant.mjs VARIANT <endpoint> 100000 1000 SHAPE`), OLD and
// NEW alternated, the order swapped every run, RUNS times (default 6; shape 9, variant otel-audit). Prints each
// pair, then the medians of the paired NEW/OLD ratios of CPU per record and elapsed time.
import { execFileSync, spawn } from 'node:child_process';

const [A, B, runsArg, shape = '9', variant = 'otel-audit'] = process.argv.slice(2);
if (A === undefined || B === undefined) throw new Error('usage: node --expose-gc bench/pipeline-ab.mjs OLD_ROOT NEW_ROOT [RUNS] [SHAPE] [VARIANT]');
const runs = Number(runsArg ?? 6);
const recv = spawn(process.execPath, [`${B}/bench/minimal-receiver.mjs`], { stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise((res) => {
  let s = '';
  recv.stdout.on('data', (d) => {
    s += d;
    const m = /http:\/\/[^\s"]+/.exec(s);
    if (m) res(m[0]);
  });
});
const ep = url.endsWith('/v1/logs') ? url : url.replace(/\/$/, '') + '/v1/logs';
const run = (root) => JSON.parse(execFileSync(process.execPath, ['--expose-gc', `${root}/bench/variant.mjs`, variant, ep, '100000', '1000', shape], { encoding: 'utf8' }).trim().split('\n').pop());
const med = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
try {
  run(A); // warm-up of each build: not counted
  run(B);
  const cpu = [];
  const elapsed = [];
  for (let i = 0; i < runs; i++) {
    const r = new Map();
    for (const root of i % 2 ? [B, A] : [A, B]) r.set(root, run(root));
    const a = r.get(A);
    const b = r.get(B);
    cpu.push(b.cpuUsPerRecord / a.cpuUsPerRecord);
    elapsed.push(b.elapsedMs / a.elapsedMs);
    console.log(`run ${i}: CPU µs/rec OLD ${a.cpuUsPerRecord.toFixed(2)} NEW ${b.cpuUsPerRecord.toFixed(2)} · elapsed ms OLD ${a.elapsedMs.toFixed(0)} NEW ${b.elapsedMs.toFixed(0)} · emit() p99 µs OLD ${a.emitP99Us} NEW ${b.emitP99Us}`);
  }
  console.log(`median NEW/OLD: CPU per record ${med(cpu).toFixed(3)}, elapsed ${med(elapsed).toFixed(3)}`);
} finally {
  recv.kill();
}
