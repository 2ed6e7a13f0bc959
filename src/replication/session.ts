import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Entry } from '../entry/entry.js';
import { FleetError, isFleetError } from '../errors.js';
import type { NodeHost } from '../node-host.js';
import { unsafeTestBreaks } from '../util/test-breaks.js';
import { VersionVector, type ReadonlyVector, type VectorObject } from '../store/vector.js';
import { FRAME, FRAME_NAMES, FrameReader, decodeEntries, decodeForward, forwardFrame, jsonFrame, parseJsonBody, type ForwardBody, type Frame } from './frames.js';
import { authProof, checkHello, checkProof, isVector, newNonce, type Hello } from './hello.js';
import type { ReplicationMetrics } from './metrics.js';
import { Outbox } from './outbox.js';

/** FLEETKV_UNSAFE_TEST_BREAK=no-anti-entropy: live streaming only (see node.ts). */
const NO_ANTI_ENTROPY = unsafeTestBreaks.has('no-anti-entropy');
/** FLEETKV_UNSAFE_TEST_BREAK=early-vector-merge: merge the peer's vector before its catch-up is done (see util/test-breaks.ts). */
const EARLY_VECTOR_MERGE = unsafeTestBreaks.has('early-vector-merge');

export interface ReplicationSettings {
  fleetId: string;
  nodeId: string;
  /** Empty: peers are not authenticated. */
  secret: string;
  maxFrameBytes: number;
  maxRecordBytes: number;
  queueBytes: number;
  /** Stop writing to a socket holding this many unsent bytes; resume on 'drain'. */
  writeHighWater: number;
  /** Target size of one ENTRIES frame (coalescing). */
  frameBytes: number;
  antiEntropyMs: number;
  idleTimeoutMs: number;
  handshakeTimeoutMs: number;
}

/** What a session needs from the replication service that owns it. */
export interface SessionHost {
  readonly settings: ReplicationSettings;
  readonly node: NodeHost;
  readonly metrics: ReplicationMetrics;
  readonly logger: Logger;
  /** This node's HELLO for a new connection. */
  hello(nonce: string): Hello;
  /** The peer proved membership; false if this connection duplicates another (it is closed). */
  authenticated(s: PeerSession): boolean;
  /** Whether the catch-up toward this peer must be a full resync. */
  needsFullSync(s: PeerSession): boolean;
  /** Start applying received entries; resolves when all of them are durable. */
  receive(s: PeerSession, entries: Entry[], flags: number): Promise<void>;
  /** The keys a full resync sent on this session so far (and forget them). */
  takeFullKeys(s: PeerSession): Set<string>;
  /** The part of our durable vector on our own streams that we vouch for (sent in SYNC_DONE as `own`). */
  vouched(): VectorObject;
  /** A complete catch-up arrived (after its entries are durable); `own`: what the peer vouches for on its own streams; `fullKeys` for a full resync. */
  syncDone(s: PeerSession, vector: VectorObject, own: VectorObject, fullKeys: Set<string> | undefined): Promise<void>;
  /** The peer said this node is the newcomer of two live nodes with one id (ERROR NODE_ID_CLASH, newcomer). */
  newcomer(s: PeerSession, message: string): void;
  /** The peer reported its vector (ACK). */
  acked(s: PeerSession, vector: VectorObject): void;
  /** Node ids this node has an open session with (advertised in ACK, see docs/adr/0500). */
  directPeers(): string[];
  closed(s: PeerSession): void;
  /** A live mirrored MQTT publish the peer forwarded (MQTT_FORWARD). */
  forwarded(s: PeerSession, m: ForwardBody): void;
}

export type SessionState = 'handshake' | 'open' | 'closed';

/** Pause reading from a peer while this many received entries are not yet durable. */
const MAX_INFLIGHT_ENTRIES = 20_000;
/** A link whose two sides agree sends an ACK every this many anti-entropy ticks (30 s at the default 500 ms). */
const QUIET_ACK_TICKS = 60;
/** PING (RTT, liveness) every this many ticks at most; fewer when idleTimeout is short. */
const PING_EVERY_TICKS = 4;

/** Ticks between PINGs: PING_EVERY_TICKS, fewer when idleTimeout is short (a live link is never silent that long). */
function pingEveryTicks(s: { antiEntropyMs: number; idleTimeoutMs: number }): number {
  return Math.max(1, Math.min(PING_EVERY_TICKS, Math.floor(s.idleTimeoutMs / 4 / s.antiEntropyMs)));
}

