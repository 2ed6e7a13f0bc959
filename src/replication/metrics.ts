import { Counter, Gauge, type Registry } from 'prom-client';

/** Replication metrics, registered on the node's registry (served at /metrics). */
export class ReplicationMetrics {
  readonly entriesSent: Counter<'mode'>;
  readonly entriesReceived: Counter<'mode'>;
  readonly bytesSent: Counter;
  readonly framesSent: Counter<'type'>;
  readonly bytesReceived: Counter;
  readonly catchups: Counter<'direction'>;
  readonly reconnects: Counter;
  readonly refused: Counter<'code'>;
  readonly overflows: Counter;
  readonly gaps: Counter;
  readonly twins: Counter;
  readonly forwardDropped: Counter<'peer'>;
  readonly lagEntries: Gauge<'peer'>;
  readonly lagSeconds: Gauge<'peer'>;
  readonly peers: Gauge<'state'>;
  readonly clockOffset: Gauge<'peer'>;

  /** `refreshGauges` sets the four gauges; it runs once per scrape, from the first gauge's collect. */
  constructor(registry: Registry, refreshGauges: () => void = () => {}) {
    const registers = [registry];
    this.entriesSent = new Counter({ name: 'fleetkv_replication_entries_sent_total', help: 'Entries sent to peers, by mode (live|catchup)', labelNames: ['mode'], registers });
    this.entriesReceived = new Counter({ name: 'fleetkv_replication_entries_received_total', help: 'Entries received from peers, by mode (live|catchup)', labelNames: ['mode'], registers });
    this.bytesSent = new Counter({ name: 'fleetkv_replication_bytes_sent_total', help: 'Bytes written to peer connections', registers });
    this.framesSent = new Counter({ name: 'fleetkv_replication_frames_sent_total', help: 'Frames written to peer connections, by type (ENTRIES, ACK, PING, …)', labelNames: ['type'], registers });
    this.bytesReceived = new Counter({ name: 'fleetkv_replication_bytes_received_total', help: 'Bytes read from peer connections', registers });
    this.catchups = new Counter({ name: 'fleetkv_replication_catchups_total', help: 'Catch-ups completed, by direction (sent|received)', labelNames: ['direction'], registers });
    this.reconnects = new Counter({ name: 'fleetkv_replication_reconnects_total', help: 'Redials after a peer connection was lost', registers });
    this.refused = new Counter({ name: 'fleetkv_replication_connections_closed_total', help: 'Peer connections closed for an error, by code', labelNames: ['code'], registers });
    this.overflows = new Counter({ name: 'fleetkv_replication_queue_overflows_total', help: "Times a slow peer's queue overflowed and it was moved back to catch-up", registers });
    this.gaps = new Counter({ name: 'fleetkv_replication_gap_entries_total', help: 'Live entries not applied because an earlier seq of their stream was missing (anti-entropy fetches them)', registers });
    this.twins = new Counter({
      name: 'fleetkv_replication_twin_entries_total',
      help: 'Entries a peer holds with other content than this node under one (origin, incarnation, seq): two live nodes write one stream (a node id clash)',
      registers,
    });
    this.forwardDropped = new Counter({
      name: 'fleetkv_replication_forward_dropped_total',
      help: 'Live mirrored MQTT publishes not sent to a peer: too slow (over limits.forwardQueueBytes unsent) or too old to take them',
      labelNames: ['peer'],
      registers,
    });
    // Registered first of the four: its collect refreshes all of them before any is read (one synchronous pass per scrape).
    this.lagEntries = new Gauge({ name: 'fleetkv_replication_lag_entries', help: 'Entries this node has that the peer has not acknowledged', labelNames: ['peer'], registers, collect: refreshGauges });
    this.lagSeconds = new Gauge({ name: 'fleetkv_replication_lag_seconds', help: 'How long the peer has been behind this node', labelNames: ['peer'], registers });
    this.clockOffset = new Gauge({ name: 'fleetkv_replication_clock_offset_seconds', help: "The peer's wall clock minus this node's (PING/PONG midpoint; error within rtt/2)", labelNames: ['peer'], registers });
    this.peers = new Gauge({ name: 'fleetkv_replication_peers', help: 'Peers by state (connecting|syncing|live)', labelNames: ['state'], registers });
  }
}
