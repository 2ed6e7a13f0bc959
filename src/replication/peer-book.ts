import fs from 'node:fs';
import path from 'node:path';
import type { Entry } from '../entry/entry.js';
import { VersionVector, type VectorObject } from '../store/vector.js';

interface KnownPeer {
  vector: VectorObject;
  lastSeen: number;
  address?: string;
}

interface BookFile {
  format: 1;
  /** Last time this node was in sync with a peer (completed catch-up or live ACKs). */
  lastSyncAt?: number;
  peers: Record<string, KnownPeer>;
}

export const PEER_BOOK_FILE = 'peers.json';

/**
 * The peers this node has met, with their last reported vectors, kept in
 * `dataDir/peers.json` across restarts. It answers two safety questions:
 * may a tombstone be dropped (every recently seen peer has it), and was this
 * node away longer than tombstoneRetention (then it asks for a full resync).
 */
/** How stale a peer's lastSeen may be on disk while nothing else about it changed. */
const SEEN_SAVE_MS = 60_000;

export class PeerBook {
  private data: BookFile = { format: 1, peers: {} };
  private vectors = new Map<string, VersionVector>();
  private saveTimer: NodeJS.Timeout | undefined;
  private readonly file: string;
  /** lastSeen of each peer as last written to the file. */
  private readonly savedSeen = new Map<string, number>();

  constructor(
    dataDir: string,
    private readonly retentionMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.file = path.join(dataDir, PEER_BOOK_FILE);
    try {
      const d = JSON.parse(fs.readFileSync(this.file, 'utf8')) as BookFile;
      if (d && d.format === 1 && typeof d.peers === 'object') this.data = d;
    } catch {
      /* absent or unreadable: start empty (the safe side: full resync, tombstones kept) */
    }
    for (const [id, p] of Object.entries(this.data.peers)) this.vectors.set(id, VersionVector.from(p.vector));
  }

  get lastSyncAt(): number | undefined {
    return this.data.lastSyncAt;
  }

  /** Some peer was ever met. */
  get knowsPeers(): boolean {
    return Object.keys(this.data.peers).length > 0;
  }

  /** Away longer than tombstoneRetention (or never synced while holding data): needs a full resync. */
  staleness(hasData: boolean): { stale: boolean; awayMs?: number } {
    const last = this.data.lastSyncAt;
    if (last === undefined) return { stale: hasData };
    const awayMs = this.now() - last;
    return { stale: awayMs > this.retentionMs, awayMs };
  }

  /** Seen within tombstoneRetention. */
  isRecent(nodeId: string): boolean {
    const p = this.data.peers[nodeId];
    return p !== undefined && this.now() - p.lastSeen <= this.retentionMs;
  }

  seen(nodeId: string, vector: VectorObject, address?: string): void {
    const known = this.vectors.get(nodeId);
    const v = known ?? new VersionVector();
    const before = this.data.peers[nodeId];
    const changed = known === undefined || !v.dominates(vector) || address !== before?.address;
    v.merge(vector);
    this.vectors.set(nodeId, v);
    const now = this.now();
    this.data.peers[nodeId] = { vector: v.toObject(), lastSeen: now, ...(address ? { address } : {}) };
    // An unchanged vector only moves lastSeen: on disk that may lag by SEEN_SAVE_MS (it only has to be
    // right to within tombstoneRetention), so an idle fleet does not rewrite the file every second.
    if (changed || now - (this.savedSeen.get(nodeId) ?? 0) >= SEEN_SAVE_MS) this.scheduleSave();
  }

  synced(): void {
    this.data.lastSyncAt = this.now();
    this.scheduleSave();
  }

  /**
   * Who holds this entry among the peers that count: those seen within
   * tombstoneRetention and those `connected` says are (a live session
   * counts whatever the clock says of when it was last seen). `missing`: one
   * of them lacks it; `held`: there is at least one and all have it;
   * `unknown`: none counts.
   */
  holders(e: Entry, connected: (nodeId: string) => boolean = () => false): 'held' | 'missing' | 'unknown' {
    let any = false;
    for (const [id, v] of this.vectors) {
      if (!connected(id) && !this.isRecent(id)) continue;
      if (!v.covers(e.stream, e.seq)) return 'missing';
      any = true;
    }
    return any ? 'held' : 'unknown';
  }

  /** The last failed background save (a full disk); cleared by the next success. */
  saveError: unknown;

  private scheduleSave(): void {
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      try {
        this.save();
        this.saveError = undefined;
      } catch (err) {
        // The book is advisory and rebuilt from peers' HELLOs: a full disk must not
        // take the node down (found by the fault campaign). Try again later.
        this.saveError = err;
        this.saveTimer = undefined;
        this.scheduleSave();
      }
    }, 1000);
    this.saveTimer.unref();
  }

  /** Write atomically (temp file + rename). */
  save(): void {
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    const tmp = `${this.file}.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify(this.data)}\n`, { mode: 0o640 });
    fs.renameSync(tmp, this.file);
    for (const [id, p] of Object.entries(this.data.peers)) this.savedSeen.set(id, p.lastSeen);
  }
}
