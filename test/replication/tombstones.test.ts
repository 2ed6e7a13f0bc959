import { afterEach, expect, test } from 'vitest';
import type { FleetNode } from '../../src/node.js';
import { waitFor } from '../helpers/proc.js';
import { MemFleet } from './memfleet.js';

let fleet: MemFleet | undefined;
afterEach(async () => fleet?.stop());

test('tombstones are collected once every known peer has them, before their retention ends', async () => {
  fleet = new MemFleet(3);
  await fleet.start();
  await fleet.apply({ t: 'put', n: 0, k: 1 });
  await fleet.apply({ t: 'del', n: 0, k: 1 });
  await fleet.converge();
  expect(fleet.nodes.map((n) => n.store.tombstoneCount)).toEqual([1, 1, 1]);
  await waitFor(() => fleet!.nodes.every((n) => (n.collectTombstones(), n.store.tombstoneCount === 0)), 'tombstones collected on every node');
});

test('a tombstone is kept while a known peer lacks it; a node away longer than tombstoneRetention gets a full resync and no deleted key comes back', async () => {
  fleet = new MemFleet(2, { tombstoneRetention: 300 });
  await fleet.start();
  const [a, b] = fleet.nodes as [FleetNode, FleetNode];
  for (const k of [1, 2, 3]) await fleet.apply({ t: 'put', n: 0, k });
  await fleet.converge();
  await fleet.apply({ t: 'isolate', n: 1 });
  await fleet.apply({ t: 'del', n: 0, k: 1 });
  await fleet.apply({ t: 'put', n: 0, k: 2 });
  expect(a.collectTombstones()).toBe(0); // b (known) lacks it and retention is not over
  // Past tombstoneRetention, a drops the tombstone that b never got.
  await waitFor(() => a.collectTombstones() === 1, 'the tombstone to expire on a', 5000);
  expect(a.store.getAny('k1')).toBeUndefined();
  expect(b.get('k1')).toBeDefined();
  await fleet.converge();
  expect(b.get('k1')).toBeUndefined();
  expect(fleet.logged('n1', /away longer than tombstoneRetention/)).toBe(true);
  expect(fleet.logged('n1', /dropping 1 keys deleted in the fleet/)).toBe(true);
  // The drop is durable: b restarted still lacks k1.
  await fleet.apply({ t: 'restart', n: 1 });
  expect(fleet.nodes[1]!.get('k1')).toBeUndefined();
});
