/**
 * `npm run scale [-- --sizes 3,10,25 --topologies mesh,fanout --writes 300 --rate 10 --burst 1000]`:
 * fleets of real node processes on loopback, full mesh and limited fan-out
 * (relayed). For each: convergence time of single writes at a steady rate
 * (p50/p99, write sent → visible on every node), time to converge after a
 * burst, replication bytes and entries sent per write across the fleet, the
 * anti-entropy background, CPU and RSS per node. Prints tables, writes JSON
 * under bench/results/ and a PNG chart (default docs/scaling.png).
 * Not part of `npm test`: it takes a few minutes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../test/helpers/proc.js';
import { renderChart, type Panel } from './lib/png-chart.js';
import { printSection, type BenchRow, type BenchSection } from './run.js';
import { fleetDelta, snapshot, startFleet, stopFleet, type Fleet, type Snapshot } from './scale/fleet.js';
import { mib, percentile, round, sleep } from './scale/stats.js';
import { diameter, type TopologyName } from './scale/topology.js';
import { Watchers } from './scale/watchers.js';

const here = path.dirname(fileURLToPath(import.meta.url));

interface Options {
  sizes: number[];
  topologies: TopologyName[];
  writes: number;
  rate: number;
  burst: number;
  concurrency: number;
  idleMs: number;
  valueBytes: number;
  fsync: string;
  chart: string;
  /** Re-print and re-chart a saved results JSON instead of measuring. */
  from: string;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    sizes: [3, 10, 25],
    topologies: ['mesh', 'fanout'],
    writes: 300,
    rate: 10,
    burst: 1000,
    concurrency: 16,
    idleMs: 5000,
    valueBytes: 100,
    fsync: 'never',
    chart: path.join(here, '..', 'docs', 'scaling.png'),
    from: '',
  };
  for (let i = 0; i < argv.length; i += 2) {
    const [k, v] = [argv[i]!.replace(/^--/, ''), argv[i + 1] ?? ''];
    if (k === 'sizes') o.sizes = v.split(',').map(Number);
    else if (k === 'topologies') o.topologies = v.split(',') as TopologyName[];
    else if (k === 'fsync' || k === 'chart' || k === 'from') o[k] = v;
    else if (k in o && typeof o[k as keyof Options] === 'number') (o as unknown as Record<string, number>)[k] = Number(v);
    else throw new Error(`unknown option --${k}`);
  }
  return o;
}

interface RunResult {
  topology: TopologyName;
  nodes: number;
  connections: number;
  maxDegree: number;
  diameter: number;
  startS: number;
  idle: { bytesPerS: number; cpuPctPerNode: number };
  /** Idle again after the writes: every ACK now carries a vector with one stream per writer. */
  idleAfter: { bytesPerS: number; bytesPerSPerNode: number; cpuPctPerNode: number };
  steady: {
    writes: number;
    rate: number;
    ackP50: number;
    p50: number;
    p99: number;
    max: number;
    bytesPerWrite: number;
    netBytesPerWrite: number;
    entriesPerWrite: number;
    catchupEntries: number;
    gaps: number;
    cpuPctPerNode: number;
    cpuPctMaxNode: number;
    cpuMsPerWriteFleet: number;
    rssMiBAvg: number;
    rssMiBMax: number;
  };
  burst: { writes: number; writeS: number; writesPerS: number; convergeAfterLastAckMs: number; totalMs: number; bytesPerWrite: number; cpuPctPerNode: number };
  driverCpuPct: number;
  /** 1-min load average of the machine at the end (other work on it skews every figure). */
  loadAvg: number;
}

const value = (n: number, i: number): string => `v${i}-`.padEnd(n, 'x');

