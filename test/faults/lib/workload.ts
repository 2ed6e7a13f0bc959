import http from 'node:http';
import type { NodeProc } from '../../helpers/proc.js';
import type { Outcome, WriteOp } from '../../helpers/checker.js';

export interface WorkloadOptions {
  /** Concurrent writers per node. */
  writersPerNode?: number;
  /** Keys shared by all nodes (conflicts across nodes are the point). */
  keys?: number;
  /** Per-request timeout: no answer by then = unknown outcome. */
  timeoutMs?: number;
  /** Pause between a writer's writes (ms), to pace the load. */
  pauseMs?: number;
  /** Node ids whose writers are paused from the start (see `paused`). */
  paused?: string[];
}

/**
 * Unique-valued writes on every node until stopped, recording each write's
 * outcome. A node that is down or frozen yields failed/unknown outcomes, not
 * an exception: the campaign goes on.
 */
export class Workload {
  readonly ops: WriteOp[] = [];
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly epoch = performance.now();
  private seq = 0;
  private agents = new Map<string, http.Agent>();
  /** Node ids whose writers hold off (e.g. while an operator repairs the node). */
  readonly paused: Set<string>;
  /**
   * Key space of new writes: bumped at each power cut, so writes after it go to
   * keys of their own and cannot replace (and so hide) a write the cut lost.
   */
  phase = 0;

  constructor(
    private readonly nodes: () => NodeProc[],
    private readonly opts: WorkloadOptions = {},
  ) {
    this.paused = new Set(opts.paused ?? []);
  }

  now(): number {
    return performance.now() - this.epoch;
  }

  start(): void {
    this.running = true;
    const writers = this.opts.writersPerNode ?? 2;
    for (const [i] of this.nodes().entries()) for (let w = 0; w < writers; w++) this.loops.push(this.loop(i, w));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.loops = [];
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
  }

  get acknowledged(): number {
    return this.ops.filter((o) => o.outcome === 'ok').length;
  }

  /** Writes acknowledged by one node, answered after `since` (workload time). */
  acknowledgedOn(nodeId: string, since = -Infinity): number {
    return this.ops.filter((o) => o.outcome === 'ok' && o.node === nodeId && o.end > since).length;
  }

  private async loop(index: number, writer: number): Promise<void> {
    const keys = this.opts.keys ?? 20;
    while (this.running) {
      const node = this.nodes()[index]!;
      if (this.paused.has(node.opts.nodeId)) {
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      const n = this.seq++;
      const key = `campaign/${this.phase > 0 ? `p${this.phase}/` : ''}k${n % keys}`;
      const value = `${node.opts.nodeId}-w${writer}-${n}`;
      const start = this.now();
      const { outcome, stamp } = await this.put(node, key, value);
      this.ops.push({ node: node.opts.nodeId, key, value, outcome, start, end: this.now(), ...(stamp ? { stamp } : {}) });
      if (outcome !== 'ok')
        await new Promise((r) => setTimeout(r, 20)); // a down node: do not spin
      else if (this.opts.pauseMs) await new Promise((r) => setTimeout(r, this.opts.pauseMs));
    }
  }

  /** One PUT: its outcome and, when acknowledged, the entry's stamp (origin:inc:seq) from the answer. */
  private put(node: NodeProc, key: string, value: string): Promise<{ outcome: Outcome; stamp?: string }> {
    const port = node.ports.http;
    if (port === undefined || node.exitCode !== undefined) return Promise.resolve({ outcome: 'failed' });
    let agent = this.agents.get(node.opts.nodeId);
    if (!agent) this.agents.set(node.opts.nodeId, (agent = new http.Agent({ keepAlive: true })));
    return new Promise((resolve) => {
      let sent = false;
      const req = http.request({ host: node.opts.httpHost ?? '127.0.0.1', port, path: `/v1/kv/${key}`, method: 'PUT', agent, timeout: this.opts.timeoutMs ?? 2000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => {
          if (res.statusCode !== 200) return resolve({ outcome: 'failed' });
          const r = JSON.parse(body) as { origin: string; inc: number; seq: number };
          resolve({ outcome: 'ok', stamp: `${r.origin}:${r.inc}:${r.seq}` });
        });
        res.on('error', () => resolve({ outcome: 'unknown' }));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      // Refused before the request left: failed. After it left: unknown (it may have been applied).
      req.on('error', (err: NodeJS.ErrnoException) => resolve({ outcome: !sent || err.code === 'ECONNREFUSED' ? 'failed' : 'unknown' }));
      req.on('finish', () => (sent = true));
      req.end(value);
    });
  }
}

/** A node's whole live state, key → value text. */
export async function readState(node: NodeProc, prefix = 'campaign/'): Promise<Map<string, string>> {
  const entries = await node.listAll<{ key: string; value: string }>(prefix);
  return new Map(entries.map((e) => [e.key, e.value]));
}
