import { defineConfig } from 'vitest/config';

// `npm test`: unit tests beside the modules they prove, and the integration
// tests with real processes under test/. The long fault campaign has its own
// config (vitest.faults.config.ts, `npm run test:faults`).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/faults/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
