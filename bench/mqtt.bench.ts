/**
 * `npm run bench -- mqtt`: the MQTT bridge.
 *  1. set → state latency across two robots at 1,000 writes/s: an MQTT set on
 *     A's broker until the state message arrives at a subscriber on B's broker,
 *     next to the same path through two Mosquitto brokers joined by a
 *     Mosquitto bridge (started here on loopback) as the reference.
 *     Goal: fleetkv within 1.5x of Mosquitto.
 *  2. Applied entries/s the bridge publishes (entries arriving as from a peer,
 *     one subscriber receiving every state message) before it falls behind,
 *     next to the node without the bridge. Goal: >= 20,000/s.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { loadConfig } from '../src/config/load.js';
import { OP_PUT, encodeEntry } from '../src/entry/entry.js';
import { FleetNode } from '../src/node.js';
import { defaultServices } from '../src/services.js';
import { NodeProc, ROOT, tempDir, waitFor } from '../test/helpers/proc.js';
import { type Latency, PacedProbe } from './lib/paced.js';
import type { BenchSection } from './run.js';

const RATE = 1000;
const LATENCY_WRITES = 5000;
const WARMUP = 300;

/**
 * Publish `count` messages at RATE/s (QoS 1) through `pubUrl`, each carrying its
 * index; a subscriber on `subUrl` records when each arrives.
 */
