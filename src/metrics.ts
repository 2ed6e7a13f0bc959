import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The event-loop delay monitor's timer interval (ms). */
const LOOP_SAMPLE_MS = 10;

/**
 * Prometheus metrics of one node. Each node has its own registry, so several
 * nodes in one process (tests, `fleetkv sim`) do not mix their figures.
 * Other modules register their own metrics on `registry` under `fleetkv_`.
 */
export class NodeMetrics {
  readonly registry = new Registry();
  readonly writes: Counter<'op' | 'source'>;
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
    if (withProcessMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'fleetkv_' });
    this.writes = new Counter({ name: 'fleetkv_writes_total', help: 'Entries applied, by op and source (local|remote)', labelNames: ['op', 'source'], registers });
    this.writeErrors = new Counter({ name: 'fleetkv_write_errors_total', help: 'Writes refused or failed, by error code', labelNames: ['code'], registers });
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
    this.eventLoopDelay = eventLoopDelayGauge(registers);
    this.clockSkewed = new Counter({
      name: 'fleetkv_clock_skewed_entries_total',
      help: 'Entries seen with an hlc further ahead than maxClockSkew (not adopted by this clock), by the origin that stamped them',
      labelNames: ['origin'],
      registers,
    });
  }
}

/**
 * `fleetkv_event_loop_delay_seconds{stat="p50"|"p99"|"max"}`: how late the
 * event loop ran a timer due every LOOP_SAMPLE_MS, over the window since the
 * previous scrape (perf_hooks.monitorEventLoopDelay, reset at each scrape).
 * The interval itself is taken off (prom-client's nodejs_eventloop_lag_*
 * report it: ≈ 10 ms on an idle loop). The monitor starts at the first
 * scrape, so a node nobody scrapes runs no extra timer; its timer is unref'd.
 */
function eventLoopDelayGauge(registers: Registry[]): Gauge<'stat'> {
  let h: IntervalHistogram | undefined;
  return new Gauge({
    name: 'fleetkv_event_loop_delay_seconds',
    help: `How late the event loop ran a timer due every ${LOOP_SAMPLE_MS} ms, since the previous scrape (p50, p99, max)`,
    labelNames: ['stat'],
    registers,
    collect() {
      if (h === undefined) {
        h = monitorEventLoopDelay({ resolution: LOOP_SAMPLE_MS });
        h.enable();
      }
      const late = (ns: number): number => (h!.count === 0 ? 0 : Math.max(0, ns / 1e6 - LOOP_SAMPLE_MS) / 1000);
      this.set({ stat: 'p50' }, late(h.percentile(50)));
      this.set({ stat: 'p99' }, late(h.percentile(99)));
      this.set({ stat: 'max' }, late(h.max));
      h.reset();
    },
  });
}