/** The longest a live, idle link goes without receiving a frame: one PING interval (the peer's PONGs and PINGs). */
export function quietLinkMs(s: { antiEntropyMs: number; idleTimeoutMs: number }): number {
  return pingEveryTicks(s) * s.antiEntropyMs;
}

function sameVector(a: ReadonlyVector, b: ReadonlyVector): boolean {
  return a.dominates(b) && b.dominates(a);
}

/**
 * One peer connection: handshake (HELLO + HMAC AUTH), catch-up both ways,
 * then live streaming with anti-entropy ACKs, PING/PONG and flow control.
 * Any bad input closes this connection with an ERROR frame and a log line.
 */
export class PeerSession {
  state: SessionState = 'handshake';
  peer: Hello | undefined;
  /** A lower bound of what the peer holds (its vectors, what it sent, what we sent). */
  readonly peerKnown = new VersionVector();
  /** The peer's last reported (durable) vector. */
  ackVector = new VersionVector();
  /** Origins the peer said (in its last ACK) it is connected to directly: they send it their own entries. */
  peerDirect: ReadonlySet<string> = new Set();
  ackAt = 0;
  inboundSynced = false;
  /** When the peer last acknowledged everything we had (at anti-entropy tick resolution): see lagMs. */
  private coveredAt = Date.now();
  rttMs: number | undefined;
  /**
   * The peer's wall clock minus ours, in ms (positive: the peer is ahead),
   * from its PONG time and the round trip's midpoint; undefined until a PONG
   * with a time arrived (an older peer sends none). Error ≤ rtt/2.
   */
  clockOffsetMs: number | undefined;
  closeReason: string | undefined;
  /** The peer takes MQTT_FORWARD frames (it said so in its ACK; older peers would close on an unknown frame). */
  peerForwards = false;
  /** Closed as a duplicate of another connection to the same peer. */
  duplicate = false;
  /** Closed by an ERROR (sent or received, not DUPLICATE): the dialer keeps backing off. */
  refused = false;
  readonly outbox: Outbox;
  readonly connectedAt = Date.now();

  private readonly reader: FrameReader;
  private readonly nonce = newNonce();
  private pending: Promise<void>[] = [];
  private inflight = 0;
  private paused = false;
  private pumpScheduled = false;
  private lastReceivedAt = Date.now();
  private handshakeTimer: NodeJS.Timeout | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  /** Our vector one and two anti-entropy ticks ago: what an ACK must cover. */
  private history: { t: number; vector: VersionVector }[] = [];
  private chain: Promise<void> = Promise.resolve();
  /** The peer's ACK vector at the previous tick (progress check). */
  private lastTickAck: VersionVector | undefined;
  private lastTickAt = 0;
  /** The vector of the last SYNC_DONE we sent, until the peer's ACK covers it. */
  private syncUnacked: VersionVector | undefined;
  private syncSentAt = 0;
  /** What our last ACK said and when: an idle link whose two sides agree stays quiet. */
  private lastAck: { vector: VersionVector; direct: string; at: number } | undefined;
  private ticks = 0;

  constructor(
    private readonly host: SessionHost,
    readonly socket: Duplex,
    readonly address: string,
    readonly direction: 'in' | 'out',
  ) {
    this.reader = new FrameReader(host.settings.maxFrameBytes);
    this.outbox = new Outbox(host.settings.queueBytes);
    (socket as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.pump());
    socket.on('error', (err: Error) => {
      this.closeReason ??= err.message;
    });
    socket.on('close', () => this.onClose());
    this.handshakeTimer = setTimeout(() => this.fail(new FleetError('UNAVAILABLE', `no handshake within ${host.settings.handshakeTimeoutMs} ms`)), host.settings.handshakeTimeoutMs);
    this.write(jsonFrame(FRAME.HELLO, host.hello(this.nonce)));
  }

  /** Milliseconds since anything was received on this connection. */
  get silentMs(): number {
    return Date.now() - this.lastReceivedAt;
  }

  /**
   * How long the peer has been behind, in ms: 0 when its last ACK covers our
   * vector, else the time since it last covered it (at anti-entropy tick
   * resolution). Read now, so it keeps growing while no ACK comes (a stalled
   * link), instead of keeping the figure of the last ACK.
   */
  get lagMs(): number {
    return this.ackVector.dominates(this.host.node.store.durable) ? 0 : Date.now() - this.coveredAt;
  }

