import type { NodeHost } from '../node-host.js';
import { presenceOf } from './presence.js';

/**
 * Is node `id` online, as far as this node can tell right now? The one place
 * that decides it for /v1/robots, `fleetkv robots` and the fleet page: fleet
 * presence (robots/presence.ts: heartbeated status records with a TTL, a
 * goodbye on SIGTERM, sessions for nodes without a record). Returns a
 * predicate over one snapshot, so a listing reads /v1/status once.
 */
export function onlineNodes(node: NodeHost): (id: string) => boolean {
  return presenceOf(node);
}
