/**
 * The status contract (docs/http-api.md, "/v1/status"): one type read by
 * `/v1/status`, the node status record MQTT and presence write
 * (`_fleetkv/nodes/<id>`), `/v1/nodes` and `fleetkv status`. The core fills
 * `NodeCoreStatus`; each service adds its own section (`ServiceStatus`).
 */
import type { FleetErrorCode } from './errors.js';
import type { VectorObject } from './store/vector.js';

export type NodeState = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

/** One peer as replication sees it (`peers` of /v1/status). */
export interface PeerStatus {
  nodeId?: string | undefined;
  address: string;
  direction?: 'in' | 'out';
  state: 'connecting' | 'syncing' | 'live';
  vector?: VectorObject;
  lag?: { entries: number; ms: number };
  queue?: { entries: number; bytes: number };
  rttMs?: number | undefined;
  /** The peer's wall clock minus this node's, ms (PING/PONG; docs/guarantees.md, "Expiry"). */
  clockOffsetMs?: number | undefined;
  /** Nodes the peer said (last ACK) it is connected to directly; relays to it skip their entries. */
  direct?: string[];
}

export interface CompactionStatus {
  at: string;
  bytesFreed: number;
  entries: number;
  ms: number;
}

export interface RecoveryStatus {
  records: number;
  ms: number;
  tornTail?: unknown;
}

export interface LogStatus {
  bytes: number;
  activeSegment?: number | undefined;
  fsync: string;
  lastError?: { code: FleetErrorCode; message: string } | undefined;
  lastCompaction?: CompactionStatus | undefined;
  lastRecovery?: RecoveryStatus | undefined;
}

/** The MQTT broker (src/mqtt/service.ts). */
export interface MqttStatus {
  clients: number;
  pending: number;
  ports: Record<string, number>;
}

/** The uplink to a central broker (src/uplink/service.ts). */
export interface UplinkStatus {
  connected: boolean;
  pending: number;
}

/** Presence heartbeats (src/robots/presence-service.ts). */
export interface PresenceStatus {
  timeoutMs: number;
}

/** The HTTP API (src/http/server.ts). */
export interface HttpStatus {
  port: number | undefined;
  watchers: number;
}

/** The sections services add to the node's status, one per service (each optional: only running services add theirs). */
export interface ServiceStatus {
  peers?: PeerStatus[];
  mqtt?: MqttStatus;
  uplink?: UplinkStatus;
  presence?: PresenceStatus;
  http?: HttpStatus;
}

/** What the core reports itself. */
export interface NodeCoreStatus {
  nodeId: string;
  fleetId: string;
  incarnation: number;
  version: string;
  state: NodeState;
  writable: boolean;
  unwritableReason?: string;
  vector: VectorObject;
  keys: number;
  tombstones: number;
  log: LogStatus;
  /** Empty without replication. */
  peers: PeerStatus[];
}

/** `/v1/status`: the core's fields and each running service's section. */
export type NodeStatus = NodeCoreStatus & ServiceStatus;

/** The names of the service sections, in the order `fleetkv status` prints them. */
export const SERVICE_SECTIONS = ['mqtt', 'uplink', 'presence', 'http'] as const satisfies readonly (keyof ServiceStatus)[];

/**
 * A node's status record, the JSON value of `_fleetkv/nodes/<nodeId>`
 * (docs/adr/0200) that replication carries to every node and MQTT publishes
 * on `<prefix>/nodes/<nodeId>`; read back by /v1/nodes and /v1/fleet.
 */
export interface NodeStatusRecord {
  nodeId: string;
  online: boolean;
  at: string;
  version: string;
  fleetId: string;
  incarnation: number;
  keys: number;
  peers: Pick<PeerStatus, 'nodeId' | 'state' | 'lag' | 'clockOffsetMs'>[];
  vector: VectorObject;
}
