/**
 * `npm run bench -- latency`: issue 10 P3 and P4, each beside its reference
 * in the same run, rounds alternating between fleetkv and the reference:
 *
 *   P3  HTTP PUT on node A → the change seen by a watch (SSE) on node B,
 *       1,000 writes/s, log.fsync=batch on both (two fleetkv processes), vs
 *       NATS JetStream KV with replicas 3 (Debian's nats-server, a 3-node
 *       cluster on loopback): put through one server, watch through another.
 *   P4  MQTT set on A's broker → state message on B's broker, 1,000/s, batch,
 *       vs Mosquitto → bridge → Mosquitto (bench/mqtt.bench.ts).
 *
 * Both again with one core kept busy by another process (a `for(;;){}` node
 * child, not pinned, stopped after), as on a robot running other software.
 * Clients for both systems run in this process. BENCH_LATENCY_SECONDS (5) and
 * BENCH_LATENCY_ROUNDS (2) scale it; BENCH_LATENCY_CPUPROF=DIR runs fleetkv's
 * A and B under `node --cpu-prof` into DIR; BENCH_LATENCY_ONLY=p3|p4;
 * BENCH_LATENCY_BUSY_CPU=N pins the busy child to CPU N; BENCH_LATENCY_BASE=DIR
 * adds a fleetkv built into DIR (another build of dist/, e.g. main's, copied
 * into this checkout so it finds node_modules) as one more system in the same
 * alternating rounds: before/after figures of a branch from one run.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Kvm } from '@nats-io/kv';
import { NodeProc, waitFor } from '../test/helpers/proc.js';
import { metric } from '../test/replication/fleet.js';
import { type Latency, PacedProbe, r2 } from './lib/paced.js';
import { p4Round } from './mqtt.bench.js';
import { startNatsCluster } from './refs/nats.js';
import { ensureDebian } from './refs/tools.js';
import type { BenchRow, BenchSection } from './run.js';

const RATE = 1000;
const SECONDS = Number(process.env.BENCH_LATENCY_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_LATENCY_ROUNDS ?? 2);
const CPUPROF = process.env.BENCH_LATENCY_CPUPROF;
const ONLY = process.env.BENCH_LATENCY_ONLY;
/** Pin the busy-loop child to this CPU (taskset -c); unset: not pinned. */
const BUSY_CPU = process.env.BENCH_LATENCY_BUSY_CPU;
/** A second fleetkv build (its dist/ directory) measured beside this one. */
const BASE = process.env.BENCH_LATENCY_BASE ? path.resolve(process.env.BENCH_LATENCY_BASE) : undefined;
/** Run the node from another build: argv[1] is dist/cli/main.js. */
const fromBuild =
  (dist: string) =>
  (argv: string[]): string[] => [argv[0]!, path.join(dist, 'cli/main.js'), ...argv.slice(2)];
const COUNT = RATE * SECONDS;
const WARMUP = Math.min(500, Math.floor(COUNT / 10));
const VALUE_BYTES = 100;

/** Write i's 100-byte value: its index, a colon, padding. */
function writeValue(i: number): string {
  const head = `${i}:`;
  return head + 'v'.repeat(VALUE_BYTES - head.length);
}
const writeIndex = (v: string): number => Number(v.slice(0, v.indexOf(':')));

