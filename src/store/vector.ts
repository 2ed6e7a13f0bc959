/**
 * Version vector: for each stream (origin:incarnation), the highest seq
 * applied with no gap below it. Serialised as a plain object for HELLO, ACK,
 * SYNC_DONE, snapshots and /v1/status.
 */
export type VectorObject = Record<string, number>;

/** A vector that can be read, not changed (what services see of the node's: src/node-host.ts). */
export interface ReadonlyVector {
  readonly map: ReadonlyMap<string, number>;
  get(stream: string): number;
  covers(stream: string, seq: number): boolean;
  dominates(other: VectorObject | ReadonlyVector): boolean;
  lagBehind(other: VectorObject | ReadonlyVector): number;
  toObject(): VectorObject;
  clone(): VersionVector;
}

const entriesOf = (v: VectorObject | ReadonlyVector): Iterable<[string, number]> => (v instanceof VersionVector ? v.map.entries() : Object.entries(v as VectorObject));

export class VersionVector implements ReadonlyVector {
  readonly map = new Map<string, number>();

  get(stream: string): number {
    return this.map.get(stream) ?? 0;
  }

  covers(stream: string, seq: number): boolean {
    return seq <= (this.map.get(stream) ?? 0);
  }

  /** Advance a stream by one if `seq` is the next one; returns whether it did. */
  advance(stream: string, seq: number): boolean {
    const cur = this.map.get(stream) ?? 0;
    if (seq !== cur + 1) return false;
    this.map.set(stream, seq);
    return true;
  }

  /** Raise each stream to at least the other vector's value. */
  merge(other: VectorObject | ReadonlyVector): void {
    const entries = entriesOf(other);
    for (const [stream, seq] of entries) {
      if (seq > (this.map.get(stream) ?? 0)) this.map.set(stream, seq);
    }
  }

  /** Whether this vector covers every stream of `other`. */
  dominates(other: VectorObject | ReadonlyVector): boolean {
    const entries = entriesOf(other);
    for (const [stream, seq] of entries) if ((this.map.get(stream) ?? 0) < seq) return false;
    return true;
  }

  /** Entries the other side lacks, summed over streams (replication lag in entries). */
  lagBehind(other: VectorObject | ReadonlyVector): number {
    const entries = entriesOf(other);
    let lag = 0;
    for (const [stream, seq] of entries) {
      const mine = this.map.get(stream) ?? 0;
      if (seq > mine) lag += seq - mine;
    }
    return lag;
  }

  toObject(): VectorObject {
    return Object.fromEntries(this.map);
  }

  static from(obj: VectorObject): VersionVector {
    const v = new VersionVector();
    v.merge(obj);
    return v;
  }

  clone(): VersionVector {
    const v = new VersionVector();
    for (const [k, s] of this.map) v.map.set(k, s);
    return v;
  }
}
