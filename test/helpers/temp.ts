import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Temp directories of tests. Every one `tempDir()` makes is registered and
 * removed by `removeTempDirs()`, which test/helpers/temp-cleanup.ts (a vitest
 * setup file) runs after each test file, pass or fail; outside vitest (bench/)
 * they go when the process exits. test/helpers/temp-check.ts fails the run if
 * anything is left in the run's temp dir anyway.
 */
const made = new Set<string>();
let exitHook = false;

/** A fresh temp directory, removed when the test file ends (or the process exits). */
export function tempDir(prefix = 'fleetkv-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.add(dir);
  if (!exitHook) {
    exitHook = true;
    process.once('exit', removeTempDirs);
  }
  return dir;
}

/** Remove one temp dir now (e.g. after each run of a property test). */
export function removeTempDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  made.delete(dir);
}

/** Remove every temp dir made so far. */
export function removeTempDirs(): void {
  for (const dir of [...made]) removeTempDir(dir);
}
