import type { Entry } from '../entry/entry.js';

/** Most versions kept per key (and the largest `?history=N`). */
export const MAX_HISTORY_PER_KEY = 64;
/** What one kept version costs beyond its encoded bytes (objects, buffer view, index slot), for the total bound. */
const VERSION_OVERHEAD = 160;

interface KeyVersions {
  versions: Entry[];
  /** How many versions of this key were dropped from the front so far. */
  dropped: number;
}

interface Recorded {
  e: Entry;
  /** Position of the version in its key's sequence (dropped + index). */
  ord: number;
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
  private readonly byKey = new Map<string, KeyVersions>();
  /** Every version recorded, oldest first, from `head` on; some were dropped since by the per-key bound. */
  private order: Recorded[] = [];
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
    let k = this.byKey.get(e.key);
    if (!k) {
      k = { versions: [], dropped: 0 };
      this.byKey.set(e.key, k);
    }
    this.order.push({ e, ord: k.dropped + k.versions.length });
    k.versions.push(e);
    this.kept++;
    this.bytes += cost(e);
    if (k.versions.length > MAX_HISTORY_PER_KEY) this.dropFront(k);
    while (this.bytes > this.maxBytes && this.head < this.order.length) this.evictOldest();
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
    // Slots of versions dropped by the per-key bound are reclaimed once they outnumber the kept ones.
    if (this.order.length - this.head > 2 * this.kept + 1024) {
      this.order = this.order.slice(this.head).filter((r) => this.isKept(r));
      this.head = 0;
    }
  }

  /** Up to `n` versions of `key`, newest first. */
  versions(key: string, n: number): Entry[] {
    const v = this.byKey.get(key)?.versions;
    if (!v) return [];
    return v.slice(Math.max(0, v.length - n)).reverse();
  }

  private isKept(r: Recorded): boolean {
    const k = this.byKey.get(r.e.key);
    return k !== undefined && k.versions[r.ord - k.dropped] === r.e;
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
    const r = this.order[this.head]!;
    this.order[this.head++] = undefined as unknown as Recorded;
    if (this.isKept(r)) this.dropFront(this.byKey.get(r.e.key)!);
  }
}

function cost(e: Entry): number {
  return e.byteLength + VERSION_OVERHEAD;
}
