/**
 * Hybrid logical clock (Kulkarni et al.): 48 bits of wall-clock milliseconds
 * and a 16-bit logical counter. It never goes backwards on one node, even when
 * the wall clock jumps back, and it moves past every timestamp it has seen
 * that is at most `maxSkewMs` ahead of this node's wall clock. A timestamp
 * further ahead (a peer's clock is wrong) is counted but not adopted: one bad
 * clock must not drag every clock it reaches into the future for good
 * (docs/adr/0103). Per-key order over such an entry is kept by `after`.
 */
export const MAX_LOGICAL = 0xffff;

export interface Timestamp {
  wall: number;
  logical: number;
}

export function compareTs(aWall: number, aLogical: number, bWall: number, bLogical: number): number {
  return aWall !== bWall ? aWall - bWall : aLogical - bLogical;
}

const E8 = 100_000_000;

export function formatHlc(wall: number, logical: number): string {
  // Decimal of the 64-bit value wall<<16 | logical, as it stands on the wire. It passes 2^53, so it is
  // built from two exact halves: wall = hi·10^8 + lo, value = (hi·65536 + carry)·10^8 + rest. No BigInt
  // (the BigInt version stood out in the HTTP put profile: every put answers with its hlc).
  const hi = Math.floor(wall / E8);
  const low = (wall - hi * E8) * 65536 + logical; // < 6.6e12, exact
  const top = hi * 65536 + Math.floor(low / E8); // < 1.9e11, exact
  const rest = low % E8;
  return top === 0 ? String(rest) : `${top}${String(rest).padStart(8, '0')}`;
}

export class HybridClock {
  wall = 0;
  logical = 0;
  /** Entries seen with a timestamp further ahead of our wall clock than maxSkewMs. */
  skewedSeen = 0;

  constructor(
    private readonly maxSkewMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Stamp a local event. Mutates and returns this clock's state (no allocation). */
  tick(): this {
    const pt = this.now();
    if (pt > this.wall) {
      this.wall = pt;
      this.logical = 0;
    } else if (this.logical < MAX_LOGICAL) {
      this.logical++;
    } else {
      // Logical counter exhausted within one millisecond: borrow the next one.
      this.wall++;
      this.logical = 0;
    }
    return this;
  }

  /**
   * Observe a remote timestamp (a received or recovered entry): the clock
   * moves past it, unless it is more than maxSkewMs ahead of this node's wall
   * clock. Returns how far ahead it is then (ms; callers count and log it),
   * or 0 when it was within the skew and observed. `now` is this node's
   * wall clock (recovery passes one read per run of entries, not per entry).
   */
  observe(wall: number, logical: number, now = this.now()): number {
    const ahead = wall - now;
    if (ahead > this.maxSkewMs) {
      this.skewedSeen++;
      return ahead;
    }
    if (compareTs(wall, logical, this.wall, this.logical) > 0) {
      this.wall = wall;
      this.logical = logical;
    }
    return 0;
  }
}

/**
 * A timestamp for a write that replaces `held`: the clock's `ts` if it
 * orders after `held`, else the smallest timestamp after `held`. A write
 * then always wins over the value its node held for the key (read, then
 * write), even when that value came from a clock the HLC did not follow.
 */
export function after(ts: Timestamp, held: Timestamp | undefined): Timestamp {
  if (held === undefined || compareTs(ts.wall, ts.logical, held.wall, held.logical) > 0) return ts;
  return held.logical < MAX_LOGICAL ? { wall: held.wall, logical: held.logical + 1 } : { wall: held.wall + 1, logical: 0 };
}
