import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Snapshot serializer: blank asset hashes so snapshots pass in a fresh clone at another path.
    snapshotSerializers: ['./test/support/asset-hash-serializer.ts'],
    // The JSON report is what .ci/run counts (vitest's own summary line is not read by CI).
    reporters: ['default', ['json', { outputFile: 'test-reports/vitest.json' }]],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // 2-core machines: end-to-end suites on emulators must not compete for the CPU.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
