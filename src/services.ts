import { MqttService } from './mqtt/service.js';
import type { FleetNode, NodeService } from './node.js';
import { startMdns } from './replication/discovery.js';
import { ReplicationService } from './replication/service.js';
import { UplinkService } from './uplink/service.js';

/**
 * The services a node runs beside its core, in start order: replication
 * (peers) and the MQTT bridge, each enabled by its config section.
 */
export function defaultServices(node: FleetNode): NodeService[] {
  const services: NodeService[] = [];
  if (node.config.replication.enabled) services.push(new ReplicationService(node, node.config.discovery.mdns ? { discover: startMdns } : {}));
  if (node.config.mqtt.enabled) services.push(new MqttService(node));
  if (node.config.uplink.enabled) services.push(new UplinkService(node));
  return services;
}
