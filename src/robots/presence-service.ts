import type { NodeHost, NodeService } from '../node-host.js';
import { STATUS_KEY_PREFIX } from '../entry/key.js';
import type { PresenceStatus } from '../node-status.js';
import { peersSummary, statusRecord } from './status-record.js';

const CHANGE_CHECK_MS = 1000;
/** On SIGTERM, wait at most this long for the peers to hold the goodbye. */
const GOODBYE_WAIT_MS = 1500;

/**
 * Presence heartbeat (docs/robots.md, "Presence"): this node's status record
 * `_fleetkv/nodes/<id>` (docs/adr/0200) written with a TTL of
 * presence.timeout, every third of it and whenever its peers' states change;
 * on stop, `online: false` without a TTL, before replication stops (this
 * service stops first), waiting briefly until the peers acknowledged it.
 *
 * A node with no peers (none configured, none connected, no record stored
 * before) writes nothing: a robot alone has no one to tell, and its MQTT
 * broker keeps its record retained instead (mqtt/status.ts).
 */
export class PresenceService implements NodeService {
  readonly name = 'presence';
  private timer: NodeJS.Timeout | undefined;
  private lastPeers = '';
  private lastWrite = 0;
  private writing: Promise<unknown> | undefined;
  private wrote = false;

  constructor(private readonly node: NodeHost) {}

  private get timeoutMs(): number {
    return this.node.config.presence.timeout;
  }

  async start(): Promise<void> {
    const begin = (): void => {
      this.tick();
      this.timer = setInterval(() => this.tick(), Math.min(CHANGE_CHECK_MS, this.timeoutMs / 3));
      this.timer.unref();
    };
    this.node.whenRunning(begin);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.writing?.catch(() => {});
    if (!this.wrote || this.node.state !== 'stopping') return;
    // The goodbye: written while the log is open and replication still runs (services stop in reverse order).
    const record = this.record(false);
    try {
      await this.node.putStatusRecordWhileStopping(record);
    } catch (err) {
      this.node.logger.warn({ err }, 'presence: could not write the offline record');
      return;
    }
    const t0 = Date.now();
    while (Date.now() - t0 < GOODBYE_WAIT_MS && !this.peersCaughtUp()) await new Promise((r) => setTimeout(r, 20));
  }

  status(): { presence: PresenceStatus } {
    return { presence: { timeoutMs: this.timeoutMs } };
  }

  /** Every connected peer has acknowledged everything this node holds. */
  private peersCaughtUp(): boolean {
    return this.node
      .status()
      .peers.filter((p) => p.state === 'live' || p.state === 'syncing')
      .every((p) => (p.lag?.entries ?? 0) === 0);
  }

  private record(online: boolean): Buffer {
    return statusRecord(this.node, online);
  }

  private tick(): void {
    if (this.writing || this.node.state !== 'running') return;
    const peers = this.node.peerStates();
    const summary = peersSummary(peers);
    if (summary === this.lastPeers && Date.now() - this.lastWrite < this.timeoutMs / 3) return;
    if (this.node.config.peers.length === 0 && peers.length === 0 && this.node.store.getAny(STATUS_KEY_PREFIX + this.node.nodeId) === undefined) return;
    this.lastPeers = summary;
    this.lastWrite = Date.now();
    this.wrote = true;
    this.writing = this.node
      .putStatusRecord(this.record(true), { ttl: this.timeoutMs })
      .catch((err: unknown) => this.node.logger.warn({ err }, 'presence: could not write the status record'))
      .finally(() => {
        this.writing = undefined;
      });
  }
}