  get closed(): boolean {
    return this.state === 'closed';
  }

  get peerId(): string | undefined {
    return this.peer?.nodeId;
  }

  get label(): string {
    return this.peer ? `${this.peer.nodeId} (${this.address})` : this.address;
  }

  /** Status state: connecting until authenticated, syncing until catch-up is done both ways. */
  get publicState(): 'connecting' | 'syncing' | 'live' {
    if (this.state === 'handshake' || this.state === 'closed') return 'connecting';
    return this.inboundSynced && !this.outbox.syncing ? 'live' : 'syncing';
  }

  /** Stream an entry (applied, or a local one staged) to this peer unless it is known to have it; true if queued. */
  offer(e: Entry): boolean {
    if (this.state !== 'open') return false;
    if (this.peerKnown.covers(e.stream, e.seq)) return false;
    this.peerKnown.advance(e.stream, e.seq);
    if (!this.outbox.offer(e)) {
      this.host.metrics.overflows.inc();
      this.host.logger.info({ peer: this.peerId, queueBytes: this.host.settings.queueBytes }, 'peer %s fell behind: queue full, moving it back to catch-up', this.label);
      this.resetPeerKnown();
    }
    // A full frame's worth: write now (a writer that never yields must not starve the
    // pump); otherwise on the next turn, so entries applied together share a frame.
    if (this.outbox.queuedBytes >= this.host.settings.frameBytes) this.pump();
    else this.schedulePump();
    return true;
  }

  /**
   * Send a live mirrored MQTT publish, unless the peer cannot take it or more
   * than `maxQueued` bytes wait for its socket (a slow peer): false when dropped.
   */
  forward(m: ForwardBody, maxQueued: number): boolean {
    if (this.state !== 'open' || !this.peerForwards || this.socket.writableLength > maxQueued) return false;
    this.write(forwardFrame(m));
    return true;
  }

  /** Close with an ERROR frame and a log line (bad input, refused handshake, duplicate). */
  fail(err: unknown, level: 'warn' | 'info' = 'warn', extra: Record<string, unknown> = {}): void {
    if (this.state === 'closed') return;
    const code = isFleetError(err) ? err.code : 'FRAME_INVALID';
    const message = err instanceof Error ? err.message : String(err);
    this.refused = true;
    this.host.metrics.refused.inc({ code });
    this.host.logger[level]({ peer: this.peerId, remote: this.address, code }, 'closing peer connection %s: %s', this.label, message);
    this.write(jsonFrame(FRAME.ERROR, { code, message, ...extra }));
    this.end(message);
  }

  /** Close a connection that duplicates another one to the same peer (the peer does not redial it). */
  closeDuplicate(reason: string): void {
    this.duplicate = true;
    this.host.logger.info({ peer: this.peerId, remote: this.address }, 'closing peer connection %s: %s', this.label, reason);
    this.write(jsonFrame(FRAME.ERROR, { code: 'DUPLICATE', message: reason }));
    this.end(reason);
  }

  /** Close without an error (stop, duplicate, replaced). */
  end(reason: string): void {
    if (this.state === 'closed') return;
    this.closeReason ??= reason;
    this.markClosed();
    this.socket.end();
    // A peer that does not read cannot block our close.
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  // ---------------------------------------------------------------- input

  private onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    this.lastReceivedAt = Date.now();
    this.host.metrics.bytesReceived.inc(chunk.length);
    try {
      for (const f of this.reader.push(chunk)) {
        if (this.closed) return;
        this.onFrame(f);
      }
    } catch (err) {
      this.fail(err);
    }
  }

