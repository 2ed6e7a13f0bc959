/**
 * Hybrid logical clock (Kulkarni et al.): 48 bits of wall-clock milliseconds
 * and a 16-bit logical counter. It never goes backwards on one node, even when
 * the wall clock jumps back, and it moves past every timestamp it has seen,
 * so a write always orders after what its writer had observed.
 */
export const MAX_LOGICAL = 0xffff;

export interface Timestamp {
  wall: number;
  logical: number;
}

export function compareTs(aWall: number, aLogical: number, bWall: number, bLogical: number): number {
  return aWall !== bWall ? aWall - bWall : aLogical - bLogical;
}

export function formatHlc(wall: number, logical: number): string {
  // Decimal of the 64-bit value wall<<16 | logical, as it stands on the wire.
  return (BigInt(wall) * 65536n + BigInt(logical)).toString();
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
   * Observe a remote timestamp (a received or recovered entry).
   * Returns true when the timestamp is further ahead than the allowed skew;
   * it is still observed, so ordering stays correct, but callers count and log it.
   */
  observe(wall: number, logical: number): boolean {
    const pt = this.now();
    const skewed = wall - pt > this.maxSkewMs;
    if (skewed) this.skewedSeen++;
    if (compareTs(wall, logical, this.wall, this.logical) > 0) {
      this.wall = wall;
      this.logical = logical;
    }
    return skewed;
  }
}
