import fs from 'node:fs';
import { EventEmitter } from 'node:events';
import { pino, type Logger } from 'pino';
import { loadConfig } from './config/load.js';
import type { FleetConfig } from './config/schema.js';
import { Entry, OP_DEL, OP_PUT, decodeTrustedCopy, encodeEntry, streamId, type Op } from './entry/entry.js';
import { HybridClock, after, formatHlc } from './entry/hlc.js';
import { MIRROR_KEY_PREFIX, STATUS_KEY_PREFIX, isReservedKey, validateKey, validateNewKey } from './entry/key.js';
import { FleetError, isFleetError } from './errors.js';
import { listLogDir, segmentPath } from './log/files.js';
import { Log, defaultIo, type LogIo } from './log/log.js';
import { KIND, jsonPayload, maxLogRecordBytes, parseJsonPayload } from './log/record.js';
import { recoverLog } from './log/recovery.js';
import { ShipGate } from './log/ship-gate.js';
import { removeCovered, snapshotMeta, writeSnapshot, type SnapshotMeta } from './log/snapshot.js';
import { NodeMetrics } from './metrics.js';
import type { ApplyResult } from './store/store.js';
import { Store } from './store/store.js';
import { KeyHistory } from './store/history.js';
import { expiryEvent } from './entry/expiry-event.js';
import { ExpiryQueue, endsExpiry, expiryTombstoneFields } from './store/expiry.js';
import { parseTtl } from './entry/ttl.js';
import type { VectorObject } from './store/vector.js';
import { lockDataDir, readMeta, writeMeta } from './log/datadir.js';
import { identityAtStart, newIncarnation } from './log/identity.js';
import { VERSION } from './version.js';
import { unsafeTestBreaks } from './util/test-breaks.js';
import type { ApplyListener, ApplySource, StagedListener, ExpiryListener, ForwardListener, ForwardedMessage, NodeHost, NodeService, PeerState, PutOptions, Source, TombstoneStability, WriteResult } from './node-host.js';
import type { CompactionStatus, NodeState, NodeStatus, RecoveryStatus } from './node-status.js';

export type { ApplyListener, ApplySource, ExpiryListener, ForwardedMessage, ForwardListener, NodeHost, NodeService, PutOptions, Source, StagedListener, WriteResult } from './node-host.js';

export interface FleetNodeOptions {
  logger?: Logger;
  /** File operations of the log (fault-injection tests). */
  io?: LogIo;
  /**
   * The services that run above this core (replication, MQTT, …), built for
   * this node. The core knows none of them: the daemon and the package entry
   * pass `defaultServices` (src/services.ts); without it a node is core only.
   */
  services?: (host: NodeHost) => NodeService[] | Promise<NodeService[]>;
}

export interface ListOptions {
  limit?: number;
  after?: string;
}

/** FLEETKV_UNSAFE_TEST_BREAK=ack-before-staged: a broken build for the campaign (see util/test-breaks.ts). */
const ACK_BEFORE_STAGED = unsafeTestBreaks.has('ack-before-staged');

const noServices = (): NodeService[] => [];

/** At most one clock-skew warning per origin in this time (each entry is still counted). */
const SKEW_WARN_EVERY_MS = 10_000;

/**
 * FleetNode: one robot's fleetkv core. Wires log + store, runs the services
 * its caller gives it (replication, MQTT) and is the library API (src/index.ts):
 *
 *   put → validate → stamp (origin, seq, hlc) → Log.append (staged: onStaged ships it) → durable → Store.apply → listeners
 *
 * Entries from peers (`ingest`) are applied on arrival and made durable in the
 * same group commit; the durable vector follows their fsync (docs/adr/0104).
 */
export class FleetNode extends EventEmitter implements NodeHost {
  readonly config: FleetConfig;
  readonly logger: Logger;
  readonly metrics = new NodeMetrics();
  readonly store = new Store();
  readonly clock: HybridClock;
  /** The last versions applied per key, in memory (GET /v1/kv/<key>?history=N). */
  readonly history: KeyHistory;
  readonly services: NodeService[] = [];
  state: NodeState = 'new';
  incarnation = 1;
  /** The stream of this node's own writes. */
  selfStream = '';
  lastCompaction: CompactionStatus | undefined;
  lastRecovery: RecoveryStatus | undefined;
  /** From replication (setTombstoneStability): do the peers this node must wait for hold this tombstone? */
  private tombstoneStable: TombstoneStability = () => 'unknown';
  /**
   * This run kept the previous run's incarnation (a clean stop) and no peer has
   * confirmed yet that our stream is not ahead of what we hold (a restored
   * older copy of the data dir looks clean too). See holdWrites().
   */
  identityProvisional = false;
  /** Why writes are refused for good (until restart): a node id clash. */
  writeRefusal: FleetError | undefined;

  private writeGate: { promise: Promise<void>; open: () => void; timer: NodeJS.Timeout } | undefined;
  /**
   * A failed fsync may have lost pages of this run (docs/guarantees.md, fsyncgate), or a failed
   * batch may have been shipped (docs/adr/0104): the stop is recorded as unclean, so the next start renews.
   */
  private fsyncFailed = false;

