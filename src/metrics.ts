import { type RecordableHistogram, createHistogram, performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Period of both event-loop delay samplers: prom-client's default metrics and fleetkv_event_loop_delay_seconds (ms). */
export const EVENT_LOOP_SAMPLE_MS = 100;

/**
 * Prometheus metrics of one node. Each node has its own registry, so several
 * nodes in one process (tests, `fleetkv sim`) do not mix their figures.
 * Other modules register their own metrics on `registry` under `fleetkv_`.
 */
export class NodeMetrics {
  readonly registry = new Registry();
  readonly writes: BoundCounter<'op' | 'source'>;
  readonly writeErrors: Counter<'code'>;
  readonly fsyncs: Counter;
  readonly fsyncSeconds: Histogram;
  readonly logBytes: Gauge;
  readonly keys: Gauge;
  readonly tombstones: Gauge;
  readonly compactions: Counter;
  readonly clockSkewed: Counter<'origin'>;
  readonly tombstoneGcRuns: Counter;
  readonly tombstonesCollected: Counter;
  readonly expired: Counter;
  readonly eventLoopDelay: Gauge<'stat'>;

  constructor(withProcessMetrics = true) {
    const registers = [this.registry];
    // prom-client's event-loop lag gauges are fed by fleetkv's one sampler (eventLoopDelayGauges): its own
    // monitor gets a resolution at which it never fires (at its 10 ms default it woke an idle node 100 times a second).
    if (withProcessMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'fleetkv_', eventLoopMonitoringPrecision: PROM_MONITOR_OFF_MS });
    this.writes = new BoundCounter({ name: 'fleetkv_writes_total', help: 'Entries applied, by op and source (local|remote)', labelNames: ['op', 'source'], registers });
    this.writeErrors = new BoundCounter({ name: 'fleetkv_write_errors_total', help: 'Writes refused or failed, by error code', labelNames: ['code'], registers });
    this.fsyncs = new Counter({ name: 'fleetkv_fsyncs_total', help: 'fsync calls on the log', registers });
    this.fsyncSeconds = new Histogram({
      name: 'fleetkv_fsync_seconds',
      help: 'fsync latency',
      buckets: [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
      registers,
    });
    this.logBytes = new Gauge({ name: 'fleetkv_log_bytes', help: 'Bytes in log segments', registers });
    this.keys = new Gauge({ name: 'fleetkv_keys', help: 'Live keys', registers });
    this.tombstones = new Gauge({ name: 'fleetkv_tombstones', help: 'Tombstones held', registers });
    this.compactions = new Counter({ name: 'fleetkv_compactions_total', help: 'Snapshots written by compaction', registers });
    this.tombstoneGcRuns = new Counter({ name: 'fleetkv_tombstone_gc_runs_total', help: 'Tombstone collection passes', registers });
    this.tombstonesCollected = new Counter({ name: 'fleetkv_tombstones_collected_total', help: 'Tombstones dropped because every peer that counts holds them (or none is left to ask)', registers });
    this.expired = new Counter({ name: 'fleetkv_expired_total', help: 'Puts with a TTL that expired on this node (hidden and told to watchers)', registers });
    this.eventLoopDelay = eventLoopDelayGauges(this.registry, registers, 'fleetkv_', withProcessMetrics);
    this.clockSkewed = new Counter({
      name: 'fleetkv_clock_skewed_entries_total',
      help: 'Entries seen with an hlc further ahead than maxClockSkew (not adopted by this clock), by the origin that stamped them',
      labelNames: ['origin'],
      registers,
    });
  }
}

/**
 * prom-client's event-loop lag gauges, which fleetkv feeds from its own
 * sampler (below) instead of prom-client's `monitorEventLoopDelay`: that one
 * woke an idle node another 10 times a second (docs/benchmarks.md, "quiet").
 */
const PROM_LAG_NAMES = ['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99'] as const;
const PROM_LAG_HELP: Record<(typeof PROM_LAG_NAMES)[number], string> = {
  min: 'The minimum recorded event loop delay.',
  max: 'The maximum recorded event loop delay.',
  mean: 'The mean of the recorded event loop delays.',
  stddev: 'The standard deviation of the recorded event loop delays.',
  p50: 'The 50th percentile of the recorded event loop delays.',
  p90: 'The 90th percentile of the recorded event loop delays.',
  p99: 'The 99th percentile of the recorded event loop delays.',
};
/** prom-client's own monitor gets this resolution (ms): it then never fires in practice (its gauges are replaced). */
const PROM_MONITOR_OFF_MS = 2 ** 31 - 1;

/** One scrape window of the event-loop sampler: how late its timer ran (ns), over the samples since the previous scrape. */
interface LoopWindow {
  count: number;
  min: number;
  max: number;
  mean: number;
  stddev: number;
  p50: number;
  p90: number;
  p99: number;
}

/**
 * The one event-loop sampler of a node: a timer due every
 * EVENT_LOOP_SAMPLE_MS records how late it ran into a perf_hooks histogram.
 * Our own timer, not monitorEventLoopDelay: that one drops the first
 * interval after each reset, so a stall right after a scrape was never seen.
 * It starts at the first scrape (a node nobody scrapes runs no sampler) and
 * is unref'd. Each scrape reads one window and resets it; every gauge fed
 * from it in that scrape sees the same window.
 */
class LoopSampler {
  private h: RecordableHistogram | undefined;
  private current: LoopWindow | undefined;

  window(): LoopWindow {
    if (this.current) return this.current;
    if (this.h === undefined) {
      const hist = createHistogram();
      this.h = hist;
      let last = performance.now();
      setInterval(() => {
        const now = performance.now();
        hist.record(Math.max(1, Math.round((now - last - EVENT_LOOP_SAMPLE_MS) * 1e6)));
        last = now;
      }, EVENT_LOOP_SAMPLE_MS).unref();
    }
    const h = this.h;
    const empty = h.count === 0;
    const w: LoopWindow = {
      count: h.count,
      min: empty ? 0 : h.min,
      max: empty ? 0 : h.max,
      mean: empty ? 0 : h.mean,
      stddev: empty ? 0 : h.stddev,
      p50: empty ? 0 : h.percentile(50),
      p90: empty ? 0 : h.percentile(90),
      p99: empty ? 0 : h.percentile(99),
    };
    h.reset();
    // The collects of one scrape run in one synchronous pass (prom-client's Registry.metrics): they share this window.
    this.current = w;
    queueMicrotask(() => {
      this.current = undefined;
    });
    return w;
  }
}

/**
 * `fleetkv_event_loop_delay_seconds{stat="p50"|"p99"|"max"}`: how late the
 * event loop ran a timer due every EVENT_LOOP_SAMPLE_MS, over the window since the
 * previous scrape. The interval itself is taken off; prom-client's
 * `nodejs_eventloop_lag_*_seconds` (same samples, same window) include it, as
 * prom-client's own monitor did (≈ 100 ms on an idle loop). At 10 ms the
 * sampling timer alone cost ≈ 0.9 % of a core on an idle node (docs/benchmarks.md, F1).
 */
function eventLoopDelayGauges(registry: Registry, registers: Registry[], prefix: string, withProcessMetrics: boolean): Gauge<'stat'> {
  const sampler = new LoopSampler();
  if (withProcessMetrics) {
    for (const n of PROM_LAG_NAMES) {
      const name = `${prefix}nodejs_eventloop_lag_${n}_seconds`;
      registry.removeSingleMetric(name);
      const withPeriod = n === 'stddev' ? 0 : EVENT_LOOP_SAMPLE_MS * 1e6;
      new Gauge({
        name,
        help: PROM_LAG_HELP[n],
        registers,
        collect() {
          const w = sampler.window();
          this.set(w.count === 0 ? 0 : (w[n] + withPeriod) / 1e9);
        },
      });
    }
  }
  return new Gauge({
    name: 'fleetkv_event_loop_delay_seconds',
    help: `How late the event loop ran a timer due every ${EVENT_LOOP_SAMPLE_MS} ms, since the previous scrape (p50, p99, max)`,
    labelNames: ['stat'],
    registers,
    collect() {
      const w = sampler.window();
      this.set({ stat: 'p50' }, w.p50 / 1e9);
      this.set({ stat: 'p99' }, w.p99 / 1e9);
      this.set({ stat: 'max' }, w.max / 1e9);
    },
  });
}

/**
 * A Counter for the per-write paths: `inc({ label: value })` finds its series
 * by the label values, cached, instead of prom-client's validate, sort and
 * join of the label names on every call (the slowest part of a labelled
 * inc). Same series, same exposition; anything unusual (a value to add that
 * is not a positive number, an unknown label set, a reset) takes
 * prom-client's own path.
 */
export class BoundCounter<T extends string> extends Counter<T> {
  /** prom-client's own inc (returns the series' label hash). */
  private readonly slowInc: (labels: unknown) => { labelHash?: string } | undefined;

  constructor(config: ConstructorParameters<typeof Counter<T>>[0]) {
    super(config);
    const names = [...(config.labelNames ?? [])] as string[];
    const slow = this.inc.bind(this);
    this.slowInc = slow as unknown as (labels: unknown) => { labelHash?: string } | undefined;
    const hashes = new Map<string, string>();
    // Assigned here: prom-client sets `inc` on the instance in its constructor.
    this.inc = ((labels?: Partial<Record<T, string | number>> | number, value?: number): void => {
      if (typeof labels !== 'object' || (value !== undefined && !(value > 0 && Number.isFinite(value)))) return void slow(labels as never, value as never);
      let key = '';
      for (const n of names) key += `${(labels as Record<string, unknown>)[n]}\u0000`;
      const hash = hashes.get(key);
      const series = hash === undefined ? undefined : (this as unknown as { hashMap: Record<string, { value: number }> }).hashMap[hash];
      if (series) {
        series.value += value ?? 1;
        return;
      }
      const r = slow(labels as never, value as never) as unknown as { labelHash?: string } | undefined;
      if (r?.labelHash !== undefined && Object.keys(labels).length === names.length) hashes.set(key, r.labelHash);
    }) as Counter<T>['inc'];
  }

  /**
   * `inc` for one fixed label set, as a function: no label object or key
   * string per call (the write path counts every entry). The series appears
   * at its first increment, as with `inc`.
   */
  incrementer(labels: Record<T, string>): () => void {
    let hash: string | undefined;
    return () => {
      const series = hash === undefined ? undefined : (this as unknown as { hashMap: Record<string, { value: number }> }).hashMap[hash];
      if (series) {
        series.value++;
        return;
      }
      hash = this.slowInc(labels)?.labelHash;
    };
  }
}
