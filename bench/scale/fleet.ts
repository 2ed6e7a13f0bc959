/**
 * A fleet of real node processes on loopback for the scale runs, started in
 * order with the peers their topology gives them, and the probes read from
 * outside: /metrics counters and /proc CPU and RSS.
 */
import fs from 'node:fs';
import { Fleet as ProcFleet } from '../../test/faults/lib/fleet.js';
import { type NodeProc, waitFor } from '../../test/helpers/proc.js';
import type { PeerStatus } from '../../src/node-status.js';
import { adjacency, type TopologyName } from './topology.js';

/**
 * The tests' fleet (test/faults/lib/fleet.ts, peers dialled directly) with
 * production timers: anti-entropy, idle and handshake timeouts and presence
 * at their defaults, so their cost is the production one; only redials are
 * quick, for a quick start.
 */
const SCALE_ENV: Record<string, string> = {
  FLEETKV_MQTT_ENABLED: 'false',
  FLEETKV_REPLICATION_REDIAL_MIN: '50ms',
  FLEETKV_REPLICATION_REDIAL_MAX: '1s',
  FLEETKV_REPLICATION_ANTI_ENTROPY_INTERVAL: '500ms',
  FLEETKV_REPLICATION_IDLE_TIMEOUT: '10s',
  FLEETKV_REPLICATION_HANDSHAKE_TIMEOUT: '5s',
  FLEETKV_PRESENCE_ENABLED: 'true',
};

export interface Fleet {
  nodes: NodeProc[];
  adj: Set<number>[];
  dirs: string[];
}

/** `n` nodes linked as `topology` says (each pair once), every connection live. */
export async function startFleet(topology: TopologyName, n: number, env: Record<string, string>): Promise<Fleet> {
  const adj = adjacency(topology, n);
  const f = await ProcFleet.start({ size: n, direct: true, linked: (i, j) => adj[i]!.has(j), env: { ...SCALE_ENV, ...env }, startTimeoutMs: 60_000 });
  const nodes = f.nodes;
  await waitFor(
    async () => {
      const live = await Promise.all(nodes.map(async (p) => ((await p.status()).peers as PeerStatus[]).filter((s) => s.state === 'live').length));
      return live.every((l, i) => l === adj[i]!.size);
    },
    `${n} nodes (${topology}) to have every connection live`,
    120_000,
    250,
  );
  return { nodes, adj, dirs: f.dirs };
}

export async function stopFleet(f: Fleet): Promise<void> {
  await Promise.all(f.nodes.map((n) => n.stop().catch(() => n.kill9())));
  for (const d of f.dirs) fs.rmSync(d, { recursive: true, force: true });
}

/** Every sample of a node's /metrics, keyed `name` (summed over labels) and `name{labels}`. */
export async function scrape(n: NodeProc): Promise<Map<string, number>> {
  const text = await (await n.fetch('/metrics')).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+)(\{[^}]*\})?\s+([0-9.e+-]+)$/.exec(line);
    if (!m) continue;
    const v = Number(m[3]);
    out.set(m[1]!, (out.get(m[1]!) ?? 0) + v);
    if (m[2]) out.set(m[1]! + m[2], v);
  }
  return out;
}

const CLK_TCK = 100; // Linux USER_HZ on every mainstream kernel
const PAGE = 4096;

/** CPU seconds (user + system) and RSS bytes of a process, from /proc. */
export function procStat(pid: number): { cpuS: number; rssBytes: number } {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name: state is field 3; utime 14, stime 15, rss 24.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { cpuS: (Number(f[11]) + Number(f[12])) / CLK_TCK, rssBytes: Number(f[21]) * PAGE };
}

/** A fleet-wide snapshot: per-node metrics and /proc figures. */
export interface Snapshot {
  at: number;
  metrics: Map<string, number>[];
  proc: { cpuS: number; rssBytes: number }[];
}

export async function snapshot(f: Fleet): Promise<Snapshot> {
  const metrics = await Promise.all(f.nodes.map(scrape));
  return { at: performance.now(), metrics, proc: f.nodes.map((n) => procStat(n.pid)) };
}

/** Sum over nodes of a counter's increase between two snapshots. */
export function fleetDelta(a: Snapshot, b: Snapshot, name: string): number {
  let sum = 0;
  for (let i = 0; i < a.metrics.length; i++) sum += (b.metrics[i]!.get(name) ?? 0) - (a.metrics[i]!.get(name) ?? 0);
  return sum;
}
