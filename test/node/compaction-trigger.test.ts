import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/load.js';
import { FleetNode } from '../../src/node.js';
import { tempDir } from '../helpers/proc.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function smallSegmentNode(dataDir: string, fsync: 'batch' | 'never'): FleetNode {
  const config = loadConfig({ env: {}, overrides: { nodeId: 'c1', dataDir, log: { fsync, segmentBytes: 4096 } } });
  return new FleetNode(config, { logger: pino({ level: 'silent' }), services: () => [] });
}

describe('compaction started by a segment roll', () => {
  // A roll calls maybeCompact, and compaction itself rolls the log: this used to
  // recurse until the stack overflowed whenever the log was idle at that moment.
  it.each(['batch', 'never'] as const)('compacts, leaves one snapshot and keeps every key (fsync=%s)', async (fsync) => {
    const dir = tempDir('fleetkv-compact-trigger-');
    dirs.push(dir);
    const node = smallSegmentNode(dir, fsync);
    await node.start();
    for (let i = 0; i < 300; i++) await node.put(`k/${i % 10}`, `v${i}-${'x'.repeat(100)}`);
    await node.stop();
    expect(node.lastCompaction).toBeDefined();
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.snap'))).toHaveLength(1);

    const again = smallSegmentNode(dir, fsync);
    await again.start();
    for (let k = 0; k < 10; k++) expect(again.get(`k/${k}`)?.value.toString()).toBe(`v${290 + k}-${'x'.repeat(100)}`);
    await again.stop();
  });
});
