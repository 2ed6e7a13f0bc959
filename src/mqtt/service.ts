import { Aedes } from 'aedes';
import type { NodeHost, NodeService } from '../node-host.js';
import type { MqttStatus } from '../node-status.js';
import { MqttAuth } from './auth.js';
import { ClientLimits } from './client-limits.js';
import { MirrorForwarder } from './forward.js';
import { BrokerGate } from './gate.js';
import { HomeAssistantDiscovery } from './home-assistant.js';
import { openListeners, type Listener } from './listeners.js';
import { MqttMetrics } from './metrics.js';
import { MirrorTopics } from './mirror.js';
import { EntryPublisher } from './publisher.js';
import { StoreRetained } from './retained.js';
import { RetainedBudget } from './retained-budget.js';
import { NodeStatusWriter } from './status.js';
import { Topics } from './topics.js';
import { ConnectionPresence } from './vda5050.js';

/**
 * The embedded MQTT broker (docs/mqtt.md), started and stopped
 * with the node. Retained state is served from the store on subscribe
 * (StoreRetained), so a subscriber sees the whole fleet state from the first
 * moment the listeners are open, and after every restart.
 */
export class MqttService implements NodeService {
  readonly name = 'mqtt';
  private broker: Aedes | undefined;
  private publisher: EntryPublisher | undefined;
  private listeners: Listener[] = [];
  private unsubscribe: (() => void) | undefined;
  private statusWriter: NodeStatusWriter | undefined;
  private limits: ClientLimits | undefined;
  private retained: StoreRetained | undefined;
  private connections: ConnectionPresence | undefined;
  private stopForwarded: (() => void) | undefined;
  private homeAssistant: HomeAssistantDiscovery | undefined;

  constructor(private readonly node: NodeHost) {}

  async start(): Promise<void> {
    const cfg = this.node.config.mqtt;
    const auth = cfg.auth.enabled ? MqttAuth.fromConfig(cfg.auth) : undefined;
    const topics = new Topics(cfg.prefix);
    const lim = this.node.config.limits;
    // A frozen subscriber holds up delivery to everyone until it is dropped (Aedes' default is 60 s).
    const broker = new Aedes({ drainTimeout: lim.mqttDrainTimeout, maxClientsIdLength: 128 });
    this.broker = broker;
    const metrics = new MqttMetrics(
      this.node.metrics.registry,
      () => broker.connectedClients ?? 0,
      () => this.publisher?.pending ?? 0,
    );
    const publisher = new EntryPublisher(broker, topics, this.node, metrics, lim.mqttQueueMessages);
    this.publisher = publisher;
    const limits = new ClientLimits({ queueBytes: lim.mqttClientQueueBytes, partialBytes: lim.mqttPartialBytes, partialTimeoutMs: lim.mqttPartialTimeout }, this.node.logger, this.node.metrics.registry);
    this.limits = limits;
    const mirror = new MirrorTopics(cfg.mirror);
    const forwarder = new MirrorForwarder(this.node, mirror, metrics, this.node.config.limits.forwardRate);
    const connections = new ConnectionPresence(this.node, publisher);
    this.connections = connections;
    publisher.mirrorPayload = connections.published;
    const gate = new BrokerGate(this.node, topics, publisher, metrics, auth, mirror, forwarder, new RetainedBudget(lim.mqttRetainedBytes));
    Object.assign(broker, gate.hooks());
    broker.on('clientError', (client, err) => {
      limits.onClientError(client, err);
      this.node.logger.debug({ clientId: client.id, err: err.message }, 'mqtt: client error');
    });
    broker.on('connectionError', (client, err) => this.node.logger.info({ clientId: client.id, err: err.message }, 'mqtt: connection refused'));
    await broker.listen();
    gate.attach(broker);

    const offApplied = this.node.onApplied(publisher.onApplied);
    const offExpired = this.node.onExpired(publisher.onExpired);
    this.unsubscribe = () => {
      offApplied();
      offExpired();
    };
    this.retained = new StoreRetained(this.node, topics, mirror, connections.view);
    broker.on('subscribe', this.retained.onSubscribe);
    if (mirror.enabled) {
      this.stopForwarded = forwarder.deliverWith((m) => publisher.publishMirrored(m.topic, m.payload, m.qos));
      connections.start();
    }
    this.listeners = await openListeners(broker, cfg, {
      // The largest value plus the largest topic and the headers.
      maxPacketBytes: this.node.config.limits.maxValueBytes + 65_536 + 16,
      limits,
      onOversize: (bytes, client) => {
        metrics.refused.inc({ code: 'VALUE_TOO_LARGE' });
        this.node.logger.warn({ clientId: client.id, bytes }, 'mqtt: refused a %d-byte packet (over limits.maxValueBytes + 64 KiB): closing the connection', bytes);
      },
      onIllFormedUtf8: (client) => {
        metrics.refused.inc({ code: 'MQTT_UTF8_INVALID' });
        this.node.logger.warn(
          { clientId: client.id, remote: client.conn && (client.conn as { remoteAddress?: string }).remoteAddress, code: 'MQTT_UTF8_INVALID' },
          'mqtt: ill-formed UTF-8 in a packet (MQTT-1.5.3-1): closing the connection',
        );
      },
    });
    if (cfg.homeAssistant.enabled) {
      const ha = new HomeAssistantDiscovery(this.node, publisher, topics, cfg.homeAssistant.prefix);
      this.homeAssistant = ha;
      broker.on('publish', (packet, client) => {
        if (client && packet.topic === ha.statusTopic && packet.payload.toString() === 'online') ha.announceAgain();
      });
      ha.start();
    }
    this.statusWriter = new NodeStatusWriter(this.node, publisher, topics.node(this.node.nodeId), cfg.statusInterval);
    this.statusWriter.start();
    this.node.logger.info({ ports: this.ports(), auth: auth ? `${auth.userCount} users` : 'off', mirror: cfg.mirror }, 'mqtt: broker up');
    if (!auth && cfg.allowAnonymous) {
      this.node.logger.warn('mqtt: authentication is off and mqtt.allowAnonymous is set: anyone who can reach %s:%d may read and write the fleet state', cfg.host, cfg.port);
    } else if (!auth) {
      this.node.logger.warn('mqtt: authentication is off: only clients on this machine may connect (protected mode); set mqtt.auth.enabled with users (fleetkv passwd) to let robots and dashboards elsewhere in');
    }
  }

  async stop(): Promise<void> {
    this.statusWriter?.stop();
    this.connections?.stop();
    this.homeAssistant?.stop();
    this.stopForwarded?.();
    this.unsubscribe?.();
    this.publisher?.close();
    this.retained?.close();
    this.limits?.close();
    const closing = this.listeners.map((l) => l.close());
    const broker = this.broker;
    if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
    await Promise.all(closing);
    this.listeners = [];
  }

  ports(): Record<string, number> {
    return Object.fromEntries(this.listeners.map((l) => [l.name, l.port]));
  }

  status(): { mqtt: MqttStatus } {
    return { mqtt: { clients: this.broker?.connectedClients ?? 0, pending: this.publisher?.pending ?? 0, ports: this.ports() } };
  }
}
