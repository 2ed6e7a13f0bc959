import type { FleetNode } from '../node.js';

/** Peer states in /v1/status that mean a working connection. */
const CONNECTED = new Set(['live', 'syncing']);

/**
 * Is node `id` online, as far as this node can tell right now? The one place
 * that decides it, for /v1/robots, `fleetkv robots` and the fleet page, so
 * that fleet-wide presence (issue 11, item 2) can replace it alone.
 *
 * Today: this node is online while it runs; another node is online while this
 * node has a replication session with it that is syncing or live (its peer
 * entry in /v1/status). A node reached only through a relay shows offline.
 * Returns a predicate over one snapshot of the peer states, so a listing
 * reads /v1/status once.
 */
export function onlineNodes(node: FleetNode): (id: string) => boolean {
  const peers = node.status().peers;
  const up = new Set<string>();
  if (Array.isArray(peers)) {
    for (const p of peers as { nodeId?: unknown; state?: unknown }[]) {
      if (typeof p.nodeId === 'string' && CONNECTED.has(String(p.state))) up.add(p.nodeId);
    }
  }
  const selfUp = node.state === 'running';
  return (id) => (id === node.nodeId ? selfUp : up.has(id));
}
