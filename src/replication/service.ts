import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { parseStreamId, type Entry } from '../entry/entry.js';
import { listenHint } from '../config/describe.js';
import { FleetError } from '../errors.js';
import type { NodeHost, NodeService, PeerState } from '../node-host.js';
import type { PeerStatus } from '../node-status.js';
import { VersionVector, type VectorObject } from '../store/vector.js';
import { Dialer, type DialerHost } from './dialer.js';
import { ENTRIES_CATCHUP, PROTOCOL_VERSION, type ForwardBody } from './frames.js';
import type { Hello } from './hello.js';
import { ReplicationMetrics } from './metrics.js';
import { ENTRIES_FULL } from './outbox.js';
import { PeerBook } from './peer-book.js';
import { PeerSession, quietLinkMs, type ReplicationSettings, type SessionHost } from './session.js';
import { tcpTransport, type Listener, type Transport } from './transport.js';
import { clashes, type Stamp, type Stamps } from './twins.js';

export interface ReplicationOptions {
  /** How to reach peers (default: TCP, or mutual TLS with peer.tls.enabled). */
  transport?: Transport;
  /** Extra peer addresses beside config `peers`. */
  peers?: string[];
  /** Start a discovery that calls `add(address)` for each peer found (mDNS). Returns a stop function. */
  discover?: (service: ReplicationService) => Promise<() => Promise<void>>;
}

export type { PeerStatus } from '../node-status.js';

/** Bytes of one ENTRIES frame when coalescing. */
const FRAME_TARGET_BYTES = 256 * 1024;

/**
 * Replication (docs/replication.md): the peer listener, one dialer per known peer
 * address, at most one session per peer node, and the routing between them:
 * every applied entry goes to every session whose peer lacks it (relay), and
 * received entries go through node.ingest (catch-up: any order; live: only
 * the next seq of its stream).
 */
/** Of two HELLOs with one node id, whether `a` started later (ties: the larger instance id). */
function isLater(a: Pick<Hello, 'started' | 'instance'>, b: Pick<Hello, 'started' | 'instance'>): boolean {
  const ta = a.started ?? Number.MAX_SAFE_INTEGER;
  const tb = b.started ?? Number.MAX_SAFE_INTEGER;
  return ta !== tb ? ta > tb : a.instance > b.instance;
}

export class ReplicationService implements NodeService, SessionHost, DialerHost {
  readonly name = 'replication';
  readonly settings: ReplicationSettings;
  readonly metrics: ReplicationMetrics;
  readonly logger: Logger;
  readonly redialMinMs: number;
  readonly redialMaxMs: number;
  private readonly instance = randomBytes(8).toString('hex');
  /** When this instance started: of two live nodes with one id, the later one is the newcomer. */
  private readonly started = Date.now();
  private readonly transport: Transport;
  private readonly sessions = new Set<PeerSession>();
  private readonly byNode = new Map<string, PeerSession>();
  private readonly dialers = new Map<string, Dialer>();
  private readonly dialerOf = new WeakMap<PeerSession, Dialer>();
  private readonly fullKeys = new Map<PeerSession, Set<string>>();
  /** Sessions whose peer was not seen within tombstoneRetention before this connection (judged before it counts as seen). */
  private readonly unrecent = new WeakSet<PeerSession>();
  private book!: PeerBook;
  private listener: Listener | undefined;
  private unsubscribe: (() => void) | undefined;
  private unstaged: (() => void) | undefined;
  private unforward: (() => void) | undefined;
  private stopDiscovery: (() => Promise<void>) | undefined;
  private fullResyncPending = false;
  private running = false;

