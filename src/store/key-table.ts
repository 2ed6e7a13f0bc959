/**
 * The store's entries by key: a Map, plus a sorted base of keys that were
 * loaded in key order into an empty table (recovery from a snapshot, which
 * is written in key order). The base is two arrays (keys, values) searched
 * by bisection: no Map slot and no hash per key, which is most of what a
 * snapshot load costs per key beyond decoding it (issue 10 P7; a Map.set of
 * 1M prebuilt keys alone takes about 1 s of CPU on the 2-core VM). A key of
 * the base stays in the base for good: a new value replaces its slot, a
 * removal empties it (undefined) and a later write fills it again; every
 * other key lives in the Map. So each key is in exactly one of the two.
 *
 * The base is a list of chunks allocated at their full size (1K slots,
 * doubling up to 64K), not arrays grown by push: growing two 1M-slot arrays
 * copies them again and again into fresh memory (≈ 0.5 s of CPU for 1M
 * keys here, against ≈ 0.2 s for chunks), and a small store wastes at most
 * one chunk's free tail.
 */
const MIN_CHUNK = 1024;
const MAX_CHUNK = 65536;

interface Chunk<V> {
  keys: string[];
  vals: (V | undefined)[];
  /** Slots used (keys[0, n) are set and ascending). */
  n: number;
}
export class KeyTable<V> {
  private readonly map = new Map<string, V>();
  private readonly chunks: Chunk<V>[] = [];
  /** Keys in the base (filled slots or not). */
  private baseLen = 0;
  /** Filled slots of the base. */
  private baseHeld = 0;

  get size(): number {
    return this.map.size + this.baseHeld;
  }

  /** Keys in the base (filled slots or not). */
  get baseLength(): number {
    return this.baseLen;
  }

  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined || this.baseLen === 0) return v;
    const at = this.find(key);
    return at < 0 ? undefined : this.chunks[Math.floor(at / MAX_CHUNK)]!.vals[at % MAX_CHUNK];
  }

  set(key: string, v: V): void {
    if (this.baseLen > 0) {
      const at = this.find(key);
      if (at >= 0) {
        const c = this.chunks[Math.floor(at / MAX_CHUNK)]!;
        const i = at % MAX_CHUNK;
        if (c.vals[i] === undefined) this.baseHeld++;
        c.vals[i] = v;
        return;
      }
    }
    this.map.set(key, v);
  }

  /** Whether `appendSorted(key, …)` may be used: the Map is empty and `key` is above every base key. */
  canAppend(key: string): boolean {
    if (this.map.size !== 0) return false;
    const c = this.chunks[this.chunks.length - 1];
    return c === undefined || c.keys[c.n - 1]! < key;
  }

  /** Add a key to the base; only when `canAppend(key)` (the caller knows: a load in key order). */
  appendSorted(key: string, v: V): void {
    let c = this.chunks[this.chunks.length - 1];
    if (c === undefined || c.n === c.keys.length) {
      const size = Math.min(MAX_CHUNK, Math.max(MIN_CHUNK, this.baseLen));
      c = { keys: new Array<string>(size), vals: new Array<V | undefined>(size), n: 0 };
      this.chunks.push(c);
    }
    c.keys[c.n] = key;
    c.vals[c.n] = v;
    c.n++;
    this.baseLen++;
    this.baseHeld++;
  }

  /** The base's keys from index `start` on, in order (a new array). */
  baseKeysFrom(start: number): string[] {
    const out = new Array<string>(Math.max(0, this.baseLen - start));
    let pos = 0;
    let o = 0;
    for (const c of this.chunks) {
      for (let i = 0; i < c.n; i++, pos++) if (pos >= start) out[o++] = c.keys[i]!;
    }
    return out;
  }

  delete(key: string): boolean {
    if (this.map.delete(key)) return true;
    if (this.baseLen === 0) return false;
    const at = this.find(key);
    if (at < 0) return false;
    const c = this.chunks[Math.floor(at / MAX_CHUNK)]!;
    const i = at % MAX_CHUNK;
    if (c.vals[i] === undefined) return false;
    c.vals[i] = undefined;
    this.baseHeld--;
    return true;
  }

  /** Every value: the Map's, then the base's. Live over changes (a value set meanwhile may or may not be visited). */
  *values(): Generator<V> {
    yield* this.map.values();
    for (const c of this.chunks) {
      for (let i = 0; i < c.n; i++) {
        const v = c.vals[i];
        if (v !== undefined) yield v;
      }
    }
  }

  /** Where `key` is in the base (chunk × MAX_CHUNK + slot), or -1. */
  private find(key: string): number {
    const cs = this.chunks;
    // The last chunk whose first key is <= key.
    let lo = 0;
    let hi = cs.length - 1;
    if (key < cs[0]!.keys[0]!) return -1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (cs[mid]!.keys[0]! <= key) lo = mid;
      else hi = mid - 1;
    }
    const c = cs[lo]!;
    const ks = c.keys;
    let l = 0;
    let h = c.n - 1;
    while (l <= h) {
      const mid = (l + h) >> 1;
      const k = ks[mid]!;
      if (k < key) l = mid + 1;
      else if (k > key) h = mid - 1;
      else return lo * MAX_CHUNK + mid;
    }
    return -1;
  }
}
