import type { NodeHost } from '../node-host.js';
import type { NodeStatus, NodeStatusRecord, PeerStatus } from '../node-status.js';
import { STATUS_KEY_PREFIX } from '../entry/key.js';

/** Peer states in /v1/status that mean a working connection. */
const CONNECTED = new Set(['live', 'syncing']);

/** One fleet member's presence as this node sees it (GET /v1/nodes, `fleetkv nodes`). */
export interface NodePresence {
  id: string;
  self: boolean;
  online: boolean;
  /** Why: `self`, `record` (its status record is fresh and says online), `session` (a live session, no record), `stopped` (it said goodbye), `expired` (not heard from within presence.timeout), `unknown`. */
  reason: 'self' | 'record' | 'session' | 'stopped' | 'expired' | 'unknown';
  /** When it was last heard from (ISO; its own clock for records), or null. */
  lastSeen: string | null;
  version: string | null;
  /** How far it is behind this node, for a direct peer; null otherwise. */
  lag: { entries: number; ms: number } | null;
  /** Its wall clock minus this node's (ms), for a direct peer with a measured offset; null otherwise. */
  clockOffsetMs: number | null;
  /** The replication session state for a direct peer, this node's own state for itself, else null. */
  state: string | null;
}

/** The direct peers in a status, by node id. */
export function peersById(status: NodeStatus): Map<string, PeerStatus> {
  const peers = new Map<string, PeerStatus>();
  for (const p of status.peers) if (p.nodeId !== undefined) peers.set(p.nodeId, p);
  return peers;
}

/**
 * The fleet's presence, the one truth behind /v1/nodes, /v1/robots, the
 * fleet page and `<prefix>/nodes/<id>` (docs/robots.md, "Presence").
 *
 * A node heartbeats its status record `_fleetkv/nodes/<id>` with a TTL of
 * presence.timeout (robots/presence-service.ts); on SIGTERM it writes the
 * record with `online: false` and no TTL. So another node is:
 * - online while its record is visible (not expired) and says online, or,
 *   without a heartbeat record (none, or one without a TTL: an older version,
 *   presence.enabled off), while this node has a live or syncing session with it;
 * - offline once the record says `online: false` (clean stop) or the record
 *   expired (crash, partition: at most presence.timeout after its last
 *   heartbeat, moved by the clock offset between the two nodes); sooner for
 *   a peer this node dials but cannot reach whose heartbeat is overdue by
 *   more than one period (a third of presence.timeout) plus a second.
 *
 * Reusable: `presenceOf(node)(id)` answers for one node id, e.g. to derive
 * VDA 5050 CONNECTIONBROKEN for the AGVs a node serves.
 */
export function fleetPresence(node: NodeHost, extra: Iterable<string> = []): NodePresence[] {
  const status = node.status();
  const peers = peersById(status);
  const ids = new Set<string>([node.nodeId, ...peers.keys(), ...extra]);
  // Every node with a record, live, expired or stopped (the tombstone of an expiry keeps the put's hlc: its last heartbeat).
  for (const e of node.store.listAny(STATUS_KEY_PREFIX)) ids.add(e.key.slice(STATUS_KEY_PREFIX.length));
  const now = Date.now();
  const out: NodePresence[] = [];
  for (const id of [...ids].sort()) out.push(presenceOne(node, id, peers.get(id), status, now));
  return out;
}

/** A predicate over one snapshot of the fleet's presence: is node `id` online? */
export function presenceOf(node: NodeHost): (id: string) => boolean {
  const all = new Map(fleetPresence(node).map((p) => [p.id, p.online]));
  const status = node.status();
  const peers = peersById(status);
  return (id) => all.get(id) ?? presenceOne(node, id, peers.get(id), status, Date.now()).online;
}

function presenceOne(node: NodeHost, id: string, p: PeerStatus | undefined, status: NodeStatus, now: number): NodePresence {
  const session = p !== undefined && CONNECTED.has(p.state);
  const peerPart = {
    lag: p?.lag ?? null,
    clockOffsetMs: typeof p?.clockOffsetMs === 'number' ? p.clockOffsetMs : null,
  };
  if (id === node.nodeId) {
    return { id, self: true, online: node.state === 'running', reason: 'self', lastSeen: new Date(now).toISOString(), version: status.version, lag: null, clockOffsetMs: null, state: node.state };
  }
  const key = STATUS_KEY_PREFIX + id;
  const any = node.store.getAny(key);
  const live = node.store.get(key, now);
  const rec = live ? parseRecord(live.value) : undefined;
  const version = typeof rec?.version === 'string' ? rec.version : any && !any.isDelete ? (parseRecord(any.value)?.version ?? null) : null;
  const state = p ? p.state : null;
  if (live && live.expiresAt === 0 && rec?.online !== false) {
    // A record without a TTL is no heartbeat (an older version, or presence.enabled off): judge by the session.
    const lastSeen = session ? new Date(now).toISOString() : typeof rec?.at === 'string' ? rec.at : new Date(live.wall).toISOString();
    return { id, self: false, online: session, reason: session ? 'session' : 'unknown', lastSeen, version, ...peerPart, state };
  }
  if (live) {
    // A heartbeat overdue by more than one period (plus a second and the measured offset),
    // from a peer this node dials and cannot reach: offline before the record expires.
    const period = node.config.presence.timeout / 3;
    const overdue = p !== undefined && !session && now - (live.wall - (peerPart.clockOffsetMs ?? 0)) > period + 1000;
    if (overdue && rec?.online !== false) {
      return { id, self: false, online: false, reason: 'expired', lastSeen: typeof rec?.at === 'string' ? rec.at : new Date(live.wall).toISOString(), version, ...peerPart, state };
    }
    const online = rec?.online !== false;
    const lastSeen = session ? new Date(now).toISOString() : typeof rec?.at === 'string' ? rec.at : new Date(live.wall).toISOString();
    return { id, self: false, online, reason: online ? 'record' : 'stopped', lastSeen, version, ...peerPart, state };
  }
  if (any !== undefined) {
    // Expired (or its tombstone): offline, whatever a session says, until it heartbeats again.
    return { id, self: false, online: false, reason: 'expired', lastSeen: new Date(any.wall).toISOString(), version, ...peerPart, state };
  }
  return { id, self: false, online: session, reason: session ? 'session' : 'unknown', lastSeen: session ? new Date(now).toISOString() : null, version, ...peerPart, state };
}

/** A status record as stored (another version may have written it: every field is checked before use). */
function parseRecord(v: Buffer): Partial<NodeStatusRecord> | undefined {
  try {
    const r = JSON.parse(v.toString('utf8')) as unknown;
    return r !== null && typeof r === 'object' ? (r as Partial<NodeStatusRecord>) : undefined;
  } catch {
    return undefined;
  }
}
