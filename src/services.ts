import type { NodeHost, NodeService } from './node-host.js';

/**
 * The services a node runs above its core, in start order: replication
 * (peers), the MQTT broker, the uplink and presence, each enabled by its
 * config section, then the HTTP API. Each is loaded only when it is enabled,
 * so a node pays in memory and start-up time only for what it runs (mqtt.js
 * alone is ~9 MiB of RSS, needed by the uplink only).
 *
 * The node stops them in reverse order: HTTP first (no request is taken
 * while the rest stops; writes are refused from `stopping` on anyway), then
 * presence (its goodbye still goes out through replication), and the log
 * closes after the last.
 */
export async function defaultServices(node: NodeHost): Promise<NodeService[]> {
  const cfg = node.config;
  const services: NodeService[] = [];
  if (cfg.replication.enabled) {
    const { ReplicationService } = await import('./replication/service.js');
    const discover = cfg.discovery.mdns ? (await import('./replication/discovery.js')).startMdns : undefined;
    services.push(new ReplicationService(node, discover ? { discover } : {}));
  }
  if (cfg.mqtt.enabled) {
    const { MqttService } = await import('./mqtt/service.js');
    services.push(new MqttService(node));
  }
  if (cfg.uplink.enabled) {
    const { UplinkService } = await import('./uplink/service.js');
    services.push(new UplinkService(node));
  }
  // After the others: it stops before them, so its goodbye still goes out through replication (docs/robots.md, "Presence").
  if (cfg.presence.enabled) {
    const { PresenceService } = await import('./robots/presence-service.js');
    services.push(new PresenceService(node));
  }
  // Last: it starts once everything it serves is up, and stops first (see above).
  const { HttpApi } = await import('./http/server.js');
  services.push(new HttpApi(node));
  return services;
}
