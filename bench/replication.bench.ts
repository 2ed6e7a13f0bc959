/**
 * Replication benchmarks (issue 3): put on A → applied on B latency at 1,000
 * writes/s and at the highest rate A sustains; entries/s over one link;
 * catch-up of 100k changed keys (time and bytes); put on A → applied on all
 * of 5 nodes (p99). Goals: p50 ≤ 1 ms and p99 ≤ 5 ms at 1,000 writes/s;
 * ≥ 100,000 entries/s over one link; catch-up of 100k keys in under 2 s.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pino } from 'pino';
import { loadConfig } from '../src/config/load.js';
import type { FsyncPolicyName } from '../src/config/schema.js';
import { FleetNode } from '../src/node.js';
import { defaultServices } from '../src/services.js';
import { NodeProc, tempDir, waitFor } from '../test/helpers/proc.js';
import type { BenchSection } from './run.js';

const silent = pino({ level: 'silent' });

async function startNode(nodeId: string, peers: string[], fsync: FsyncPolicyName): Promise<FleetNode> {
  const config = loadConfig({
    env: {},
    overrides: {
      nodeId,
      dataDir: tempDir('fleetkv-bench-'),
      peers,
      peer: { host: '127.0.0.1', port: 0 },
      http: { host: '127.0.0.1', port: 0 },
      mqtt: { enabled: false },
      log: { fsync, level: 'silent' },
    },
  });
  const node = new FleetNode(config, { logger: silent, services: defaultServices });
  await node.start();
  return node;
}

function peerAddr(n: FleetNode): string {
  return `127.0.0.1:${n.services.find((s) => s.name === 'replication')!.ports!().peer}`;
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

const r2 = (x: number): number => Math.round(x * 100) / 100;

async function metricValue(n: FleetNode, name: string): Promise<number> {
  const m = (await n.metrics.registry.getSingleMetric(name)?.get())?.values ?? [];
  return m.reduce((s, v) => s + v.value, 0);
}

/** Latency from put() called on `a` until every node in `others` applied the entry. */
function tracker(others: FleetNode[]): { started: Map<string, number>; lat: number[] } {
  const started = new Map<string, number>();
  const seen = new Map<string, number>();
  const lat: number[] = [];
  for (const o of others) {
    o.onApplied((e, _r, _o, source) => {
      if (source === 'local') return;
      const t0 = started.get(e.key);
      if (t0 === undefined) return;
      const n = (seen.get(e.key) ?? 0) + 1;
      seen.set(e.key, n);
      if (n === others.length) {
        lat.push(performance.now() - t0);
        started.delete(e.key);
        seen.delete(e.key);
      }
    });
  }
  return { started, lat };
}

async function paced(a: FleetNode, t: ReturnType<typeof tracker>, rate: number, seconds: number, tag: string): Promise<void> {
  const total = rate * seconds;
  const t0 = performance.now();
  let i = 0;
  const value = Buffer.alloc(100, 'v');
  while (i < total) {
    const due = Math.floor(((performance.now() - t0) / 1000) * rate);
    while (i < Math.min(due, total)) {
      const key = `${tag}/k${i++}`;
      t.started.set(key, performance.now());
      void a.put(key, value);
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await waitFor(() => t.started.size === 0, 'every paced write applied on the peers', 30_000, 5);
}

async function saturated(a: FleetNode, t: ReturnType<typeof tracker>, seconds: number, window: number): Promise<number> {
  const value = Buffer.alloc(100, 'v');
  const end = performance.now() + seconds * 1000;
  let done = 0;
  let i = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: window }, async () => {
      while (performance.now() < end) {
        const key = `max/k${i++}`;
        t.started.set(key, performance.now());
        await a.put(key, value);
        done++;
      }
    }),
  );
  const rate = done / ((performance.now() - t0) / 1000);
  await waitFor(() => t.started.size === 0, 'every write applied', 60_000, 5);
  return rate;
}

export async function latencySection(fsync: FsyncPolicyName): Promise<BenchSection> {
  const b = await startNode('lb', [], fsync);
  const a = await startNode('la', [peerAddr(b)], fsync);
  await waitFor(() => b.status().peers && (b.status().peers as { state: string }[]).some((p) => p.state === 'live'), 'a–b live');
  const rows = [];
  const t = tracker([b]);
  await paced(a, t, 1000, 1, 'warm');
  t.lat.length = 0;
  // Event-loop delay beside the latency: tells stalls of this process (CPU
  // contention on a shared machine) from time spent in replication.
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  await paced(a, t, 1000, 5, 'paced');
  loop.disable();
  let s = [...t.lat].sort((x, y) => x - y);
  const p50 = pct(s, 50);
  const p99 = pct(s, 99);
  rows.push({ load: '1,000 writes/s', fsync, writes: s.length, 'p50 ms': r2(p50), 'p99 ms': r2(p99), 'max ms': r2(s.at(-1)!), 'loop delay p99 ms': r2(loop.percentile(99) / 1e6) });
  t.lat.length = 0;
  const rate = await saturated(a, t, 3, 64);
  s = [...t.lat].sort((x, y) => x - y);
  rows.push({ load: `max: ${Math.round(rate)} writes/s (64 in flight)`, fsync, writes: s.length, 'p50 ms': r2(pct(s, 50)), 'p99 ms': r2(pct(s, 99)), 'max ms': r2(s.at(-1)!), 'loop delay p99 ms': '' });
  await a.stop();
  await b.stop();
  return {
    title: `put on A → applied on B (in one process, TCP loopback, log.fsync=${fsync})`,
    rows,
    notes: [`1,000 writes/s: p50 ${r2(p50)} ms (goal ≤ 1 ms): ${p50 <= 1 ? 'met' : 'NOT met'}; p99 ${r2(p99)} ms (goal ≤ 5 ms): ${p99 <= 5 ? 'met' : 'NOT met'}`],
  };
}