async function runOne(o: Options, topology: TopologyName, n: number): Promise<RunResult> {
  const t0 = performance.now();
  const fleet = await startFleet(topology, n, { FLEETKV_FSYNC: o.fsync });
  const startS = (performance.now() - t0) / 1000;
  const watchers = new Watchers(n);
  try {
    await watchers.open(fleet.nodes, 'scale/');
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();

    // Idle: the anti-entropy background (ACK + PING per connection per interval).
    const i0 = await snapshot(fleet);
    await sleep(o.idleMs);
    const i1 = await snapshot(fleet);
    const idleS = (i1.at - i0.at) / 1000;
    const idleBytesPerS = fleetDelta(i0, i1, 'fleetkv_replication_bytes_sent_total') / idleS;

    // Steady: one write every 1/rate s, round-robin over the nodes.
    const s0 = await snapshot(fleet);
    const sent: { key: string; at: number; ack?: number }[] = [];
    const inflight: Promise<void>[] = [];
    const start = performance.now();
    for (let i = 0; i < o.writes; i++) {
      const due = start + (i * 1000) / o.rate;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const rec: { key: string; at: number; ack?: number } = { key: `scale/s/${i}`, at: performance.now() };
      sent.push(rec);
      inflight.push(
        fleet.nodes[i % n]!.put(rec.key, value(o.valueBytes, i)).then(async (r) => {
          if (r.status !== 200) throw new Error(`PUT ${rec.key}: HTTP ${r.status}`);
          await r.arrayBuffer();
          rec.ack = performance.now();
        }),
      );
    }
    await Promise.all(inflight);
    const keys = sent.map((s) => s.key);
    await waitFor(() => watchers.countEverywhere(keys) === keys.length, `all ${keys.length} steady writes on all ${n} nodes`, 120_000, 50);
    await sleep(2 * 500); // let the last ACKs of the interval land in the counters
    const s1 = await snapshot(fleet);
    const lat = sent.map((s) => watchers.everywhere(s.key)! - s.at).sort((a, b) => a - b);
    const acks = sent.map((s) => s.ack! - s.at).sort((a, b) => a - b);
    const steadyS = (s1.at - s0.at) / 1000;
    const bytes = fleetDelta(s0, s1, 'fleetkv_replication_bytes_sent_total');
    const cpu = cpuPct(fleet, s0, s1);

    // Burst: `burst` writes as fast as `concurrency` clients go, spread over the nodes.
    const b0 = await snapshot(fleet);
    const bkeys = Array.from({ length: o.burst }, (_, i) => `scale/b/${i}`);
    const bStart = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: o.concurrency }, async () => {
        while (next < bkeys.length) {
          const i = next++;
          const r = await fleet.nodes[i % n]!.put(bkeys[i]!, value(o.valueBytes, i));
          if (r.status !== 200) throw new Error(`PUT ${bkeys[i]}: HTTP ${r.status}`);
          await r.arrayBuffer();
        }
      }),
    );
    const bAcked = performance.now();
    await waitFor(() => watchers.countEverywhere(bkeys) === bkeys.length, `all ${o.burst} burst writes on all ${n} nodes`, 180_000, 20);
    const bConv = Math.max(...bkeys.map((k) => watchers.everywhere(k)!));
    await sleep(2 * 500);
    const b1 = await snapshot(fleet);
    const bcpu = cpuPct(fleet, b0, b1);
    await sleep(o.idleMs);
    const b2 = await snapshot(fleet);
    const idleAfterBytesPerS = fleetDelta(b1, b2, 'fleetkv_replication_bytes_sent_total') / ((b2.at - b1.at) / 1000);

    const driver = process.cpuUsage(cpu0);
    const driverCpuPct = ((driver.user + driver.system) / 1000 / (performance.now() - wall0)) * 100;
    const rss = s1.proc.map((p) => p.rssBytes);
    const degrees = fleet.adj.map((a) => a.size);
    return {
      topology,
      nodes: n,
      connections: degrees.reduce((a, b) => a + b, 0) / 2,
      maxDegree: Math.max(...degrees),
      diameter: diameter(fleet.adj),
      startS: round(startS),
      idle: { bytesPerS: Math.round(idleBytesPerS), cpuPctPerNode: cpuPct(fleet, i0, i1).avg },
      idleAfter: { bytesPerS: Math.round(idleAfterBytesPerS), bytesPerSPerNode: Math.round(idleAfterBytesPerS / n), cpuPctPerNode: cpuPct(fleet, b1, b2).avg },
      steady: {
        writes: o.writes,
        rate: o.rate,
        ackP50: round(percentile(acks, 50)),
        p50: round(percentile(lat, 50)),
        p99: round(percentile(lat, 99)),
        max: round(lat.at(-1)!),
        bytesPerWrite: Math.round(bytes / o.writes),
        netBytesPerWrite: Math.round((bytes - idleBytesPerS * steadyS) / o.writes),
        entriesPerWrite: round(fleetDelta(s0, s1, 'fleetkv_replication_entries_sent_total') / o.writes),
        catchupEntries: fleetDelta(s0, s1, 'fleetkv_replication_entries_sent_total{mode="catchup"}'),
        gaps: fleetDelta(s0, s1, 'fleetkv_replication_gap_entries_total'),
        cpuPctPerNode: cpu.avg,
        cpuPctMaxNode: cpu.max,
        cpuMsPerWriteFleet: round((cpu.totalS * 1000) / o.writes),
        rssMiBAvg: mib(rss.reduce((a, b) => a + b, 0) / n),
        rssMiBMax: mib(Math.max(...rss)),
      },
      burst: {
        writes: o.burst,
        writeS: round((bAcked - bStart) / 1000, 2),
        writesPerS: Math.round(o.burst / ((bAcked - bStart) / 1000)),
        convergeAfterLastAckMs: Math.round(Math.max(0, bConv - bAcked)),
        totalMs: Math.round(bConv - bStart),
        bytesPerWrite: Math.round(fleetDelta(b0, b1, 'fleetkv_replication_bytes_sent_total') / o.burst),
        cpuPctPerNode: bcpu.avg,
      },
      driverCpuPct: round(driverCpuPct),
      loadAvg: round(os.loadavg()[0]!),
    };
  } finally {
    watchers.close();
    await stopFleet(fleet);
  }
}