  private onFrame(f: Frame): void {
    if (f.type === FRAME.ERROR) {
      const e = parseJsonBody<{ code?: unknown; message?: unknown; newcomer?: unknown }>(f);
      this.host.logger.warn({ peer: this.peerId, remote: this.address, code: e.code }, 'peer %s closed the connection: %s %s', this.label, String(e.code), String(e.message));
      this.closeReason = `peer error ${String(e.code)}`;
      if (e.code === 'DUPLICATE') this.duplicate = true;
      else this.refused = true;
      if (e.code === 'NODE_ID_CLASH' && e.newcomer === true) this.host.newcomer(this, String(e.message).slice(0, 500));
      this.end(this.closeReason);
      return;
    }
    if (this.state === 'handshake') return this.onHandshakeFrame(f);
    switch (f.type) {
      case FRAME.ENTRIES:
        return this.onEntries(f);
      case FRAME.SYNC_DONE: {
        const b = parseJsonBody<{ vector?: unknown; own?: unknown; full?: unknown }>(f);
        if (!isVector(b.vector)) throw new FleetError('FRAME_INVALID', 'SYNC_DONE without a valid vector');
        // Optional (older peers omit it).
        if (b.own !== undefined && !isVector(b.own)) throw new FleetError('FRAME_INVALID', 'SYNC_DONE with an invalid own vector');
        const vector = b.vector;
        const own = b.own ?? {};
        const waitFor = this.pending;
        this.pending = [];
        // Taken now, in arrival order: entries of a later catch-up may arrive while this one is merged.
        const fullKeys = b.full === true ? this.host.takeFullKeys(this) : undefined;
        this.serial(async () => {
          await Promise.all(waitFor);
          await this.host.syncDone(this, vector, own, fullKeys);
          this.peerKnown.merge(vector);
          this.inboundSynced = true;
          this.sendAck();
        });
        return;
      }
      case FRAME.ACK: {
        const b = parseJsonBody<{ vector?: unknown; direct?: unknown }>(f);
        if (!isVector(b.vector)) throw new FleetError('FRAME_INVALID', 'ACK without a valid vector');
        // Optional (older peers omit it): anything but a list of strings means "unknown", i.e. relay everything.
        this.peerForwards = (b as { mqttForward?: unknown }).mqttForward === true;
        this.peerDirect = Array.isArray(b.direct) && b.direct.every((d) => typeof d === 'string') ? new Set(b.direct as string[]) : new Set();
        this.host.node.checkOwnVector(b.vector, `peer ${this.label}`);
        this.onAck(b.vector);
        return;
      }
      case FRAME.MQTT_FORWARD:
        this.host.forwarded(this, decodeForward(f.body));
        return;
      case FRAME.PING:
        // The echo plus this node's wall clock (`now`, additive: older peers ignore it).
        this.write(jsonFrame(FRAME.PONG, { ...parseJsonBody<Record<string, unknown>>(f), now: Date.now() }));
        return;
      case FRAME.PONG: {
        const b = parseJsonBody<{ t?: unknown; now?: unknown }>(f);
        const at = Date.now();
        if (typeof b.t === 'number' && Number.isFinite(b.t)) {
          this.rttMs = at - b.t;
          if (typeof b.now === 'number' && Number.isFinite(b.now)) this.clockOffsetMs = Math.round(b.now - (b.t + at) / 2);
        }
        return;
      }
      case FRAME.HELLO:
      case FRAME.AUTH:
        throw new FleetError('FRAME_INVALID', `unexpected ${FRAME_NAMES[f.type]} after the handshake`);
      default:
        throw new FleetError('FRAME_INVALID', `unknown frame type ${f.type}`);
    }
  }

  private onHandshakeFrame(f: Frame): void {
    const s = this.host.settings;
    if (f.type === FRAME.HELLO && this.peer === undefined) {
      this.peer = checkHello(parseJsonBody<Hello>(f), s);
      const proof = s.secret ? authProof(s.secret, s.fleetId, { nodeId: s.nodeId, nonce: this.nonce }, this.peer) : '';
      this.write(jsonFrame(FRAME.AUTH, { proof }));
      return;
    }
    if (f.type === FRAME.AUTH && this.peer !== undefined) {
      const { proof } = parseJsonBody<{ proof?: unknown }>(f);
      if (s.secret && !checkProof(authProof(s.secret, s.fleetId, this.peer, { nodeId: s.nodeId, nonce: this.nonce }), proof)) {
        throw new FleetError('AUTH_FAILED', `peer ${this.peer.nodeId} failed the fleet secret challenge (wrong fleetSecret?)`);
      }
      clearTimeout(this.handshakeTimer);
      this.state = 'open';
      this.peerKnown.merge(this.peer.vector);
      this.ackVector = VersionVector.from(this.peer.vector);
      this.ackAt = Date.now();
      if (!this.host.authenticated(this)) return;
      if (EARLY_VECTOR_MERGE) {
        // The broken build only: services may not change the vectors.
        (this.host.node.store.vector as VersionVector).merge(this.peer.vector);
        (this.host.node.store.durable as VersionVector).merge(this.peer.vector);
      }
      this.tickTimer = setInterval(() => this.tick(), s.antiEntropyMs);
      this.tickTimer.unref();
      this.beginCatchup(this.host.needsFullSync(this));
      return;
    }
    throw new FleetError('FRAME_INVALID', `unexpected ${FRAME_NAMES[f.type] ?? `frame type ${f.type}`} during the handshake`);
  }

