import { test } from 'vitest';
import { MemFleet } from './memfleet.js';
test('repro', async () => {
  const fleet = new MemFleet(4);
  await fleet.start();
  try {
    for (const op of [{ t: 'restart', n: 1 }, { t: 'put', n: 0, k: 4 }, { t: 'put', n: 0, k: 1 }, { t: 'put', n: 0, k: 1 }, { t: 'put', n: 2, k: 9 }, { t: 'heal', a: 1, b: 3 }] as never[]) await fleet.apply(op);
    await fleet.converge(3000);
  } catch (e) {
    for (const l of fleet.logs.slice(80, 200)) console.log(l.node, l.msg);
    for (const n of fleet.nodes) console.log(n.nodeId, JSON.stringify(n.store.vector.toObject()), JSON.stringify((n.status().peers as any[]).map((p) => [p.nodeId, p.state, JSON.stringify(p.vector)])));
    throw e;
  } finally {
    await fleet.stop();
  }
});