/** CPU of the fleet's node processes between two snapshots, as % of one core. */
function cpuPct(f: Fleet, a: Snapshot, b: Snapshot): { avg: number; max: number; totalS: number } {
  const wallS = (b.at - a.at) / 1000;
  const per = f.nodes.map((_, i) => b.proc[i]!.cpuS - a.proc[i]!.cpuS);
  const totalS = per.reduce((x, y) => x + y, 0);
  return { avg: round((totalS / f.nodes.length / wallS) * 100), max: round((Math.max(...per) / wallS) * 100), totalS };
}

function sections(results: RunResult[], o: Options): BenchSection[] {
  const row = (r: RunResult, extra: BenchRow): BenchRow => ({ topology: r.topology, nodes: r.nodes, ...extra });
  return [
    {
      title: `Topology`,
      rows: results.map((r) => row(r, { connections: r.connections, 'max conns/node': r.maxDegree, 'diameter (hops)': r.diameter, 'start+connect s': r.startS })),
    },
    {
      title: `Steady: ${o.writes} writes at ${o.rate}/s round-robin, ${o.valueBytes} B values, fsync=${o.fsync} (write sent → visible on every node)`,
      rows: results.map((r) =>
        row(r, {
          'ack p50 ms': r.steady.ackP50,
          'all-nodes p50 ms': r.steady.p50,
          'p99 ms': r.steady.p99,
          'max ms': r.steady.max,
          'entries sent/write': r.steady.entriesPerWrite,
          'bytes sent/write': r.steady.bytesPerWrite,
          'net of idle B/write': r.steady.netBytesPerWrite,
          'gap drops': r.steady.gaps,
          'catch-up entries': r.steady.catchupEntries,
        }),
      ),
    },
    {
      title: `Anti-entropy background (no writes; ACK + PING/PONG per connection every 500 ms)`,
      rows: results.map((r) =>
        row(r, {
          'empty vectors: fleet B/s': r.idle.bytesPerS,
          'after writes: fleet B/s': r.idleAfter.bytesPerS,
          'per node B/s': r.idleAfter.bytesPerSPerNode,
          'idle CPU %/node': r.idleAfter.cpuPctPerNode,
        }),
      ),
    },
    {
      title: `Cost per node (steady phase; idle = anti-entropy only, no writes)`,
      rows: results.map((r) =>
        row(r, {
          'idle fleet B/s': r.idle.bytesPerS,
          'idle CPU %/node': r.idle.cpuPctPerNode,
          'steady CPU %/node': r.steady.cpuPctPerNode,
          'max node CPU %': r.steady.cpuPctMaxNode,
          'fleet CPU ms/write': r.steady.cpuMsPerWriteFleet,
          'RSS MiB avg': r.steady.rssMiBAvg,
          'RSS MiB max': r.steady.rssMiBMax,
          'driver CPU %': r.driverCpuPct,
          'load avg': r.loadAvg,
        }),
      ),
    },
    {
      title: `Burst: ${o.burst} writes, ${o.concurrency} clients spread over the nodes`,
      rows: results.map((r) =>
        row(r, {
          'writes/s': r.burst.writesPerS,
          'burst s': r.burst.writeS,
          'converged after last ack ms': r.burst.convergeAfterLastAckMs,
          'burst start → converged ms': r.burst.totalMs,
          'bytes sent/write': r.burst.bytesPerWrite,
          'CPU %/node': r.burst.cpuPctPerNode,
        }),
      ),
    },
  ];
}

