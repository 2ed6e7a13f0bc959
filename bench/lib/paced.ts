/**
 * A paced latency probe: `run` sends writes 0..count-1 at `rate`/s (a 1 ms
 * timer tick sends every write that is due), `arrived(i)` records when write
 * i was seen on the far side. The first `warmup` writes are not counted.
 */
export interface Latency {
  p50: number;
  p99: number;
  max: number;
  /** Writes seen on the far side (of `count`). */
  received: number;
  count: number;
}

export const r2 = (x: number): number => Math.round(x * 100) / 100;

export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

export class PacedProbe {
  private readonly sent: Float64Array;
  private readonly lat: number[] = [];
  received = 0;

  constructor(
    readonly count: number,
    readonly warmup: number,
  ) {
    this.sent = new Float64Array(count);
  }

  /** Write `i` seen on the far side (repeats and unknown indexes are ignored). */
  arrived(i: number): void {
    if (!(i >= 0 && i < this.count) || this.sent[i] === 0) return;
    this.received++;
    if (i >= this.warmup) this.lat.push(performance.now() - this.sent[i]!);
    this.sent[i] = 0;
  }

  /** Send every write at `rate`/s; resolves once all arrived or `settleMs` after the last send. */
  async run(rate: number, send: (i: number) => void, settleMs = 30_000): Promise<void> {
    const t0 = performance.now();
    let next = 0;
    await new Promise<void>((resolve) => {
      const tick = (): void => {
        const due = Math.min(this.count, Math.floor(((performance.now() - t0) * rate) / 1000) + 1);
        for (; next < due; next++) {
          this.sent[next] = performance.now();
          send(next);
        }
        if (next < this.count) setTimeout(tick, 1);
        else resolve();
      };
      tick();
    });
    const end = performance.now() + settleMs;
    while (this.received < this.count && performance.now() < end) await new Promise((r) => setTimeout(r, 5));
  }

  result(): Latency {
    const s = [...this.lat].sort((x, y) => x - y);
    return { p50: r2(percentile(s, 50)), p99: r2(percentile(s, 99)), max: r2(s.at(-1) ?? Number.NaN), received: this.received, count: this.count };
  }
}
