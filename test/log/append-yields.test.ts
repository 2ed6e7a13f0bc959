import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Log } from '../../src/log/log.js';
import { tempDir } from '../helpers/proc.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('Log.append under policies that do not fsync per write', () => {
  // Under interval/never an append needs no I/O to resolve; if it resolved in a
  // microtask, a writer awaiting appends in a loop would starve timers, sockets
  // and the interval fsync for as long as it keeps writing.
  it.each(['interval', 'never'] as const)('lets the event loop run between awaited appends (fsync=%s)', async (fsync) => {
    const dir = tempDir('fleetkv-append-yields-');
    dirs.push(dir);
    const log = new Log({ dir, fsync, fsyncIntervalMs: 5, segmentBytes: 1 << 20, activeSegment: 1, activeSize: 0 }, 0);
    let ran = false;
    setImmediate(() => {
      ran = true;
    });
    let appended = 0;
    while (!ran && appended < 1000) {
      await log.append(Buffer.from('x'));
      appended++;
    }
    await log.close();
    expect(ran).toBe(true);
    expect(appended).toBeLessThan(1000);
  });
});