  private onEntries(f: Frame): void {
    const { flags, entries } = decodeEntries(f.body, this.host.settings.maxRecordBytes);
    if (entries.length === 0) return;
    const p = this.host.receive(this, entries, flags);
    this.inflight += entries.length;
    const tracked = p.then(
      () => this.ingested(entries.length),
      (err: unknown) => {
        this.ingested(entries.length);
        throw err;
      },
    );
    tracked.catch((err: unknown) => this.fail(err));
    this.pending.push(tracked);
    if (this.pending.length > 64) {
      // Keep the merged promise rejected for SYNC_DONE (which must not merge the vector
      // after a failed entry), but mark it handled: each failure already went to fail().
      // Unhandled, it crashed the node on a full disk (found by the fault campaign).
      const merged = Promise.all(this.pending).then(() => {});
      merged.catch(() => {});
      this.pending = [merged];
    }
    if (this.inflight > MAX_INFLIGHT_ENTRIES && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }

  private ingested(n: number): void {
    this.inflight -= n;
    if (this.paused && this.inflight < MAX_INFLIGHT_ENTRIES / 2) {
      this.paused = false;
      this.socket.resume();
    }
  }

  private onAck(vector: VectorObject): void {
    const now = Date.now();
    this.ackVector = VersionVector.from(vector);
    this.ackAt = now;
    this.peerKnown.merge(vector);
    // The newest moment the peer is known to have caught up with: now, or the last tick whose (durable) vector it covers.
    if (this.ackVector.dominates(this.host.node.store.durable)) this.coveredAt = now;
    else {
      for (let i = this.history.length - 1; i >= 0; i--) {
        const h = this.history[i]!;
        if (h.t <= this.coveredAt) break;
        if (this.ackVector.dominates(h.vector)) {
          this.coveredAt = h.t;
          break;
        }
      }
    }
    this.host.acked(this, vector);
  }

  // ---------------------------------------------------------------- output

  private beginCatchup(full: boolean): void {
    // A deliberately broken build for the campaign's checker: pretend the peer
    // has everything (no catch-up, and its vector jumps past what it lacks).
    const peerVector = NO_ANTI_ENTROPY ? this.host.node.store.durable.clone() : this.ackVector;
    const n = this.outbox.startCatchup(this.host.node.store, peerVector, full, this.host.vouched());
    this.resetPeerKnown();
    this.host.logger.info({ peer: this.peerId, entries: n, full }, 'catch-up to %s: sending %d entries%s', this.label, n, full ? ' (full resync)' : '');
    this.schedulePump();
  }

  private resetPeerKnown(): void {
    this.peerKnown.map.clear();
    this.peerKnown.merge(this.ackVector);
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    // setImmediate, not a microtask: entries applied in one I/O turn share one frame.
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** Write due frames until the socket holds `writeHighWater` bytes; 'drain' calls again. */
  private pump(): void {
    const s = this.host.settings;
    const m = this.host.metrics;
    while (this.state === 'open' && this.socket.writableLength < s.writeHighWater) {
      if (this.outbox.catchupOwed && this.outbox.catchupVector === undefined) this.beginCatchup(false);
      const syncVector = this.outbox.catchupVector;
      const out = this.outbox.take(s.frameBytes);
      if (!out) return;
      if (out.mode === 'sync_done') {
        m.catchups.inc({ direction: 'sent' });
        if (syncVector) {
          this.peerKnown.merge(syncVector);
          this.syncUnacked = VersionVector.from(syncVector);
          this.syncSentAt = Date.now();
        }
      } else m.entriesSent.inc({ mode: out.mode }, out.entries);
      this.write(out.frame);
    }
  }

  private write(frame: Buffer): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    this.host.metrics.bytesSent.inc(frame.length);
    this.host.metrics.framesSent.inc({ type: FRAME_NAMES[frame[4]!] ?? 'unknown' });
    this.socket.write(frame);
  }

  private sendAck(): void {
    // Durable only: a peer must not take an entry still under our fsync as held here (docs/adr/0104).
    const vector = this.host.node.store.durable;
    const direct = this.host.directPeers();
    this.write(jsonFrame(FRAME.ACK, { vector: vector.toObject(), direct, mqttForward: true }));
    this.lastAck = { vector: vector.clone(), direct: direct.join(','), at: Date.now() };
  }

  /**
   * Does an ACK say something new (docs/replication.md, "Anti-entropy")? It
   * does when our vector or our direct peers changed since the last one, and
   * for as long as the peer's last ACK differs from our vector: while the two
   * sides disagree both keep reporting every tick, so a missed entry is still
   * found by either side's progress check. A link in agreement sends one
   * every QUIET_ACK_TICKS ticks only, so an idle fleet costs almost nothing.
   */
  private ackDue(now: number): boolean {
    const last = this.lastAck;
    if (!last || now - last.at >= QUIET_ACK_TICKS * this.host.settings.antiEntropyMs) return true;
    const mine = this.host.node.store.durable;
    if (!sameVector(last.vector, mine) || !sameVector(this.ackVector, mine)) return true;
    return this.host.directPeers().join(',') !== last.direct;
  }

  /**
   * Anti-entropy: report our vector (ACK), measure RTT (PING), close a silent
   * peer, and start a catch-up if the peer's latest ACK still lacks entries
   * we had two ticks ago (something was missed: a gap, an overflow).
   */
  private tick(): void {
    const s = this.host.settings;
    const now = Date.now();
    if (now - this.lastReceivedAt > s.idleTimeoutMs) {
      this.fail(new FleetError('UNAVAILABLE', `nothing received for ${s.idleTimeoutMs} ms`), 'info');
      return;
    }
    if (this.ackDue(now)) this.sendAck();
    // PING measures RTT and keeps a quiet link alive: every few ticks, well within idleTimeout.
    if (this.ticks++ % pingEveryTicks(s) === 0) this.write(jsonFrame(FRAME.PING, { t: now }));
    if (!NO_ANTI_ENTROPY && this.missing()) {
      this.host.logger.debug({ peer: this.peerId }, 'anti-entropy: %s lacks entries and is not progressing; catching it up', this.label);
      this.beginCatchup(false);
    }
    this.history.push({ t: now, vector: this.host.node.store.durable.clone() });
    if (this.history.length > 8) this.history.shift();
    this.lastTickAck = this.ackVector;
    this.lastTickAt = now;
  }

  /**
   * Something was missed: nothing is queued or unsent for the peer, and on
   * some stream its ACKs made no progress over the last tick while still
   * lacking entries we had two ticks ago. A peer still working through what
   * we sent (its ACKs advance) is left alone.
   */
  private missing(): boolean {
    const probe = this.history.length >= 2 ? this.history[this.history.length - 2] : undefined;
    // An ACK must have arrived since the last tick: a peer too busy to report is not judged.
    if (!probe || !this.outbox.idle || this.socket.writableLength > 0 || this.lastTickAck === undefined || this.ackAt < this.lastTickAt) return false;
    // The peer is still ingesting our last catch-up (its vector moves only at SYNC_DONE);
    // give it ten ticks before judging it again.
    if (this.syncUnacked) {
      const waiting = !this.ackVector.dominates(this.syncUnacked) && Date.now() - this.syncSentAt < 10 * this.host.settings.antiEntropyMs;
      if (waiting) return false;
      this.syncUnacked = undefined;
    }
    for (const [stream, seq] of probe.vector.map) {
      const acked = this.ackVector.get(stream);
      if (acked < seq && acked === this.lastTickAck.get(stream)) return true;
    }
    return false;
  }

  /** Run async frame handling in arrival order. */
  private serial(fn: () => Promise<void>): void {
    this.chain = this.chain.then(fn).catch((err: unknown) => this.fail(err));
  }

  private markClosed(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.handshakeTimer);
    clearInterval(this.tickTimer);
  }

  private onClose(): void {
    const wasOpen = this.state !== 'closed';
    this.markClosed();
    if (wasOpen) this.closeReason ??= 'connection closed';
    if (wasOpen && this.reader.pending > 0) {
      this.host.metrics.refused.inc({ code: 'FRAME_INVALID' });
      this.host.logger.warn({ peer: this.peerId, remote: this.address, code: 'FRAME_INVALID' }, 'peer connection %s closed in the middle of a frame (%d bytes of a truncated frame dropped)', this.label, this.reader.pending);
    }
    this.host.closed(this);
  }
}
