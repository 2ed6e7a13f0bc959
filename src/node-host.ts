/**
 * What a service (replication, MQTT, uplink, presence, HTTP) may use of the
 * node it runs on (docs/adr/0004-core-and-services.md): writes through the
 * one apply path, listeners, read-only views of the store, its vector and
 * the history, the config, logger and metrics registry, the node's identity
 * and its typed status. `FleetNode` implements it; services get nothing else
 * of it (no mutable fields: what a service plugs into the core is a
 * registration, e.g. `setTombstoneStability`). Types only.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { FleetConfig } from './config/schema.js';
import type { Entry } from './entry/entry.js';
import type { FleetError } from './errors.js';
import type { CompactionStatus, NodeState, NodeStatus, PeerStatus, ServiceStatus } from './node-status.js';
import type { ApplyResult, Store } from './store/store.js';
import type { ReadonlyVector, VectorObject } from './store/vector.js';

/** Where an applied entry came from, as reported in conflicts: this node's own write, or a peer's. */
export type Source = 'local' | 'remote';
/**
 * What an apply listener is told about the entry's source: `'local'` for this
 * node's own writes, otherwise the opaque tag its caller passed to `ingest`
 * (replication passes the session it came from; `'remote'` when none). The
 * core never looks inside a tag.
 */
export type ApplySource = 'local' | 'remote' | (object & {});
export type ApplyListener = (e: Entry, result: ApplyResult, other: Entry | undefined, source: ApplySource) => void;
/**
 * A local write handed to the log (staged, fsync pending): replication ships it
 * from here, in parallel with the fsync (docs/adr/0104). Returns true if the
 * entry may have left the node (it was queued for at least one peer).
 */
export type StagedListener = (e: Entry) => boolean;
/** A put that expired here (its key is now hidden); `event` is the delete told to watchers. */
export type ExpiryListener = (put: Entry, event: Entry) => void;

/** Options of a put. */
export interface PutOptions {
  /** Hide the key this long after the write (ms, or '250ms', '3s', '5m', '1h'); a refresh is a new put. */
  ttl?: number | string | undefined;
}

/** What a write returns once it is durable. */
export interface WriteResult {
  key: string;
  origin: string;
  inc: number;
  seq: number;
  hlc: string;
}

/**
 * A live MQTT publish on a mirrored topic (docs/mqtt.md, "Mirrored topics"),
 * passed between nodes without being stored: the MQTT service hands it to
 * `forward`, replication sends it to each directly connected peer, and the
 * peer's replication hands it to `deliverForwarded`. Never re-forwarded.
 */
export interface ForwardedMessage {
  topic: string;
  payload: Buffer;
  qos: 0 | 1;
  /** The node whose broker took the publish. */
  origin: string;
}
export type ForwardListener = (m: ForwardedMessage) => void;

/**
 * From replication: do the peers this node must wait for hold this
 * tombstone? `held`: every one does; `missing`: one does not (keep it);
 * `unknown`: none to ask (no peer seen within tombstoneRetention, or a
 * configured peer never met), and any peer met later gets a full resync.
 */
export type TombstoneStability = (e: Entry) => 'held' | 'missing' | 'unknown';

/** A part of the node with a lifecycle (replication, MQTT, HTTP, …); started after the core, stopped before it, in reverse order. */
export interface NodeService {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** This service's section of /v1/status (src/node-status.ts). */
  status?(): ServiceStatus;
  /** Ports it listens on, for the `ready` log line (e.g. { peer: 7400 }). */
  ports?(): Record<string, number>;
  /** The peers and their session states only (replication): what status() says of them, without the rest. */
  peerStates?(): PeerState[];
}

/** A peer and its session state: the light part of PeerStatus that presence checks every second. */
export type PeerState = Pick<PeerStatus, 'nodeId' | 'address' | 'state'>;

/** The node's store, read only. */
export type StoreView = Pick<Store, 'get' | 'getAny' | 'list' | 'listAny' | 'all' | 'allInKeyOrder' | 'missing' | 'entryAt' | 'newestOf' | 'size' | 'tombstoneCount'> & {
  /** What has been applied here (durable or not yet): deduplication. */
  readonly vector: ReadonlyVector;
  /** What is durable here (docs/adr/0104): the only vector reported to peers. */
  readonly durable: ReadonlyVector;
  /** Per stream, the seq up to which the log proves this node held every entry (replication's proven part). */
  readonly proven: ReadonlyMap<string, number>;
  /** `proven`, for durable entries only (what a SYNC_DONE claim may be merged up to). */
  readonly durableProven: ReadonlyMap<string, number>;
};