  constructor(
    readonly node: NodeHost,
    private readonly opts: ReplicationOptions = {},
  ) {
    const c = node.config;
    this.logger = node.logger.child({ svc: 'replication' });
    this.metrics = new ReplicationMetrics(node.metrics.registry, () => this.updateGauges());
    const maxRecordBytes = c.limits.maxValueBytes + 2048;
    this.settings = {
      fleetId: c.fleetId,
      nodeId: c.nodeId,
      secret: c.fleetSecret,
      maxFrameBytes: c.replication.maxFrameBytes || c.limits.maxValueBytes + 1024 * 1024,
      maxRecordBytes,
      queueBytes: c.replication.queueBytes,
      writeHighWater: 1024 * 1024,
      frameBytes: FRAME_TARGET_BYTES,
      antiEntropyMs: c.replication.antiEntropyInterval,
      idleTimeoutMs: c.replication.idleTimeout,
      handshakeTimeoutMs: c.replication.handshakeTimeout,
    };
    if (this.settings.maxFrameBytes < maxRecordBytes + 64 * 1024) {
      throw new FleetError('CONFIG_INVALID', `invalid configuration: replication.maxFrameBytes (${this.settings.maxFrameBytes}) must exceed limits.maxValueBytes + 64 KiB, or the largest entry could never be sent`);
    }
    this.redialMinMs = c.replication.redialMin;
    this.redialMaxMs = c.replication.redialMax;
    const t = c.peer.tls;
    this.transport = opts.transport ?? tcpTransport({ logger: this.logger, maxConnections: c.replication.maxConnections, tls: t.enabled ? { ca: t.ca, cert: t.cert, key: t.key } : undefined });
  }

  // ---------------------------------------------------------------- lifecycle

  async start(): Promise<void> {
    const c = this.node.config;
    this.book = new PeerBook(c.dataDir, c.tombstoneRetention);
    this.fullResyncPending = this.checkStale();
    if (!c.fleetSecret && !c.peer.tls.enabled) this.logger.warn('fleetSecret is empty and peer.tls is off: peers are NOT authenticated');
    this.node.setTombstoneStability((e) => this.tombstoneStable(e));
    // Own writes are shipped when staged, in parallel with their fsync; entries
    // from peers are relayed when applied, on arrival (docs/adr/0104). The source
    // tag of an ingested entry is the session it came from.
    this.unstaged = this.node.onStaged((e) => this.route(e, undefined));
    this.unsubscribe = this.node.onApplied((e, result, _other, source) => {
      if (source !== 'local' && result !== 'duplicate') this.route(e, source instanceof PeerSession ? source : undefined);
    });
    this.unforward = this.node.onForward((m) => this.forwardToPeers(m));
    try {
      this.listener = await this.transport.listen(c.peer.host, c.peer.port, (socket, remote) => this.accept(socket, remote));
    } catch (err) {
      throw new FleetError('UNAVAILABLE', `peer listener on ${c.peer.host}:${c.peer.port}: ${(err as Error).message}${listenHint(err, 'peer.port')}`, err);
    }
    this.running = true;
    // Hold writes until a peer confirms the incarnation (or replication.identityWait passes, docs/adr/0002).
    // Peers it dials, discovers, or that dialled it before (peers.json): a node only dialled by others has peers too.
    if (c.peers.length > 0 || (this.opts.peers ?? []).length > 0 || this.opts.discover || this.book.knowsPeers) this.node.holdWrites(c.replication.identityWait);
    for (const a of [...c.peers, ...(this.opts.peers ?? [])]) this.addPeer(a);
    if (this.opts.discover) this.stopDiscovery = await this.opts.discover(this);
    this.logger.info({ port: this.listener.port, peers: [...this.dialers.keys()], protocol: PROTOCOL_VERSION }, 'replication listening on port %d', this.listener.port);
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.stopDiscovery?.().catch(() => {});
    for (const d of this.dialers.values()) d.stop();
    this.unsubscribe?.();
    this.unstaged?.();
    this.unforward?.();
    for (const s of this.sessions) {
      s.end('node stopping');
      s.socket.destroy();
    }
    await this.listener?.close();
    this.book?.save();
  }

  /** Away from every peer longer than tombstoneRetention: peers may have dropped tombstones we lack. */
  private checkStale(): boolean {
    // A standalone node (no peer configured or discovered, none ever met) was away from no one.
    const c = this.node.config;
    const expectsPeers = c.peers.length > 0 || (this.opts.peers ?? []).length > 0 || this.opts.discover !== undefined || this.book.knowsPeers;
    const st = this.book.staleness(expectsPeers && this.node.store.size + this.node.store.tombstoneCount > 0);
    if (st.stale) {
      this.logger.warn(
        { awayMs: st.awayMs, tombstoneRetention: this.node.config.tombstoneRetention },
        'this node was away longer than tombstoneRetention (or has no record of its last sync): asking peers for a full resync, so no deleted key comes back',
      );
    }
    return st.stale;
  }

  /** Dial a peer address (static or discovered) and keep it dialled. */
  addPeer(address: string): void {
    if (!this.running || this.dialers.has(address)) return;
    const d = new Dialer(address, this);
    this.dialers.set(address, d);
    d.start();
  }

