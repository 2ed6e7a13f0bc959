/**
 * A fleet of in-process nodes on an in-memory network, and random schedules
 * of writes, deletes, partitions, heals and restarts for property tests.
 */
import fc from 'fast-check';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/load.js';
import { FleetNode } from '../../src/node.js';
import { MemoryNetwork } from '../../src/replication/memory-transport.js';
import { ReplicationService } from '../../src/replication/service.js';
import { tempDir, waitFor } from '../helpers/proc.js';
import { removeTempDir } from '../helpers/temp.js';

export type Op =
  | { t: 'put'; n: number; k: number }
  | { t: 'del'; n: number; k: number }
  | { t: 'cut'; a: number; b: number }
  | { t: 'heal'; a: number; b: number }
  | { t: 'isolate'; n: number }
  | { t: 'healAll' }
  | { t: 'restart'; n: number }
  | { t: 'turns'; count: number };

export function opsArb(nodes: number, keys: number, maxOps: number): fc.Arbitrary<Op[]> {
  const n = fc.integer({ min: 0, max: nodes - 1 });
  const k = fc.integer({ min: 0, max: keys - 1 });
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 8, arbitrary: fc.record({ t: fc.constant('put' as const), n, k }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('del' as const), n, k }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('cut' as const), a: n, b: n }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('heal' as const), a: n, b: n }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('isolate' as const), n }) },
    { weight: 1, arbitrary: fc.constant({ t: 'healAll' as const }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('restart' as const), n }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('turns' as const), count: fc.integer({ min: 1, max: 20 }) }) },
  );
  return fc.array(op, { minLength: 1, maxLength: maxOps });
}

interface Written {
  key: string;
  value: string | undefined;
  hlc: bigint;
  origin: string;
  inc: number;
}

export interface MemFleetOptions {
  tombstoneRetention?: number;
}

export class MemFleet {
  readonly net = new MemoryNetwork();
  readonly ids: string[];
  readonly nodes: FleetNode[] = [];
  readonly written: Written[] = [];
  /** Log lines of every node (info and up). */
  readonly logs: { node: string; msg: string; level: number }[] = [];
  private readonly dirs: string[];
  private serial = 0;

  constructor(
    size: number,
    private readonly opts: MemFleetOptions = {},
  ) {
    this.ids = Array.from({ length: size }, (_, i) => `n${i}`);
    this.dirs = this.ids.map(() => tempDir('fleetkv-prop-'));
  }

  async start(): Promise<void> {
    for (let i = 0; i < this.ids.length; i++) this.nodes[i] = await this.boot(i);
  }

  private async boot(i: number): Promise<FleetNode> {
    const id = this.ids[i]!;
    const config = loadConfig({
      env: {},
      overrides: {
        nodeId: id,
        dataDir: this.dirs[i]!,
        mqtt: { enabled: false },
        log: { fsync: 'never', level: 'silent' },
        replication: { antiEntropyInterval: 20, redialMin: 5, redialMax: 60, idleTimeout: 5000, handshakeTimeout: 2000, identityWait: 50 },
        ...(this.opts.tombstoneRetention !== undefined ? { tombstoneRetention: this.opts.tombstoneRetention } : {}),
      },
    });
    const logger = pino({ level: 'info', base: { node: id } }, { write: (line: string) => void this.logs.push(JSON.parse(line) as { node: string; msg: string; level: number }) });
    const peers = this.ids.filter((o) => o !== id).map(MemoryNetwork.address);
    const node = new FleetNode(config, { logger, services: (n) => [new ReplicationService(n, { transport: this.net.transportFor(id), peers })] });
    await node.start();
    return node;
  }

