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
 */
export class KeyTable<V> {
  private readonly map = new Map<string, V>();
  private readonly baseKeys: string[] = [];
  private readonly baseVals: (V | undefined)[] = [];
  /** Filled slots of the base. */
  private baseHeld = 0;

  get size(): number {
    return this.map.size + this.baseHeld;
  }

  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined || this.baseKeys.length === 0) return v;
    const i = this.find(key);
    return i < 0 ? undefined : this.baseVals[i];
  }

  set(key: string, v: V): void {
    if (this.baseKeys.length > 0) {
      const i = this.find(key);
      if (i >= 0) {
        if (this.baseVals[i] === undefined) this.baseHeld++;
        this.baseVals[i] = v;
        return;
      }
    }
    this.map.set(key, v);
  }

  /** Whether `appendSorted(key, …)` may be used: the Map is empty and `key` is above every base key. */
  canAppend(key: string): boolean {
    const n = this.baseKeys.length;
    return this.map.size === 0 && (n === 0 || this.baseKeys[n - 1]! < key);
  }

  /** Add a key to the base; only when `canAppend(key)` (the caller knows: a load in key order). */
  appendSorted(key: string, v: V): void {
    this.baseKeys.push(key);
    this.baseVals.push(v);
    this.baseHeld++;
  }

  /** Keys in the base (filled slots or not). */
  get baseLength(): number {
    return this.baseKeys.length;
  }

  /** The base's keys from index `start` on, in order (the base's own array when `start` is 0: do not modify). */
  baseKeysFrom(start: number): readonly string[] {
    return start === 0 ? this.baseKeys : this.baseKeys.slice(start);
  }

  delete(key: string): boolean {
    if (this.map.delete(key)) return true;
    if (this.baseKeys.length === 0) return false;
    const i = this.find(key);
    if (i < 0 || this.baseVals[i] === undefined) return false;
    this.baseVals[i] = undefined;
    this.baseHeld--;
    return true;
  }

  /** Every value: the Map's, then the base's. Live over changes (a value set meanwhile may or may not be visited). */
  *values(): Generator<V> {
    yield* this.map.values();
    const vals = this.baseVals;
    for (let i = 0; i < vals.length; i++) {
      const v = vals[i];
      if (v !== undefined) yield v;
    }
  }

  /** Index of `key` in the base, or -1. */
  private find(key: string): number {
    const ks = this.baseKeys;
    let lo = 0;
    let hi = ks.length - 1;
    if (key < ks[0]! || key > ks[hi]!) return -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const k = ks[mid]!;
      if (k < key) lo = mid + 1;
      else if (k > key) hi = mid - 1;
      else return mid;
    }
    return -1;
  }
}
