import { performance } from 'node:perf_hooks';

/** How long a loop may run in one turn of the event loop before it yields (docs/adr/0204). */
export const TURN_BUDGET_MS = 4;

/**
 * A time budget for one turn of the event loop: a loop over many items calls
 * `spent()` per item and, once it says true, stops and continues on a later
 * turn (`nextTurn()`), so no loop holds the event loop for more than a few ms
 * (timers, health checks and other clients go on meanwhile). The clock is
 * read every `every` items only.
 */
export class TurnBudget {
  private deadline = 0;
  private n = 0;

  constructor(
    private readonly ms = TURN_BUDGET_MS,
    private readonly every = 32,
  ) {
    this.reset();
  }

  /** Start a new turn. */
  reset(): this {
    this.deadline = performance.now() + this.ms;
    this.n = 0;
    return this;
  }

  /** True once this turn's time is used up. */
  spent(): boolean {
    if (++this.n < this.every) return false;
    this.n = 0;
    return performance.now() >= this.deadline;
  }
}

/** Resolves on a later turn of the event loop (after pending I/O). */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
