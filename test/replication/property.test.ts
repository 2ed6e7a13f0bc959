import { test } from 'vitest';
import { checkSchedules } from './memfleet.js';

test('random writes, deletes, partitions, heals and restarts on 3–5 nodes end in one state equal to the LWW model', async () => {
  await checkSchedules({ numRuns: 25, keys: 6, maxOps: 60 });
});
