import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { FleetError } from '../errors.js';
import { encodeField, robotKey, type Pose, type RobotStatus } from '../robots/model.js';

/**
 * `fleetkv sim --nodes N`: a fleet on one machine. N nodes as child processes
 * on loopback, each with the others as static peers, and a robot workload
 * written to each robot's own node following the robot model (docs/robots.md):
 * `robots/<id>/pose` at 10 Hz, `status` and `battery` every second, `mission`
 * when it changes; missions handed out by robot-1 under `missions/<id>` and
 * worked on by the robot they name.
 */
/** TTL of the simulated robots' heartbeat keys (status, pose): a robot that stops is gone from the map this long after (docs/robots.md). */
const HEARTBEAT_TTL = '5s';

export function registerSim(program: Command): void {
  program
    .command('sim')
    .description('run a simulated fleet on this machine: N nodes with static peers and a robot workload (Ctrl-C stops it)')
    .option('-n, --nodes <n>', 'number of robots', '3')
    .option('--dir <dir>', 'data and log files (default: a temp dir, removed at the end)')
    .option('--keep', 'keep the temp dir (data and logs) at the end; without it, it is removed unless a node failed')
    .option('--http-port <port>', 'HTTP port of robot-1; robot-k uses port+k-1', '7480')
    .option('--peer-port <port>', 'peer port of robot-1', '7400')
    .option('--mqtt-port <port>', 'MQTT port of robot-1', '1883')
    .option('--auto-ports', 'pick free ports instead')
    .option('--rate <hz>', 'pose updates per second per robot', '10')
    .option('--duration <seconds>', 'stop the workload after this long (the nodes keep running until Ctrl-C)')
    .option('--json', 'print JSON lines (sim-ready, sim-stats, sim-stopped) instead of text')
    .action(async (o: SimOptions) => {
      process.exitCode = await runSim(o);
    });
}

interface SimOptions {
  nodes: string;
  dir?: string;
  keep?: boolean;
  httpPort: string;
  peerPort: string;
  mqttPort: string;
  autoPorts?: boolean;
  rate: string;
  duration?: string;
  json?: boolean;
}

interface SimNode {
  id: string;
  ports: { http: number; peer: number; mqtt: number };
  child: ChildProcess;
  exited?: { code: number | null; signal: NodeJS.Signals | null };
  url: string;
}

const MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'main.js');
const STOP_TIMEOUT_MS = 20_000;
/** The map every simulated robot drives on. */
const SIM_MAP = 'sim';

function positiveInt(v: string, what: string, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new FleetError('USAGE', `${what} must be an integer from 1 to ${max}, not "${v}"`);
  return n;
}

/** Free loopback ports, chosen by the kernel (a tiny race remains until the nodes bind them). */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const s = net.createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