  ports(): Record<string, number> {
    return this.listener ? { peer: this.listener.port } : {};
  }

  status(): { peers: PeerStatus[] } {
    return { peers: this.peerStatus() };
  }

  /** The peers and their states, in peerStatus()'s order, without its lag, queue and vectors (presence checks it every second). */
  peerStates(): PeerState[] {
    const out: PeerState[] = [];
    for (const s of this.byNode.values()) out.push({ nodeId: s.peerId, address: s.address, state: s.publicState });
    for (const d of this.unconnectedDialers()) out.push({ nodeId: d.nodeId, address: d.address, state: 'connecting' });
    return out;
  }

  /** Dialled peers with no session (yet): shown as connecting. */
  private *unconnectedDialers(): Iterable<Dialer> {
    for (const d of this.dialers.values()) if (d.nodeId === undefined || !this.byNode.has(d.nodeId)) yield d;
  }

  peerStatus(): PeerStatus[] {
    const mine = this.node.store.durable;
    const out: PeerStatus[] = [];
    for (const s of this.byNode.values()) {
      const entries = s.ackVector.lagBehind(mine);
      out.push({
        nodeId: s.peerId,
        address: s.address,
        direction: s.direction,
        state: s.publicState,
        vector: s.ackVector.toObject(),
        lag: { entries, ms: entries === 0 ? 0 : s.lagMs },
        queue: { entries: s.outbox.queuedEntries, bytes: s.outbox.queuedBytes + s.socket.writableLength },
        rttMs: s.rttMs,
        clockOffsetMs: s.clockOffsetMs,
        direct: [...s.peerDirect],
      });
    }
    for (const d of this.unconnectedDialers()) out.push({ nodeId: d.nodeId, address: d.address, state: 'connecting' });
    return out;
  }

  // ---------------------------------------------------------------- sessions

  private accept(socket: Duplex, remote: string): void {
    if (!this.running) {
      socket.destroy();
      return;
    }
    this.sessions.add(new PeerSession(this, socket, remote, 'in'));
  }

  connect(address: string, dialer: Dialer): PeerSession {
    const s = new PeerSession(this, this.transport.dial(address), address, 'out');
    this.sessions.add(s);
    this.dialerOf.set(s, dialer);
    return s;
  }

  hello(nonce: string): Hello {
    if (!this.fullResyncPending && this.checkStale()) this.fullResyncPending = true;
    return {
      protocol: PROTOCOL_VERSION,
      fleetId: this.settings.fleetId,
      nodeId: this.settings.nodeId,
      instance: this.instance,
      started: this.started,
      vector: this.node.store.durable.toObject(),
      nonce,
      fullResync: this.fullResyncPending,
    };
  }

  /**
   * One connection per pair of nodes: when both dial, both sides keep the
   * connection dialled by the smaller node id. A new instance of a peer (it
   * restarted) replaces its old connection.
   */
  authenticated(s: PeerSession): boolean {
    const id = s.peerId!;
    const old = this.byNode.get(id);
    if (old && old !== s) {
      if (old.peer!.instance !== s.peer!.instance) {
        // A live connection to another instance with the same id: two nodes share an id.
        if (old.silentMs < Math.max(2 * quietLinkMs(this.settings), 2000)) {
          // Two live nodes share an id: the later-started one is the newcomer and is told so (it refuses writes).
          const newcomerIsNew = isLater(s.peer!, old.peer!);
          const [keep, drop] = newcomerIsNew ? [old, s] : [s, old];
          const msg = `node id clash: another node (instance ${keep.peer!.instance}, at ${keep.address}, started earlier) is connected as "${id}"; this one is the newcomer and refuses writes: give every node its own nodeId`;
          drop.fail(new FleetError('NODE_ID_CLASH', msg), 'warn', { newcomer: true });
          if (drop === s) return false;
        } else old.end('replaced by a connection from a new instance of the peer (restarted)');
      } else if (this.preferred(s) && !this.preferred(old)) {
        old.closeDuplicate('duplicate connection: keeping the one dialled by the smaller node id');
      } else {
        s.closeDuplicate('duplicate connection: one connection per pair of nodes');
        this.dialerOf.get(s)?.authenticated(s);
        return false;
      }
    }
    this.byNode.set(id, s);
    this.dialerOf.get(s)?.authenticated(s);
    if (!this.book.isRecent(id)) this.unrecent.add(s); // before seen(): it makes every peer recent
    this.book.seen(id, s.peer!.vector, s.direction === 'out' ? s.address : undefined);
    this.logger.info({ peer: id, remote: s.address, direction: s.direction }, 'peer %s connected (%s)', id, s.direction === 'out' ? `dialled ${s.address}` : `from ${s.address}`);
    // Before any entry of this peer arrives: does it hold more of our own stream than we do? (docs/adr/0002)
    this.node.checkOwnVector(s.peer!.vector, `peer ${id}`);
    this.node.confirmIdentity();
    return true;
  }

