/**
 * F1 (issue 10): what one idle node costs. Three real nodes on loopback, each
 * with two peers and its MQTT broker, no writes; after they settle, RSS and CPU
 * per node over a window, and replication bytes sent per node per second. The
 * reference, measured in the same run: a bare `node` process that only keeps
 * its event loop alive. Figures and ratios only (docs/benchmarks.md, F1).
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import type { BenchSection } from './run.js';
import { type Fleet, procStat, type Snapshot, snapshot, startFleet, stopFleet } from './scale/fleet.js';
import { mib, round, sleep } from './scale/stats.js';

const SETTLE_MS = 10_000;
const WINDOW_MS = 20_000;
const GOAL_RSS_MIB = 55;
const GOAL_CPU_PCT = 0.5;
/** The large idle mesh for the bytes goal (`BENCH_FOOTPRINT_MESH=0` skips it). */
const MESH_SIZE = Number(process.env.BENCH_FOOTPRINT_MESH ?? 25);
const GOAL_MESH_BYTES_PER_S = 1000;

/** RSS and CPU % of a bare node process over the same window. */
async function bareNode(): Promise<{ rssMib: number; cpuPct: number }> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  try {
    await sleep(SETTLE_MS);
    const a = procStat(child.pid!);
    await sleep(WINDOW_MS);
    const b = procStat(child.pid!);
    return { rssMib: mib(b.rssBytes), cpuPct: round(((b.cpuS - a.cpuS) / (WINDOW_MS / 1000)) * 100, 2) };
  } finally {
    child.kill('SIGKILL');
  }
}

/** A fleet's snapshots at the start and end of the idle window (after it settled), and the window's length in s. */
async function idleWindow(fleet: Fleet): Promise<{ a: Snapshot; b: Snapshot; s: number }> {
  await sleep(SETTLE_MS);
  const a = await snapshot(fleet);
  await sleep(WINDOW_MS);
  const b = await snapshot(fleet);
  return { a, b, s: (b.at - a.at) / 1000 };
}

/** Idle replication bytes sent per node per second in a full mesh of `n` nodes (presence on, MQTT off: bytes only). */
async function meshBytes(n: number): Promise<BenchSection> {
  const load = os.loadavg()[0]!.toFixed(2);
  const fleet = await startFleet('mesh', n, {});
  let perNode: number[];
  try {
    const { a, b, s } = await idleWindow(fleet);
    perNode = fleet.nodes.map((_, i) => ((b.metrics[i]!.get('fleetkv_replication_bytes_sent_total') ?? 0) - (a.metrics[i]!.get('fleetkv_replication_bytes_sent_total') ?? 0)) / s);
  } finally {
    await stopFleet(fleet);
  }
  const sorted = [...perNode].sort((x, y) => x - y);
  const avg = Math.round(perNode.reduce((t, v) => t + v, 0) / perNode.length);
  return {
    title: `F1 — idle replication bytes per node, ${n}-node full mesh (${WINDOW_MS / 1000} s window, load average ${load})`,
    rows: [{ nodes: n, 'avg B/s sent per node': avg, 'min B/s': Math.round(sorted[0]!), 'max B/s': Math.round(sorted[sorted.length - 1]!) }],
    notes: [`${avg} B/s per node (goal ≤ ${GOAL_MESH_BYTES_PER_S} B/s): ${avg <= GOAL_MESH_BYTES_PER_S ? 'met' : `missed (${round(avg / GOAL_MESH_BYTES_PER_S, 1)} ×)`}`],
  };
}

export async function sections(): Promise<BenchSection[]> {
  const load = os.loadavg()[0]!.toFixed(2);
  const fleet = await startFleet('mesh', 3, { FLEETKV_MQTT_ENABLED: 'true', FLEETKV_MQTT_HOST: '127.0.0.1', FLEETKV_MQTT_PORT: '0' });
  let nodes: { rssMib: number; cpuPct: number; bytesPerS: number }[];
  try {
    const { a, b, s } = await idleWindow(fleet);
    nodes = fleet.nodes.map((_, i) => ({
      rssMib: mib(b.proc[i]!.rssBytes),
      cpuPct: round(((b.proc[i]!.cpuS - a.proc[i]!.cpuS) / s) * 100, 2),
      bytesPerS: Math.round(((b.metrics[i]!.get('fleetkv_replication_bytes_sent_total') ?? 0) - (a.metrics[i]!.get('fleetkv_replication_bytes_sent_total') ?? 0)) / s),
    }));
  } finally {
    await stopFleet(fleet);
  }
  const bare = await bareNode();
  const avg = (f: (n: (typeof nodes)[number]) => number): number => round(nodes.reduce((t, n) => t + f(n), 0) / nodes.length, 2);
  const rss = avg((n) => n.rssMib);
  const cpu = avg((n) => n.cpuPct);
  // A 25-node fleet may not start on a loaded 2-core machine: say so instead of losing the section above.
  const mesh = MESH_SIZE > 0 ? [await meshBytes(MESH_SIZE).catch((err: unknown) => ({ title: `F1 — ${MESH_SIZE}-node full mesh: not measured`, rows: [], notes: [`the fleet did not start: ${String(err)}`] }))] : [];
  return [
    {
      title: `F1 — one idle node with two peers and its broker (3-node mesh, ${WINDOW_MS / 1000} s window, load average ${load})`,
      rows: [
        ...nodes.map((n, i) => ({ process: `fleetkv n0${i}`, 'RSS MiB': n.rssMib, 'CPU %': n.cpuPct, 'replication B/s sent': n.bytesPerS })),
        { process: 'reference: bare node (event loop only)', 'RSS MiB': bare.rssMib, 'CPU %': bare.cpuPct, 'replication B/s sent': '' },
      ],
      notes: [
        `RSS ${rss} MiB = ${round(rss / bare.rssMib, 2)} × bare node (goal ≤ ${GOAL_RSS_MIB} MiB): ${rss <= GOAL_RSS_MIB ? 'met' : `missed by ${round(rss - GOAL_RSS_MIB, 1)} MiB`}`,
        `CPU ${cpu} % per idle node (goal < ${GOAL_CPU_PCT} %): ${cpu < GOAL_CPU_PCT ? 'met' : 'missed'}`,
      ],
    },
    ...mesh,
  ];
}
