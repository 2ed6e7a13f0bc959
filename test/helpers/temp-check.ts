import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * vitest globalSetup: the run gets a temp dir of its own (TMPDIR, inherited by
 * the test workers and every process they spawn), so other runs on the same
 * machine do not disturb the check. At the end, anything left in it is a
 * leak: it is listed, removed, and fails the run.
 */
export default function setup(): () => void {
  const base = os.tmpdir();
  const runDir = fs.mkdtempSync(path.join(base, 'fleetkv-run-'));
  const before = process.env.TMPDIR;
  process.env.TMPDIR = runDir;
  return () => {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
    const left = fs.readdirSync(runDir);
    fs.rmSync(runDir, { recursive: true, force: true, maxRetries: 3 });
    if (left.length > 0) {
      process.exitCode = 1;
      throw new Error(`tests left ${left.length} entries in the temp dir (tempDir() from test/helpers/temp.ts removes its dirs): ${left.slice(0, 20).join(', ')}`);
    }
  };
}
