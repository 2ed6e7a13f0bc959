import fc from 'fast-check';
import { test } from 'vitest';
import { MemFleet, opsArb } from './memfleet.js';

test('random writes, deletes, partitions, heals and restarts on 3–5 nodes end in one state equal to the LWW model', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 3, max: 5 }).chain((size) => fc.tuple(fc.constant(size), opsArb(size, 6, 60))), async ([size, ops]) => {
      const fleet = new MemFleet(size);
      await fleet.start();
      try {
        for (const op of ops) await fleet.apply(op);
        await fleet.converge();
      } finally {
        await fleet.stop();
      }
    }),
    { numRuns: 25 },
  );
});
