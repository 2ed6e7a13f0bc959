/**
 * A sorted set of strings kept as a list of bounded sorted chunks (the idea of
 * Python's sortedcontainers): insert and delete cost O(log n + chunk), and a
 * prefix listing visits only the keys in its range, never every key.
 * It holds one pointer per key, so it adds ~8 bytes per key to the store.
 */
const MAX_CHUNK = 1024;

export class SortedKeys {
  private chunks: string[][] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Replace the contents with `keys`, which must be sorted and distinct (bulk build: O(n), no per-key insert). */
  resetSorted(keys: readonly string[]): void {
    const half = MAX_CHUNK >> 1;
    this.chunks = [];
    for (let i = 0; i < keys.length; i += half) this.chunks.push(keys.slice(i, i + half));
    this.count = keys.length;
  }

  /** Every key in order, as one array taken now (a stable list to walk while the set changes). */
  toArray(): string[] {
    const out = new Array<string>(this.count);
    let n = 0;
    for (const c of this.chunks) for (const k of c) out[n++] = k;
    return out;
  }

  add(key: string): boolean {
    if (this.chunks.length === 0) {
      this.chunks.push([key]);
      this.count = 1;
      return true;
    }
    const ci = this.chunkFor(key);
    const chunk = this.chunks[ci]!;
    const i = lowerBound(chunk, key);
    if (chunk[i] === key) return false;
    chunk.splice(i, 0, key);
    this.count++;
    if (chunk.length > MAX_CHUNK) {
      this.chunks.splice(ci + 1, 0, chunk.splice(MAX_CHUNK >> 1));
    }
    return true;
  }

  delete(key: string): boolean {
    if (this.chunks.length === 0) return false;
    const ci = this.chunkFor(key);
    const chunk = this.chunks[ci]!;
    const i = lowerBound(chunk, key);
    if (chunk[i] !== key) return false;
    chunk.splice(i, 1);
    this.count--;
    if (chunk.length === 0) this.chunks.splice(ci, 1);
    return true;
  }

  /** Keys that start with `prefix`, in order, starting after `after` if given. */
  *withPrefix(prefix: string, after?: string): Generator<string> {
    const start = after !== undefined && after > prefix ? after : prefix;
    let ci = this.chunks.length === 0 ? 0 : this.chunkFor(start);
    let i = ci < this.chunks.length ? lowerBound(this.chunks[ci]!, start) : 0;
    for (; ci < this.chunks.length; ci++, i = 0) {
      const chunk = this.chunks[ci]!;
      for (; i < chunk.length; i++) {
        const k = chunk[i]!;
        if (!k.startsWith(prefix)) return;
        if (k === after) continue;
        yield k;
      }
    }
  }

  /** Index of the chunk whose range holds `key` (the last chunk whose first key <= key). */
  private chunkFor(key: string): number {
    let lo = 0;
    let hi = this.chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.chunks[mid]![0]! <= key) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

function lowerBound(arr: string[], key: string): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (arr[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
