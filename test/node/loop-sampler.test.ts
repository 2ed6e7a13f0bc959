/**
 * One event-loop sampler feeds both families (src/metrics.ts): prom-client's
 * nodejs_eventloop_lag_*_seconds (the sampling period included, as prom-client's
 * own monitor reported it) and fleetkv_event_loop_delay_seconds (the period
 * taken off), from the same samples and the same scrape window.
 */
import { expect, test } from 'vitest';
import { EVENT_LOOP_SAMPLE_MS, NodeMetrics } from '../../src/metrics.js';
import { waitFor } from '../helpers/proc.js';

function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+(?:\{[^}]*\})?)\s+(\S+)$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

test('prom-client lag gauges and fleetkv_event_loop_delay_seconds come from one window of one sampler', async () => {
  const m = new NodeMetrics();
  const names = ['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99'].map((n) => `fleetkv_nodejs_eventloop_lag_${n}_seconds`);
  const first = parse(await m.registry.metrics()); // starts the sampler: an empty window
  for (const n of names) expect(first.get(n)).toBe(0);
  // Every name once, beside prom-client's own nodejs_eventloop_lag_seconds.
  const order = (await m.registry.getMetricsAsJSON()).map((x) => x.name).filter((n) => n.includes('eventloop_lag'));
  expect(new Set(order)).toEqual(new Set(['fleetkv_nodejs_eventloop_lag_seconds', ...names]));
  const period = EVENT_LOOP_SAMPLE_MS / 1000;
  const w = await waitFor(async () => {
    const s = parse(await m.registry.metrics());
    return (s.get('fleetkv_event_loop_delay_seconds{stat="max"}') ?? 0) > 0 ? s : undefined;
  }, 'a window with a sample');
  const late = (stat: string): number => w.get(`fleetkv_event_loop_delay_seconds{stat="${stat}"}`)!;
  // Same samples: prom-client's figures are fleetkv's plus the period (to the histogram's rounding).
  expect(w.get('fleetkv_nodejs_eventloop_lag_max_seconds')!).toBeCloseTo(late('max') + period, 6);
  expect(w.get('fleetkv_nodejs_eventloop_lag_p50_seconds')!).toBeCloseTo(late('p50') + period, 6);
  expect(w.get('fleetkv_nodejs_eventloop_lag_p99_seconds')!).toBeCloseTo(late('p99') + period, 6);
  expect(w.get('fleetkv_nodejs_eventloop_lag_min_seconds')!).toBeGreaterThanOrEqual(period);
  expect(w.get('fleetkv_nodejs_eventloop_lag_stddev_seconds')!).toBeGreaterThanOrEqual(0);
});