  private log!: Log;
  /** Writes this run stamped (a renewal is safe only before the first). */
  private writesThisRun = 0;
  /** Kept incarnation: renew if no peer confirms it in time. */
  private renewIfUnconfirmed = false;
  /** Renewals on a peer's evidence this run (at most one; a second sighting is a clash). */
  private evidenceRenewals = 0;
  private nextSeq = 1;
  private unlock: (() => void) | undefined;
  private applyListeners: ApplyListener[] = [];
  private stagedListeners: StagedListener[] = [];
  /**
   * The highest seq of the current stream that may have left the node before
   * its fsync: a failed batch at or below it must not be renumbered (docs/adr/0104).
   */
  private shippedSeq = 0;
  /** Own writes ship at staging, or only once durable after a failed batch (docs/adr/0104). */
  private readonly shipGate = new ShipGate<Entry>((e) => this.ship(e));
  /** Streams of ours given up this run after a failed batch, with the highest seq stamped in each. */
  private readonly abandoned = new Map<string, number>();
  private forwardOut: ForwardListener[] = [];
  private forwardIn: ForwardListener[] = [];
  private expiryListeners: ExpiryListener[] = [];
  /** Puts with a TTL not yet due (docs/adr/0700). */
  private readonly expiries = new ExpiryQueue();
  private expiryTimer: NodeJS.Timeout | undefined;
  private expiryTimerAt = Infinity;
  /** Expired puts whose expiry was already told to watchers (their tombstone is then not told again). */
  private readonly announced = new WeakSet<Entry>();
  private watchers = new Set<{ prefix: string; cb: (e: Entry) => void }>();
  private compacting: Promise<void> | undefined;
  private gcTimer: NodeJS.Timeout | undefined;
  private readonly skewWarnedAt = new Map<string, number>();
  /** Entries recovered from the log stamped beyond maxClockSkew (not adopted by the clock). */
  private recoveredSkewed = { entries: 0, maxAheadMs: 0, origins: new Set<string>() };
  /** Recovery's reading of the wall clock (replay). */
  private replayNow = 0;
  private readonly opts: FleetNodeOptions;
  /** fleetkv_writes_total, one incrementer per label set (every applied entry counts). */
  private readonly countPutLocal = this.metrics.writes.incrementer({ op: 'put', source: 'local' });
  private readonly countPutRemote = this.metrics.writes.incrementer({ op: 'put', source: 'remote' });
  private readonly countDelLocal = this.metrics.writes.incrementer({ op: 'del', source: 'local' });
  private readonly countDelRemote = this.metrics.writes.incrementer({ op: 'del', source: 'remote' });

  constructor(config?: FleetConfig, opts: FleetNodeOptions = {}) {
    super();
    this.config = config ?? loadConfig();
    this.opts = opts;
    this.logger = opts.logger ?? pino({ level: this.config.log.level, base: { node: this.config.nodeId } });
    this.clock = new HybridClock(this.config.maxClockSkew);
    this.history = new KeyHistory(this.config.limits.historyBytes);
  }

  get nodeId(): string {
    return this.config.nodeId;
  }

  // ---------------------------------------------------------------- lifecycle

  async start(): Promise<void> {
    if (this.state !== 'new') throw new FleetError('BAD_REQUEST', `node cannot start from state ${this.state}`);
    this.state = 'starting';
    try {
      this.openData();
      for (const s of await (this.opts.services ?? noServices)(this)) {
        this.services.push(s);
        await s.start();
      }
    } catch (err) {
      await this.stop().catch(() => {});
      throw err;
    }
    this.gcTimer = setInterval(() => this.collectTombstones(), this.config.tombstoneGcInterval);
    this.gcTimer.unref();
    this.state = 'running';
    this.emit('ready');
    this.sweepExpired();
  }

