import type { Entry } from '../entry/entry.js';
import type { StoreView } from '../node-host.js';
import type { VectorObject, VersionVector } from '../store/vector.js';
import { ENTRIES_CATCHUP, FRAME, entriesFrame, entryWireBytes, jsonFrame } from './frames.js';

/** ENTRIES flag: this catch-up is a full resync (the receiver drops keys the sender proves deleted). */
export const ENTRIES_FULL = 2;

interface CatchupCursor {
  entries: Entry[];
  next: number;
  vector: VectorObject;
  /** The sender's own streams it vouches for (SYNC_DONE `own`, docs/guarantees.md). */
  own: VectorObject;
  full: boolean;
}

export interface Outgoing {
  frame: Buffer;
  entries: number;
  mode: 'live' | 'catchup' | 'sync_done';
}

/**
 * What one peer is still owed: a catch-up in progress (a fixed list of entry
 * references, one per key the peer's vector lacks, then SYNC_DONE) followed by
 * the live queue. The live queue is bounded in bytes: past the bound it is
 * dropped and the peer is owed a new catch-up instead, so a slow or dead peer
 * costs at most `maxQueueBytes` (docs/replication.md, "Protocol": flow control).
 */
export class Outbox {
  private live: Entry[] = [];
  private liveHead = 0;
  private catchup: CatchupCursor | undefined;
  /** Bytes of live entries queued. */
  queuedBytes = 0;
  /** A new catch-up is owed (the live queue overflowed, or anti-entropy found a gap). */
  catchupOwed = false;
  overflows = 0;

  constructor(private readonly maxQueueBytes: number) {}

  get syncing(): boolean {
    return this.catchup !== undefined || this.catchupOwed;
  }

  get queuedEntries(): number {
    return this.live.length - this.liveHead + (this.catchup ? this.catchup.entries.length - this.catchup.next : 0);
  }

  get idle(): boolean {
    return !this.syncing && this.liveHead === this.live.length;
  }

  /** Queue a live entry; returns false if the queue overflowed (and a catch-up is now owed). */
  offer(e: Entry): boolean {
    if (this.catchupOwed) return true; // the owed catch-up will include it
    this.live.push(e);
    this.queuedBytes += entryWireBytes(e);
    if (this.queuedBytes <= this.maxQueueBytes) return true;
    this.clearLive();
    this.catchupOwed = true;
    this.overflows++;
    return false;
  }

  /**
   * Begin a catch-up toward a peer whose vector is `peer`: a snapshot of every
   * entry it lacks (all of them for a full resync), taken synchronously so the
   * list and the vector sent in SYNC_DONE describe the same state. Entries
   * applied later reach the peer through the live queue, after SYNC_DONE.
   */
  startCatchup(store: StoreView, peer: VersionVector, full: boolean, own: VectorObject = {}): number {
    const entries: Entry[] = [];
    // Only what the peer lacks, by stream and seq (store/stream-index.ts); a full resync sends every entry.
    if (full) for (const e of store.all()) entries.push(e);
    else for (const e of store.missing(peer)) entries.push(e);
    // SYNC_DONE claims only what is durable here (docs/adr/0104); the list may hold more.
    this.catchup = { entries, next: 0, vector: store.durable.toObject(), own, full };
    this.catchupOwed = false;
    // The snapshot holds everything queued so far that the store holds; own writes
    // shipped at staging are not applied yet (their fsync runs): they stay queued.
    this.keepUnapplied(store);
    return entries.length;
  }

  /** The vector the running catch-up will announce in SYNC_DONE. */
  get catchupVector(): VectorObject | undefined {
    return this.catchup?.vector;
  }

  /** The next frame to write (up to about `maxBytes` of entries), or undefined when nothing is due. */
  take(maxBytes: number): Outgoing | undefined {
    const c = this.catchup;
    if (c) {
      if (c.next < c.entries.length) {
        const { batch } = takeBatch(c.entries, c.next, maxBytes);
        c.next += batch.length;
        return { frame: entriesFrame(batch, ENTRIES_CATCHUP | (c.full ? ENTRIES_FULL : 0)), entries: batch.length, mode: 'catchup' };
      }
      this.catchup = undefined;
      return { frame: jsonFrame(FRAME.SYNC_DONE, { vector: c.vector, own: c.own, full: c.full }), entries: 0, mode: 'sync_done' };
    }
    if (this.catchupOwed || this.liveHead === this.live.length) return undefined;
    const { batch, bytes } = takeBatch(this.live, this.liveHead, maxBytes);
    this.liveHead += batch.length;
    this.queuedBytes -= bytes;
    if (this.liveHead === this.live.length) this.clearLive();
    return { frame: entriesFrame(batch, 0), entries: batch.length, mode: 'live' };
  }

  private keepUnapplied(store: StoreView): void {
    const keep: Entry[] = [];
    for (let i = this.liveHead; i < this.live.length; i++) {
      const e = this.live[i]!;
      if (!store.vector.covers(e.stream, e.seq)) keep.push(e);
    }
    this.clearLive();
    for (const e of keep) {
      this.live.push(e);
      this.queuedBytes += entryWireBytes(e);
    }
  }

  private clearLive(): void {
    this.live = [];
    this.liveHead = 0;
    this.queuedBytes = 0;
  }
}

/** Entries from `from` up to about `maxBytes` on the wire (at least one), and their wire bytes. */
function takeBatch(list: Entry[], from: number, maxBytes: number): { batch: Entry[]; bytes: number } {
  let bytes = 0;
  let end = from;
  while (end < list.length) {
    const n = entryWireBytes(list[end]!);
    if (end > from && bytes + n > maxBytes) break;
    bytes += n;
    end++;
  }
  // The whole list as it is (no copy): the live queue is replaced, never changed, once taken to its end.
  return { batch: from === 0 && end === list.length ? list : list.slice(from, end), bytes };
}
