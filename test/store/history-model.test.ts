import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeEntry, OP_PUT, type Entry } from '../../src/entry/entry.js';
import { KeyHistory, MAX_HISTORY_PER_KEY } from '../../src/store/history.js';

/** The bounds written out plainly: every version in one list, oldest first; what the bounds drop is marked gone. */
class Model {
  private all: { e: Entry; gone: boolean }[] = [];
  constructor(private readonly maxBytes: number) {}
  private cost = (e: Entry): number => e.byteLength + 160;
  record(e: Entry): void {
    this.all.push({ e, gone: false });
    const mine = this.all.filter((r) => !r.gone && r.e.key === e.key);
    if (mine.length > MAX_HISTORY_PER_KEY) mine[0]!.gone = true;
    let bytes = this.all.filter((r) => !r.gone).reduce((s, r) => s + this.cost(r.e), 0);
    for (const r of this.all) {
      if (bytes <= this.maxBytes) break;
      if (r.gone) continue;
      r.gone = true;
      bytes -= this.cost(r.e);
    }
  }
  versions(key: string, n: number): Entry[] {
    const v = this.all.filter((r) => !r.gone && r.e.key === key).map((r) => r.e);
    return v.slice(Math.max(0, v.length - n)).reverse();
  }
  get size(): number {
    return this.all.filter((r) => !r.gone).length;
  }
}

describe('KeyHistory against a plain model of its bounds', () => {
  it('keeps the same versions per key through the per-key and the byte bound', () => {
    let seq = 0;
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 0, max: 30_000 }), fc.integer({ min: 30_000, max: 120_000 })),
        fc.array(fc.tuple(fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.integer({ min: 1, max: 5 }) }), fc.integer({ min: 0, max: 40 })), { maxLength: 800, size: 'max' }),
        (maxBytes, writes) => {
          const h = new KeyHistory(maxBytes);
          const m = new Model(maxBytes);
          for (const [k, len] of writes) {
            const e = encodeEntry({ origin: 'n1', inc: 1, seq: ++seq, wall: 1_700_000_000_000 + seq, logical: 0, op: OP_PUT, key: `k${k}`, value: Buffer.alloc(len, 'v') });
            h.record(e);
            if (maxBytes > 0) m.record(e);
          }
          for (let k = 0; k <= 5; k++) for (const n of [0, 1, 3, 100]) expect(h.versions(`k${k}`, n)).toEqual(maxBytes > 0 ? m.versions(`k${k}`, n) : []);
          expect(h.size).toBe(maxBytes > 0 ? m.size : 0);
        },
      ),
      { numRuns: 100 },
    );
  });
});
