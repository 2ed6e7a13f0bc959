import { Counter, Gauge, type Registry } from 'prom-client';

/** Prometheus metrics of the MQTT bridge, on the node's registry. */
export class MqttMetrics {
  readonly clients: Gauge;
  readonly published: Counter<'topic'>;
  readonly dropped: Counter<'topic'>;
  readonly commands: Counter<'op'>;
  readonly refused: Counter<'code'>;
  readonly authFailures: Counter;
  readonly mirrored: Counter<'kind'>;
  readonly forwardDropped: Counter<'reason'>;

  constructor(registry: Registry, connected: () => number, pending: () => number) {
    const registers = [registry];
    this.clients = new Gauge({ name: 'fleetkv_mqtt_clients', help: 'Connected MQTT clients', registers, collect: () => this.clients.set(connected()) });
    new Gauge({
      name: 'fleetkv_mqtt_publish_pending',
      help: 'Publishes handed to the broker and not yet delivered',
      registers,
      collect() {
        this.set(pending());
      },
    });
    this.published = new Counter({ name: 'fleetkv_mqtt_published_total', help: 'Messages the bridge published, by topic kind', labelNames: ['topic'], registers });
    this.dropped = new Counter({ name: 'fleetkv_mqtt_dropped_total', help: 'Messages the bridge dropped because the broker fell behind', labelNames: ['topic'], registers });
    this.commands = new Counter({ name: 'fleetkv_mqtt_commands_total', help: 'set/delete commands written to the store', labelNames: ['op'], registers });
    this.refused = new Counter({ name: 'fleetkv_mqtt_refused_total', help: 'Client publishes and subscriptions refused, by error code', labelNames: ['code'], registers });
    this.mirrored = new Counter({ name: 'fleetkv_mqtt_mirrored_total', help: 'Publishes on mirrored topics: retained (stored), forwarded (live, sent to peers), received (live, from a peer)', labelNames: ['kind'], registers });
    this.forwardDropped = new Counter({ name: 'fleetkv_mqtt_forward_dropped_total', help: 'Live mirrored publishes not forwarded or not delivered, by reason (rate|not_mirrored)', labelNames: ['reason'], registers });
    this.authFailures = new Counter({ name: 'fleetkv_mqtt_auth_failures_total', help: 'MQTT connections refused for a bad user name or password', registers });
  }
}