/** The last versions applied per key, read only (GET /v1/kv/<key>?history=N). */
export interface HistoryView {
  versions(key: string, n: number): Entry[];
}

export interface NodeHost {
  // identity and state
  readonly nodeId: string;
  readonly incarnation: number;
  readonly state: NodeState;
  /** Whether writes are taken now (false while held, refused, or not running). */
  readonly writable: boolean;
  /** Why writes are not taken now, for /v1/status and /readyz. */
  readonly unwritableReason: string | undefined;
  readonly config: FleetConfig;
  readonly logger: Logger;
  readonly metrics: { readonly registry: Registry };

  // reads
  get(key: string): Entry | undefined;
  readonly store: StoreView;
  readonly history: HistoryView;
  /** The hybrid clock's current reading. */
  readonly clock: { readonly wall: number; readonly logical: number };
  readonly lastCompaction: CompactionStatus | undefined;
  /** /v1/status: the core's fields and every service's section. */
  status(): NodeStatus;
  /** The peers and their states as status().peers has them, without building the status (presence's change check). */
  peerStates(): PeerState[];
  /** Bring the gauges of the metrics registry up to date (before /metrics is read). */
  refreshGauges(): void;

  // writes (local), all through the one apply path
  put(key: string, value: Uint8Array | string, opts?: PutOptions): Promise<WriteResult>;
  delete(key: string): Promise<WriteResult>;
  /** This node's status record `_fleetkv/nodes/<nodeId>` (docs/adr/0200). */
  putStatusRecord(value: Uint8Array, opts?: PutOptions): Promise<WriteResult>;
  /** The presence goodbye: the status record, written while services stop and the log is still open. */
  putStatusRecordWhileStopping(value: Uint8Array): Promise<WriteResult>;
  /** A mirrored MQTT topic's retained message under `_fleetkv/mirror/` (undefined deletes it). */
  writeMirrored(key: string, value: Uint8Array | undefined): Promise<WriteResult>;
  /** Write a snapshot and delete the segments it covers. */
  compact(): Promise<void>;

  // listeners
  /** Every applied entry, won or not, local or remote. Returns an unsubscribe. */
  onApplied(listener: ApplyListener): () => void;
  /** Local writes staged in the log, before their fsync (replication ships them from here). Returns an unsubscribe. */
  onStaged(listener: StagedListener): () => void;
  /** Puts that expire here. Returns an unsubscribe. */
  onExpired(listener: ExpiryListener): () => void;
  /** Every entry that wins for a key under `prefix` (deletes included). Returns an unsubscribe. */
  watch(prefix: string, cb: (e: Entry) => void): () => void;
  /** Call `cb` once the node runs (now if it already does): services start before the node is running. */
  whenRunning(cb: () => void): void;

  // mirrored MQTT publishes between nodes (not stored)
  forward(m: ForwardedMessage): number;
  deliverForwarded(m: ForwardedMessage): void;
  onForward(l: ForwardListener): () => void;
  onForwarded(l: ForwardListener): () => void;

  // replication
  /**
   * Take an entry received from a peer: applied at once, appended in the group
   * commit; resolves when its record is durable (docs/adr/0104). `tag` is passed
   * to apply listeners as the source.
   */
  ingest(e: Entry, from?: string, tag?: ApplySource): Promise<ApplyResult>;
  /** For a stream of ours given up this run after a failed batch: the highest seq it stamped; 0 otherwise. */
  stampedIn(stream: string): number;
  /** Durably merge a peer's vector after a complete catch-up (SYNC_DONE). */
  mergeVector(v: VectorObject): Promise<void>;
  /** Drop a key entirely (a full resync proved the fleet deleted it); compact afterwards to make it durable. */
  forget(key: string): boolean;
  /** Replication tells the core which tombstones the peers hold (tombstone GC); one registration, the last wins. */
  setTombstoneStability(fn: TombstoneStability): void;
  /** Evidence about our own streams from a peer's vector; returns whether there was any. */
  checkOwnVector(vector: VectorObject, from: string): boolean;
  /** A peer confirmed this node's kept incarnation. */
  confirmIdentity(): void;
  /** Refuse every write from now on (until restart). */
  refuseWrites(err: FleetError): void;
  /** Hold writes while the identity is provisional, until a peer confirms it or `timeoutMs` passes. */
  holdWrites(timeoutMs: number): void;
}
