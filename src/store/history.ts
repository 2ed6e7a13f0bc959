import type { Entry } from '../entry/entry.js';

/** Most versions kept per key (and the largest `?history=N`). */
export const MAX_HISTORY_PER_KEY = 64;
/** What one kept version costs beyond its encoded bytes (objects, buffer view, index slot), for the total bound. */
const VERSION_OVERHEAD = 160;

/** A key's versions once it has had more than one (a key with one version maps to that entry itself). */
class KeyVersions {
  constructor(
    readonly versions: Entry[],
    /** How many versions of this key were dropped from the front so far. */
    public dropped: number,
  ) {}
}

/**
 * The last versions this node applied per key (`GET /v1/kv/<key>?history=N`,
 * docs/http-api.md): each entry that won LWW here, put or delete, local or
 * replicated, newest last. Local and in memory: catch-up sends only a key's
 * newest version, so another node (or this one after a restart) may have seen
 * fewer versions.
 *
 * Bounded twice: at most MAX_HISTORY_PER_KEY versions per key, and at most
 * `maxBytes` in all (encoded size plus a fixed overhead per version), past
 * which the node's oldest versions go first. The newest version is the
 * store's own entry object; older ones keep their (copied) buffers.
 * Amortised O(1) per write; no timers.
 */
export class KeyHistory {
  /** A key's one version, or its versions; a key's first version costs no allocation. */
  private readonly byKey = new Map<string, Entry | KeyVersions>();
  /**
   * Every version recorded, oldest first, from `head` on, with its position in
   * its key's sequence (dropped + index) at the same index of `ords`: two
   * arrays, no object per write. Some were dropped since by the per-key bound.
   */
  private order: (Entry | undefined)[] = [];
  private ords: number[] = [];
  private head = 0;
  private kept = 0;
  private bytes = 0;

  constructor(readonly maxBytes: number) {}

  /** Bytes counted against maxBytes. */
  get heldBytes(): number {
    return this.bytes;
  }

  /** Versions kept, all keys. */
  get size(): number {
    return this.kept;
  }

  record(e: Entry): void {
    if (this.maxBytes <= 0) return;
    const h = this.byKey.get(e.key);
    let ord = 0;
    if (h === undefined) this.byKey.set(e.key, e);
    else if (h instanceof KeyVersions) {
      ord = h.dropped + h.versions.length;
      h.versions.push(e);
    } else {
      this.byKey.set(e.key, new KeyVersions([h, e], 0));
      ord = 1;
    }
    this.order.push(e);
    this.ords.push(ord);
    this.kept++;
    this.bytes += cost(e);
    if (h instanceof KeyVersions && h.versions.length > MAX_HISTORY_PER_KEY) this.dropFront(h);
    while (this.bytes > this.maxBytes && this.head < this.order.length) this.evictOldest();
    if (this.head > 1024 && this.head * 2 > this.order.length) this.compactOrder(false);
    // Slots of versions dropped by the per-key bound are reclaimed once they outnumber the kept ones.
    if (this.order.length - this.head > 2 * this.kept + 1024) this.compactOrder(true);
  }

  /** Up to `n` versions of `key`, newest first. */
  versions(key: string, n: number): Entry[] {
    const h = this.byKey.get(key);
    if (h === undefined) return [];
    if (!(h instanceof KeyVersions)) return n >= 1 ? [h] : [];
    const v = h.versions;
    return v.slice(Math.max(0, v.length - n)).reverse();
  }

  /** Drop the slots before `head` (and, with `onlyKept`, those of versions no longer kept). */
  private compactOrder(onlyKept: boolean): void {
    const order: (Entry | undefined)[] = [];
    const ords: number[] = [];
    for (let i = this.head; i < this.order.length; i++) {
      if (onlyKept && !this.isKept(i)) continue;
      order.push(this.order[i]);
      ords.push(this.ords[i]!);
    }
    this.order = order;
    this.ords = ords;
    this.head = 0;
  }

  /** Whether the version recorded at `i` is still kept (not dropped by the per-key bound). */
  private isKept(i: number): boolean {
    const e = this.order[i];
    if (e === undefined) return false;
    const h = this.byKey.get(e.key);
    if (h === undefined) return false;
    return h instanceof KeyVersions ? h.versions[this.ords[i]! - h.dropped] === e : h === e;
  }

  private dropFront(k: KeyVersions): void {
    const e = k.versions.shift()!;
    k.dropped++;
    this.kept--;
    this.bytes -= cost(e);
    if (k.versions.length === 0) this.byKey.delete(e.key);
  }

  /** Drop the node's oldest recorded version, unless the per-key bound dropped it already. */
  private evictOldest(): void {
    const i = this.head++;
    const e = this.order[i]!;
    const kept = this.isKept(i);
    this.order[i] = undefined;
    if (!kept) return;
    const h = this.byKey.get(e.key)!;
    if (h instanceof KeyVersions) this.dropFront(h);
    else {
      this.byKey.delete(e.key);
      this.kept--;
      this.bytes -= cost(e);
    }
  }
}

function cost(e: Entry): number {
  return e.byteLength + VERSION_OVERHEAD;
}
