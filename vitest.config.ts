import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Child-process and loopback tests are I/O bound; two cores, so keep parallelism modest.
    maxWorkers: 2,
    pool: 'forks',
    // In CI, also a machine-readable report, from which .ci/run prints its closing summary line.
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: process.env.CI ? { json: '.ci/results.json' } : undefined,
  },
});
