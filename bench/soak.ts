/**
 * `npm run soak -- --minutes N [--nodes 5]`: a fleet of real node processes
 * under a steady robot workload (poses at 10 Hz, statuses, missions) with a
 * random fault every so often (isolate a node, kill -9 and restart, SIGSTOP,
 * flapping link). Every few seconds it samples each node's RSS, open file
 * descriptors, log size and replication lag, and writes them as CSV and a PNG
 * chart under bench/results/. It ends with a flatness verdict: memory and
 * descriptors must not grow with time.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Fleet } from '../test/faults/lib/fleet.js';
import { waitFor } from '../test/helpers/proc.js';
import { renderChart, type Series } from './lib/png-chart.js';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '5' }, nodes: { type: 'string', default: '5' }, robots: { type: 'string', default: '4' }, sample: { type: 'string', default: '5' } } });
const minutes = Number(values.minutes);
const size = Number(values.nodes);
const robotsPerNode = Number(values.robots);
const sampleMs = Number(values.sample) * 1000;

interface Sample {
  t: number; // minutes since start
  node: string;
  rssMiB: number;
  fds: number;
  logBytes: number;
  lagEntries: number;
  lagMs: number;
  keys: number;
}

function procStat(pid: number): { rssMiB: number; fds: number } {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
    return { rssMiB: rss, fds: fs.readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return { rssMiB: NaN, fds: NaN };
  }
}

async function main(): Promise<void> {
  console.log(`soak: ${size} nodes, ${robotsPerNode} robots each at 10 Hz, ${minutes} min, a random fault every ~30 s`);
  const fleet = await Fleet.start({ size, env: { FLEETKV_MQTT_ENABLED: 'true', FLEETKV_SEGMENT_BYTES: '4MiB' } });
  const t0 = performance.now();
  const end = t0 + minutes * 60_000;
  const samples: Sample[] = [];
  const faults: string[] = [];
  let writes = 0;
  let failures = 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const put = (i: number, key: string, value: string): void => {
    const node = fleet.nodes[i]!;
    if (node.exitCode !== undefined) return;
    const req = http.request({ host: '127.0.0.1', port: node.ports.http, path: `/v1/kv/${key}`, method: 'PUT', agent, timeout: 3000 }, (res) => {
      res.resume();
      if (res.statusCode === 200) writes++;
      else failures++;
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => failures++);
    req.end(value);
  };
  // The robot workload: each node owns its robots' keys.
  let tick = 0;
  const workload = setInterval(() => {
    tick++;
    for (let i = 0; i < size; i++) {
      for (let r = 0; r < robotsPerNode; r++) {
        const id = `n${i}r${r}`;
        put(i, `robots/${id}/pose`, JSON.stringify({ x: Math.sin(tick / 50 + r), y: Math.cos(tick / 50 + r), theta: (tick % 360) / 57.3, t: Date.now() }));
        if (tick % 20 === 0) put(i, `robots/${id}/status`, ['idle', 'moving', 'charging', 'picking'][(tick / 20 + r) % 4]!);
        if (tick % 100 === 0) put(i, `missions/${id}`, JSON.stringify({ mission: `m${tick}`, waypoints: [1, 2, 3] }));
      }
    }
  }, 100);

  const sampler = async (): Promise<void> => {
    const t = (performance.now() - t0) / 60_000;
    await Promise.all(
      fleet.nodes.map(async (n, i) => {
        const st = n.exitCode === undefined ? procStat(n.pid) : { rssMiB: NaN, fds: NaN };
        let status: Record<string, any> = {};
        try {
          status = (await (await n.fetch('/v1/status', { signal: AbortSignal.timeout(2000) })).json()) as Record<string, any>;
        } catch {
          /* down or frozen: sampled as missing */
        }
        const peers = (status.peers ?? []) as { lag?: { entries?: number; ms?: number } }[];
        samples.push({
          t,
          node: fleet.name(i),
          ...st,
          logBytes: status.log?.bytes ?? NaN,
          lagEntries: Math.max(0, ...peers.map((p) => p.lag?.entries ?? 0)),
          lagMs: Math.max(0, ...peers.map((p) => p.lag?.ms ?? 0)),
          keys: status.keys ?? NaN,
        });
      }),
    );
  };
  const sampling = setInterval(() => void sampler(), sampleMs);

  // Random faults, one at a time, each healed before the next.
  let nextFault = performance.now() + 20_000;
  while (performance.now() < end) {
    await waitFor(() => performance.now() >= Math.min(nextFault, end), 'the next fault', 120_000, 200);
    if (performance.now() >= end) break;
    const i = Math.floor(Math.random() * size);
    const kind = ['isolate', 'kill9', 'sigstop', 'flap'][Math.floor(Math.random() * 4)]!;
    const at = ((performance.now() - t0) / 60_000).toFixed(2);
    faults.push(`${at} min: ${kind} n${i}`);
    console.log(`  ${at} min: ${kind} n${i}`);
    const hold = async (ms: number): Promise<void> => {
      const until = performance.now() + ms;
      await waitFor(() => performance.now() >= until, 'the fault to run its course', ms + 5000, 100);
    };
    if (kind === 'isolate') {
      fleet.isolate(i);
      await hold(5000);
      fleet.heal();
    } else if (kind === 'kill9') {
      await fleet.nodes[i]!.kill9();
      await hold(2000);
      await fleet.restart(i);
    } else if (kind === 'sigstop') {
      fleet.nodes[i]!.child.kill('SIGSTOP');
      await hold(3000);
      fleet.nodes[i]!.child.kill('SIGCONT');
    } else {
      for (let k = 0; k < 10; k++) {
        fleet.isolate(i);
        await hold(300);
        fleet.heal();
        await hold(300);
      }
    }
    nextFault = performance.now() + 20_000 + Math.random() * 20_000;
  }
  clearInterval(workload);
  clearInterval(sampling);
  await sampler();
  agent.destroy();
  await fleet.stop();

  // Outputs.
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const dir = path.resolve('bench/results');
  fs.mkdirSync(dir, { recursive: true });
  const csv = path.join(dir, `soak-${stamp}.csv`);
  fs.writeFileSync(csv, `minutes,node,rss_mib,fds,log_bytes,lag_entries,lag_ms,keys\n${samples.map((s) => [s.t.toFixed(3), s.node, s.rssMiB.toFixed(1), s.fds, s.logBytes, s.lagEntries, s.lagMs, s.keys].join(',')).join('\n')}\n`);
  const byNode = (f: (s: Sample) => number): Series[] => Array.from({ length: size }, (_, i) => ({ name: `n${i}`, points: samples.filter((s) => s.node === `n${i}` && Number.isFinite(f(s))).map((s) => [s.t, f(s)] as [number, number]) }));
  const png = csv.replace(/\.csv$/, '.png');
  fs.writeFileSync(
    png,
    renderChart(
      [
        { title: 'RSS MIB', series: byNode((s) => s.rssMiB) },
        { title: 'OPEN FILE DESCRIPTORS', series: byNode((s) => s.fds) },
        { title: 'LOG BYTES', series: byNode((s) => s.logBytes) },
        { title: 'MAX REPLICATION LAG (ENTRIES)', series: byNode((s) => s.lagEntries) },
      ],
      { xLabel: 'MINUTES' },
    ),
  );

  // Flatness: compare the middle third with the last third (the first third holds warm-up).
  const verdict: string[] = [];
  for (const [label, f, tolerance] of [
    ['RSS MiB', (s: Sample) => s.rssMiB, 0.15],
    ['open fds', (s: Sample) => s.fds, 0.1],
  ] as const) {
    const third = (k: number): number => {
      const xs = samples.filter((s) => s.t >= (minutes * k) / 3 && s.t < (minutes * (k + 1)) / 3 && Number.isFinite(f(s))).map(f);
      return xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    };
    const mid = third(1);
    const last = third(2);
    const growth = mid > 0 ? (last - mid) / mid : 0;
    verdict.push(`${label}: middle third avg ${mid.toFixed(1)}, last third avg ${last.toFixed(1)} (${(growth * 100).toFixed(1)} %) — ${growth <= tolerance ? 'flat' : 'GROWING'}`);
  }
  console.log(`\nwrites acknowledged: ${writes}, failed: ${failures}; faults: ${faults.length}`);
  for (const v of verdict) console.log(v);
  console.log(`csv: ${path.relative(process.cwd(), csv)}\nchart: ${path.relative(process.cwd(), png)}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