async function measureLatency(pubUrl: string, topicOf: (i: number) => string, subUrl: string, filter: string, count: number, warmup = WARMUP): Promise<Latency> {
  const opts = { protocolVersion: 4 as const, reconnectPeriod: 0 };
  const sub = await mqtt.connectAsync(subUrl, opts);
  const pub = await mqtt.connectAsync(pubUrl, opts);
  // mqtt.js leaves Nagle on: measure the brokers, not the client's 40 ms delayed-ACK stalls.
  for (const c of [sub, pub]) (c.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
  const probe = new PacedProbe(count, warmup);
  sub.on('message', (_t, payload) => probe.arrived(Number(payload.toString())));
  await sub.subscribeAsync(filter, { qos: 0 });
  await probe.run(RATE, (i) => pub.publish(topicOf(i), String(i), { qos: 1 }));
  await Promise.all([sub.endAsync(), pub.endAsync()]);
  return probe.result();
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Two Mosquitto brokers on loopback, the first bridging `bench/#` to the second. */
async function startMosquittoPair(dir: string): Promise<{ p1: number; p2: number; stop: () => Promise<void> }> {
  const bin = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((p) => fs.existsSync(p)) ?? 'mosquitto';
  const [p1, p2] = [await freePort(), await freePort()];
  const base = (port: number): string => `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\nset_tcp_nodelay true\n`;
  fs.writeFileSync(path.join(dir, 'm2.conf'), base(p2));
  fs.writeFileSync(path.join(dir, 'm1.conf'), `${base(p1)}connection to-m2\naddress 127.0.0.1:${p2}\ntopic bench/# out 1\ncleansession true\n`);
  const procs: ChildProcess[] = [];
  for (const conf of ['m2.conf', 'm1.conf']) procs.push(spawn(bin, ['-c', path.join(dir, conf)], { stdio: 'ignore' }));
  const stop = async (): Promise<void> => {
    await Promise.all(procs.map((p) => new Promise((r) => (p.exitCode !== null ? r(null) : (p.once('exit', r), p.kill('SIGTERM'))))));
  };
  // Up when a message crosses the bridge.
  await waitFor(
    async () => {
      const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${p2}`, { protocolVersion: 4, reconnectPeriod: 0 });
      const pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${p1}`, { protocolVersion: 4, reconnectPeriod: 0 });
      try {
        await sub.subscribeAsync('bench/probe');
        const got = new Promise<boolean>((r) => sub.once('message', () => r(true)));
        await pub.publishAsync('bench/probe', 'x', { qos: 1 });
        return await Promise.race([got, new Promise<boolean>((r) => setTimeout(() => r(false), 300))]);
      } finally {
        await Promise.all([sub.endAsync(), pub.endAsync()]);
      }
    },
    'the Mosquitto bridge',
    15_000,
    100,
  ).catch(async (err: unknown) => {
    await stop();
    throw err;
  });
  return { p1, p2, stop };
}

/** Latency of set on A → state on B (B = A without replication), for one fsync policy. */
async function fleetkvLatency(dir: string, fsync: string, crossRobot: boolean, count = LATENCY_WRITES, warmup = WARMUP, wrap?: (argv: string[]) => string[]): Promise<Latency> {
  const nodes: NodeProc[] = [];
  try {
    const env = { FLEETKV_FSYNC: fsync };
    const a = await new NodeProc({ nodeId: 'a', dataDir: fs.mkdtempSync(path.join(dir, `a-${fsync}-`)), env, ...(wrap ? { wrap } : {}) }).start();
    nodes.push(a);
    let b = a;
    if (crossRobot) {
      b = await new NodeProc({ nodeId: 'b', dataDir: fs.mkdtempSync(path.join(dir, `b-${fsync}-`)), env: { ...env, FLEETKV_PEERS: `127.0.0.1:${a.ports.peer}` }, ...(wrap ? { wrap } : {}) }).start();
      nodes.push(b);
      // Connected once a write on A shows on B.
      await a.put('bench/hello', 'x');
      await waitFor(async () => (await b.get('bench/hello')) === 'x', 'replication A → B', 20_000);
    }
    return await measureLatency(`mqtt://127.0.0.1:${a.ports.mqtt}`, (i) => `fleet/set/bench/k${i % 100}`, `mqtt://127.0.0.1:${b.ports.mqtt}`, 'fleet/state/bench/#', count, warmup);
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
}

async function mosquittoLatency(dir: string, count = LATENCY_WRITES, warmup = WARMUP): Promise<Latency> {
  const m = await startMosquittoPair(dir);
  try {
    return await measureLatency(`mqtt://127.0.0.1:${m.p1}`, (i) => `bench/state/k${i % 100}`, `mqtt://127.0.0.1:${m.p2}`, 'bench/state/#', count, warmup);
  } finally {
    await m.stop();
  }
}

/** One P4 round (issue 10): fleetkv A → B (fsync=batch, two processes; `wrap` as NodeProc's) or the Mosquitto bridge, in a temp dir of its own. */
export async function p4Round(system: 'fleetkv' | 'mosquitto', count: number, warmup: number, wrap?: (argv: string[]) => string[]): Promise<Latency> {
  const dir = tempDir('fleetkv-bench-mqtt-');
  try {
    return system === 'fleetkv' ? await fleetkvLatency(dir, 'batch', true, count, warmup, wrap) : await mosquittoLatency(dir, count, warmup);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function latencySection(): Promise<BenchSection> {
  const dir = tempDir('fleetkv-bench-mqtt-');
  const notes: string[] = [];
  const rows = [];
  const crossRobot = fs.existsSync(path.join(ROOT, 'dist/replication'));
  if (!crossRobot) notes.push('replication is not merged in this build: the fleetkv rows are set on A → state on A (one robot), not across two robots');
  const row = (round: number, name: string, l: Latency): Record<string, string | number> => ({ round, path: name, writes_per_s: RATE, p50_ms: l.p50, p99_ms: l.p99, max_ms: l.max, received: `${l.received}/${l.count}` });
  const fkPath = crossRobot ? 'fleetkv: set on A → state on B' : 'fleetkv: set on A → state on A';
  const sum = { batch: [] as Latency[], never: [] as Latency[], mq: [] as Latency[] };
  try {
    // Rounds alternate between the systems (and which goes first), so a load change on the machine hits both.
    for (let r = 1; r <= 2; r++) {
      const steps: ('batch' | 'never' | 'mq')[] = r === 1 ? ['batch', 'mq', 'never'] : ['mq', 'batch', 'never'];
      for (const step of steps) {
        const l = step === 'mq' ? await mosquittoLatency(dir) : await fleetkvLatency(dir, step, crossRobot);
        sum[step].push(l);
        rows.push(row(r, step === 'mq' ? 'Mosquitto → bridge → Mosquitto (no persistence)' : `${fkPath} (fsync=${step})`, l));
      }
    }
    const avg = (ls: Latency[], k: 'p50' | 'p99'): number => ls.reduce((s, l) => s + l[k], 0) / ls.length;
    for (const name of ['batch', 'never'] as const) {
      const r50 = avg(sum[name], 'p50') / avg(sum.mq, 'p50');
      const r99 = avg(sum[name], 'p99') / avg(sum.mq, 'p99');
      notes.push(`fsync=${name}: fleetkv/Mosquitto p50 = ${r50.toFixed(2)}x (goal <= 1.5x): ${r50 <= 1.5 ? 'met' : 'not met'}; p99 = ${r99.toFixed(2)}x (mean of 2 rounds)${crossRobot ? '' : ' (one robot only)'}`);
    }
    notes.push(
      `QoS 1 publishes paced at ${RATE}/s over 100 keys, QoS 0 subscriber, first ${WARMUP} of ${LATENCY_WRITES} not counted; fleetkv publishes state only once the write is durable under its fsync policy, Mosquitto keeps nothing on disk`,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { title: 'MQTT set → state latency across two robots (2 alternating rounds)', rows, notes };
}

/** Feed `count` entries from a fake peer through node.ingest, in batches; resolves when the subscriber has every state message. */
async function publishRate(withBridge: boolean, count: number): Promise<{ rate: number; ingestRate: number; peakPending: number }> {
  const dir = tempDir('fleetkv-bench-mqtt-');
  const env = { FLEETKV_NODE_ID: 'bench', FLEETKV_DATA_DIR: dir, FLEETKV_MQTT_ENABLED: String(withBridge), FLEETKV_MQTT_HOST: '127.0.0.1', FLEETKV_MQTT_PORT: '0', FLEETKV_PEER_PORT: '0', FLEETKV_HTTP_PORT: '0', FLEETKV_LOG_LEVEL: 'warn' };
  const node = new FleetNode(loadConfig({ env }), { services: defaultServices });
  await node.start();
  let sub: ChildProcess | undefined;
  let subDone: Promise<void> = Promise.resolve();
  try {
    if (withBridge) {
      // The subscriber is a separate process, as a dashboard would be: it prints the retained
      // probe once subscribed, then exits after `count` more messages.
      await node.put('bench/ready', 'ready');
      const port = node.services.find((s) => s.name === 'mqtt')!.ports!().mqtt!;
      const child = spawn('mosquitto_sub', ['-p', String(port), '-t', 'fleet/state/bench/ready', '-t', 'fleet/state/peer/#', '-C', String(count + 1)], { stdio: ['ignore', 'pipe', 'inherit'] });
      sub = child;
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        if (out.length < 100) out += d.toString();
      });
      subDone = new Promise((resolve) => child.once('exit', () => resolve()));
      await waitFor(() => out.startsWith('ready'), 'mosquitto_sub subscribed');
    }
    const value = Buffer.alloc(100, 97);
    let peakPending = 0;
    const status = node.services.find((s) => s.name === 'mqtt');
    const t0 = performance.now();
    for (let seq = 1; seq <= count; ) {
      const batch: Promise<unknown>[] = [];
      for (let j = 0; j < 1000 && seq <= count; j++, seq++) {
        const e = encodeEntry({ origin: 'peer', inc: 1, seq, wall: Date.now(), logical: 0, op: OP_PUT, key: `peer/k${seq}`, value });
        batch.push(node.ingest(e));
      }
      await Promise.all(batch);
      const pending = (status?.status?.() as { mqtt?: { pending: number } } | undefined)?.mqtt?.pending ?? 0;
      peakPending = Math.max(peakPending, pending);
    }
    const ingestMs = performance.now() - t0;
    await subDone;
    const ms = performance.now() - t0;
    return { rate: Math.round((count / ms) * 1000), ingestRate: Math.round((count / ingestMs) * 1000), peakPending };
  } finally {
    if (sub && sub.exitCode === null) sub.kill();
    await node.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function throughputSection(): Promise<BenchSection> {
  const count = 100_000;
  const base = await publishRate(false, count);
  const bridged = await publishRate(true, count);
  return {
    title: 'Applied entries/s published by the MQTT bridge',
    rows: [
      { setup: 'node without the bridge (ingest only)', entries: count, applied_per_s: base.ingestRate, delivered_per_s: '-', peak_pending: '-' },
      { setup: 'node + bridge + 1 subscriber (fleet/state/peer/#)', entries: count, applied_per_s: bridged.ingestRate, delivered_per_s: bridged.rate, peak_pending: bridged.peakPending },
    ],
    notes: [
      `entries from a fake peer via node.ingest (fsync=batch, 100-byte values, one key per entry so nothing coalesces); each becomes a log and a state message; delivered = until mosquitto_sub (another process, same 2 cores) has every state message`,
      `published ${bridged.rate}/s (goal >= 20,000/s): ${bridged.rate >= 20_000 ? 'met' : 'not met'}; bridge cost ${(100 * (1 - bridged.ingestRate / base.ingestRate)).toFixed(0)}% of the ingest rate`,
    ],
  };
}

/** Other processes on the machine distort every figure here: say how busy it was. */
function loadNote(section: BenchSection, before: number[]): BenchSection {
  const after = os.loadavg();
  const note = `machine load (1-min average) ${before[0]!.toFixed(1)} before, ${after[0]!.toFixed(1)} after, on ${os.cpus().length} cores: figures are only comparable at a low load`;
  return { ...section, notes: [...(section.notes ?? []), note] };
}

export async function sections(): Promise<BenchSection[]> {
  const out: BenchSection[] = [];
  for (const run of [latencySection, throughputSection]) {
    const before = os.loadavg();
    out.push(loadNote(await run(), before));
  }
  return out;
}
