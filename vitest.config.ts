import { defineConfig } from 'vitest/config';

// `npm test`: every test lives under test/, mirroring src/ (unit tests of one
// module, and integration tests with real processes, files and kill -9). The
// long fault campaign has its own config (vitest.faults.config.ts,
// `npm run test:faults`). Temp dirs: tempDir() (test/helpers/temp.ts) dirs go
// after each file (setupFiles); the run's own TMPDIR must be empty at the end
// (globalSetup), or the run fails.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/faults/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    setupFiles: ['test/helpers/temp-cleanup.ts'],
    globalSetup: ['test/helpers/temp-check.ts'],
    reporters: ['default'],
  },
});
