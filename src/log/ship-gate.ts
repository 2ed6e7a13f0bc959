/**
 * When a node's own writes may leave it (docs/adr/0104, item 2). Normally at
 * staging, in parallel with their fsync. After a failed batch (the log failed
 * a write or fsync) only once durable, until batches have succeeded for
 * `quietMs` with no failure: a full disk fails batch after batch (and, nearly
 * full, lets some small ones through in between), but only the first failure
 * of the outage can have shipped entries and so start a new incarnation; the
 * later ones shipped nothing and are renumbered. One new stream per outage,
 * not one per failed batch. The cost while it waits: peers get own writes
 * after their fsync instead of during it (one fsync more of latency).
 *
 * Entries go out in the order they were staged (a peer takes a stream in seq
 * order): when shipping returns to staging, every entry held so far is
 * shipped first, in order. No timer: the clock is read only while it waits.
 */
/** How long batches must succeed with no failure before own writes ship at staging again. */
export const SHIP_GATE_QUIET_MS = 5000;

export class ShipGate<E> {
  private durableOnly = false;
  private held: E[] = [];
  private lastFailure = 0;

  constructor(
    private readonly ship: (e: E) => void,
    private readonly quietMs = SHIP_GATE_QUIET_MS,
    private readonly now: () => number = performance.now.bind(performance),
  ) {}

  /** Whether shipping waits for durability now (a batch failed since the last success). */
  get waitsForDurable(): boolean {
    return this.durableOnly;
  }

  /** A local entry was staged in the log: ship it now, or hold it until it is durable. */
  staged(e: E): void {
    if (this.durableOnly) this.held.push(e);
    else this.ship(e);
  }

  /**
   * A local entry is durable (its batch succeeded): ship it, and every entry
   * held before it, in order; once `quietMs` passed since the last failure,
   * ship everything held and return to shipping at staging.
   */
  durable(e: E): void {
    if (!this.durableOnly) return;
    if (this.now() - this.lastFailure >= this.quietMs) {
      this.durableOnly = false;
      const held = this.held;
      this.held = [];
      for (const h of held) this.ship(h);
      return;
    }
    const i = this.held.indexOf(e);
    if (i < 0) return;
    const ready = this.held.splice(0, i + 1);
    for (const h of ready) this.ship(h);
  }

  /** The log failed this entry: it is never shipped (if still held), and shipping waits for durability from now on. */
  failed(e: E): void {
    this.durableOnly = true;
    this.lastFailure = this.now();
    const i = this.held.indexOf(e);
    if (i >= 0) this.held.splice(i, 1);
  }
}
