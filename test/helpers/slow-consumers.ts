import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import mqttPacket from 'mqtt-packet';
import { afterEach } from 'vitest';
import type { NodeProc } from './proc.js';

/**
 * Load and probes for slow-consumer tests (issue 9 items 1-2): a writer at a
 * fixed rate, clients that stop reading their socket, a /healthz poller and
 * the node's RSS.
 */

/** PUT `rate` writes a second over HTTP (keys cycling over `keys`, `valueBytes` each) until stop(); counts the ok ones. */
/** The slow-consumer tests' load: writes/s, and its length (FLEETKV_SLOW_CONSUMER_SECONDS=120 runs the long variant). */
export const SLOW_CONSUMER_RATE = 1000;
export const SLOW_CONSUMER_SECONDS = Number(process.env.FLEETKV_SLOW_CONSUMER_SECONDS ?? 20);

export function writeLoad(url: string, opts: { rate: number; keys?: number; valueBytes?: number; prefix?: string }): { stop(): Promise<void>; ok: () => number; failed: () => number } {
  const keys = opts.keys ?? 500;
  const value = 'v'.repeat(opts.valueBytes ?? 100);
  const prefix = opts.prefix ?? 'load/k';
  let ok = 0;
  let failed = 0;
  let sent = 0;
  let stopped = false;
  const inFlight = new Set<Promise<void>>();
  const t0 = Date.now();
  const tick = setInterval(() => {
    const due = Math.floor(((Date.now() - t0) / 1000) * opts.rate);
    // At most 200 requests in flight: the writer itself must not pile up without bound.
    while (sent < due && inFlight.size < 200 && !stopped) {
      const i = sent++;
      const p = fetch(`${url}/v1/kv/${prefix}${i % keys}`, { method: 'PUT', body: `${value}${i}` }).then(
        async (r) => {
          await r.arrayBuffer();
          if (r.ok) ok++;
          else failed++;
        },
        () => {
          failed++;
        },
      );
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    }
  }, 10);
  return {
    ok: () => ok,
    failed: () => failed,
    async stop() {
      stopped = true;
      clearInterval(tick);
      await Promise.all(inFlight);
    },
  };
}

/**
 * GET /healthz every 200 ms with a 2 s timeout, from a process of its own (the
 * test's event loop, busy with its clients, must not delay the probe); records
 * answers that did not come in time (or at all).
 */
export function healthPoller(url: string): { stop(): Promise<{ polls: number; late: number; maxMs: number; lateAt: number[] }> } {
  const script = `
    let polls = 0, late = 0, maxMs = 0, stopped = false; const t0 = Date.now(); const lateAt = [];
    process.stdin.on('data', () => { stopped = true; });
    (async () => {
      while (!stopped) {
        const t = Date.now();
        try {
          const r = await fetch(${JSON.stringify(`${url}/healthz`)}, { signal: AbortSignal.timeout(2000) });
          await r.arrayBuffer();
          if (r.status !== 200) { late++; lateAt.push(t - t0); }
        } catch { late++; lateAt.push(t - t0); }
        polls++;
        maxMs = Math.max(maxMs, Date.now() - t);
        await new Promise((r) => setTimeout(r, 200));
      }
      process.stdout.write(JSON.stringify({ polls, late, maxMs, lateAt }));
      process.exit(0);
    })();`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    async stop() {
      child.stdin.end('stop\n');
      await exited;
      return JSON.parse(out) as { polls: number; late: number; maxMs: number; lateAt: number[] };
    },
  };
}

/** Resident set size of a process, in bytes (Linux /proc). */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** Sample a process's RSS every 250 ms; `max()` is the largest seen. */
export function rssSampler(pid: number): { max(): number; stop(): void } {
  let max = 0;
  const sample = (): void => {
    try {
      max = Math.max(max, rssBytes(pid));
    } catch {
      /* the process is gone: the test sees that itself */
    }
  };
  sample();
  const t = setInterval(sample, 250);
  return { max: () => max, stop: () => clearInterval(t) };
}

/** A socket that sends `bytes` once connected and then never reads (its receive window fills, then the server's buffers). */
export async function stalledSocket(port: number, bytes: Buffer): Promise<net.Socket> {
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    s.once('connect', resolve);
    s.once('error', reject);
  });
  s.setNoDelay(true);
  s.write(bytes);
  s.pause();
  return s;
}

/** An MQTT client that subscribes to `filter` and stops reading its socket. */
export function stalledSubscriber(port: number, filter: string, clientId: string): Promise<net.Socket> {
  const connect = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive: 0 });
  const subscribe = mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos: 0 }] });
  return stalledSocket(port, Buffer.concat([connect, subscribe]));
}

/** An SSE watcher that sends its request and never reads the answer. */
export function stalledWatcher(port: number, path: string): Promise<net.Socket> {
  return stalledSocket(port, Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`));
}

/** True once the peer has closed the socket (a read would see EOF or reset). */
export function closedByPeer(s: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (s.destroyed || s.readableEnded) return resolve();
    s.once('close', () => resolve());
    s.once('end', () => resolve());
    s.resume(); // drain what is buffered so the FIN is seen
  });
}

/** Value of a counter (summed over label sets matching `labels`) in a Prometheus text page. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{[^}]*\})?\s+([0-9.eE+-]+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const lbl = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => lbl.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

export interface UnderLoad {
  /** 'ran', or why the node exited meanwhile. */
  ran: string;
  health: { polls: number; late: number; maxMs: number; lateAt: number[] };
  rss0: number;
  growthMb: number;
  ok: number;
  failed: number;
}

/**
 * Writes at `rate` for `seconds` while /healthz is polled and RSS sampled,
 * stopping early if the node exits; the figures the slow-consumer tests
 * assert on. `crash` picks the line of stderr that says why it died.
 */
export async function runUnderLoad(node: NodeProc, opts: { rate: number; seconds: number; valueBytes: number; crash?: RegExp }): Promise<UnderLoad> {
  const rss0 = rssBytes(node.pid);
  const rss = rssSampler(node.pid);
  const health = healthPoller(node.url);
  const load = writeLoad(node.url, { rate: opts.rate, valueBytes: opts.valueBytes });
  const died = node.waitExit().then(() => `node exited (${node.exitCode ?? node.exitSignal}): ${(opts.crash && opts.crash.exec(node.stderr)?.[0]) ?? node.stderr.slice(-400)}`);
  const ran = await Promise.race([new Promise((r) => setTimeout(r, opts.seconds * 1000)).then(() => 'ran'), died]);
  await load.stop();
  const h = await health.stop();
  rss.stop();
  return { ran, health: h, rss0, growthMb: (rss.max() - rss0) / 1e6, ok: load.ok(), failed: load.failed() };
}

/**
 * The setup of the slow-consumer tests: the node a test starts (set `node`)
 * and the stalled sockets it opens (push them), closed and stopped after
 * each test.
 */
export function slowConsumerFixture(): { node: NodeProc | undefined; sockets: net.Socket[] } {
  const f: { node: NodeProc | undefined; sockets: net.Socket[] } = { node: undefined, sockets: [] };
  afterEach(async () => {
    for (const s of f.sockets.splice(0)) s.destroy();
    await f.node?.stop();
    f.node = undefined;
  });
  return f;
}
