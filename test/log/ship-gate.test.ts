import { expect, test } from 'vitest';
import { ShipGate } from '../../src/log/ship-gate.js';

function gate(quietMs = 100) {
  const clock = { t: 1000 };
  const shipped: number[] = [];
  const g = new ShipGate<number>(
    (e) => shipped.push(e),
    quietMs,
    () => clock.t,
  );
  return { g, clock, shipped };
}

test('ships at staging until a failure; then only durable entries, in staging order, until batches succeed for the quiet period', () => {
  const { g, clock, shipped } = gate();
  g.staged(1);
  expect(shipped).toEqual([1]);
  g.failed(1);
  expect(g.waitsForDurable).toBe(true);
  g.staged(2);
  g.staged(3);
  g.staged(4);
  expect(shipped).toEqual([1]);
  g.durable(3); // 2 and 3 are durable (the log acknowledges in order); 4 is not
  expect(shipped).toEqual([1, 2, 3]);
  g.failed(4); // never shipped, dropped
  g.staged(5);
  clock.t += 99;
  g.durable(5);
  expect(shipped).toEqual([1, 2, 3, 5]);
  expect(g.waitsForDurable).toBe(true); // still inside the quiet period after the failure of 4
  g.staged(6);
  g.staged(7);
  clock.t += 1;
  g.durable(6); // quiet long enough: everything held goes out, in order, and staging ships again
  expect(shipped).toEqual([1, 2, 3, 5, 6, 7]);
  expect(g.waitsForDurable).toBe(false);
  g.staged(8);
  expect(shipped).toEqual([1, 2, 3, 5, 6, 7, 8]);
});

test('a failed entry that was held is never shipped, and a later failure restarts the quiet period', () => {
  const { g, clock, shipped } = gate();
  g.failed(0);
  g.staged(1);
  g.staged(2);
  g.failed(1);
  g.failed(2);
  clock.t += 150;
  g.staged(3);
  g.durable(3);
  expect(shipped).toEqual([3]);
  expect(g.waitsForDurable).toBe(false);
});