  /** Stop taking writes, stop services, flush and fsync the log, mark a clean stop. */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    const wasOpen = this.log !== undefined;
    this.state = 'stopping';
    if (this.gcTimer) clearInterval(this.gcTimer);
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimerAt = -Infinity; // no more timers
    for (const s of [...this.services].reverse()) {
      await s.stop().catch((err: unknown) => this.logger.error({ err, service: s.name }, 'service stop failed'));
    }
    if (this.compacting) await this.compacting.catch(() => {});
    if (wasOpen) {
      await this.log.close();
      // After a failed fsync the log may lack pages of this run: the next start must renew.
      writeMeta(this.config.dataDir, { format: 1, nodeId: this.nodeId, incarnation: this.incarnation, cleanShutdown: !this.fsyncFailed, fsync: this.config.log.fsync });
    }
    this.openWrites();
    this.unlock?.();
    this.state = 'stopped';
    this.emit('stopped');
  }

  /** Open the data dir: lock, incarnation, recovery, log. Synchronous: nothing else runs meanwhile. */
  private openData(): void {
    const dir = this.config.dataDir;
    fs.mkdirSync(dir, { recursive: true, mode: 0o750 });
    this.unlock = lockDataDir(dir);
    const meta = readMeta(dir);
    if (meta && meta.nodeId !== this.nodeId) {
      throw new FleetError('DATA_DIR_MISMATCH', `data dir ${dir} belongs to node "${meta.nodeId}", not "${this.nodeId}"`);
    }
    this.incarnation = meta?.incarnation ?? 1;
    // Marked unclean before recovery: a crash from here on renews at the next start.
    writeMeta(dir, { format: 1, nodeId: this.nodeId, incarnation: this.incarnation, cleanShutdown: false, fsync: this.config.log.fsync });

    if (unsafeTestBreaks.size > 0) this.logger.error({ breaks: [...unsafeTestBreaks] }, 'UNSAFE TEST BUILD: deliberately broken (%s); never use this on a robot', [...unsafeTestBreaks].join(','));
    const t0 = performance.now();
    // One bulk build of the key index at the end, not one insert per key.
    this.store.beginBulk();
    let rec: ReturnType<typeof recoverLog>;
    try {
      rec = recoverLog(dir, this.maxRecordBytes, (p) => this.replay(p));
    } finally {
      this.store.endBulk();
    }
    const ms = performance.now() - t0;
    this.lastRecovery = { records: rec.records, ms, ...(rec.tornTail ? { tornTail: rec.tornTail } : {}) };
    if (rec.tornTail) {
      this.logger.warn({ ...rec.tornTail }, 'torn write at the log tail: cut %d bytes at offset %d of %s', rec.tornTail.bytes, rec.tornTail.offset, rec.tornTail.file);
    }
    this.logger.info({ records: rec.records, keys: this.store.size, ms: Math.round(ms) }, 'recovered log');
    const sk = this.recoveredSkewed;
    if (sk.entries > 0) {
      this.logger.warn(
        { entries: sk.entries, maxAheadMs: sk.maxAheadMs, origins: [...sk.origins] },
        'the log holds %d entries stamped more than maxClockSkew ahead of this clock (up to %d ms, by %s): kept, but this clock does not follow them',
        sk.entries,
        sk.maxAheadMs,
        [...sk.origins].join(', '),
      );
    }
    // One rule (docs/adr/0002): a new incarnation after any unclean stop and
    // without node.json, above every one this id used (node.json, the log,
    // the clock); a clean stop keeps it, provisionally (holdWrites).
    const start = identityAtStart(meta);
    if (start.renew) {
      this.incarnation = newIncarnation(Math.max(meta?.incarnation ?? 0, this.ownIncarnationsSeen()));
      this.logger.warn({ incarnation: this.incarnation }, '%s: starting a new incarnation (%d)', start.reason, this.incarnation);
      writeMeta(dir, { format: 1, nodeId: this.nodeId, incarnation: this.incarnation, cleanShutdown: false, fsync: this.config.log.fsync });
    }
    // Provisional either way: a kept incarnation may be behind a restored copy's
    // history, and a new one after a wipe may be below one used earlier in the
    // same minute. The first peer's HELLO decides (holdWrites).
    this.identityProvisional = true;
    this.renewIfUnconfirmed = !start.renew;
    this.selfStream = streamId(this.nodeId, this.incarnation);
    this.nextSeq = this.store.vector.get(this.selfStream) + 1;
    // Everything recovered is durable: the durable vector starts equal to the applied one.
    this.store.syncDurable();

    let closedBytes = 0;
    for (const s of listLogDir(dir).segments) {
      if (s >= rec.snapshotCovers && s !== rec.activeSegment) closedBytes += fs.statSync(segmentPath(dir, s)).size;
    }
    this.log = new Log(
      {
        dir,
        fsync: this.config.log.fsync,
        fsyncIntervalMs: this.config.log.fsyncInterval,
        segmentBytes: this.config.log.segmentBytes,
        activeSegment: rec.activeSegment,
        activeSize: rec.activeSize,
        ...(this.opts.io ? { io: this.opts.io } : {}),
        ...(unsafeTestBreaks.has('skip-fsync') ? { io: { ...(this.opts.io ?? defaultIo), fdatasync: (_fd: number, cb: (e: null) => void) => setImmediate(cb, null), fdatasyncSync: () => {} } } : {}),
        onFsync: (msTaken) => {
          this.metrics.fsyncs.inc();
          this.metrics.fsyncSeconds.observe(msTaken / 1000);
        },
        // Deferred: the roll happens inside the log's pump, and compaction itself rolls the log.
        onRoll: () => setImmediate(() => this.maybeCompact()),
        onBackgroundError: (err) => this.logger.error({ code: err.code }, 'log: %s', err.message),
        onFsyncFailed: (err) => this.fsyncFailedAt(err),
      },
      closedBytes,
    );
  }

  /** Recovery: one record's payload (a view into the file buffer). */
  private replay(p: Buffer): void {
    switch (p[0]) {
      case KIND.ENTRY: {
        // Our own CRC-checked record: not validated again (decodeTrustedCopy).
        const e = decodeTrustedCopy(p);
        // An entry from the far future (a clock that was wrong) must not set
        // this clock for good: not adopted, as when received (docs/adr/0103).
        // Most entries are at or behind the clock already (it was moved past
        // them or a later one, and it adopts only stamps within maxClockSkew
        // of the wall clock): those cannot move it nor be ahead by more than
        // the skew, so observe (and its Date.now) is skipped for them.
        // The others are observed against a wall-clock reading taken again
        // only when a stamp looks too far ahead of it (a reading can only be
        // behind the wall clock: never lets through a stamp Date.now would not).
        const wall = e.wall;
        const clock = this.clock;
        if (wall > clock.wall || (wall === clock.wall && e.logical > clock.logical)) {
          if (wall - this.replayNow > this.config.maxClockSkew) this.replayNow = Date.now();
          const ahead = clock.observe(wall, e.logical, this.replayNow);
          if (ahead > 0) {
            const sk = this.recoveredSkewed;
            sk.entries++;
            sk.maxAheadMs = Math.max(sk.maxAheadMs, ahead);
            if (sk.origins.size < 10) sk.origins.add(e.origin);
          }
        }
        if (this.store.apply(e) === 'won' && e.expiresAt > 0) this.expiries.push(e);
        break;
      }
      case KIND.VECTOR:
        this.store.mergeVector(parseJsonPayload<VectorObject>(p));
        break;
      case KIND.SNAPSHOT_BEGIN: {
        const meta = parseJsonPayload<SnapshotMeta>(p);
        this.store.mergeVector(meta.vector);
        this.clock.observe(meta.hlc.wall, meta.hlc.logical);
        break;
      }
      default:
        throw new FleetError('LOG_CORRUPT', `unknown record kind ${p[0]}`);
    }
  }

  private get maxRecordBytes(): number {
    return maxLogRecordBytes(this.config.limits.maxValueBytes);
  }

  // ---------------------------------------------------------------- writes

  async put(key: string, value: Uint8Array | string, opts: PutOptions = {}): Promise<WriteResult> {
    let ttlMs: number | undefined;
    try {
      ttlMs = opts.ttl === undefined ? undefined : parseTtl(opts.ttl);
    } catch (err) {
      this.countError(err);
      throw err;
    }
    return this.writeLocal(OP_PUT, key, typeof value === 'string' ? Buffer.from(value, 'utf8') : value, false, ttlMs);
  }

  async delete(key: string): Promise<WriteResult> {
    return this.writeLocal(OP_DEL, key, undefined);
  }

  /**
   * Write this node's own status record, `_fleetkv/nodes/<nodeId>` (docs/adr/0200):
   * the one way into the reserved keys, and only for the node's own record.
   */
  async putStatusRecord(value: Uint8Array, opts: PutOptions = {}): Promise<WriteResult> {
    return this.writeLocal(OP_PUT, STATUS_KEY_PREFIX + this.nodeId, value, true, opts.ttl === undefined ? undefined : parseTtl(opts.ttl));
  }

  /**
   * Write (or, with `undefined`, delete) a mirrored MQTT topic's retained
   * message under `_fleetkv/mirror/` (docs/mqtt.md, "Mirrored topics"): the
   * one way into those keys, used by the broker; the key is already encoded.
   */
  async writeMirrored(key: string, value: Uint8Array | undefined): Promise<WriteResult> {
    if (!key.startsWith(MIRROR_KEY_PREFIX)) throw new FleetError('KEY_INVALID', `key "${key}" is not a mirrored topic key (${MIRROR_KEY_PREFIX}…)`);
    return this.writeLocal(value === undefined ? OP_DEL : OP_PUT, key, value, true);
  }

  /** Hand a live mirrored publish to whoever sends to peers (replication); returns how many took it. */
  forward(m: ForwardedMessage): number {
    for (const l of this.forwardOut) l(m);
    return this.forwardOut.length;
  }

  /** A live mirrored publish that a peer forwarded: to the local broker (MQTT). */
  deliverForwarded(m: ForwardedMessage): void {
    for (const l of this.forwardIn) l(m);
  }

  /** Replication: send what `forward` is given. MQTT: `onForwarded` delivers what peers sent. */
  onForward(l: ForwardListener): () => void {
    this.forwardOut.push(l);
    return () => {
      this.forwardOut = this.forwardOut.filter((x) => x !== l);
    };
  }

  onForwarded(l: ForwardListener): () => void {
    this.forwardIn.push(l);
    return () => {
      this.forwardIn = this.forwardIn.filter((x) => x !== l);
    };
  }

  /** The goodbye (robots/presence-service.ts): the status record, written while services stop and the log is still open. */
  async putStatusRecordWhileStopping(value: Uint8Array): Promise<WriteResult> {
    if (this.state !== 'stopping' || this.log === undefined) throw new FleetError('NODE_STOPPED', `node is ${this.state}`);
    return this.writeLocal(OP_PUT, STATUS_KEY_PREFIX + this.nodeId, value, true, undefined, undefined, true);
  }

  private async writeLocal(op: Op, key: string, value: Uint8Array | undefined, reserved = false, ttlMs?: number, ends?: Entry, stopping = false): Promise<WriteResult> {
    // A provisional identity: wait until a peer confirmed it or it was renewed (holdWrites).
    if (this.writeGate && !stopping) await this.writeGate.promise;
    let e: Entry;
    try {
      if (!stopping) this.assertWritable();
      const keyBytes = validateNewKey(key);
      // Every writer (HTTP, MQTT, uplink, library) comes through here: a status record could be forged otherwise.
      if (!reserved && isReservedKey(key)) throw new FleetError('KEY_INVALID', `key "${key}" is reserved: keys under _fleetkv/ are written by fleetkv only`);
      if (value && value.length > this.config.limits.maxValueBytes) {
        throw new FleetError('VALUE_TOO_LARGE', `value is ${value.length} bytes; the limit is ${this.config.limits.maxValueBytes} (limits.maxValueBytes)`);
      }
      // After the value held for the key, even one stamped by a clock ours did not follow.
      if (ends !== undefined) {
        e = encodeEntry(expiryTombstoneFields(ends, this.incarnation, this.nextSeq++), keyBytes);
      } else {
        const ts = after(this.clock.tick(), this.store.getAny(key));
        // The expiry is stamped by the writer's clock (its HLC wall): docs/guarantees.md, "Expiry".
        const expiresAt = ttlMs === undefined ? undefined : ts.wall + ttlMs;
        e = encodeEntry({ origin: this.nodeId, inc: this.incarnation, seq: this.nextSeq++, wall: ts.wall, logical: ts.logical, op, key, value, expiresAt }, keyBytes);
      }
      this.writesThisRun++;
    } catch (err) {
      this.countError(err);
      throw err;
    }
    if (ACK_BEFORE_STAGED) {
      const raw = e.raw;
      setImmediate(() => this.log.append(raw).catch((err: unknown) => this.countError(err)));
      this.stage(e);
      this.applyEntry(e, 'local');
      return { key, origin: e.origin, inc: e.inc, seq: e.seq, hlc: formatHlc(e.wall, e.logical) };
    }
    // Staged now (synchronously); shipped to peers at once, in parallel with the
    // fsync. The writer's answer, the local apply and watchers wait for the fsync.
    const durable = this.log.append(e.raw);
    this.stage(e);
    try {
      await durable;
    } catch (err) {
      this.appendFailed(e);
      this.countError(err);
      throw err;
    }
    this.shipGate.durable(e);
    this.applyEntry(e, 'local');
    return { key, origin: e.origin, inc: e.inc, seq: e.seq, hlc: formatHlc(e.wall, e.logical) };
  }

  /** A local entry is staged: shipped now, or once durable after a failed batch (ShipGate). */
  private stage(e: Entry): void {
    this.shipGate.staged(e);
  }

  /** Hand a local entry to the staged listeners (replication ships it). */
  private ship(e: Entry): void {
    for (const l of this.stagedListeners) if (l(e) && e.inc === this.incarnation && e.seq > this.shippedSeq) this.shippedSeq = e.seq;
  }

  /**
   * A local write's append failed (write or fsync): it and every write staged
   * after it were cut from the log. Called for each, in seq order. If any of
   * them may have left the node, its (origin, inc, seq) must never name another
   * write: a new incarnation starts before the next write (docs/adr/0002, 0104).
   * Otherwise the next write is numbered from the first failed seq (no gap).
   */
  private appendFailed(e: Entry): void {
    this.shipGate.failed(e);
    if (e.inc !== this.incarnation || e.seq >= this.nextSeq) return; // already handled for this failure
    if (e.seq <= this.shippedSeq) {
      this.abandoned.set(e.stream, this.nextSeq - 1);
      // Recorded as unclean too: a failure while stopping cannot renew now, so the next start does.
      this.fsyncFailed = true;
      this.renewIncarnation(`the log failed a batch whose entries may have been shipped to peers (from seq ${e.seq} of ${e.stream})`, 0, true);
      return;
    }
    this.nextSeq = e.seq;
  }

  /**
   * For a stream of ours given up this run after a failed batch: the highest
   * seq it stamped (its entries may live on at peers, replaced or not), so a
   * peer's SYNC_DONE claim on it can be merged up to there; 0 for any other stream.
   */
  stampedIn(stream: string): number {
    return this.abandoned.get(stream) ?? 0;
  }

  /** Local writes staged in the log, before their fsync (replication ships them from here). */
  onStaged(listener: StagedListener): () => void {
    this.stagedListeners.push(listener);
    return () => {
      this.stagedListeners = this.stagedListeners.filter((l) => l !== listener);
    };
  }

  /**
   * Take an entry received from a peer: applied at once (store, watchers, apply
   * listeners: MQTT, relay to other peers) and appended to the log in the group
   * commit; the returned promise resolves when its record is durable, and only
   * then does the durable vector (what peers are told) cover it (docs/adr/0104).
   * An entry whose (stream, seq) the applied vector covers is skipped. `tag`
   * is passed to the apply listeners as the source, opaque to the core.
   */
  ingest(e: Entry, from?: string, tag: ApplySource = 'remote'): Promise<ApplyResult> {
    if (this.state !== 'running' && this.state !== 'starting') return Promise.reject(new FleetError('NODE_STOPPED', 'node is stopping'));
    if (this.store.vector.covers(e.stream, e.seq)) return Promise.resolve('duplicate');
    // One of our own writes of this run, relayed back while its fsync runs: it is applied here when that fsync returns.
    if (e.origin === this.nodeId && e.inc === this.incarnation && e.seq <= this.ownSeq) return Promise.resolve('duplicate');
    if (e.origin === this.nodeId) this.checkOwnStream(e.stream, e.seq, from ?? 'a peer');
    const ahead = this.clock.observe(e.wall, e.logical);
    if (ahead > 0) this.noteSkewed(e, ahead, from);
    // Applied first, then staged: what the listeners send now (MQTT deliveries, SSE, relays) goes out
    // before the log's own write and fsync wake-up of this turn, which the append schedules (docs/adr/0104).
    const result = this.applyEntry(e, tag);
    const durable = this.log.append(e.raw);
    return durable.then(
      () => {
        this.store.markDurable(e);
        return result;
      },
      (err: unknown) => {
        // Not durable: the durable vector never claims it; the applied vector
        // steps back so a peer's resend is taken (and logged) again.
        this.store.rollbackToDurable(e.stream);
        throw err;
      },
    );
  }

  /**
   * An entry stamped more than maxClockSkew ahead of this clock: applied (every
   * replica must apply the same entries to converge), not adopted by the
   * clock, counted by origin, and logged at most once per origin per
   * SKEW_WARN_EVERY_MS. The origin is the node that stamped it: with bounded
   * adoption no node stamps more than maxClockSkew ahead of its own clock, so
   * the origin's clock is the one that is off.
   */
  private noteSkewed(e: Entry, aheadMs: number, from: string | undefined): void {
    this.metrics.clockSkewed.inc({ origin: e.origin });
    const now = performance.now();
    const last = this.skewWarnedAt.get(e.origin);
    if (last !== undefined && now - last < SKEW_WARN_EVERY_MS) return;
    if (this.skewWarnedAt.size > 1000) this.skewWarnedAt.clear();
    this.skewWarnedAt.set(e.origin, now);
    this.logger.warn(
      { origin: e.origin, from, key: e.key, aheadMs, maxClockSkew: this.config.maxClockSkew },
      'the clock of node %s is off: its entry (key %s%s) is stamped %d ms ahead of this clock, more than maxClockSkew; applied, but this clock does not follow it',
      e.origin,
      e.key,
      from !== undefined && from !== e.origin ? `, relayed by ${from}` : '',
      Math.round(aheadMs),
    );
  }

  /** Durably merge a peer's vector after a complete catch-up (SYNC_DONE). */
  async mergeVector(v: VectorObject): Promise<void> {
    await this.log.append(jsonPayload(KIND.VECTOR, v));
    this.store.vector.merge(v);
    this.store.durable.merge(v);
  }

  private applyEntry(e: Entry, source: ApplySource): ApplyResult {
    const result = this.store.apply(e);
    const other = this.store.lastOther;
    const local = source === 'local';
    if (local) this.store.markDurable(e); // own writes are applied after their fsync
    if (result !== 'duplicate') (e.isDelete ? (local ? this.countDelLocal : this.countDelRemote) : local ? this.countPutLocal : this.countPutRemote)();
    if (result === 'won') this.history.record(e);
    for (const l of this.applyListeners) l(e, result, other, source);
    if (result !== 'won') return result;
    let told: Entry | undefined = e;
    if (e.expiresAt > 0) {
      const now = Date.now();
      if (e.expiredAt(now)) {
        // Arrived already expired (catch-up, resync, a late peer): hidden at once. Watchers
        // hear a delete only if it replaced something they could see.
        this.announced.add(e);
        told = other !== undefined && !other.isDelete && !other.expiredAt(now) ? expiryEvent(e) : undefined;
      } else {
        this.expiries.push(e);
        this.armExpiry();
      }
    } else if (e.isDelete && other !== undefined && this.announced.has(other)) {
      told = undefined; // the tombstone of an expiry watchers were already told about
    } else if (e.isDelete && other !== undefined && endsExpiry(e, other)) {
      // The origin's expiry tombstone came before this node's own expiry timer (it is
      // shipped when staged, docs/adr/0104): the expiry is told here now, as the sweep would.
      this.announceExpiry(other);
      told = undefined;
    }
    if (told !== undefined && this.watchers.size > 0) {
      for (const w of this.watchers) if (e.key.startsWith(w.prefix)) w.cb(told);
    }
    return result;
  }

  /** Set the expiry timer for the earliest queued expiry (if earlier than the one set). */
  private armExpiry(): void {
    const next = this.expiries.next;
    if (next === undefined || this.state !== 'running' || next >= this.expiryTimerAt) return;
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimerAt = next;
    this.expiryTimer = setTimeout(() => this.sweepExpired(), Math.min(Math.max(0, next - Date.now()), 2 ** 31 - 1));
    this.expiryTimer.unref();
  }

  /**
   * Hide what is due, everywhere at once: each node tells its watchers and
   * expiry listeners (MQTT) when a put's expiry passes by its own clock. Only
   * the put's origin writes the tombstone that makes it durable fleet-wide
   * (docs/adr/0700): one tombstone per expiry, not one per node.
   */
  private sweepExpired(): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    this.expiryTimerAt = Infinity;
    if (this.state !== 'running') return;
    const now = Date.now();
    for (const p of this.expiries.popDue(now)) {
      if (this.store.getAny(p.key) !== p) continue; // refreshed, deleted or superseded since
      this.announceExpiry(p);
      // Status records (presence heartbeats) get none: the next heartbeat replaces them, and the
      // expired record keeps the node's last-seen time for /v1/nodes (robots/presence.ts).
      if (p.origin === this.nodeId && !isReservedKey(p.key)) {
        this.writeLocal(OP_DEL, p.key, undefined, false, undefined, p).catch((err: unknown) => {
          // Not lost: the put stays hidden, and the next start writes it again.
          this.logger.warn({ key: p.key, code: isFleetError(err) ? err.code : undefined }, 'could not write the expiry tombstone of %s: %s', p.key, (err as Error).message);
        });
      }
    }
    this.armExpiry();
  }

  /** Tell an expiry once: expiry listeners (MQTT) and watchers get the expiry event. */
  private announceExpiry(p: Entry): void {
    if (this.announced.has(p)) return;
    this.announced.add(p);
    this.metrics.expired.inc();
    const ev = expiryEvent(p);
    for (const l of this.expiryListeners) l(p, ev);
    for (const w of this.watchers) if (p.key.startsWith(w.prefix)) w.cb(ev);
  }

  /** Puts that expire here (MQTT publishes an empty state and a log envelope). Returns an unsubscribe. */
  onExpired(listener: ExpiryListener): () => void {
    this.expiryListeners.push(listener);
    return () => {
      this.expiryListeners = this.expiryListeners.filter((l) => l !== listener);
    };
  }

  private assertWritable(): void {
    if (this.writeRefusal) throw this.writeRefusal;
    if (this.state === 'running') return;
    throw new FleetError(this.state === 'starting' || this.state === 'new' ? 'NODE_NOT_READY' : 'NODE_STOPPED', `node is ${this.state}`);
  }

  private countError(err: unknown): void {
    this.metrics.writeErrors.inc({ code: isFleetError(err) ? err.code : 'IO_ERROR' });
  }

  // ---------------------------------------------------------------- identity

  /** Whether writes are taken now (false while held, refused, or not running). */
  get writable(): boolean {
    return this.state === 'running' && this.writeGate === undefined && this.writeRefusal === undefined;
  }

  /** Why writes are not taken now, for /v1/status and /readyz. */
  get unwritableReason(): string | undefined {
    if (this.writeRefusal) return this.writeRefusal.message;
    if (this.writeGate) return "waiting for a peer to confirm this node's incarnation";
    if (this.state !== 'running') return `node is ${this.state}`;
    return undefined;
  }

  /** The highest incarnation of this node id found in the recovered vector. */
  private ownIncarnationsSeen(): number {
    let max = 0;
    const prefix = `${this.nodeId}:`;
    for (const stream of this.store.vector.map.keys()) {
      if (stream.startsWith(prefix)) max = Math.max(max, Number(stream.slice(prefix.length)) || 0);
    }
    return max;
  }

  /**
   * Hold writes while the identity is provisional, until a peer confirms it
   * (confirmIdentity) or `timeoutMs` passes: then a new incarnation starts, since
   * no peer proved our stream is not ahead. Replication calls this when it has
   * peers to ask; a node without any takes writes at once.
   */
  holdWrites(timeoutMs: number): void {
    if (!this.identityProvisional || this.writeGate) return;
    let open!: () => void;
    const promise = new Promise<void>((resolve) => {
      open = resolve;
    });
    const timer = setTimeout(() => {
      if (!this.identityProvisional) return;
      if (this.renewIfUnconfirmed) this.renewIncarnation(`no peer confirmed incarnation ${this.incarnation} within ${timeoutMs} ms`);
      else this.confirmIdentity(); // already a new one: the best this node can do alone
    }, timeoutMs);
    timer.unref();
    this.writeGate = { promise, open, timer };
  }

  /** A peer's vector showed nothing of ours we do not hold: the kept incarnation is confirmed. */
  confirmIdentity(): void {
    if (!this.identityProvisional) return;
    this.identityProvisional = false;
    this.openWrites();
  }

  private openWrites(): void {
    const g = this.writeGate;
    if (!g) return;
    this.writeGate = undefined;
    clearTimeout(g.timer);
    g.open();
  }

  /**
   * Start a new incarnation (a new stream) now. Only safe before any write of
   * the current one is in flight, or when the current stream must be given up.
   */
  renewIncarnation(reason: string, atLeast = 0, diskMayFail = false): void {
    if (this.state === 'stopping' || this.state === 'stopped') return;
    this.incarnation = newIncarnation(Math.max(this.incarnation, atLeast, this.ownIncarnationsSeen()));
    this.selfStream = streamId(this.nodeId, this.incarnation);
    this.nextSeq = this.store.vector.get(this.selfStream) + 1;
    this.shippedSeq = 0;
    try {
      writeMeta(this.config.dataDir, { format: 1, nodeId: this.nodeId, incarnation: this.incarnation, cleanShutdown: false, fsync: this.config.log.fsync });
    } catch (err) {
      // After a failed append (a full disk): node.json already says this run is
      // unclean, so the next start renews above every incarnation in the log.
      if (!diskMayFail) throw err;
      this.logger.error({ code: isFleetError(err) ? err.code : undefined }, 'could not record incarnation %d in node.json: %s', this.incarnation, (err as Error).message);
    }
    this.logger.warn({ incarnation: this.incarnation }, '%s: starting a new incarnation (%d)', reason, this.incarnation);
    this.identityProvisional = false;
    this.openWrites();
  }

  /** The highest seq of the current stream this run stamped or recovered. */
  get ownSeq(): number {
    return this.nextSeq - 1;
  }

  /**
   * Evidence about our own streams from a peer (a vector in HELLO, ACK or
   * SYNC_DONE, or an entry): a seq of our current stream beyond what we
   * stamped, or an incarnation of ours above the current one. Before this
   * run's first write that means our data dir is older than our history
   * (restored, wiped): a new incarnation. After it, someone else writes as
   * this node id (a twin): writes are refused. Returns whether there was any.
   */
  checkOwnVector(vector: VectorObject, from: string): boolean {
    const prefix = `${this.nodeId}:`;
    let hit = false;
    for (const [stream, seq] of Object.entries(vector)) {
      if (stream.startsWith(prefix) && this.checkOwnStream(stream, seq, from)) hit = true;
    }
    return hit;
  }

  private checkOwnStream(stream: string, seq: number, from: string): boolean {
    const inc = Number(stream.slice(this.nodeId.length + 1));
    const ahead = inc > this.incarnation || (inc === this.incarnation && seq > this.ownSeq);
    if (!ahead) return false;
    const what = inc > this.incarnation ? `incarnation ${inc} of this node id (this node is at ${this.incarnation})` : `seq ${seq} of this node's stream ${stream} (it stamped up to ${this.ownSeq})`;
    // Once per run: a second sighting after a renewal is another live node (twins would renew in turn forever).
    if (this.writesThisRun === 0 && this.evidenceRenewals === 0) {
      this.evidenceRenewals++;
      this.renewIncarnation(`${from} holds ${what}: this data dir is older than this node's history (restored or wiped)`, inc);
      return true;
    }
    this.refuseWrites(new FleetError('NODE_ID_CLASH', `node id clash: ${from} holds ${what}, which this node never wrote: another node runs with the id "${this.nodeId}"; this node refuses writes until restarted with its own nodeId`));
    return true;
  }

  /** Refuse every write from now on (until restart), with this error. */
  refuseWrites(err: FleetError): void {
    if (this.writeRefusal) return;
    this.writeRefusal = err;
    this.openWrites();
    this.logger.error({ code: err.code }, '%s', err.message);
  }

  private fsyncFailedAt(err: FleetError): void {
    // fsyncgate: a failed fsync may have dropped dirty pages the kernel then marks
    // clean; a retry that succeeds proves nothing. What this run wrote since the
    // last good fsync may be gone from disk while peers hold it: continue in a
    // new stream now, and make the next start renew too.
    this.fsyncFailed = true;
    this.renewIncarnation(`fsync failed (${err.message}): entries since the last good fsync may be lost on disk`);
  }

  // ---------------------------------------------------------------- reads

  get(key: string): Entry | undefined {
    validateKey(key);
    return this.store.get(key);
  }

  list(prefix = '', opts: ListOptions = {}): Entry[] {
    const out: Entry[] = [];
    const limit = opts.limit ?? Infinity;
    for (const e of this.store.list(prefix, opts.after)) {
      if (out.length >= limit) break;
      out.push(e);
    }
    return out;
  }

  /** Call `cb` with every entry that wins for a key under `prefix` (deletes included). Returns an unsubscribe. */
  watch(prefix: string, cb: (e: Entry) => void): () => void {
    const w = { prefix, cb };
    this.watchers.add(w);
    return () => this.watchers.delete(w);
  }

  /** Call `cb` once the node runs (now if it already does). */
  whenRunning(cb: () => void): void {
    if (this.state === 'running') cb();
    else this.once('ready', cb);
  }

  /** Replication tells the core which tombstones the peers hold (see collectTombstones). */
  setTombstoneStability(fn: TombstoneStability): void {
    this.tombstoneStable = fn;
  }

  /** Drop a key entirely (a full resync proved the fleet deleted it); not logged: compact afterwards. */
  forget(key: string): boolean {
    return this.store.forget(key);
  }

  /** Every applied entry, won or not, local or remote (replication, MQTT). */
  onApplied(listener: ApplyListener): () => void {
    this.applyListeners.push(listener);
    return () => {
      this.applyListeners = this.applyListeners.filter((l) => l !== listener);
    };
  }

  status(): NodeStatus {
    this.refreshGauges();
    const s: NodeStatus = {
      nodeId: this.nodeId,
      fleetId: this.config.fleetId,
      incarnation: this.incarnation,
      version: VERSION,
      state: this.state,
      writable: this.writable,
      ...(this.unwritableReason !== undefined && this.state === 'running' ? { unwritableReason: this.unwritableReason } : {}),
      vector: this.store.durable.toObject(),
      keys: this.store.size,
      tombstones: this.store.tombstoneCount,
      log: {
        bytes: this.log?.totalBytes ?? 0,
        activeSegment: this.log?.activeSegment,
        fsync: this.config.log.fsync,
        lastError: this.log?.lastError?.toJSON(),
        lastCompaction: this.lastCompaction,
        lastRecovery: this.lastRecovery,
      },
      peers: [],
    };
    for (const svc of this.services) Object.assign(s, svc.status?.() ?? {});
    return s;
  }

  peerStates(): PeerState[] {
    for (const svc of this.services) if (svc.peerStates) return svc.peerStates();
    return [];
  }

  refreshGauges(): void {
    this.metrics.keys.set(this.store.size);
    this.metrics.tombstones.set(this.store.tombstoneCount);
    this.metrics.logBytes.set(this.log?.totalBytes ?? 0);
  }

  // ---------------------------------------------------------------- maintenance

  private maybeCompact(): void {
    if (this.compacting || this.state !== 'running') return;
    const live = Math.max(this.store.heldBytes, this.config.log.segmentBytes / 4);
    if (this.log.totalBytes > this.config.log.compactRatio * live) {
      void this.compact().catch((err: unknown) => this.logger.error({ err }, 'compaction failed'));
    }
  }

  /**
   * Write a snapshot of the store and delete the segments it covers, beside
   * ongoing writes (docs/adr/0003-log-writer.md). One at a time; returns the running one if any.
   */
  compact(): Promise<void> {
    if (this.compacting) return this.compacting;
    const run = async (): Promise<void> => {
      const t0 = performance.now();
      const first = await this.log.roll();
      // Durable only: a snapshot never claims an entry whose record may not survive.
      const meta = snapshotMeta(this.nodeId, this.store.durable.toObject(), this.clock);
      const snap = await writeSnapshot(this.config.dataDir, first, meta, this.store.allInKeyOrder());
      const freed = removeCovered(this.config.dataDir, first);
      this.log.totalBytes -= freed;
      this.metrics.compactions.inc();
      this.lastCompaction = { at: meta.createdAt, bytesFreed: freed, entries: snap.entries, ms: Math.round(performance.now() - t0) };
      this.logger.info(this.lastCompaction, 'compacted log into %s', snap.file);
    };
    // Started from a microtask, so `compacting` is set before run() rolls the
    // log: a roll calls onRoll → maybeCompact, which must see this compaction
    // (before, an idle log recursed here until the stack overflowed).
    this.compacting = Promise.resolve()
      .then(run)
      .finally(() => {
        this.compacting = undefined;
      });
    return this.compacting;
  }

  /** Fsync everything appended so far. */
  flush(): Promise<void> {
    return this.log.flush();
  }

  /**
   * Drop tombstones that are causally stable: every peer this node must wait
   * for holds it (docs/adr/0101, 0103). While a peer seen within
   * tombstoneRetention lacks one, it is kept, whatever its age: its age is
   * measured by the clock that stamped it, which may be far from this one.
   * With no peer to ask, it goes once its hlc is tombstoneRetention old by
   * this clock (safe at any clock: a peer met later gets a full resync).
   */
  collectTombstones(): number {
    const expired = Date.now() - this.config.tombstoneRetention;
    const n = this.store.collectTombstones((e) => {
      const s = this.tombstoneStable(e);
      return s === 'held' || (s === 'unknown' && e.wall < expired);
    });
    this.metrics.tombstoneGcRuns.inc();
    if (n > 0) {
      this.metrics.tombstonesCollected.inc(n);
      this.logger.debug({ dropped: n }, 'collected tombstones');
    }
    return n;
  }
}

export { Entry };
