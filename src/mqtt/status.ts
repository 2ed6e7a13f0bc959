import type { NodeHost } from '../node-host.js';
import { peersSummary, statusRecord } from '../robots/status-record.js';
import type { EntryPublisher } from './publisher.js';
import { STATUS_KEY_PREFIX } from '../entry/key.js';

const CHANGE_CHECK_MS = 1000;

/**
 * This node's status record (docs/adr/0200): a JSON value under the reserved
 * key `_fleetkv/nodes/<nodeId>`, written through the store so replication
 * carries it to every robot and every broker publishes it retained on
 * `<prefix>/nodes/<nodeId>`. Written once the node is ready, whenever its
 * peers' states change (checked every second), and every `mqtt.statusInterval`.
 * A node with no peers (none configured, none connected, no record stored
 * before) keeps the record as a retained message of its own broker instead.
 */
export class NodeStatusWriter {
  private timer: NodeJS.Timeout | undefined;
  private lastPeers = '';
  private lastWrite = 0;
  private writing = false;
  private retainedInBroker = false;

  constructor(
    private readonly node: NodeHost,
    private readonly publisher: EntryPublisher,
    private readonly topic: string,
    private readonly intervalMs: number,
  ) {}

  get key(): string {
    return STATUS_KEY_PREFIX + this.node.nodeId;
  }

  start(): void {
    const begin = (): void => {
      this.tick();
      this.timer = setInterval(() => this.tick(), Math.min(CHANGE_CHECK_MS, this.intervalMs));
      this.timer.unref();
    };
    this.node.whenRunning(begin);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private tick(): void {
    if (this.writing || this.node.state !== 'running') return;
    const peers = this.node.peerStates();
    const summary = peersSummary(peers);
    if (summary === this.lastPeers && Date.now() - this.lastWrite < this.intervalMs) return;
    this.lastPeers = summary;
    this.lastWrite = Date.now();
    // A robot alone has no one to tell: its record stays in its own broker and out of its keyspace.
    const alone = this.node.config.peers.length === 0 && peers.length === 0 && this.node.store.getAny(this.key) === undefined;
    // With peers and presence on, the presence heartbeat (robots/presence-service.ts) writes the record: none to build here.
    if (!alone && !this.retainedInBroker && this.node.config.presence.enabled) return;
    const record = statusRecord(this.node, true);
    if (alone) {
      this.publisher.retainInBroker(this.topic, record);
      this.retainedInBroker = true;
      return;
    }
    if (this.retainedInBroker) {
      this.publisher.retainInBroker(this.topic, Buffer.alloc(0)); // from now on the store serves it
      this.retainedInBroker = false;
    }
    // With peers, the presence heartbeat (robots/presence-service.ts) writes the record into the store;
    // with presence off, this writer does, without a TTL (as before presence).
    if (this.node.config.presence.enabled) return;
    this.writing = true;
    this.node
      .putStatusRecord(record)
      .catch((err: unknown) => this.node.logger.warn({ err }, 'mqtt: could not write the node status record'))
      .finally(() => {
        this.writing = false;
      });
  }
}
