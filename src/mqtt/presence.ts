import type { NodeHost } from '../node-host.js';
import { onlineNodes } from '../robots/online.js';

/**
 * Which nodes the broker treats as in the fleet right now (VDA 5050
 * `connection` from presence, docs/vda5050.md). The one place the MQTT layer
 * asks; today it is the robots' view (src/robots/online.ts: this node, and the
 * peers it has a syncing or live replication session with). Fleet-wide
 * presence replaces it here alone.
 */
export function presence(node: NodeHost): (nodeId: string) => boolean {
  return onlineNodes(node);
}