  peerHello(nodeId: string): Hello | undefined {
    return this.byNode.get(nodeId)?.peer;
  }

  stamped(s: PeerSession, stamps: Stamps): void {
    for (const c of clashes(this.node.store, this.node.store.vector, stamps)) this.twin(s, c.stream, c.stamp);
  }

  /**
   * `from` holds another entry than ours at one (stream, seq): two live nodes
   * write that stream (twins with one incarnation, docs/adr/0002). Of the twin
   * we are connected to and the one `from` is connected to (its HELLO in the
   * stamp), the later-started is the newcomer, as for two twins on one peer:
   * ours is told so if it is; else `from`'s side tells the other. Without the
   * other's HELLO (`from` is not connected to it) this node cannot tell which
   * came first and stops neither: it logs and counts the clash.
   */
  private twin(from: PeerSession, stream: string, stamp: Stamp): void {
    const { origin } = parseStreamId(stream);
    this.metrics.twins.inc();
    const what = `peer ${from.label} holds another entry than this node at ${stream} seq ${stamp.s}`;
    const ours = this.byNode.get(origin);
    const other = stamp.t !== undefined && stamp.i !== undefined ? { started: stamp.t, instance: stamp.i } : undefined;
    if (ours === undefined || other === undefined || other.instance === ours.peer!.instance || !isLater(ours.peer!, other)) {
      this.logger.warn({ peer: from.peerId, stream, seq: stamp.s }, 'node id clash: %s: two nodes write as "%s"; the newcomer is not connected here (or not known)', what, origin);
      return;
    }
    const msg = `node id clash: two nodes write stream ${stream} as "${origin}" (${what}); this one is the newcomer (the other started earlier) and refuses writes: give every node its own nodeId`;
    ours.fail(new FleetError('NODE_ID_CLASH', msg), 'warn', { newcomer: true });
  }

  newcomer(s: PeerSession, message: string): void {
    this.node.refuseWrites(new FleetError('NODE_ID_CLASH', `peer ${s.label} reports ${message}`));
  }

  private preferred(s: PeerSession): boolean {
    const dialer = s.direction === 'out' ? this.settings.nodeId : s.peerId!;
    const acceptor = s.direction === 'out' ? s.peerId! : this.settings.nodeId;
    return dialer < acceptor;
  }

  hasPeer(nodeId: string): boolean {
    return this.byNode.has(nodeId);
  }

  countReconnect(): void {
    this.metrics.reconnects.inc();
  }

  needsFullSync(s: PeerSession): boolean {
    const p = s.peer!;
    if (p.fullResync) {
      this.logger.info({ peer: p.nodeId }, 'peer %s asked for a full resync', p.nodeId);
      return true;
    }
    // A peer unseen for tombstoneRetention (or never met) may hold keys whose tombstones we dropped.
    return this.unrecent.has(s) && Object.keys(p.vector).length > 0;
  }

  closed(s: PeerSession): void {
    this.sessions.delete(s);
    this.fullKeys.delete(s);
    const id = s.peerId;
    if (id !== undefined && this.byNode.get(id) === s) {
      this.byNode.delete(id);
      this.logger.info({ peer: id, reason: s.closeReason }, 'peer %s disconnected: %s', id, s.closeReason);
      for (const d of this.dialers.values()) if (d.nodeId === id) d.wake();
    }
    this.dialerOf.get(s)?.sessionClosed(s);
  }

  // ---------------------------------------------------------------- entries

