/**
 * A 3-node nats-server (JetStream) cluster on 127.0.0.1 for the P3 reference:
 * client and cluster ports picked at run time, config files and JetStream
 * stores in a temp dir removed by stop(). Debian's nats-server is installed
 * with apt-get by the bench when missing (ensureDebian in tools.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { freePort } from '../../test/helpers/mosquitto.js';
import { sleep } from './tools.js';

export interface NatsCluster {
  /** Client ports, one per server. */
  ports: number[];
  connect(i: number): Promise<NatsConnection>;
  stop(): Promise<void>;
}

export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetkv-bench-nats-'));
  const ports: number[] = [];
  const routes: number[] = [];
  for (let i = 0; i < size; i++) {
    ports.push(await freePort());
    routes.push(await freePort());
  }
  const procs: ChildProcess[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(procs.map((p) => new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r(null) : (p.once('exit', r), p.kill('SIGTERM'))))));
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < size; i++) {
      const conf = path.join(dir, `n${i}.conf`);
      const others = routes.filter((_, j) => j !== i).map((p) => `nats-route://127.0.0.1:${p}`);
      fs.writeFileSync(conf, `server_name: n${i}\nlisten: 127.0.0.1:${ports[i]}\njetstream { store_dir: "${path.join(dir, `js${i}`)}" }\n` + `cluster { name: bench\nlisten: 127.0.0.1:${routes[i]}\nroutes: [${others.join(', ')}] }\n`);
      procs.push(spawn('nats-server', ['-c', conf], { stdio: 'ignore' }));
    }
    // Up when JetStream answers on every server with the cluster formed (a meta leader elected).
    const t0 = performance.now();
    for (;;) {
      if (procs.some((p) => p.exitCode !== null)) throw new Error('a nats-server exited at start');
      const ok = await jetStreamReady(ports[0]!).catch(() => false);
      if (ok) break;
      if (performance.now() - t0 > 30_000) throw new Error('nats cluster not ready in 30 s');
      await sleep(100);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { ports, connect: (i) => connect({ servers: `127.0.0.1:${ports[i]}`, noEcho: true }), stop };
}

async function jetStreamReady(port: number): Promise<boolean> {
  const nc = await connect({ servers: `127.0.0.1:${port}`, reconnect: false, timeout: 1000 });
  try {
    const r = await nc.request('$JS.API.INFO', '', { timeout: 1000 });
    const info = r.json<{ error?: unknown; cluster?: unknown }>();
    return info.error === undefined;
  } finally {
    await nc.close();
  }
}
