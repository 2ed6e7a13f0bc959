import fs from 'node:fs';
import { NodeProc, tempDir, waitFor } from '../../helpers/proc.js';
import { FaultProxy } from '../../helpers/proxy.js';
import { FAST_ENV } from '../../replication/fleet.js';

export interface FleetOptions {
  size: number;
  env?: Record<string, string>;
  /** Per-node extra env (e.g. a faketime preload on one node). */
  nodeEnv?: (index: number) => Record<string, string>;
  /** Per-node command wrapper (nsenter, fiu-run, …). */
  wrap?: (index: number) => ((argv: string[]) => string[]) | undefined;
  /** Data dir of node i (default: a fresh temp dir). */
  dataDir?: (index: number) => string | undefined;
  /** Peers dial each other directly (no fault proxies): for nodes inside a network namespace. */
  direct?: boolean;
  /** Address the test reaches every node's HTTP API on (a namespace's veth address). */
  httpHost?: string;
  /** Which pairs are linked (default: every pair, a full mesh). */
  linked?: (i: number, j: number) => boolean;
  /** How long each node may take to be ready (default NodeProc's 20 s; large fleets on a loaded machine need more). */
  startTimeoutMs?: number;
}

/**
 * A fleet of real node processes on loopback, each pair joined through a
 * FaultProxy (i dials j through proxies[i][j] for i < j), so the campaign
 * can cut, blackhole or pause any link in either direction. Nodes restart on
 * their previous ports, so proxies and peers' addresses stay valid.
 */
export class Fleet {
  readonly nodes: NodeProc[] = [];
  readonly proxies = new Map<string, FaultProxy>();
  readonly dirs: string[] = [];

  constructor(readonly opts: FleetOptions) {}

  static async start(opts: FleetOptions): Promise<Fleet> {
    const f = new Fleet(opts);
    // Start from the last node: each node dials only nodes started before it.
    for (let i = opts.size - 1; i >= 0; i--) {
      const peers: string[] = [];
      for (let j = i + 1; j < opts.size; j++) {
        if (opts.linked && !opts.linked(i, j)) continue;
        if (opts.direct) {
          peers.push(`127.0.0.1:${f.nodes[j]!.ports.peer}`);
          continue;
        }
        const p = await new FaultProxy(f.nodes[j]!.ports.peer!).start();
        f.proxies.set(`${i}-${j}`, p);
        peers.push(p.address);
      }
      const dir = opts.dataDir?.(i) ?? tempDir(`fleetkv-fleet-n${i}-`);
      f.dirs[i] = dir;
      f.nodes[i] = await f.proc(i, { FLEETKV_PEERS: peers.join(',') }).start(opts.startTimeoutMs);
    }
    return f;
  }

  private proc(i: number, extra: Record<string, string>): NodeProc {
    const wrap = this.opts.wrap?.(i);
    return new NodeProc({
      nodeId: `n${i}`,
      dataDir: this.dirs[i]!,
      env: { ...FAST_ENV, ...this.opts.env, ...this.opts.nodeEnv?.(i), ...extra },
      ...(wrap ? { wrap } : {}),
      ...(this.opts.httpHost ? { httpHost: this.opts.httpHost } : {}),
    });
  }

  name(i: number): string {
    return `n${i}`;
  }

  /** Links touching node i. */
  linksOf(i: number): FaultProxy[] {
    return [...this.proxies.entries()].filter(([k]) => k.split('-').map(Number).includes(i)).map(([, p]) => p);
  }

  link(i: number, j: number): FaultProxy {
    const p = this.proxies.get(i < j ? `${i}-${j}` : `${j}-${i}`);
    if (!p) throw new Error(`no link between n${i} and n${j}`);
    return p;
  }

  isolate(i: number): void {
    for (const p of this.linksOf(i)) p.drop();
  }

  /** Traffic from i to j is lost; j to i still flows. */
  oneWay(i: number, j: number): void {
    this.link(i, j).set('blackhole', i < j ? 'up' : 'down');
  }

  heal(): void {
    for (const p of this.proxies.values()) p.pass();
  }

  /** Restart node i (after kill -9 or stop) on its previous ports. */
  async restart(i: number, extraEnv: Record<string, string> = {}): Promise<NodeProc> {
    const old = this.nodes[i]!;
    const fresh = this.proc(i, {
      ...(old.opts.env?.FLEETKV_PEERS !== undefined ? { FLEETKV_PEERS: old.opts.env.FLEETKV_PEERS } : {}),
      FLEETKV_PEER_PORT: String(old.ports.peer),
      FLEETKV_HTTP_PORT: String(old.ports.http),
      ...extraEnv,
    });
    // The old listener's port may be a moment from free after kill -9: retry only that.
    for (let attempt = 0; ; attempt++) {
      try {
        await fresh.start();
        break;
      } catch (err) {
        if (!/EADDRINUSE/.test(String(err)) || attempt >= 50) throw err;
        await waitFor(() => fresh.exitCode !== undefined, 'the failed start to exit');
      }
    }
    this.nodes[i] = fresh;
    return fresh;
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop().catch(() => {})));
    await Promise.all([...this.proxies.values()].map((p) => p.close()));
    for (const d of this.dirs) fs.rmSync(d, { recursive: true, force: true });
  }
}
