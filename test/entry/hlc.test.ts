import { describe, expect, it } from 'vitest';
import { HybridClock, MAX_LOGICAL, compareTs } from '../../src/entry/hlc.js';

describe('hybrid logical clock', () => {
  it('never goes backwards when the wall clock jumps back', () => {
    let now = 1_000_000;
    const clock = new HybridClock(60_000, () => now);
    const seen: [number, number][] = [];
    const steps = [0, 1, 0, -5000, 0, 3, -1, 10_000, -20_000];
    for (const d of steps) {
      now += d;
      const t = clock.tick();
      seen.push([t.wall, t.logical]);
    }
    for (let i = 1; i < seen.length; i++) {
      expect(compareTs(...seen[i]!, ...seen[i - 1]!)).toBeGreaterThan(0);
    }
  });

  it('moves past observed remote timestamps and counts those beyond the allowed skew', () => {
    const now = 1_000_000;
    const clock = new HybridClock(60_000, () => now);
    expect(clock.observe(now + 1000, 7)).toBe(false);
    const t = clock.tick();
    expect(compareTs(t.wall, t.logical, now + 1000, 7)).toBeGreaterThan(0);
    expect(clock.observe(now + 120_000, 0)).toBe(true);
    expect(clock.skewedSeen).toBe(1);
  });

  it('borrows the next millisecond when the logical counter is exhausted', () => {
    const clock = new HybridClock(60_000, () => 5);
    clock.tick();
    clock.logical = MAX_LOGICAL;
    const t = clock.tick();
    expect([t.wall, t.logical]).toEqual([6, 0]);
  });
});
