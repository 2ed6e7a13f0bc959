import { compareEntries, type Entry } from '../entry/entry.js';
import { KeyTable } from './key-table.js';
import { SortedKeys } from './sorted-keys.js';
import { StreamIndex } from './stream-index.js';
import { type VectorObject, VersionVector } from './vector.js';

export type ApplyResult = 'won' | 'superseded' | 'duplicate';

/**
 * In-memory fleet state: the newest entry per key by LWW (docs/guarantees.md), with
 * tombstones for deletes, a sorted key index for prefix listing, and the
 * version vectors of what has been applied and of what is durable.
 * The store only decides; it does no I/O. The node calls `apply` for every
 * entry, local or remote (one code path): a local write after its fsync, an
 * entry from a peer on arrival; `markDurable` once its record is durable (docs/adr/0104).
 */
export class Store {
  /** The newest entry per key; a snapshot's keys, loaded in key order, go to its sorted base (no Map slot each). */
  private readonly entries = new KeyTable<Entry>();
  private readonly keys = new SortedKeys();
  /** Tombstones in the order they were written, oldest first, for GC without a scan. */
  private readonly tombstones = new Map<string, Entry>();
  /**
   * What has been applied here (entries from peers are applied on arrival,
   * before their record is durable): deduplication and the live stream's
   * next-seq check. Never reported to peers.
   */
  readonly vector = new VersionVector();
  /**
   * What is durable here (its records fsynced, or recovered from the log): the
   * only vector reported to peers (HELLO, ACK, SYNC_DONE, snapshots, status).
   * Trails `vector` by the entries whose fsync is still running (docs/adr/0104).
   */
  readonly durable = new VersionVector();
  /** `proven`, for durable entries only (what a SYNC_DONE claim may be merged up to). */
  readonly durableProven = new Map<string, number>();
  /**
   * Per stream, the highest seq of any entry applied here (held, replaced or
   * lost): what entries prove this node has seen. A vector from a peer is
   * merged only up to it (docs/guarantees.md, "forged vector").
   */
  readonly proven = new Map<string, number>();
  /** Current entries by stream and seq: a catch-up visits only what a peer lacks. */
  readonly byStream = new StreamIndex((e) => this.entries.get(e.key) === e);
  /** The entry the last `apply` replaced or lost to (for conflict reporting). */
  lastOther: Entry | undefined;
  private liveCount = 0;
  /**
   * Keys new since beginBulk, not yet in `keys` (recovery builds the index
   * once, at the end), except those appended to the table's sorted base:
   * they are the base's keys from `bulkBaseStart` on.
   */
  private bulkKeys: string[] | undefined;
  private bulkBaseStart = 0;
  private bulkSorted = true;
  /** The store held no entry at beginBulk: every key held is in bulkKeys or was appended to the base since. */
  private bulkFresh = false;
  /** During a bulk load, the stream being applied (advanceRun). */
  private run: { stream: string; vector: number; proven: number } | undefined;
  /** Sum of the encoded sizes of every entry held (live and tombstones). */
  heldBytes = 0;

  get size(): number {
    return this.liveCount;
  }

  get tombstoneCount(): number {
    return this.tombstones.size;
  }

  /**
   * An applied entry's record is durable: advance the durable vector. Called in
   * the order the entries were applied per stream (the log acknowledges in
   * append order), so it makes the same steps `vector` made.
   */
  markDurable(e: Entry): void {
    const stream = e.stream;
    this.durable.advance(stream, e.seq);
    if (e.seq > (this.durableProven.get(stream) ?? 0)) this.durableProven.set(stream, e.seq);
  }

  /**
   * Appending an applied entry failed: the applied vector of its stream goes
   * back to the durable one, so the entries the log lost are taken again when
   * a peer resends them (the store keeps them meanwhile; LWW makes it idempotent).
   */
  rollbackToDurable(stream: string): void {
    const d = this.durable.get(stream);
    if (d === 0) this.vector.map.delete(stream);
    else this.vector.map.set(stream, d);
  }

  /** After recovery: everything recovered is durable. */
  syncDurable(): void {
    this.durable.map.clear();
    this.durable.merge(this.vector);
    this.durableProven.clear();
    for (const [k, v] of this.proven) this.durableProven.set(k, v);
  }

