import { test } from 'vitest';
import { checkSchedules } from '../replication/memfleet.js';

// The long run of test/replication/property.test.ts: more schedules, longer ones.
test('long run: random schedules on 3–5 in-memory nodes always converge to the LWW model', async () => {
  await checkSchedules({ numRuns: 150, keys: 10, maxOps: 150 });
});