/** A in this process writes as fast as it can; B is a separate fleetkv process (its own core). */
async function linkSection(): Promise<BenchSection[]> {
  const a = await startNode('ta', [], 'never');
  const env = { FLEETKV_MQTT_ENABLED: 'false', FLEETKV_FSYNC: 'never', FLEETKV_PEERS: peerAddr(a) };
  const b = await new NodeProc({ nodeId: 'tb', dataDir: tempDir('fleetkv-bench-'), env }).start();
  await waitFor(() => (a.status().peers as { state: string }[]).some((p) => p.state === 'live'), 'a–b live');
  const value = Buffer.alloc(100, 'v');
  const N = 300_000;
  const covered = async (): Promise<number> => ((await b.status()).vector[a.selfStream] as number | undefined) ?? 0;
  const t0 = performance.now();
  const inflight: Promise<unknown>[] = [];
  for (let i = 0; i < N; i++) {
    inflight.push(a.put(`live/k${i % 50_000}`, value));
    if (inflight.length === 2000) {
      await Promise.all(inflight.splice(0));
      await new Promise((r) => setImmediate(r)); // yield to I/O, as a writer over HTTP or MQTT does
    }
  }
  await Promise.all(inflight);
  const writeMs = performance.now() - t0;
  await waitFor(async () => (await covered()) >= N, 'b applied every entry', 120_000, 10);
  const ms = performance.now() - t0;
  const rate = N / (ms / 1000);
  const live = {
    title: 'sustained replication over one link (A in-process writes 300,000 × 100 B entries; B a separate process; fsync=never)',
    rows: [{ entries: N, 'A write s': r2(writeMs / 1000), 'applied on B s': r2(ms / 1000), 'entries/s': Math.round(rate) }],
    notes: [`${Math.round(rate)} entries/s (goal ≥ 100,000): ${rate >= 100_000 ? 'met' : 'NOT met'}; A alone wrote ${Math.round(N / (writeMs / 1000))}/s`],
  };
  await b.stop();

  // Catch-up: A now holds 100k keys changed since a fresh B; time from B ready to B covering A.
  for (let i = 50_000; i < 100_000; i++) inflight.push(a.put(`live/k${i}`, value));
  await Promise.all(inflight);
  const bytes0 = await metricValue(a, 'fleetkv_replication_bytes_sent_total');
  const sent0 = await metricValue(a, 'fleetkv_replication_entries_sent_total');
  const c = await new NodeProc({ nodeId: 'tc', dataDir: tempDir('fleetkv-bench-'), env }).start();
  const c0 = performance.now();
  const want = a.store.vector.get(a.selfStream);
  await waitFor(async () => (((await c.status()).vector[a.selfStream] as number | undefined) ?? 0) >= want, 'c caught up', 120_000, 5);
  const cms = performance.now() - c0;
  const bytes = (await metricValue(a, 'fleetkv_replication_bytes_sent_total')) - bytes0;
  const entries = (await metricValue(a, 'fleetkv_replication_entries_sent_total')) - sent0;
  const keys = (await c.status()).keys as number;
  await c.stop();
  await a.stop();
  const catchup = {
    title: 'catch-up of 100,000 changed keys (100 B values) to a fresh node (separate process, fsync=never)',
    rows: [{ keys, 'entries sent': entries, 'MiB sent': r2(bytes / 1048576), 'seconds (ready → covered)': r2(cms / 1000), 'keys/s': Math.round(keys / (cms / 1000)) }],
    notes: [`${r2(cms / 1000)} s (goal < 2 s): ${cms < 2000 ? 'met' : 'NOT met'}`],
  };
  return [live, catchup];
}

async function fiveNodeSection(): Promise<BenchSection> {
  const nodes: FleetNode[] = [];
  for (let i = 0; i < 5; i++) nodes.push(await startNode(`f${i}`, nodes.map(peerAddr), 'batch'));
  await waitFor(() => nodes.every((n) => (n.status().peers as { state: string }[]).filter((p) => p.state === 'live').length === 4), 'full mesh live', 20_000);
  const [a, ...others] = nodes as [FleetNode, ...FleetNode[]];
  const t = tracker(others);
  await paced(a, t, 1000, 1, 'warm5');
  t.lat.length = 0;
  await paced(a, t, 1000, 5, 'five');
  const s = [...t.lat].sort((x, y) => x - y);
  for (const n of nodes) await n.stop();
  return {
    title: 'put on A → applied on all of 5 nodes (full mesh, all five in one process, 1,000 writes/s, fsync=batch)',
    rows: [{ writes: s.length, 'p50 ms': r2(pct(s, 50)), 'p99 ms': r2(pct(s, 99)), 'max ms': r2(s.at(-1)!) }],
  };
}

export async function sections(): Promise<BenchSection[]> {
  return [await latencySection('never'), await latencySection('batch'), ...(await linkSection()), await fiveNodeSection()];
}