  /**
   * Stream an applied entry to every peer that lacks it, except the one it
   * came from and, for a relayed entry, peers that said they are connected to
   * its origin: the origin sends it to them itself (docs/adr/0500). Without
   * that, a full mesh of N sent each write up to N(N-1) times instead of N-1.
   * If that link is in fact down, the peer's next ACK says so and
   * anti-entropy fetches what it missed. Returns whether any peer took it.
   */
  private route(e: Entry, from: PeerSession | undefined): boolean {
    let sent = false;
    for (const s of this.byNode.values()) {
      // Never back to its origin (it applies its own writes after its fsync), nor to the session it came from.
      if (s === from || s.peerId === e.origin || (from !== undefined && s.peerDirect.has(e.origin))) continue;
      if (s.offer(e)) sent = true;
    }
    return sent;
  }

  /**
   * A live mirrored MQTT publish taken by this node's broker: to every peer
   * connected directly, once (docs/mqtt.md, "Mirrored topics"). Not relayed:
   * a peer delivers it to its broker and forwards it no further.
   */
  private forwardToPeers(m: ForwardBody): void {
    const max = this.node.config.limits.forwardQueueBytes;
    for (const s of this.byNode.values()) {
      if (!s.forward(m, max)) this.metrics.forwardDropped.inc({ peer: s.peerId ?? '?' });
    }
  }

  forwarded(s: PeerSession, m: ForwardBody): void {
    this.node.deliverForwarded({ ...m, origin: s.peerId! });
  }

  directPeers(): string[] {
    return [...this.byNode.keys()];
  }

  receive(s: PeerSession, entries: Entry[], flags: number): Promise<void> {
    const catchup = (flags & ENTRIES_CATCHUP) !== 0;
    this.metrics.entriesReceived.inc({ mode: catchup ? 'catchup' : 'live' }, entries.length);
    const vector = this.node.store.vector;
    const work: Promise<unknown>[] = [];
    let keys: Set<string> | undefined;
    if (flags & ENTRIES_FULL) {
      keys = this.fullKeys.get(s) ?? new Set();
      this.fullKeys.set(s, keys);
    }
    for (const e of entries) {
      keys?.add(e.key);
      if (catchup) {
        if (vector.covers(e.stream, e.seq)) continue;
        work.push(this.node.ingest(e, s.peerId, s));
        continue;
      }
      s.peerKnown.advance(e.stream, e.seq);
      // ingest applies at once: the applied vector already covers every entry handed to it
      // (a failed append steps it back, node.ts).
      const have = vector.get(e.stream);
      if (e.seq <= have) continue;
      if (e.seq !== have + 1) {
        this.metrics.gaps.inc();
        continue; // anti-entropy brings the missing ones
      }
      work.push(this.node.ingest(e, s.peerId, s));
    }
    return Promise.all(work).then(() => {});
  }

  takeFullKeys(s: PeerSession): Set<string> {
    const keys = this.fullKeys.get(s) ?? new Set<string>();
    this.fullKeys.delete(s);
    return keys;
  }

  /**
   * Our own streams as far as we vouch for them in a SYNC_DONE: as far as our
   * durable vector covers them. Like any vector of ours, it covers only
   * entries we hold or hold a replacement of (a stream given up after a
   * failed batch is merged here up to what it stamped only from a peer's
   * claim, after that peer's catch-up brought what it holds of it).
   */
  vouched(): VectorObject {
    const own = `${this.settings.nodeId}:`;
    const out: VectorObject = {};
    for (const [stream, seq] of this.node.store.durable.map) if (stream.startsWith(own)) out[stream] = seq;
    return out;
  }

  async syncDone(s: PeerSession, claimed: VectorObject, own: VectorObject, keys: Set<string> | undefined): Promise<void> {
    const vector = this.provenPart(claimed, own, s);
    await this.node.mergeVector(vector);
    this.metrics.catchups.inc({ direction: 'received' });
    if (keys) {
      const forgotten = await this.forgetDeleted(keys, VersionVector.from(vector));
      this.logger.info({ peer: s.peerId, keys: keys.size, forgotten }, 'full resync from %s done: %d keys received, %d stale keys dropped', s.peerId, keys.size, forgotten);
      this.fullResyncPending = false;
    }
    this.book.synced();
    this.book.seen(s.peerId!, vector);
  }