export async function runSim(o: SimOptions): Promise<number> {
  const count = positiveInt(o.nodes, '--nodes', 50);
  const rate = positiveInt(o.rate, '--rate', 100);
  const duration = o.duration === undefined ? undefined : positiveInt(o.duration, '--duration', 86_400);
  const say = (text: string, json: Record<string, unknown>): void => {
    process.stdout.write(o.json ? `${JSON.stringify(json)}\n` : `${text}\n`);
  };

  const ownDir = o.dir === undefined;
  const removeAtExit = ownDir && o.keep !== true;
  const dir = o.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'fleetkv-sim-'));
  fs.mkdirSync(dir, { recursive: true });
  // A config of its own, so that a robot's /etc/fleetkv/fleetkv.json (peers, secret, TLS) never leaks in.
  const configFile = path.join(dir, 'sim.json');
  fs.writeFileSync(configFile, `${JSON.stringify({ fleetId: 'sim', fleetSecret: randomBytes(24).toString('hex') }, null, 2)}\n`);

  const ports = o.autoPorts ? await freePorts(3 * count) : [];
  const base = { http: Number(o.httpPort), peer: Number(o.peerPort), mqtt: Number(o.mqttPort) };
  const portsOf = (i: number): SimNode['ports'] => (o.autoPorts ? { http: ports[3 * i]!, peer: ports[3 * i + 1]!, mqtt: ports[3 * i + 2]! } : { http: base.http + i, peer: base.peer + i, mqtt: base.mqtt + i });

  const nodes: SimNode[] = [];
  let failing: string | undefined;
  let stopping = false;
  const allExited = (): boolean => nodes.every((n) => n.exited);

  for (let i = 0; i < count; i++) {
    const id = `robot-${i + 1}`;
    const p = portsOf(i);
    const peers = Array.from({ length: count }, (_, k) => k)
      .filter((k) => k !== i)
      .map((k) => `127.0.0.1:${portsOf(k).peer}`);
    const args = [
      MAIN,
      'start',
      '--config',
      configFile,
      '--node-id',
      id,
      '--data-dir',
      path.join(dir, id),
      '--http-host',
      '127.0.0.1',
      '--http-port',
      String(p.http),
      '--peer-host',
      '127.0.0.1',
      '--peer-port',
      String(p.peer),
      '--mqtt-host',
      '127.0.0.1',
      '--mqtt-port',
      String(p.mqtt),
      ...(peers.length ? ['--peers', peers.join(',')] : []),
    ];
    const log = fs.openSync(path.join(dir, `${id}.log`), 'a');
    // Its own process group: a terminal's Ctrl-C reaches the sim only, which then stops each node once, cleanly.
    const child = spawn(process.execPath, args, { stdio: ['ignore', log, log], detached: true, env: { ...process.env, FLEETKV_LOG_PRETTY: '0' } });
    fs.closeSync(log);
    const node: SimNode = { id, ports: p, child, url: `http://127.0.0.1:${p.http}` };
    child.once('exit', (code, signal) => {
      node.exited = { code, signal };
      if (!stopping) failing ??= `${id} exited (${code ?? signal}) while the fleet ran; see ${path.join(dir, `${id}.log`)}`;
    });
    nodes.push(node);
  }
  // If the sim itself dies, do not leave the nodes behind.
  const killAll = (): void => {
    for (const n of nodes) if (!n.exited) n.child.kill('SIGKILL');
  };
  process.once('exit', killAll);

  let stopRequested: (() => void) | undefined;
  const stopSignal = new Promise<void>((resolve) => (stopRequested = resolve));
  const onSignal = (): void => stopRequested?.();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const workload = new Workload(nodes, rate);
  let exitCode = 0;
  try {
    await waitUntilReady(nodes, () => failing, stopSignal);
    say(
      [
        `fleetkv sim: ${count} robots on 127.0.0.1 (data and logs in ${dir}${removeAtExit ? '; removed when the sim stops cleanly, --keep keeps them' : ''})`,
        ...nodes.map((n) => `  ${n.id.padEnd(10)} http ${n.ports.http}  peer ${n.ports.peer}  mqtt ${n.ports.mqtt}`),
        '',
        'Watch it:',
        `  open ${nodes[0]!.url}/ui/ (the fleet page)`,
        `  FLEETKV_URL=${nodes[0]!.url} fleetkv robots`,
        `  mosquitto_sub -h 127.0.0.1 -p ${nodes[0]!.ports.mqtt} -t 'fleet/state/robots/+/pose' -v`,
        `  FLEETKV_URL=${nodes[0]!.url} fleetkv status`,
        'Ctrl-C stops the fleet.',
      ].join('\n'),
      { event: 'sim-ready', dir, removeAtExit, nodes: nodes.map((n) => ({ id: n.id, url: n.url, pid: n.child.pid, ports: n.ports })) },
    );
    workload.start();
    const durationDone = duration === undefined ? new Promise<void>(() => {}) : new Promise<void>((r) => setTimeout(r, duration * 1000).unref());
    const stats = setInterval(() => {
      const s = workload.takeStats();
      say(`writes ${s.writes} in ${s.seconds.toFixed(1)} s (${Math.round(s.writes / s.seconds)}/s), errors ${s.errors}${s.lastError ? ` (last: ${s.lastError})` : ''}`, { event: 'sim-stats', ...s });
    }, 5000);
    stats.unref();
    const failed = new Promise<void>((resolve) => {
      const t = setInterval(() => failing && (clearInterval(t), resolve()), 100);
      t.unref();
    });
    await Promise.race([
      stopSignal,
      failed,
      durationDone.then(async () => {
        await workload.stop();
        say('workload done; the nodes keep running (Ctrl-C stops them)', { event: 'sim-workload-done' });
        await Promise.race([stopSignal, failed]);
      }),
    ]);
    clearInterval(stats);
  } catch (err) {
    failing ??= (err as Error).message;
  }

  stopping = true;
  await workload.stop();
  for (const n of nodes) if (!n.exited) n.child.kill('SIGTERM');
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (!allExited() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  killAll();
  while (!allExited()) await new Promise((r) => setTimeout(r, 20));
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  process.off('exit', killAll);

  const unclean = nodes.filter((n) => n.exited!.code !== 0);
  if (failing) {
    process.stderr.write(`fleetkv sim: ${failing}\n`);
    exitCode = 1;
  }
  if (unclean.length > 0) exitCode = 1;
  const keep = !removeAtExit || exitCode !== 0;
  if (!keep) fs.rmSync(dir, { recursive: true, force: true });
  say(`stopped ${count} nodes${unclean.length ? `; not cleanly: ${unclean.map((n) => `${n.id} (${n.exited!.code ?? n.exited!.signal})`).join(', ')}` : ' cleanly'}${keep ? `; files kept in ${dir}` : ''}`, {
    event: 'sim-stopped',
    clean: exitCode === 0,
    exits: Object.fromEntries(nodes.map((n) => [n.id, n.exited!.code ?? n.exited!.signal])),
    kept: keep ? dir : null,
  });
  return exitCode;
}

