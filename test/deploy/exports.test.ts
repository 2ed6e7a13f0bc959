import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/proc.js';

/**
 * The package's public face is its `exports` map: `import 'fleetkv'` gives
 * the library API (src/index.ts) and nothing under dist/ is reachable by a
 * deep path. Node resolves the package by its own name from inside it
 * (self-reference), as a user's project would after `npm install`.
 */
function run(code: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('package exports', () => {
  it('import "fleetkv" gives the library API', () => {
    const r = run(`const m = await import('fleetkv'); console.log(Object.keys(m).sort().join(','));`);
    expect(r.stderr).toBe('');
    const names = r.stdout.trim().split(',');
    for (const name of ['createFleetNode', 'FleetNode', 'FleetError', 'RobotNode', 'loadConfig', 'VERSION']) expect(names).toContain(name);
  });

  it('a deep import into dist/ is refused', () => {
    const r = run(`await import('fleetkv/dist/node.js');`);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });
});
