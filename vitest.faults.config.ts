import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 120_000,
    pool: 'forks',
    setupFiles: ['test/helpers/temp-cleanup.ts'],
    globalSetup: ['test/helpers/temp-check.ts'],
    fileParallelism: false,
  },
});
