import { defineConfig } from 'vitest/config';
import type { Reporter } from 'vitest/node';

/**
 * `npm run faults`: the long runs of the fault scenarios (test/faults/scenarios/long.faults.ts), which print their
 * own markdown table on stdout. This reporter adds nothing there; it only says on stderr what failed.
 */
const failuresOnly: Reporter = {
  onTestRunEnd(modules, unhandled) {
    const errors = [
      ...modules.flatMap((m) => [...m.errors(), ...[...m.children.allTests()].flatMap((t) => t.result().errors ?? [])]),
      ...unhandled,
    ];
    for (const e of errors) process.stderr.write(`faults: ${e.stack ?? e.message}\n`);
  },
};

export default defineConfig({
  test: {
    include: ['test/faults/scenarios/long.faults.ts'],
    pool: 'forks',
    testTimeout: 3_600_000,
    hookTimeout: 60_000,
    reporters: [failuresOnly],
  },
});
