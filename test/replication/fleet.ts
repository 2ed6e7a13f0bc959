/**
 * Shared helpers of the replication tests: nodes with fast replication
 * timers, whole-state reads, convergence waits and the outcome check
 * (FACTS: Jepsen "set-full": unique values, every write's outcome recorded).
 */
import { expect } from 'vitest';
import { check, type WriteOp } from '../helpers/checker.js';
import { NodeProc, tempDir, waitFor } from '../helpers/proc.js';

export const FAST_ENV: Record<string, string> = {
  FLEETKV_MQTT_ENABLED: 'false',
  FLEETKV_REPLICATION_ANTI_ENTROPY_INTERVAL: '100ms',
  FLEETKV_REPLICATION_IDLE_TIMEOUT: '3s',
  FLEETKV_REPLICATION_HANDSHAKE_TIMEOUT: '2s',
  FLEETKV_REPLICATION_REDIAL_MIN: '50ms',
  FLEETKV_REPLICATION_REDIAL_MAX: '400ms',
  // No status-record heartbeats: these tests count entries and compare whole states (presence tests turn it on).
  FLEETKV_PRESENCE_ENABLED: 'false',
};

export interface StartOptions {
  peers?: string[];
  env?: Record<string, string>;
  dataDir?: string;
}

export async function startNode(nodeId: string, opts: StartOptions = {}): Promise<NodeProc> {
  const env = { ...FAST_ENV, ...(opts.peers ? { FLEETKV_PEERS: opts.peers.join(',') } : {}), ...opts.env };
  return new NodeProc({ nodeId, dataDir: opts.dataDir ?? tempDir(), env }).start();
}

/** Restart a (stopped or killed) node on the same data dir, same env. */
export async function restart(n: NodeProc): Promise<NodeProc> {
  return new NodeProc(n.opts).start();
}

export function peerAddress(n: NodeProc): string {
  return `127.0.0.1:${n.ports.peer}`;
}

export interface KvEntry {
  key: string;
  value?: string;
  origin: string;
  inc: number;
  seq: number;
  hlc: string;
}

/** Every live key of a node. */
export async function readState(n: NodeProc): Promise<Map<string, KvEntry>> {
  return new Map((await n.listAll<KvEntry>()).map((e) => [e.key, e]));
}

function fingerprint(s: Map<string, KvEntry>): string {
  return JSON.stringify([...s.values()].map((e) => [e.key, e.value, e.origin, e.inc, e.seq, e.hlc]));
}

/** Wait until every node holds the same state; returns it. */
export async function waitConverged(nodes: NodeProc[], timeoutMs = 20_000): Promise<Map<string, KvEntry>> {
  let last: Map<string, KvEntry> | undefined;
  await waitFor(
    async () => {
      const states = await Promise.all(nodes.map(readState));
      last = states[0];
      return states.every((s) => fingerprint(s) === fingerprint(states[0]!));
    },
    `${nodes.map((n) => n.opts.nodeId).join(', ')} to converge`,
    timeoutMs,
    50,
  );
  return last!;
}

/** A write's outcome with its timing (test/helpers/checker.ts) and the hlc/origin its node answered. */
export interface WriteRecord extends WriteOp {
  hlc?: bigint;
  origin?: string;
}

/** A write not answered in this time has outcome 'unknown' (a crashed node, a hung request). */
const WRITE_TIMEOUT_MS = 10_000;

/** Writes with unique values and their outcomes. */
export class History {
  readonly writes: WriteRecord[] = [];
  private n = 0;

  async put(node: NodeProc, key: string): Promise<WriteRecord> {
    const value = `${node.opts.nodeId}-${++this.n}`;
    return this.record(node, key, value, () => node.fetch(`/v1/kv/${key}`, { method: 'PUT', body: value, signal: AbortSignal.timeout(WRITE_TIMEOUT_MS) }));
  }

  async del(node: NodeProc, key: string): Promise<WriteRecord> {
    return this.record(node, key, undefined, () => node.fetch(`/v1/kv/${key}`, { method: 'DELETE', signal: AbortSignal.timeout(WRITE_TIMEOUT_MS) }));
  }

  private async record(node: NodeProc, key: string, value: string | undefined, send: () => Promise<Response>): Promise<WriteRecord> {
    const w: WriteRecord = { node: node.opts.nodeId, key, value, outcome: 'unknown', start: performance.now(), end: Infinity };
    this.writes.push(w);
    try {
      const r = await send();
      if (r.status === 200) {
        const body = (await r.json()) as { hlc: string; origin: string };
        w.outcome = 'ok';
        w.hlc = BigInt(body.hlc);
        w.origin = body.origin;
      } else w.outcome = 'failed';
    } catch {
      w.outcome = 'unknown';
    }
    w.end = performance.now();
    return w;
  }

  /**
   * The shared checker (test/helpers/checker.ts): no acknowledged write lost
   * (put or delete) unless something that could order after it replaced it,
   * and every final value was really written. Also: each surviving value's
   * hlc is not older than any acknowledged write it replaced (LWW by hlc).
   */
  check(final: Map<string, KvEntry>): { acknowledged: number } {
    const touched = new Set(this.writes.map((w) => w.key));
    const state = new Map([...final.values()].filter((e) => touched.has(e.key)).map((e) => [e.key, e.value ?? '']));
    const report = check(this.writes, { final: state });
    expect(report.phantom, report.examples.join('\n')).toBe(0);
    expect(report.lost, report.examples.join('\n')).toBe(0);
    for (const w of this.writes) {
      const cur = final.get(w.key);
      if (w.outcome !== 'ok' || !cur || cur.value === w.value || w.hlc === undefined) continue;
      expect(BigInt(cur.hlc) > w.hlc || (BigInt(cur.hlc) === w.hlc && cur.origin > w.origin!), `final ${w.key} is older than acknowledged ${String(w.value)}`).toBe(true);
    }
    return { acknowledged: report.acknowledged };
  }
}

/** A counter from a node's /metrics (summed over label sets matching `labels`). */
export async function metric(n: NodeProc, name: string, labels = ''): Promise<number> {
  const text = await (await n.fetch('/metrics')).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^(\w+)(\{[^}]*\})?\s+([0-9.e+-]+)$/.exec(line);
    if (!m || m[1] !== name || (labels && !(m[2] ?? '').includes(labels))) continue;
    sum += Number(m[3]);
  }
  return sum;
}

export async function stopAll(nodes: (NodeProc | undefined)[]): Promise<void> {
  await Promise.all(nodes.map((n) => n?.stop().catch(() => {})));
}