async function waitUntilReady(nodes: SimNode[], failing: () => string | undefined, stop: Promise<void>): Promise<void> {
  let stopped = false;
  void stop.then(() => (stopped = true));
  const deadline = Date.now() + 60_000;
  const pending = new Set(nodes);
  while (pending.size > 0) {
    const f = failing();
    if (f) throw new Error(f);
    if (stopped) throw new Error('stopped before the fleet was ready');
    if (Date.now() > deadline) throw new Error(`nodes not ready after 60 s: ${[...pending].map((n) => n.id).join(', ')}`);
    for (const n of [...pending]) {
      const ok = await fetch(`${n.url}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) pending.delete(n);
    }
    if (pending.size > 0) await new Promise((r) => setTimeout(r, 100));
  }
}

interface Mission {
  id: string;
  robot: number;
  goal: { x: number; y: number };
  state: 'assigned' | 'active' | 'done';
  since: number;
}

/** The simulated robots: each writes to its own node, as on a real robot. */
class Workload {
  private timers: NodeJS.Timeout[] = [];
  private inFlight = new Set<Promise<void>>();
  private busyPose = new Set<number>();
  private missions: Mission[] = [];
  private missionNo = 0;
  private t0 = Date.now();
  private writes = 0;
  private errors = 0;
  private lastError: string | undefined;
  private statsSince = Date.now();
  /** The mission document each robot wrote last, to write it only when it changes. */
  private lastMission = new Map<number, string>();

  constructor(
    private readonly nodes: SimNode[],
    private readonly rate: number,
  ) {}

  start(): void {
    this.timers.push(setInterval(() => this.poses(), Math.round(1000 / this.rate)));
    this.timers.push(setInterval(() => this.statuses(), 1000));
    this.timers.push(setInterval(() => this.dispatch(), 5000));
    this.statuses();
    this.dispatch();
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await Promise.allSettled([...this.inFlight]);
  }

  takeStats(): { writes: number; errors: number; seconds: number; lastError?: string } {
    const now = Date.now();
    const s = { writes: this.writes, errors: this.errors, seconds: (now - this.statsSince) / 1000, ...(this.lastError ? { lastError: this.lastError } : {}) };
    this.writes = 0;
    this.errors = 0;
    this.lastError = undefined;
    this.statsSince = now;
    return s;
  }

  private put(i: number, key: string, value: unknown, ttl?: string): Promise<void> {
    const body = Buffer.isBuffer(value) ? value : JSON.stringify(value);
    const p = fetch(`${this.nodes[i]!.url}/v1/kv/${key}${ttl === undefined ? '' : `?ttl=${ttl}`}`, { method: 'PUT', body }).then(
      async (r) => {
        await r.arrayBuffer();
        if (r.ok) this.writes++;
        else {
          this.errors++;
          this.lastError = `${key}: HTTP ${r.status}`;
        }
      },
      (err: unknown) => {
        this.errors++;
        this.lastError = `${key}: ${(err as Error).message}`;
      },
    );
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
    return p;
  }

  /** Each robot drives its own loop; a pose still in flight skips the next one (no pile-up). */
  private poses(): void {
    const t = (Date.now() - this.t0) / 1000;
    this.nodes.forEach((n, i) => {
      if (this.busyPose.has(i)) return;
      this.busyPose.add(i);
      const phase = (2 * Math.PI * i) / this.nodes.length;
      // A figure-of-eight per robot; yaw is the direction of travel (the path's derivative).
      const [a, b] = [t / 10 + phase, t / 5 + phase];
      const pose: Pose = { x: +(10 * Math.cos(a)).toFixed(3), y: +(5 * Math.sin(b)).toFixed(3), yaw: +Math.atan2(Math.cos(b), -Math.sin(a)).toFixed(3), map: SIM_MAP };
      void this.put(i, robotKey(n.id, 'pose'), encodeField('pose', pose), HEARTBEAT_TTL).finally(() => this.busyPose.delete(i));
    });
  }

  /** Once a second each robot writes its status and battery (docs/robots.md), and its mission when it changes. */
  private statuses(): void {
    const now = Date.now();
    this.nodes.forEach((n, i) => {
      const m = this.missions.find((x) => x.robot === i && x.state !== 'done');
      if (m && m.state === 'assigned') this.advance(m, 'active');
      else if (m && now - m.since > 10_000) this.advance(m, 'done');
      const current = this.missions.find((x) => x.robot === i && x.state !== 'done');
      const battery = +(1 - (((now - this.t0) / 1000 / 6 + i * 7) % 80) / 100).toFixed(3);
      const status: RobotStatus = current ? 'moving' : battery < 0.3 ? 'charging' : 'idle';
      // The heartbeat: status (every second) and pose expire HEARTBEAT_TTL after a robot stops writing them.
      void this.put(i, robotKey(n.id, 'status'), encodeField('status', status), HEARTBEAT_TTL);
      void this.put(i, robotKey(n.id, 'battery'), encodeField('battery', battery));
      const mission = current ? { id: current.id, state: current.state, goal: current.goal } : null;
      const text = JSON.stringify(mission);
      if (this.lastMission.get(i) !== text) {
        this.lastMission.set(i, text);
        void this.put(i, robotKey(n.id, 'mission'), encodeField('mission', mission));
      }
    });
  }

  /** robot-1 plays dispatcher: a new mission for an idle robot every 5 s. */
  private dispatch(): void {
    const busy = new Set(this.missions.filter((m) => m.state !== 'done').map((m) => m.robot));
    const idle = this.nodes.map((_, i) => i).filter((i) => !busy.has(i));
    if (idle.length === 0) return;
    const robot = idle[this.missionNo % idle.length]!;
    const m: Mission = { id: `m-${++this.missionNo}`, robot, goal: { x: Math.round(Math.random() * 20 - 10), y: Math.round(Math.random() * 10 - 5) }, state: 'assigned', since: Date.now() };
    this.missions = this.missions.filter((x) => x.state !== 'done' || Date.now() - x.since < 60_000);
    this.missions.push(m);
    void this.put(0, `missions/${m.id}`, this.missionJson(m));
  }

  /** The assigned robot updates its mission on its own node: the fleet sees the newest state (LWW). */
  private advance(m: Mission, state: Mission['state']): void {
    m.state = state;
    m.since = Date.now();
    void this.put(m.robot, `missions/${m.id}`, this.missionJson(m));
  }

  private missionJson(m: Mission): Record<string, unknown> {
    return { id: m.id, assignedTo: this.nodes[m.robot]!.id, goal: m.goal, state: m.state, ts: Date.now() };
  }
}
