import type { Aedes, PublishPacket } from 'aedes';
import type { Entry } from '../entry/entry.js';
import { formatHlc } from '../entry/hlc.js';
import { entryJson } from '../http/kv.js';
import type { FleetNode, Source } from '../node.js';
import type { ApplyResult } from '../store/store.js';
import type { MqttMetrics } from './metrics.js';
import { statusKeyNode, type Topics } from './topics.js';

const EMPTY = Buffer.alloc(0);
/** Above this many publishes in the broker, log messages are dropped (state and status never are). */
const MAX_PENDING = 50_000;

/**
 * Publishes every applied entry, local or replicated, on the broker (DESIGN §5):
 * `log/<origin>` always (JSON envelope), `state/<key>` retained when it won
 * (a delete clears the retained message), `nodes/<id>` for status records,
 * and `conflicts` when LWW decided between writes of two origins.
 *
 * It uses `broker.publish`, which no client command handler sees, so nothing
 * published here can come back into the store (no loop with replication).
 */
export class EntryPublisher {
  /** Publishes handed to the broker whose delivery has not completed. */
  pending = 0;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly broker: Aedes,
    private readonly topics: Topics,
    private readonly node: FleetNode,
    private readonly metrics: MqttMetrics,
  ) {}

  readonly onApplied = (e: Entry, result: ApplyResult, other: Entry | undefined, source: Source): void => {
    if (result === 'duplicate') return;
    if (this.pending < MAX_PENDING) {
      this.publish(this.topics.log(e.origin), Buffer.from(JSON.stringify(entryJson(e))), false, 'log');
    } else {
      this.metrics.dropped.inc({ topic: 'log' });
    }
    if (result === 'won') this.publishCurrent(e);
    if (other !== undefined && statusKeyNode(e.key) === undefined) this.reportConflict(e, result, other, source);
  };

  /** Publish every live key retained from the store (start-up): the store, not the broker, is the source of truth. */
  async publishAll(): Promise<number> {
    let n = 0;
    for (const e of this.node.store.list('')) {
      this.publishCurrent(e);
      n++;
    }
    await this.drained();
    return n;
  }

  /** Resolves once every publish handed to the broker so far has completed. */
  drained(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The retained message for the key's current entry: its value, or empty for a delete. */
  private publishCurrent(e: Entry): void {
    const node = statusKeyNode(e.key);
    const payload = e.isDelete ? EMPTY : e.value;
    if (node !== undefined) this.publish(this.topics.node(node), payload, true, 'nodes');
    else this.publish(this.topics.state(e.key), payload, true, 'state');
  }

  /**
   * An entry that lost LWW, or one that replaced a value another origin wrote
   * within maxClockSkew (possibly concurrent: one of the two writes is gone).
   */
  private reportConflict(e: Entry, result: ApplyResult, other: Entry, source: Source): void {
    const lost = result === 'superseded';
    if (!lost && (other.origin === e.origin || Math.abs(e.wall - other.wall) > this.node.config.maxClockSkew)) return;
    const [winner, loser] = lost ? [other, e] : [e, other];
    const msg = {
      key: e.key,
      reason: lost ? 'superseded' : 'concurrent',
      winner: side(winner),
      loser: side(loser),
      detectedBy: this.node.nodeId,
      source,
    };
    this.publish(this.topics.conflicts, Buffer.from(JSON.stringify(msg)), false, 'conflicts');
  }

  private publish(topic: string, payload: Buffer, retain: boolean, kind: 'log' | 'state' | 'nodes' | 'conflicts' | 'errors'): void {
    this.pending++;
    this.metrics.published.inc({ topic: kind });
    const packet: PublishPacket = { cmd: 'publish', topic, payload, qos: 0, retain, dup: false };
    this.broker.publish(packet, this.done);
  }

  /** Publish a refusal report on a client's errors topic. */
  publishError(topic: string, report: Record<string, unknown>): void {
    this.publish(topic, Buffer.from(JSON.stringify(report)), false, 'errors');
  }

  private readonly done = (err?: Error): void => {
    this.pending--;
    if (err) this.node.logger.warn({ err }, 'mqtt: publish failed');
    if (this.pending === 0 && this.waiters.length > 0) {
      const w = this.waiters;
      this.waiters = [];
      for (const resolve of w) resolve();
    }
  };
}

function side(e: Entry): Record<string, unknown> {
  return { origin: e.origin, inc: e.inc, seq: e.seq, hlc: formatHlc(e.wall, e.logical), op: e.isDelete ? 'del' : 'put' };
}
