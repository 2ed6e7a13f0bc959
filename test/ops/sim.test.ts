import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, waitFor } from '../helpers/proc.js';

interface SimNodeInfo {
  id: string;
  url: string;
  pid: number;
  ports: { http: number; peer: number; mqtt: number };
}

/** `fleetkv sim` as a child process, its JSON lines collected. */
class Sim {
  events: Record<string, any>[] = [];
  stderr = '';
  exitCode: number | null | undefined;
  readonly child: ChildProcess;
  private readonly exited: Promise<void>;

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [CLI, 'sim', '--auto-ports', '--json', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    this.child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        this.events.push(JSON.parse(buf.slice(0, i)) as Record<string, any>);
        buf = buf.slice(i + 1);
      }
    });
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => ((this.exitCode = code), resolve())));
  }

  event(name: string): Record<string, any> | undefined {
    return this.events.find((e) => e.event === name);
  }

  async ready(): Promise<{ dir: string; nodes: SimNodeInfo[] }> {
    return (await waitFor(
      () => {
        if (this.exitCode !== undefined) throw new Error(`sim exited ${this.exitCode}: ${this.stderr}`);
        return this.event('sim-ready');
      },
      'sim-ready',
      60_000,
    )) as { dir: string; nodes: SimNodeInfo[] };
  }

  async exit(): Promise<number | null | undefined> {
    await this.exited;
    return this.exitCode;
  }

  async interrupt(): Promise<number | null | undefined> {
    if (this.exitCode === undefined) this.child.kill('SIGINT');
    await this.exited;
    return this.exitCode;
  }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function listing(url: string): Promise<string> {
  const r = (await (await fetch(`${url}/v1/kv?prefix=`)).json()) as { entries: unknown[] };
  return JSON.stringify(r.entries);
}

describe('fleetkv sim', () => {
  const sims: Sim[] = [];
  afterEach(async () => {
    for (const s of sims.splice(0)) await s.interrupt();
  });

  it('--nodes 3 starts three nodes with a robot workload and stops them all cleanly on SIGINT', async () => {
    const sim = new Sim(['--nodes', '3']);
    sims.push(sim);
    const ready = await sim.ready();
    const { dir, nodes } = ready;
    expect(ready).toMatchObject({ removeAtExit: true });
    expect(nodes.map((n) => n.id)).toEqual(['robot-1', 'robot-2', 'robot-3']);
    expect(new Set(nodes.flatMap((n) => [n.ports.http, n.ports.peer, n.ports.mqtt])).size).toBe(9);
    for (const n of nodes) {
      const st = (await (await fetch(`${n.url}/v1/status`)).json()) as { nodeId: string; fleetId: string };
      expect(st).toMatchObject({ nodeId: n.id, fleetId: 'sim' });
      // Each robot's pose lands on its own node and keeps moving (10 Hz).
      const seqOf = async (): Promise<number> => {
        const r = await fetch(`${n.url}/v1/kv/robots/${n.id}/pose`);
        return r.ok ? Number(r.headers.get('x-fleetkv-seq')) : 0;
      };
      const first = await waitFor(seqOf, `a pose on ${n.id}`);
      await waitFor(async () => (await seqOf()) > first + 3, `${n.id} pose updates`);
      // The robot model (docs/robots.md): every document valid, merged by /v1/robots.
      const poseRes = await fetch(`${n.url}/v1/kv/robots/${n.id}/pose`);
      // The heartbeat keys expire (docs/robots.md): a robot that stops disappears from the map.
      expect(poseRes.headers.get('x-fleetkv-expires')).toMatch(/^\d{4}-/);
      const pose = JSON.parse(await poseRes.text()) as Record<string, number>;
      expect(Object.keys(pose).sort()).toEqual(['map', 'x', 'y', 'yaw']);
      const robot = await waitFor(async () => {
        const r = (await (await fetch(`${n.url}/v1/robots/${n.id}`)).json()) as Record<string, any>;
        return r.status !== null && r.battery !== null ? r : undefined;
      }, `${n.id}'s status and battery`);
      expect(robot).toMatchObject({ id: n.id, node: n.id, online: true, problems: [], pose: { map: 'sim' } });
      expect(['idle', 'moving', 'charging']).toContain(robot.status);
      expect(robot.battery).toBeGreaterThanOrEqual(0);
      expect(robot.battery).toBeLessThanOrEqual(1);
    }
    await waitFor(async () => (await fetch(`${nodes[0]!.url}/v1/kv/missions/m-1`)).ok, 'the first mission on robot-1 (the dispatcher)');

    expect(await sim.interrupt()).toBe(0);
    expect(sim.event('sim-stopped')).toMatchObject({ clean: true, exits: { 'robot-1': 0, 'robot-2': 0, 'robot-3': 0 }, kept: null });
    for (const n of nodes) expect(alive(n.pid), n.id).toBe(false);
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('refuses a bad --nodes with a clear message', async () => {
    const sim = new Sim(['--nodes', 'lots']);
    expect(await sim.exit()).toBe(64);
    expect(sim.stderr).toContain('[USAGE]');
    expect(sim.stderr).toContain('--nodes must be an integer from 1 to 50, not "lots"');
  });

  // Convergence needs replication (issue 3): this runs once src/replication/ exists.
  it('--nodes 3 converges: after the workload stops, every node holds the same entries', async () => {
    const sim = new Sim(['--nodes', '3', '--duration', '3']);
    sims.push(sim);
    const { nodes } = await sim.ready();
    await waitFor(() => sim.event('sim-workload-done'), 'the workload to finish', 30_000);
    await waitFor(
      async () => {
        const all = await Promise.all(nodes.map((n) => listing(n.url)));
        return all.every((l) => l === all[0]) && nodes.every((n) => all[0]!.includes(`robots/${n.id}/pose`));
      },
      "three equal replicas holding every robot's pose",
      30_000,
    );
    expect(await sim.interrupt()).toBe(0);
  });

  // Watching the fleet over MQTT needs the broker (issue 4) and replication (issue 3).
  it("a newcomer watches every robot's pose with mosquitto_sub on robot-1's broker", async () => {
    const sim = new Sim(['--nodes', '3']);
    sims.push(sim);
    const { nodes } = await sim.ready();
    const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(nodes[0]!.ports.mqtt), '-t', 'fleet/state/robots/+/pose', '-v'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const seen = new Set<string>();
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`poses seen only from ${[...seen].join(', ')}`)), 30_000);
        readline.createInterface({ input: sub.stdout! }).on('line', (line) => {
          const m = /^fleet\/state\/robots\/([^/]+)\/pose (\{.*\})$/.exec(line);
          if (m && typeof (JSON.parse(m[2]!) as { x?: unknown }).x === 'number') seen.add(m[1]!);
          if (seen.size === 3) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
    } finally {
      sub.kill('SIGTERM');
    }
    expect([...seen].sort()).toEqual(['robot-1', 'robot-2', 'robot-3']);
    expect(await sim.interrupt()).toBe(0);
  });
});
