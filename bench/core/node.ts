/** Library nodes for the core benchmark: no services, quiet logs, a chosen fsync policy. */
import { pino } from 'pino';
import type { FsyncPolicyName } from '../../src/config/schema.js';
import type { FleetNode } from '../../src/node.js';
import { coreNode } from '../../test/helpers/node.js';
import { BENCH_NODE_ID } from './load.js';

export const FSYNC_POLICIES: FsyncPolicyName[] = ['always', 'batch', 'interval', 'never'];

export function benchNode(dataDir: string, fsync: FsyncPolicyName): FleetNode {
  // The tests' core node (its config ignores a developer's FLEETKV_* variables, which would change the figures).
  return coreNode(
    dataDir,
    (c) => {
      c.nodeId = BENCH_NODE_ID;
      c.log.fsync = fsync;
    },
    { logger: pino({ level: 'warn' }, pino.destination(2)) },
  );
}

/** Key of the `i`-th distinct key in the recovery and memory data sets. */
export function distinctKey(i: number): string {
  return `key/${String(i).padStart(7, '0')}`;
}

/** Put keys `distinctKey(from .. n-1)` with `writers` concurrent writers. */
export async function fillDistinct(node: FleetNode, n: number, value: Buffer, writers = 256, from = 0): Promise<void> {
  let next = from;
  const loop = async (): Promise<void> => {
    for (let i = next++; i < n; i = next++) await node.put(distinctKey(i), value);
  };
  await Promise.all(Array.from({ length: writers }, loop));
}
