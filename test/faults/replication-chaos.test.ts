import { afterAll, expect, test } from 'vitest';
import { waitFor, type NodeProc } from '../helpers/proc.js';
import { FaultProxy } from '../helpers/proxy.js';
import { History, restart, startNode, stopAll, waitConverged } from '../replication/fleet.js';

const nodes: NodeProc[] = [];
const proxies: FaultProxy[] = [];
afterAll(async () => {
  await stopAll(nodes);
  await Promise.all(proxies.map((p) => p.close()));
});

/** A small deterministic PRNG, so a failing run can be replayed from its seed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

test('3 real nodes under random partitions (drop, pause, one-way blackhole) and kill -9 while all keep writing: converge, no acknowledged write lost', async () => {
  const seed = Number(process.env.CHAOS_SEED ?? Date.now() % 100_000);
  const rand = rng(seed);
  console.log(`chaos seed ${seed}`);
  const c = await startNode('xc');
  const pBC = await new FaultProxy(c.ports.peer!).start();
  const pAC = await new FaultProxy(c.ports.peer!).start();
  const b = await startNode('xb', { peers: [pBC.address] });
  const pAB = await new FaultProxy(b.ports.peer!).start();
  const a = await startNode('xa', { peers: [pAB.address, pAC.address] });
  const fleet = [a, b, c];
  nodes.push(...fleet);
  proxies.push(pBC, pAC, pAB);
  const targets = new Map<FaultProxy, number>([
    [pBC, 2],
    [pAC, 2],
    [pAB, 1],
  ]);

  const h = new History();
  let writing = true;
  const writers = fleet.map(async (_, j) => {
    for (let i = 0; writing; i++) {
      const n = fleet[j]!;
      if (n.exitCode !== undefined) {
        await waitFor(() => fleet[j]!.exitCode === undefined || !writing, 'the killed node restarted');
        continue;
      }
      const key = `chaos/k${Math.floor(rand() * 30)}`;
      if (rand() < 0.1) await h.del(n, key);
      else await h.put(n, key);
    }
  });

  for (let round = 0; round < 12; round++) {
    const p = proxies[Math.floor(rand() * proxies.length)]!;
    const r = rand();
    if (r < 0.25) p.drop();
    else if (r < 0.45) p.set('pause');
    else if (r < 0.6) p.set('blackhole', rand() < 0.5 ? 'up' : 'down');
    else if (r < 0.8) p.pass();
    else {
      const j = Math.floor(rand() * 3);
      await fleet[j]!.kill9();
      fleet[j] = await restart(fleet[j]!);
      nodes.push(fleet[j]!);
      for (const [proxy, t] of targets) if (t === j) proxy.targetPort = fleet[j]!.ports.peer!;
    }
    for (let i = 0; i < 15; i++) await h.put(fleet[(round + i) % 3]!, `chaos/round${i % 5}`); // writes during this fault
  }
  writing = false;
  await Promise.all(writers);
  for (const p of proxies) p.pass();
  const final = await waitConverged(fleet, 60_000);
  const { acknowledged } = h.check(final);
  expect(acknowledged).toBeGreaterThan(100);
});
