import type { Entry } from '../entry/entry.js';

interface StreamEntries {
  /** Entries of one stream that were current when added, in seq order once `sorted`. */
  list: Entry[];
  sorted: boolean;
  /** Entries in `list` no longer current (replaced or dropped); swept when they are many. */
  dead: number;
  /** Seq of the entry added last: a smaller one next makes the list unsorted (a sweep may leave it high: one sort too many, harmless). */
  lastSeq: number;
}

/**
 * The store's entries by stream and seq, so a catch-up toward a peer visits
 * only what the peer lacks (for each stream, the entries above the peer's
 * seq), not every key: with 1M keys and a peer 10 entries behind, about 10
 * entries of work (docs/replication.md, "Catch-up").
 *
 * Each stream keeps the entries that were the key's current entry when
 * applied, appended in apply order (seq order, except during an unordered
 * catch-up, when the list is sorted again on the next read). A replaced
 * entry stays in its list as dead until dead ones are half of it, then the
 * list is swept: O(1) amortised per write, one pointer per entry held.
 */
export class StreamIndex {
  private readonly streams = new Map<string, StreamEntries>();
  /** Entries looked at by the last `since` calls (tests and benchmarks count work with it). */
  visited = 0;
  /** The stream of the last `add` (entries come in long runs of one stream). */
  private lastId: string | undefined;
  private lastStream: StreamEntries | undefined;

  constructor(private readonly isCurrent: (e: Entry) => boolean) {}

  /** Add `e`; `stream` and `seq` are its own (the caller has them already). */
  add(e: Entry, stream = e.stream, seq = e.seq): void {
    let s = stream === this.lastId ? this.lastStream : this.streams.get(stream);
    if (s === undefined) {
      s = { list: [], sorted: true, dead: 0, lastSeq: 0 };
      this.streams.set(stream, s);
    }
    this.lastId = stream;
    this.lastStream = s;
    if (s.lastSeq > seq) s.sorted = false;
    s.lastSeq = seq;
    s.list.push(e);
  }

  /** `e` is no longer the current entry of its key. */
  remove(e: Entry): void {
    const s = this.streams.get(e.stream);
    if (s === undefined) return;
    s.dead++;
    if (s.dead > 64 && s.dead * 2 > s.list.length) this.sweep(e.stream, s);
  }

  /** Current entries of `stream` with seq > `after`, in seq order. */
  *since(stream: string, after: number): Generator<Entry> {
    const s = this.streams.get(stream);
    if (s === undefined) return;
    const list = s.list;
    for (let i = this.firstAbove(s, after); i < list.length; i++) {
      this.visited++;
      const e = list[i]!;
      if (this.isCurrent(e)) yield e;
    }
  }

  /** The current entry of `stream` at exactly `seq`, if held (replaced or dropped: undefined). */
  at(stream: string, seq: number): Entry | undefined {
    const s = this.streams.get(stream);
    if (s === undefined) return undefined;
    const e = s.list[this.firstAbove(s, seq - 1)];
    return e !== undefined && e.seq === seq && this.isCurrent(e) ? e : undefined;
  }

  /** The current entry of `stream` with the highest seq ≤ `atMost`, looking back over at most `tries` list slots. */
  newest(stream: string, atMost: number, tries = 8): Entry | undefined {
    const s = this.streams.get(stream);
    if (s === undefined) return undefined;
    const end = this.firstAbove(s, atMost);
    for (let i = end - 1; i >= 0 && i >= end - tries; i--) {
      const e = s.list[i]!;
      if (this.isCurrent(e)) return e;
    }
    return undefined;
  }

  /** Every stream with entries held. */
  streamIds(): IterableIterator<string> {
    return this.streams.keys();
  }

  /** Index of the first entry of `s` with seq > `after` (sorts the list first if needed). */
  private firstAbove(s: StreamEntries, after: number): number {
    if (!s.sorted) {
      s.list.sort((a, b) => a.seq - b.seq);
      s.sorted = true;
      s.lastSeq = s.list[s.list.length - 1]?.seq ?? 0;
    }
    const list = s.list;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid]!.seq <= after) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private sweep(stream: string, s: StreamEntries): void {
    s.list = s.list.filter(this.isCurrent);
    s.dead = 0;
    if (s.list.length === 0) {
      this.streams.delete(stream);
      if (this.lastStream === s) this.lastId = this.lastStream = undefined;
    }
  }
}
