/**
 * Reference systems for the issue 10 benchmarks: Redis (Debian's
 * redis-server, installed with apt-get when missing), wrk, and the bare Node
 * server of bare-server.ts. Everything listens on 127.0.0.1 on a port picked
 * at run time and is stopped by the bench that started it.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort } from '../../test/helpers/mosquitto.js';

/** apt-get install the Debian packages whose binaries are missing; false when that fails. */
export function ensureDebian(binary: string, pkg: string): boolean {
  if (spawnSync('sh', ['-c', `command -v ${binary}`]).status === 0) return true;
  console.error(`bench: ${binary} missing, installing Debian package ${pkg}`);
  const r = spawnSync('apt-get', ['install', '-y', pkg], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) spawnSync('apt-get', ['update'], { stdio: 'ignore' });
  return spawnSync('apt-get', ['install', '-y', pkg], { stdio: ['ignore', 'ignore', 'inherit'] }).status === 0;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function redisCli(port: number, ...args: string[]): string {
  const r = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8' });
  return (r.stdout ?? '').trim();
}

export class Redis {
  private child: ChildProcess | undefined;
  port = 0;
  /** CPU time (user + system) redis-server had used when it first answered PING (Linux /proc; NaN elsewhere). */
  startCpuMs = Number.NaN;
  constructor(
    private readonly dir: string,
    private readonly extra: string[],
  ) {}

  /** Start and wait until it answers PING (after loading its data); returns the ms from spawn. */
  async start(): Promise<number> {
    this.port = await freePort();
    const t0 = performance.now();
    this.child = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(this.port), '--dir', this.dir, '--save', '', '--daemonize', 'no', '--protected-mode', 'yes', '--logfile', path.join(this.dir, 'redis.log'), ...this.extra], {
      stdio: 'ignore',
    });
    for (;;) {
      if (this.child.exitCode !== null) throw new Error(`redis-server exited: ${fs.readFileSync(path.join(this.dir, 'redis.log'), 'utf8').slice(-2000)}`);
      if (redisCli(this.port, 'ping') === 'PONG') {
        const ms = performance.now() - t0;
        this.startCpuMs = procCpuMs(this.child.pid);
        return ms;
      }
      if (performance.now() - t0 > 120_000) throw new Error('redis-server did not answer PING in 120 s');
      await sleep(5);
    }
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  cli(...args: string[]): string {
    return redisCli(this.port, ...args);
  }

  /** Stop it; `save` false drops nothing on disk but writes nothing more either. */
  async stop(): Promise<void> {
    if (!this.child || this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child!.once('exit', r));
    this.cli('shutdown', 'nosave');
    await Promise.race([exited, sleep(10_000)]);
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/** CPU time of a process from /proc/<pid>/stat (utime + stime, in clock ticks of 10 ms). */
export function procCpuMs(pid: number | undefined): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

/** redis-benchmark SET with `conns` connections and `bytes` values; SET/s. */
export function redisBenchmarkSet(port: number, conns: number, requests: number, bytes: number): number {
  const out = execFileSync('redis-benchmark', ['-h', '127.0.0.1', '-p', String(port), '-t', 'set', '-c', String(conns), '-n', String(requests), '-d', String(bytes), '-r', '100000', '--csv'], { encoding: 'utf8' });
  const line = out.split('\n').find((l) => l.startsWith('"SET"'));
  if (!line) throw new Error(`redis-benchmark printed no SET line: ${out}`);
  return Number(JSON.parse(`[${line}]`)[1]);
}

/** wrk PUT load on `/v1/kv/bench/k<n % 1000>` (or any path for the bare server), `bytes` bodies; requests/s of 2xx answers. */
export function wrkPut(dir: string, port: number, conns: number, seconds: number, bytes: number): { perSec: number; errors: number; p50Ms: number; p99Ms: number } {
  const script = path.join(dir, 'put.lua');
  fs.writeFileSync(
    script,
    `local n = 0\nlocal body = string.rep("v", ${bytes})\nrequest = function()\n  n = n + 1\n  return wrk.format("PUT", "/v1/kv/bench/k" .. (n % 1000), {["Content-Length"] = "${bytes}"}, body)\nend\n` +
      `done = function(summary, latency, requests)\n  io.write(string.format("JSON {\\"p50\\":%f,\\"p99\\":%f,\\"non2xx\\":%d}\\n", latency:percentile(50)/1000, latency:percentile(99)/1000, summary.errors.status))\nend\n`,
  );
  const out = execFileSync('wrk', ['-t', '2', '-c', String(conns), '-d', `${seconds}s`, '-s', script, `http://127.0.0.1:${port}`], { encoding: 'utf8' });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const j = JSON.parse(/JSON (\{.*\})/.exec(out)?.[1] ?? '{}') as { p50: number; p99: number; non2xx: number };
  return { perSec: rps, errors: j.non2xx, p50Ms: j.p50, p99Ms: j.p99 };
}

/** The bare Node group-fsync server (bare-server.ts) in its own process. */
export async function startBareServer(file: string): Promise<{ port: number; pid: number | undefined; stop: () => Promise<void> }> {
  const here = path.dirname(new URL(import.meta.url).pathname);
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'bare-server.ts'), file], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /"port":(\d+)/.exec(buf);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (c) => reject(new Error(`bare server exited ${c}`)));
  });
  return {
    port,
    pid: child.pid,
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A RESP file of `n` SETs of keys key/NNNNNNN to `bytes`-byte values, for redis-cli --pipe. */
export function respSets(file: string, n: number, bytes: number): void {
  const fd = fs.openSync(file, 'w');
  const value = 'v'.repeat(bytes);
  let chunk: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = `key/${String(i).padStart(7, '0')}`;
    chunk.push(`*3\r\n$3\r\nSET\r\n$${k.length}\r\n${k}\r\n$${bytes}\r\n${value}\r\n`);
    if (chunk.length === 10_000) {
      fs.writeSync(fd, chunk.join(''));
      chunk = [];
    }
  }
  fs.writeSync(fd, chunk.join(''));
  fs.closeSync(fd);
}

export function redisPipe(port: number, file: string): void {
  execFileSync('sh', ['-c', `redis-cli -h 127.0.0.1 -p ${port} --pipe < '${file}'`], { stdio: 'ignore' });
}
