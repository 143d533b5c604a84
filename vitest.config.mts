import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Integration suites start their own PostgreSQL/Redis; two cores cannot run many at once.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
