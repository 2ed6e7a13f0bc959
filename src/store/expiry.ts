import { OP_DEL, encodeEntry, type Entry } from '../entry/entry.js';

/**
 * Puts with a TTL, by expiry (a binary min-heap). The node pushes every
 * winning put that carries an expiry and pops the due ones; an item whose
 * key moved on since (a refresh, a delete) is the caller's to skip.
 * Bounded by the number of keys ever put with a TTL and not yet due.
 */
export class ExpiryQueue {
  private heap: Entry[] = [];

  get size(): number {
    return this.heap.length;
  }

  /** The earliest expiry queued, or undefined. */
  get next(): number | undefined {
    return this.heap[0]?.expiresAt;
  }

  push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.expiresAt <= h[i]!.expiresAt) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }

  /** Pop every entry whose expiry is at or before `now`, earliest first. */
  popDue(now: number): Entry[] {
    const out: Entry[] = [];
    while (this.heap.length > 0 && this.heap[0]!.expiresAt <= now) out.push(this.pop());
    return out;
  }

  private pop(): Entry {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && h[l]!.expiresAt < h[m]!.expiresAt) m = l;
        if (r < h.length && h[r]!.expiresAt < h[m]!.expiresAt) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }
}

/**
 * The tombstone that ends an expired put (docs/adr/0700): written by the
 * put's origin only, with the put's own HLC and the origin's next seq. By
 * LWW it sorts right after the put it ends (same hlc and origin, larger inc
 * or seq) and before any later write of the key, so it can never delete a
 * refresh or a newer value written elsewhere, and every replica converges.
 */
export function expiryTombstoneFields(put: Entry, inc: number, seq: number): Parameters<typeof encodeEntry>[0] {
  return { origin: put.origin, inc, seq, wall: put.wall, logical: put.logical, op: OP_DEL, key: put.key };
}

/** Whether a delete is the expiry tombstone of `put` (expiryTombstoneFields: the put's origin and hlc). */
export function endsExpiry(del: Entry, put: Entry): boolean {
  return put.expiresAt > 0 && !put.isDelete && del.origin === put.origin && del.wall === put.wall && del.logical === put.logical;
}
