import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HybridClock, MAX_LOGICAL, after as orderAfter, compareTs, formatHlc } from '../../src/entry/hlc.js';

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
    expect(clock.observe(now + 1000, 7)).toBe(0);
    const t = clock.tick();
    expect(compareTs(t.wall, t.logical, now + 1000, 7)).toBeGreaterThan(0);
    expect(clock.observe(now + 120_000, 0)).toBe(120_000);
    expect(clock.skewedSeen).toBe(1);
  });

  it('does not follow a timestamp further ahead than maxSkew: one fast clock cannot drag it into the future', () => {
    let now = 1_000_000;
    const clock = new HybridClock(60_000, () => now);
    const year = 365 * 86_400_000;
    expect(clock.observe(now + year, 3)).toBe(year);
    expect(clock.tick().wall).toBe(now); // still stamps its own time
    now += 70_000;
    expect(clock.tick().wall).toBe(now); // and keeps following it: writes 70 s apart are 70 s apart
    expect(clock.observe(now + 60_000, 0)).toBe(0); // within the skew: adopted
    expect(clock.tick().wall).toBe(now + 60_000);
  });

  it('after(): a write orders after the value held for its key, even one from a clock it did not follow', () => {
    expect(orderAfter({ wall: 10, logical: 0 }, undefined)).toEqual({ wall: 10, logical: 0 });
    expect(orderAfter({ wall: 10, logical: 0 }, { wall: 9, logical: 5 })).toEqual({ wall: 10, logical: 0 });
    expect(orderAfter({ wall: 10, logical: 0 }, { wall: 10, logical: 0 })).toEqual({ wall: 10, logical: 1 });
    expect(orderAfter({ wall: 10, logical: 0 }, { wall: 99, logical: 4 })).toEqual({ wall: 99, logical: 5 });
    expect(orderAfter({ wall: 10, logical: 0 }, { wall: 99, logical: MAX_LOGICAL })).toEqual({ wall: 100, logical: 0 });
  });

  it('borrows the next millisecond when the logical counter is exhausted', () => {
    const clock = new HybridClock(60_000, () => 5);
    clock.tick();
    clock.logical = MAX_LOGICAL;
    const t = clock.tick();
    expect([t.wall, t.logical]).toEqual([6, 0]);
  });

  it('formats an hlc as the decimal of wall·65536 + logical, exactly, over the whole 48-bit range', () => {
    const big = (w: number, l: number): string => (BigInt(w) * 65536n + BigInt(l)).toString();
    for (const [w, l] of [
      [0, 0],
      [0, 1],
      [1, 0],
      [1525, 65535],
      [99_999_999, 65535],
      [100_000_000, 0],
      [1_796_221_652_162, 7],
      [2 ** 48 - 1, MAX_LOGICAL],
    ] as const)
      expect(formatHlc(w, l)).toBe(big(w, l));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 48 - 1 }), fc.integer({ min: 0, max: MAX_LOGICAL }), (w, l) => formatHlc(w, l) === big(w, l)),
      { numRuns: 5000 },
    );
  });
});
