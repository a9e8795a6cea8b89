import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Snapshot serializer: blank asset hashes so snapshots pass in a fresh clone at another path.
    snapshotSerializers: ['./test/support/asset-hash-serializer.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // 2-core machines: end-to-end suites on emulators must not compete for the CPU.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
