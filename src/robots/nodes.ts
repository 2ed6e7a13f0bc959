import type { NodeHost } from '../node-host.js';
import type { NodeStatusRecord, PeerStatus } from '../node-status.js';
import { peersById } from './presence.js';
import { STATUS_KEY_PREFIX } from '../mqtt/topics.js';

/** One fleet member as this node knows it (for /v1/fleet and the fleet page). */
export interface KnownNode {
  id: string;
  /** This node itself. */
  self: boolean;
  online: boolean;
  /** This node's state for itself; the replication session state for a peer; 'unreachable' otherwise. */
  state: string;
  address: string | null;
  /** How far this node's peer is behind it (entries, ms); null for itself or a node without a session. */
  lag: { entries: number; ms: number } | null;
  /** The node's own peers and their states: live for itself, from its status record (docs/adr/0200) for others. */
  peers: { nodeId: string; state: string }[];
  version: string | null;
  /** When its status record was written (its own clock), or null without a record. */
  recordAt: string | null;
}

/** The peers of a status or of a status record (whose form older versions may differ: checked). */
function peerList(peers: unknown): { nodeId: string; state: string }[] {
  if (!Array.isArray(peers)) return [];
  return (peers as Partial<PeerStatus>[]).filter((p) => typeof p.nodeId === 'string').map((p) => ({ nodeId: p.nodeId as string, state: String(p.state ?? '?') }));
}

/**
 * Every node this one knows of: itself, its peers (/v1/status) and every
 * node with a status record in the store, with `online` from online.ts
 * (`onlineNodes(node)`). `extra` adds ids known otherwise (the writers of
 * robot documents).
 */
export function knownNodes(node: NodeHost, online: (id: string) => boolean, extra: Iterable<string> = []): KnownNode[] {
  const status = node.status();
  const peers = peersById(status);
  const records = new Map<string, Partial<NodeStatusRecord>>();
  for (const e of node.store.list(STATUS_KEY_PREFIX)) {
    try {
      const r = JSON.parse(e.value.toString('utf8')) as unknown;
      if (r !== null && typeof r === 'object') records.set(e.key.slice(STATUS_KEY_PREFIX.length), r as Partial<NodeStatusRecord>);
    } catch {
      /* not a record this version understands: the node is still listed by id */
    }
  }
  const ids = new Set<string>([node.nodeId, ...peers.keys(), ...records.keys(), ...extra]);
  const out: KnownNode[] = [];
  for (const id of [...ids].sort()) {
    const self = id === node.nodeId;
    const p = peers.get(id);
    const rec = records.get(id);
    out.push({
      id,
      self,
      online: online(id),
      state: self ? node.state : p ? p.state : 'unreachable',
      address: p ? p.address : null,
      lag: p?.lag ?? null,
      peers: self ? peerList(status.peers) : peerList(rec?.peers),
      version: self ? status.version : typeof rec?.version === 'string' ? rec.version : null,
      recordAt: typeof rec?.at === 'string' ? rec.at : null,
    });
  }
  return out;
}