  /**
   * The part of a SYNC_DONE vector that entries prove (docs/guarantees.md,
   * "forged vector"): each stream up to the highest seq this node has applied
   * of it (this catch-up's entries included) or already covers. A vector
   * claims the entries a catch-up skipped because later ones replaced them;
   * a claim beyond every entry of its stream seen here proves nothing, and
   * merged it would drop that stream's real entries as duplicates. Our own
   * streams come only from our entries (checked as identity evidence).
   *
   * The sender's own streams are the exception, as far as it vouches for
   * them (`own`, see vouched()): their origin is the one node that knows
   * them, and each entry up to there is either in the catch-up this SYNC_DONE
   * ends (or covered here) or was replaced at the sender by an entry that is.
   * That part is merged whole: without it, a stream whose newest entry was
   * replaced (by another node's write, or by the origin's own write in a
   * later incarnation, so the stream is never written again) lagged in every
   * other vector for ever.
   */
  private provenPart(claimed: VectorObject, senderOwn: VectorObject, s: PeerSession): VectorObject {
    const store = this.node.store;
    const out: VectorObject = {};
    const own = `${this.settings.nodeId}:`;
    let capped = 0;
    for (const [stream, seq] of Object.entries(claimed)) {
      if (stream.startsWith(own)) {
        // A stream of ours given up after a failed batch: we know what it stamped (docs/adr/0104).
        const stamped = this.node.stampedIn(stream);
        if (stamped > 0) out[stream] = Math.min(seq, stamped);
        continue;
      }
      // Durable only: the merge goes into the durable vector, which must not claim an entry still under fsync.
      let bound = Math.max(store.durable.get(stream), store.durableProven.get(stream) ?? 0);
      const vouched = senderOwn[stream];
      if (vouched !== undefined && parseStreamId(stream).origin === s.peerId) bound = Math.max(bound, vouched); // the origin vouches (above)
      if (seq > bound) capped++;
      out[stream] = Math.min(seq, bound);
    }
    this.node.checkOwnVector(claimed, `peer ${s.label}`);
    if (capped > 0) {
      this.logger.warn({ peer: s.peerId, streams: capped }, 'SYNC_DONE from %s claims %d streams beyond any entry seen here: merged only up to what entries prove', s.label, capped);
    }
    return out;
  }

  /**
   * After a full resync: a key we hold, that the sender does not, in an entry
   * the sender's vector covers, was deleted in the fleet and its tombstone
   * collected. Drop it, then compact so the drop is durable before we record
   * the sync.
   */
  private async forgetDeleted(received: Set<string>, sender: VersionVector): Promise<number> {
    const stale: string[] = [];
    for (const e of this.node.store.all()) if (!received.has(e.key) && sender.covers(e.stream, e.seq)) stale.push(e.key);
    for (const k of stale) this.node.forget(k);
    if (stale.length > 0) {
      this.logger.warn({ keys: stale.length, sample: stale.slice(0, 5) }, 'full resync: dropping %d keys deleted in the fleet while this node was away', stale.length);
      await this.node.compact();
      await this.node.compact(); // the first may have started before the drop
    }
    return stale.length;
  }

  acked(s: PeerSession, vector: VectorObject): void {
    this.book.seen(s.peerId!, vector);
    if (s.inboundSynced && !this.fullResyncPending) this.book.synced();
  }

  /**
   * Tombstone GC by causal stability (docs/adr/0101, 0103): `missing` while a
   * connected peer or one seen within tombstoneRetention lacks it; `held`
   * once every such peer has it; `unknown` with none to ask, or while a
   * configured peer was never met (it gets a full resync when it is).
   */
  private tombstoneStable(e: Entry): 'held' | 'missing' | 'unknown' {
    const s = this.book.holders(e, (id) => this.byNode.has(id));
    if (s !== 'held') return s;
    for (const d of this.dialers.values()) if (d.nodeId === undefined) return 'unknown';
    return 'held';
  }

  /** The peer gauges (lag, clock offset, peers by state), computed when /metrics is scraped (ReplicationMetrics' collect): no timer. */
  private updateGauges(): void {
    const counts = { connecting: 0, syncing: 0, live: 0 };
    this.metrics.lagEntries.reset();
    this.metrics.lagSeconds.reset();
    this.metrics.clockOffset.reset();
    for (const p of this.peerStatus()) {
      counts[p.state]++;
      if (p.nodeId && p.lag) {
        this.metrics.lagEntries.set({ peer: p.nodeId }, p.lag.entries);
        this.metrics.lagSeconds.set({ peer: p.nodeId }, p.lag.ms / 1000);
        if (p.clockOffsetMs !== undefined) this.metrics.clockOffset.set({ peer: p.nodeId }, p.clockOffsetMs / 1000);
      }
    }
    for (const [state, n] of Object.entries(counts)) this.metrics.peers.set({ state }, n);
  }
}
