import type { NodeHost, PeerState } from '../node-host.js';
import type { NodeStatus, NodeStatusRecord } from '../node-status.js';

/** This node's status record (docs/adr/0200) from its status: one builder for presence (robots/presence-service.ts) and MQTT (mqtt/status.ts). */
export function statusRecord(host: NodeHost, online: boolean, s: NodeStatus = host.status()): Buffer {
  const record: NodeStatusRecord = {
    nodeId: s.nodeId,
    online,
    at: new Date().toISOString(),
    version: s.version,
    fleetId: s.fleetId,
    incarnation: s.incarnation,
    keys: s.keys,
    peers: s.peers.map((p) => ({ nodeId: p.nodeId, state: p.state, lag: p.lag, clockOffsetMs: p.clockOffsetMs })),
    vector: s.vector,
  };
  return Buffer.from(JSON.stringify(record));
}

/**
 * What decides whether a status record is due again: the peers and their
 * states. From `peerStates()`, not `status()`: the check runs every second
 * and the whole status (every service's section, the vectors) is built only
 * when a record is written.
 */
export function peersSummary(peers: readonly PeerState[]): string {
  let out = '';
  for (const p of peers) out += `${p.nodeId ?? p.address}\u0000${p.state}\u0001`;
  return out;
}