/** Event-loop delay (ms) of a fleetkv process since its last scrape (fleetkv_event_loop_delay_seconds resets per scrape). */
async function loopDelay(n: NodeProc): Promise<{ p99: number; max: number }> {
  const text = await (await n.fetch('/metrics')).text();
  const g = (stat: string): number => Number(new RegExp(`^fleetkv_event_loop_delay_seconds\\{stat="${stat}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN) * 1000;
  return { p99: g('p99'), max: g('max') };
}

/** CPU time (ms, user + system) a process used so far, from /proc (clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

interface P3Figures extends Latency {
  loop?: string;
  cpu?: string;
  /** Writes per ENTRIES frame A sent to B (coalescing). */
  writesPerFrame?: number;
}

async function fleetkvP3(tmp: string, tag: string, fsync: 'batch' | 'never', dist?: string): Promise<P3Figures> {
  const build = dist ? fromBuild(dist) : (argv: string[]): string[] => argv;
  const prof = (argv: string[]): string[] => (CPUPROF ? [argv[0]!, '--cpu-prof', '--cpu-prof-dir', CPUPROF, ...argv.slice(1)] : argv);
  const wrap = CPUPROF || dist ? (argv: string[]): string[] => prof(build(argv)) : undefined;
  const env = { FLEETKV_FSYNC: fsync, FLEETKV_MQTT_ENABLED: 'false' };
  const nodes: NodeProc[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  let watch: http.ClientRequest | undefined;
  try {
    const b = await new NodeProc({ nodeId: 'b', dataDir: fs.mkdtempSync(path.join(tmp, `b-${tag}-`)), env, wrap }).start();
    nodes.push(b);
    const a = await new NodeProc({ nodeId: 'a', dataDir: fs.mkdtempSync(path.join(tmp, `a-${tag}-`)), env: { ...env, FLEETKV_PEERS: `127.0.0.1:${b.ports.peer}` }, wrap }).start();
    nodes.push(a);
    await a.put('p3/hello', 'x');
    await waitFor(async () => (await b.get('p3/hello')) === 'x', 'replication A → B', 20_000);
    const probe = new PacedProbe(COUNT, WARMUP);
    // The watch on B: one SSE stream, `data:` lines of JSON changes.
    await new Promise<void>((resolve, reject) => {
      watch = http.get({ host: '127.0.0.1', port: b.ports.http, path: '/v1/watch?prefix=p3/k', agent: false }, (res) => {
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          buf += d;
          let at: number;
          while ((at = buf.indexOf('\n\n')) >= 0) {
            const ev = buf.slice(0, at);
            buf = buf.slice(at + 2);
            for (const line of ev.split('\n')) if (line.startsWith('data: ')) probe.arrived(writeIndex((JSON.parse(line.slice(6)) as { value: string }).value));
          }
        });
        resolve();
      });
      watch.on('error', reject);
      watch.on('socket', (s) => s.setNoDelay(true));
    });
    await Promise.all([loopDelay(a), loopDelay(b)]); // reset the per-scrape windows
    const cpu0 = [cpuMs(a.pid), cpuMs(b.pid)];
    const frames0 = await metric(a, 'fleetkv_replication_frames_sent_total', 'type="ENTRIES"');
    await probe.run(RATE, (i) => {
      const body = writeValue(i);
      const req = http.request({ host: '127.0.0.1', port: a.ports.http, method: 'PUT', path: `/v1/kv/p3/k${i % 100}`, agent, headers: { 'content-length': body.length } }, (res) => res.resume());
      req.on('socket', (s) => s.setNoDelay(true));
      req.on('error', () => {});
      req.end(body);
    });
    const [la, lb] = await Promise.all([loopDelay(a), loopDelay(b)]);
    const perWrite = (ms: number): number => Math.round((ms * 1000) / COUNT);
    const cpu = `A ${perWrite(cpuMs(a.pid) - cpu0[0]!)}, B ${perWrite(cpuMs(b.pid) - cpu0[1]!)}`;
    const frames = (await metric(a, 'fleetkv_replication_frames_sent_total', 'type="ENTRIES"')) - frames0;
    return { ...probe.result(), loop: `A ${r2(la.p99)} / ${r2(la.max)}, B ${r2(lb.p99)} / ${r2(lb.max)}`, cpu, writesPerFrame: r2(COUNT / frames) };
  } finally {
    watch?.destroy();
    agent.destroy();
    await Promise.all(nodes.map((n) => n.stop()));
  }
}

async function natsP3(): Promise<P3Figures> {
  const cluster = await startNatsCluster(3);
  try {
    const a = await cluster.connect(0);
    const b = await cluster.connect(1);
    try {
      const kvA = await new Kvm(a).create('p3', { replicas: 3, history: 1 });
      // The stream's replicas elected and current before the watch's consumer is created on it.
      await waitFor(
        async () => {
          const c = (await kvA.status()).streamInfo.cluster;
          return c?.leader !== undefined && (c.replicas ?? []).length === 2 && c.replicas!.every((r) => r.current);
        },
        'KV bucket replicas current',
        20_000,
        100,
      );
      const kvB = await new Kvm(b).open('p3');
      const probe = new PacedProbe(COUNT, WARMUP);
      const w = await kvB.watch({ key: 'k.>' });
      const reading = (async () => {
        for await (const e of w) probe.arrived(writeIndex(e.string()));
      })();
      await probe.run(RATE, (i) => {
        kvA.put(`k.${i % 100}`, writeValue(i)).catch(() => {});
      });
      w.stop();
      await reading;
      return probe.result();
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  } finally {
    await cluster.stop();
  }
}

/** A child process spinning on one core until stopped. */
async function busyCore<T>(fn: () => Promise<T>): Promise<T> {
  const spin = [process.execPath, '-e', 'for(;;){}'];
  const argv = BUSY_CPU === undefined ? spin : ['taskset', '-c', BUSY_CPU, ...spin];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' });
  try {
    return await fn();
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
}

const row = (round: number, system: string, l: P3Figures): BenchRow => ({
  round,
  system,
  'p50 ms': l.p50,
  'p99 ms': l.p99,
  'max ms': l.max,
  received: `${l.received}/${l.count}`,
  'loop delay p99/max ms': l.loop ?? '',
  'CPU µs/write': l.cpu ?? '',
  'writes/frame': l.writesPerFrame ?? '',
});

const median = (xs: number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

interface Medians {
  p50: number;
  p99: number;
}

type System = [name: string, run: (round: number) => Promise<P3Figures>];

/**
 * ROUNDS rounds of fleetkv, its reference and any side systems (e.g. fleetkv
 * without fsync, for comparison only), the order reversed every other round
 * (none always gets the fresher machine), under one busy core if `busy`; the
 * rows and each system's median p50/p99 over the rounds, in the given order.
 */
async function alternate(busy: boolean, systems: System[]): Promise<{ rows: BenchRow[]; medians: Medians[]; load: string }> {
  const rows: BenchRow[] = [];
  const got: P3Figures[][] = systems.map(() => []);
  const load0 = os.loadavg()[0]!;
  const run = async (): Promise<void> => {
    for (let r = 1; r <= ROUNDS; r++) {
      const order = systems.map((_, i) => i);
      if (r % 2 === 0) order.reverse();
      for (const i of order) {
        const l = await systems[i]![1](r);
        got[i]!.push(l);
        rows.push(row(r, systems[i]![0], l));
      }
    }
  };
  await (busy ? busyCore(run) : run());
  const medians = got.map((ls): Medians => ({ p50: median(ls.map((l) => l.p50)), p99: median(ls.map((l) => l.p99)) }));
  const load = `load average (1 min) ${load0.toFixed(2)} at the start, ${os.loadavg()[0]!.toFixed(2)} at the end, ${os.cpus().length} cores`;
  return { rows, medians, load };
}

/** This build against the base build (BENCH_LATENCY_BASE), each as a ratio to the reference of the same rounds. */
function baseNote(fk: Medians, base: Medians, ref: Medians): string {
  return `base build: p50 ${r2(base.p50)} ms, p99 ${r2(base.p99)} ms (p50 ${r2(base.p50 / ref.p50)}x, p99 ${r2(base.p99 / ref.p99)}x the reference) against this build's p50 ${r2(fk.p50)}, p99 ${r2(fk.p99)} (${r2(fk.p50 / ref.p50)}x, ${r2(fk.p99 / ref.p99)}x)`;
}

const busyTitle = (busy: boolean): string => (busy ? `, one core kept busy by another process${BUSY_CPU === undefined ? ' (not pinned)' : ` (pinned to CPU ${BUSY_CPU})`}` : '');

async function p3(tmp: string, busy: boolean): Promise<BenchSection> {
  const tag = (r: number): string => `${busy ? 'busy' : 'idle'}${r}`;
  const { rows, medians, load } = await alternate(busy, [
    ['fleetkv HTTP PUT on A → SSE watch on B (fsync=batch)', (r) => fleetkvP3(tmp, tag(r), 'batch')],
    ['NATS KV R3: put via server 1 → watch via server 2', natsP3],
    ['fleetkv, same with fsync=never (comparison only)', (r) => fleetkvP3(tmp, `${tag(r)}-never`, 'never')],
    ...(BASE ? ([[`fleetkv base build (${path.basename(BASE)}), fsync=batch`, (r: number) => fleetkvP3(tmp, `${tag(r)}-base`, 'batch', BASE)]] as System[]) : []),
  ]);
  const [fk, ref, never, base] = medians as [Medians, Medians, Medians, Medians | undefined];
  return {
    title: `P3: put on A → watch on B, ${RATE} writes/s for ${SECONDS} s, ${ROUNDS} alternating rounds${busyTitle(busy)}`,
    rows,
    notes: [
      `fleetkv p50 ${r2(fk.p50)} ms (median of rounds; goal <= 1 ms): ${fk.p50 <= 1 ? 'met' : `MISSED by ${r2(fk.p50 - 1)} ms`}`,
      `fleetkv p99 / NATS p99 = ${r2(fk.p99)} / ${r2(ref.p99)} = ${r2(fk.p99 / ref.p99)} (goal <= 1.0): ${fk.p99 <= ref.p99 ? 'met' : 'MISSED'}; p50 ratio ${r2(fk.p50 / ref.p50)}`,
      `fleetkv with fsync=never: p50 ${r2(never.p50)} ms, p99 ${r2(never.p99)} ms (what the two fsyncs in series cost, against the batch row)`,
      ...(base ? [baseNote(fk, base, ref)] : []),
      `first ${WARMUP} writes of each round not counted; 100 keys; NATS 2.9's file store does not fsync each message (its durability is the R3 quorum), fleetkv fsyncs in groups (batch) on A and B; loop delay = fleetkv_event_loop_delay_seconds p99/max of A and B over the round; CPU µs/write = user+system CPU of each fleetkv process over the round (from /proc) per write`,
      load,
    ],
  };
}

async function p4(busy: boolean): Promise<BenchSection> {
  const { rows, medians, load } = await alternate(busy, [
    ['fleetkv: MQTT set on A → state on B (fsync=batch)', () => p4Round('fleetkv', COUNT, WARMUP)],
    ['Mosquitto → bridge → Mosquitto (no persistence)', () => p4Round('mosquitto', COUNT, WARMUP)],
    ...(BASE ? ([[`fleetkv base build (${path.basename(BASE)})`, () => p4Round('fleetkv', COUNT, WARMUP, fromBuild(BASE))]] as System[]) : []),
  ]);
  const [fk, ref, base] = medians as [Medians, Medians, Medians | undefined];
  return {
    title: `P4: MQTT set on A → state on B's broker, ${RATE}/s for ${SECONDS} s, ${ROUNDS} alternating rounds${busyTitle(busy)}`,
    rows,
    notes: [
      `fleetkv / Mosquitto p50 = ${r2(fk.p50)} / ${r2(ref.p50)} = ${r2(fk.p50 / ref.p50)} (goal <= 1.5): ${fk.p50 <= 1.5 * ref.p50 ? 'met' : 'MISSED'}; p99 ${r2(fk.p99)} / ${r2(ref.p99)} = ${r2(fk.p99 / ref.p99)}`,
      ...(base ? [baseNote(fk, base, ref)] : []),
      `QoS 1 publishes over 100 keys, QoS 0 subscriber; first ${WARMUP} not counted; "received" below ${COUNT} is state coalescing (a key changed again before its state went out is published once, docs/adr/0201); A ships a set when staged and B publishes its state on arrival (docs/adr/0104), A's PUBACK waits for A's fsync (batch); Mosquitto keeps nothing on disk`,
      load,
    ],
  };
}

export async function sections(): Promise<BenchSection[]> {
  const haveNats = ensureDebian('nats-server', 'nats-server');
  ensureDebian('mosquitto', 'mosquitto');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetkv-bench-latency-'));
  try {
    const out: BenchSection[] = [];
    if (ONLY !== 'p4') {
      if (!haveNats) throw new Error('nats-server could not be installed: P3 has no reference');
      out.push(await p3(tmp, false));
      out.push(await p3(tmp, true));
    }
    if (ONLY !== 'p3') {
      out.push(await p4(false));
      out.push(await p4(true));
    }
    return out;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