  async apply(op: Op): Promise<void> {
    switch (op.t) {
      case 'put':
      case 'del': {
        const key = `k${op.k}`;
        const node = this.nodes[op.n]!;
        const value = op.t === 'put' ? `${node.nodeId}-${++this.serial}` : undefined;
        const r = value === undefined ? await node.delete(key) : await node.put(key, value);
        this.written.push({ key, value, hlc: BigInt(r.hlc), origin: r.origin, inc: r.inc });
        return;
      }
      case 'cut':
        if (op.a !== op.b) this.net.cut(this.ids[op.a]!, this.ids[op.b]!);
        return;
      case 'heal':
        this.net.heal(this.ids[op.a]!, this.ids[op.b]!);
        return;
      case 'isolate':
        for (const other of this.ids) if (other !== this.ids[op.n]) this.net.cut(this.ids[op.n]!, other);
        return;
      case 'healAll':
        this.net.healAll();
        return;
      case 'restart':
        await this.nodes[op.n]!.stop();
        this.nodes[op.n] = await this.boot(op.n);
        return;
      case 'turns':
        for (let i = 0; i < op.count; i++) await new Promise((r) => setImmediate(r));
        return;
    }
  }

  logged(node: string, re: RegExp): boolean {
    return this.logs.some((l) => l.node === node && re.test(l.msg));
  }

  /** The LWW model: per key, the write with the largest (hlc, origin, inc). */
  model(): Map<string, string> {
    const win = new Map<string, Written>();
    for (const w of this.written) {
      const cur = win.get(w.key);
      if (!cur || w.hlc > cur.hlc || (w.hlc === cur.hlc && (w.origin > cur.origin || (w.origin === cur.origin && w.inc > cur.inc)))) win.set(w.key, w);
    }
    const out = new Map<string, string>();
    for (const [k, w] of win) if (w.value !== undefined) out.set(k, w.value);
    return out;
  }

  static state(n: FleetNode): string {
    return JSON.stringify(n.list('').map((e) => [e.key, e.value.toString('utf8')]));
  }

  /**
   * Heal everything and wait until every node holds the model's state and the same vector, with no
   * write after the heal: a stream whose newest entry was replaced (by another node's write, or by
   * its origin's own write in a later incarnation) must not keep the vectors apart (docs/guarantees.md).
   */
  async converge(timeoutMs = 15_000): Promise<void> {
    this.net.healAll();
    const want = JSON.stringify([...this.model()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    const vectors = () => this.nodes.map((n) => JSON.stringify(Object.entries(n.store.vector.toObject()).sort()));
    try {
      await waitFor(
        () => {
          const v = vectors();
          return this.nodes.every((n) => MemFleet.state(n) === want) && v.every((x) => x === v[0]);
        },
        'convergence to the LWW model',
        timeoutMs,
        10,
      );
    } catch (err) {
      // What each node holds when the wait ended (not when it began).
      const have = this.nodes.map((n, i) => `${n.nodeId}: ${MemFleet.state(n).slice(0, 300)} ${vectors()[i]}`).join(' / ');
      throw new Error(`${(err as Error).message} (want ${want.slice(0, 300)}; have ${have})`);
    }
  }

  /** Stop every node and remove their data dirs (a property test makes hundreds of fleets). */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
    for (const d of this.dirs) removeTempDir(d);
  }
}

/** The property: every random schedule on 3–5 nodes ends in one state, equal to the LWW model. */
/** FLEETKV_PROP_RUNS overrides numRuns (a longer hunt by hand), FLEETKV_PROP_SEED replays a reported seed. */
export async function checkSchedules(opts: { numRuns: number; keys: number; maxOps: number }): Promise<void> {
  const runs = Number(process.env.FLEETKV_PROP_RUNS) || opts.numRuns;
  const seed = process.env.FLEETKV_PROP_SEED !== undefined ? Number(process.env.FLEETKV_PROP_SEED) : undefined;
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 3, max: 5 }).chain((size) => fc.tuple(fc.constant(size), opsArb(size, opts.keys, opts.maxOps))),
      async ([size, ops]) => {
        const fleet = new MemFleet(size);
        await fleet.start();
        try {
          for (const op of ops) await fleet.apply(op);
          await fleet.converge();
        } finally {
          await fleet.stop();
        }
      },
    ),
    { numRuns: runs, ...(seed !== undefined ? { seed } : {}) },
  );
}
