import { afterEach, test } from 'vitest';
import { MemFleet, type Op } from './memfleet.js';

// Found by the property test (seed -313870485): a node restarts while isolated, takes a new
// incarnation, and the newest entry of its abandoned stream is replaced (by its own new write, then
// by another node's). After the heal the fleet must converge by itself: same state, same vector.
let fleet: MemFleet | undefined;
afterEach(async () => {
  await fleet?.stop();
  fleet = undefined;
});

test('a stream abandoned at a restart whose newest entry was replaced converges after the heal', async () => {
  fleet = new MemFleet(3);
  await fleet.start();
  const ops: Op[] = [
    { t: 'isolate', n: 2 },
    { t: 'put', n: 2, k: 0 },
    { t: 'restart', n: 2 },
    { t: 'put', n: 2, k: 0 },
    { t: 'put', n: 0, k: 0 },
  ];
  for (const op of ops) await fleet.apply(op);
  await fleet.converge(5_000);
});

test('the same after the origin compacted the replaced entry away and restarted again before the heal', async () => {
  fleet = new MemFleet(3);
  await fleet.start();
  await fleet.apply({ t: 'isolate', n: 2 });
  await fleet.apply({ t: 'put', n: 2, k: 0 });
  await fleet.apply({ t: 'restart', n: 2 });
  await fleet.apply({ t: 'put', n: 2, k: 0 }); // replaces the only entry of the first stream
  await fleet.nodes[2]!.compact(); // the log no longer holds that entry; the snapshot's vector still covers it
  await fleet.apply({ t: 'restart', n: 2 });
  await fleet.apply({ t: 'put', n: 2, k: 1 });
  await fleet.apply({ t: 'put', n: 0, k: 0 });
  await fleet.converge(5_000);
});
