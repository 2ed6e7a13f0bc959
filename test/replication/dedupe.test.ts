import { afterEach, expect, test } from 'vitest';
import { waitFor } from '../helpers/proc.js';
import { MemFleet } from './memfleet.js';

let fleet: MemFleet | undefined;
afterEach(async () => fleet?.stop());

test('when every node dials every other, each pair keeps exactly one connection, and it stays up', async () => {
  fleet = new MemFleet(4);
  await fleet.start();
  const live = (): boolean => fleet!.nodes.every((n) => (n.status().peers as { state: string }[]).filter((p) => p.state === 'live').length === 3);
  await waitFor(() => live() && fleet!.net.openLinks === 6, '6 connections for 4 nodes, all live');
  // Keep writing for a while: the set of connections does not churn.
  for (let i = 0; i < 50; i++) await fleet.apply({ t: 'put', n: i % 4, k: i % 5 });
  await fleet.converge();
  expect(fleet.net.openLinks).toBe(6);
  expect(live()).toBe(true);
  expect(fleet.logs.filter((l) => /disconnected/.test(l.msg)).length).toBe(0);
  for (const n of fleet.nodes) expect(await n.metrics.registry.getSingleMetricAsString('fleetkv_replication_reconnects_total')).toMatch(/reconnects_total 0$/m);
});
