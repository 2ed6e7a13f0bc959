import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { Counter, Gauge } from 'prom-client';
import { entryProperties } from '../mqtt/mqtt5.js';
import type { Entry } from '../entry/entry.js';
import type { NodeHost, NodeService } from '../node-host.js';
import type { UplinkStatus } from '../node-status.js';

const EMPTY = Buffer.alloc(0);
/** QoS 1 publishes sent and not yet acknowledged by the remote broker. */
const MAX_IN_FLIGHT = 100;

/**
 * Optional uplink (docs/scaling.md): one mqtt.js client to an existing MQTT
 * broker or cloud cluster that mirrors the fleet's state out, retained, at
 * `<uplink.prefix>/state/<key>` (a delete as an empty payload), and, with
 * `uplink.acceptSets`, takes writes in from `<uplink.prefix>/set/<key>`.
 *
 * State is coalesced per key: a key changed many times while the link is slow
 * or down goes out once, with its latest value, so memory is bounded by the
 * number of keys. On every (re)connect the whole state is sent again, since
 * nothing tells us what the remote broker kept.
 */
export class UplinkService implements NodeService {
  readonly name = 'uplink';
  private client: MqttClient | undefined;
  private readonly logger: Logger;
  private readonly dirty = new Set<string>();
  private order: string[] = [];
  private inFlight = 0;
  private unsubscribe: (() => void) | undefined;
  private readonly published: Counter;
  private readonly setsIn: Counter<'result'>;
  private readonly connected: Gauge;

  constructor(private readonly node: NodeHost) {
    this.logger = node.logger.child({ svc: 'uplink' });
    const registers = [node.metrics.registry];
    this.published = new Counter({ name: 'fleetkv_uplink_published_total', help: 'State messages published to the uplink broker', registers });
    this.setsIn = new Counter({ name: 'fleetkv_uplink_sets_total', help: 'Writes received from the uplink broker, by result (ok|refused)', labelNames: ['result'], registers });
    this.connected = new Gauge({ name: 'fleetkv_uplink_connected', help: '1 while connected to the uplink broker', registers });
  }

  private get prefix(): string {
    return this.node.config.uplink.prefix;
  }

  async start(): Promise<void> {
    const c = this.node.config.uplink;
    const offApplied = this.node.onApplied((e, result) => {
      if (result === 'won') this.mark(e.key);
    });
    // An expired key is cleared on the uplink broker at once, as on the embedded one.
    const offExpired = this.node.onExpired((put) => this.mark(put.key));
    this.unsubscribe = () => {
      offApplied();
      offExpired();
    };
    const client = mqtt.connect(c.url, {
      clientId: c.clientId || `fleetkv-${this.node.nodeId}`,
      username: c.username || undefined,
      password: c.password || undefined,
      reconnectPeriod: c.reconnectPeriod,
      connectTimeout: 10_000,
      clean: true,
      protocolVersion: c.protocolVersion,
    });
    this.client = client;
    client.on('connect', () => {
      this.connected.set(1);
      this.logger.info({ url: c.url }, 'uplink connected to %s', c.url);
      if (c.acceptSets) client.subscribe(`${this.prefix}/set/#`, { qos: 1 });
      // Tombstones too: a key deleted while the link was down is cleared remotely (empty retained payload).
      for (const e of this.node.store.all()) this.mark(e.key);
      this.flush();
    });
    client.on('close', () => this.connected.set(0));
    client.on('error', (err) => this.logger.warn({ err: err.message }, 'uplink: %s', err.message));
    client.on('message', (topic, payload) => void this.onSet(topic, payload));
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    await this.client?.endAsync(true).catch(() => {});
  }

  status(): { uplink: UplinkStatus } {
    return { uplink: { connected: this.client?.connected ?? false, pending: this.dirty.size } };
  }

  private mark(key: string): void {
    if (!this.dirty.has(key)) {
      this.dirty.add(key);
      this.order.push(key);
    }
    this.flush();
  }

  /** Publish dirty keys, latest value from the store, while the link is up and below the in-flight cap. */
  private flush(): void {
    const client = this.client;
    while (client?.connected && this.inFlight < MAX_IN_FLIGHT && this.order.length > 0) {
      const key = this.order.shift()!;
      this.dirty.delete(key);
      const e: Entry | undefined = this.node.store.getAny(key);
      if (!e) continue;
      this.inFlight++;
      const now = Date.now();
      const gone = e.isDelete || e.expiredAt(now);
      // MQTT 5: which write it is (user properties), and a TTL as the Message Expiry Interval, so the
      // remote broker drops the retained copy when the key expires even if this node is gone by then.
      const properties = this.node.config.uplink.protocolVersion === 5 ? { ...entryProperties(e), ...(!gone && e.expiresAt > 0 ? { messageExpiryInterval: Math.max(1, Math.ceil((e.expiresAt - now) / 1000)) } : {}) } : undefined;
      client.publish(`${this.prefix}/state/${key}`, gone ? EMPTY : Buffer.from(e.value), { qos: 1, retain: true, ...(properties ? { properties } : {}) }, (err) => {
        this.inFlight--;
        if (err)
          this.mark(key); // sent again on reconnect or next flush
        else this.published.inc();
        this.flush();
      });
    }
  }

  private async onSet(topic: string, payload: Buffer): Promise<void> {
    const key = topic.slice(`${this.prefix}/set/`.length);
    try {
      await this.node.put(key, payload);
      this.setsIn.inc({ result: 'ok' });
    } catch (err) {
      this.setsIn.inc({ result: 'refused' });
      this.logger.warn({ topic, err: err instanceof Error ? err.message : String(err) }, 'uplink: refused write from %s', topic);
    }
  }
}