  /** Apply an entry by LWW. Advances the vector when the entry is the next of its stream. */
  apply(e: Entry): ApplyResult {
    const stream = e.stream;
    const seq = e.seq;
    const bulk = this.bulkKeys;
    let cur: Entry | undefined;
    let append = false;
    if (bulk === undefined) {
      this.vector.advance(stream, seq);
      if (seq > (this.proven.get(stream) ?? 0)) this.proven.set(stream, seq);
      cur = this.entries.get(e.key);
    } else {
      this.advanceRun(stream, seq);
      // Into a store empty at beginBulk, keys so far distinct and ascending
      // (a snapshot): a key above the last one is new, no lookup needed, and
      // goes to the table's sorted base (canAppend: every key so far is there).
      append = this.bulkFresh && this.entries.canAppend(e.key);
      cur = append ? undefined : this.entries.get(e.key);
    }
    this.lastOther = cur;
    if (cur !== undefined) {
      const cmp = compareEntries(e, cur);
      if (cmp === 0) return 'duplicate';
      if (cmp < 0) return 'superseded';
      this.heldBytes -= cur.byteLength;
      if (cur.isDelete) this.tombstones.delete(cur.key);
      else this.liveCount--;
      this.entries.set(e.key, e);
      this.byStream.remove(cur);
    } else {
      if (append) this.entries.appendSorted(e.key, e);
      else {
        if (bulk === undefined) this.keys.add(e.key);
        else {
          if (bulk.length > 0 && bulk[bulk.length - 1]! > e.key) this.bulkSorted = false;
          bulk.push(e.key);
        }
        this.entries.set(e.key, e);
      }
    }
    this.byStream.add(e, stream, seq);
    this.heldBytes += e.byteLength;
    if (e.isDelete) this.tombstones.set(e.key, e);
    else this.liveCount++;
    return 'won';
  }

  /**
   * Bulk loading: the vector and `proven` of the stream being applied are
   * kept here and written back when another stream comes, at endBulk and
   * before mergeVector (recovery applies long runs of one stream: two map
   * updates per run instead of per entry). Same result as per entry: the
   * vector advances only by the next seq (a gap stops it), proven is the max.
   */
  private advanceRun(stream: string, seq: number): void {
    let r = this.run;
    if (r === undefined || r.stream !== stream) {
      this.flushRun();
      r = { stream, vector: this.vector.get(stream), proven: this.proven.get(stream) ?? 0 };
      this.run = r;
    }
    if (seq === r.vector + 1) r.vector = seq;
    if (seq > r.proven) r.proven = seq;
  }

  private flushRun(): void {
    const r = this.run;
    if (r === undefined) return;
    this.run = undefined;
    if (r.vector > this.vector.get(r.stream)) this.vector.map.set(r.stream, r.vector);
    if (r.proven > (this.proven.get(r.stream) ?? 0)) this.proven.set(r.stream, r.proven);
  }

  /** Merge a vector (a VECTOR record, a snapshot's meta); the one way to change the vector during a bulk load. */
  mergeVector(v: VectorObject): void {
    this.flushRun();
    this.vector.merge(v);
  }

  /**
   * Bulk loading (recovery): new keys are collected and the sorted key index
   * is built once by endBulk (one sort, already sorted for a snapshot written
   * in key order) instead of one insert per key. Only apply and mergeVector
   * may be called in between (the vector is up to date again after endBulk).
   */
  beginBulk(): void {
    if (this.bulkKeys !== undefined) return;
    this.bulkKeys = [];
    this.bulkSorted = true;
    this.bulkFresh = this.entries.size === 0;
    this.bulkBaseStart = this.entries.baseLength;
  }