function chart(results: RunResult[], file: string): void {
  const series = (title: string, pick: (r: RunResult) => number): Panel => ({
    title,
    series: (['mesh', 'fanout'] as const)
      .map((t) => ({ name: t === 'mesh' ? 'FULL MESH' : 'FAN-OUT (RELAYED)', points: results.filter((r) => r.topology === t).map((r) => [r.nodes, pick(r)] as [number, number]) }))
      .filter((s) => s.points.length > 0),
  });
  const png = renderChart(
    [
      series('CONVERGENCE P99 MS (WRITE TO ALL NODES)', (r) => r.steady.p99),
      series('REPLICATION BYTES SENT PER WRITE (FLEET)', (r) => r.steady.bytesPerWrite),
      series('CPU PER NODE, % OF A CORE (STEADY)', (r) => r.steady.cpuPctPerNode),
      series('ANTI-ENTROPY WITH NO WRITES: BYTES/S SENT PER NODE', (r) => r.idleAfter.bytesPerSPerNode),
    ],
    { xLabel: 'NODES' },
  );
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, png);
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (o.from) {
    const saved = JSON.parse(fs.readFileSync(o.from, 'utf8')) as { options: Options; results: RunResult[] };
    for (const s of sections(saved.results, saved.options)) printSection(s);
    chart(saved.results, o.chart);
    return;
  }
  console.log(`# fleetkv scale — ${new Date().toISOString()} — ${os.cpus().length} cores, node ${process.version}, ${mib(os.totalmem())} MiB`);
  const results: RunResult[] = [];
  for (const n of o.sizes) {
    for (const t of o.topologies) {
      const t0 = performance.now();
      process.stdout.write(`${t} × ${n} … `);
      results.push(await runOne(o, t, n));
      console.log(`${round((performance.now() - t0) / 1000)} s`);
    }
  }
  const secs = sections(results, o);
  for (const s of secs) printSection(s);
  const out = path.join(here, 'results', `scale-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, `${JSON.stringify({ at: new Date().toISOString(), host: { cores: os.cpus().length, node: process.version }, options: o, results }, null, 2)}\n`);
  chart(results, o.chart);
  console.log(`\nresults: ${path.relative(process.cwd(), out)}; chart: ${path.relative(process.cwd(), o.chart)}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
