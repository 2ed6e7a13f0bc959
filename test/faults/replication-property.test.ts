import fc from 'fast-check';
import { test } from 'vitest';
import { MemFleet, opsArb } from '../replication/memfleet.js';

// The long run of test/replication/property.test.ts: more schedules, longer ones.
test('long run: random schedules on 3–5 in-memory nodes always converge to the LWW model', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 3, max: 5 }).chain((size) => fc.tuple(fc.constant(size), opsArb(size, 10, 150))), async ([size, ops]) => {
      const fleet = new MemFleet(size);
      await fleet.start();
      try {
        for (const op of ops) await fleet.apply(op);
        await fleet.converge();
      } finally {
        await fleet.stop();
      }
    }),
    { numRuns: 150 },
  );
});