  endBulk(): void {
    const bulk = this.bulkKeys;
    if (bulk === undefined) return;
    this.flushRun();
    this.bulkKeys = undefined;
    // Appended keys are sorted and above every key held before them (canAppend).
    const appended = this.entries.baseKeysFrom(this.bulkBaseStart);
    if (bulk.length === 0 && appended.length === 0) return;
    let all: readonly string[];
    if (bulk.length === 0 && this.keys.size === 0) all = appended;
    else {
      const old = this.keys.size > 0 ? this.keys.toArray() : [];
      const sorted = this.bulkSorted && appended.length === 0 && (old.length === 0 || old[old.length - 1]! < bulk[0]!);
      const merged = old.concat(appended, bulk);
      if (!sorted) merged.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      all = merged;
    }
    this.keys.resetSorted(all);
  }

  /**
   * Every entry held, tombstones included, in key order (snapshots: a
   * snapshot in key order lets recovery build the key index without a sort).
   * The key list is taken when called; keys added later are not visited,
   * keys dropped meanwhile are skipped.
   */
  *allInKeyOrder(): Generator<Entry> {
    for (const k of this.keys.toArray()) {
      const e = this.entries.get(k);
      if (e !== undefined) yield e;
    }
  }

  /** The live entry for a key (undefined for absent, deleted or expired keys; `now`: this node's wall clock). */
  get(key: string, now = Date.now()): Entry | undefined {
    const e = this.entries.get(key);
    return e === undefined || e.isDelete || e.expiredAt(now) ? undefined : e;
  }

  /** The newest entry for a key, tombstones included. */
  getAny(key: string): Entry | undefined {
    return this.entries.get(key);
  }

  /** Live (not deleted, not expired) entries whose key starts with `prefix`, in key order; visits only that range. */
  *list(prefix = '', after?: string, now = Date.now()): Generator<Entry> {
    for (const k of this.keys.withPrefix(prefix, after)) {
      const e = this.entries.get(k);
      if (e !== undefined && !e.isDelete && !e.expiredAt(now)) yield e;
    }
  }

  /** Every entry under `prefix`, tombstones and expired puts included, in key order. */
  *listAny(prefix = ''): Generator<Entry> {
    for (const k of this.keys.withPrefix(prefix)) {
      const e = this.entries.get(k);
      if (e !== undefined) yield e;
    }
  }

  /** Every entry held, tombstones included (catch-up and backups). Live over mutation: an entry set meanwhile may or may not be visited. */
  all(): Generator<Entry> {
    return this.entries.values();
  }

  /**
   * Entries held (tombstones included) that a peer whose vector is `peer`
   * lacks: for each stream, those above the peer's seq. Visits only those
   * (and entries of them since replaced), not every key.
   */
  *missing(peer: VersionVector): Generator<Entry> {
    for (const stream of this.byStream.streamIds()) yield* this.byStream.since(stream, peer.get(stream));
  }

  /** The current entry of `stream` at `seq`, if held (twin detection, src/replication/twins.ts). */
  entryAt(stream: string, seq: number): Entry | undefined {
    return this.byStream.at(stream, seq);
  }

  /** The current entry of `stream` with the highest seq ≤ `atMost`, if one of the last few is. */
  newestOf(stream: string, atMost: number): Entry | undefined {
    return this.byStream.newest(stream, atMost);
  }

  /**
   * Drop a key and its entry entirely, as if its tombstone had been collected
   * here too (a full resync proved the fleet deleted it). Not logged: the
   * caller compacts afterwards to make it durable.
   */
  forget(key: string): boolean {
    const e = this.entries.get(key);
    if (e === undefined) return false;
    this.entries.delete(key);
    this.keys.delete(key);
    this.byStream.remove(e);
    this.heldBytes -= e.raw.length;
    if (e.isDelete) this.tombstones.delete(key);
    else this.liveCount--;
    return true;
  }

  /**
   * Drop the tombstones `canDrop` allows, oldest applied first. No early stop
   * by timestamp: one tombstone stamped by a clock far ahead must not keep
   * every tombstone applied after it.
   */
  collectTombstones(canDrop: (e: Entry) => boolean): number {
    let dropped = 0;
    for (const [key, e] of this.tombstones) {
      if (!canDrop(e)) continue;
      this.tombstones.delete(key);
      this.entries.delete(key);
      this.keys.delete(key);
      this.byStream.remove(e);
      this.heldBytes -= e.byteLength;
      dropped++;
    }
    return dropped;
  }
}
