import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OP_DEL, OP_PUT, encodeEntry, type Entry } from '../../src/entry/entry.js';
import { SortedKeys } from '../../src/store/sorted-keys.js';
import { Store } from '../../src/store/store.js';

const entryArb = fc
  .record({
    origin: fc.constantFrom('a', 'b', 'c'),
    seq: fc.integer({ min: 1, max: 50 }),
    wall: fc.integer({ min: 1, max: 20 }),
    logical: fc.integer({ min: 0, max: 3 }),
    del: fc.boolean(),
    key: fc.constantFrom('k1', 'k2', 'robots/r1', 'robots/r2'),
    value: fc.string({ maxLength: 4 }),
  })
  .map((r) => encodeEntry({ origin: r.origin, inc: 1, seq: r.seq, wall: r.wall, logical: r.logical, op: r.del ? OP_DEL : OP_PUT, key: r.key, value: r.del ? undefined : Buffer.from(r.value) }));

function stateOf(s: Store): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of s.all()) out[e.key] = `${e.origin}:${e.seq}:${e.wall}.${e.logical}:${e.isDelete ? 'DEL' : e.value.toString()}`;
  return out;
}

describe('store: last-writer-wins apply', () => {
  it('ends in the same state whatever order entries arrive in, duplicates included', () => {
    fc.assert(
      fc.property(fc.array(entryArb, { maxLength: 40 }), fc.func(fc.integer()), (entries, rnd) => {
        // Entries with the same (origin, seq) must be the same write: dedupe the generator's collisions.
        const uniq = new Map<string, Entry>();
        for (const e of entries) uniq.set(`${e.origin}:${e.seq}`, e);
        const list = [...uniq.values()];
        const shuffled = [...list, ...list.slice(0, 5)].sort((x, y) => rnd(x.key + x.seq) - rnd(y.key + y.seq));
        const a = new Store();
        const b = new Store();
        for (const e of list) a.apply(e);
        for (const e of shuffled) b.apply(e);
        expect(stateOf(b)).toEqual(stateOf(a));
        expect(a.size).toBe(b.size);
      }),
    );
  });

  it('reports won, superseded and duplicate, keeps tombstones, and lists only live keys by prefix', () => {
    const s = new Store();
    const put = (key: string, wall: number, seq: number, origin = 'a') => encodeEntry({ origin, inc: 1, seq, wall, logical: 0, op: OP_PUT, key, value: Buffer.from(`v${wall}`) });
    const e1 = put('robots/r1/pose', 10, 1);
    expect(s.apply(e1)).toBe('won');
    expect(s.apply(e1)).toBe('duplicate');
    expect(s.apply(put('robots/r1/pose', 5, 1, 'b'))).toBe('superseded');
    expect(s.lastOther).toBe(e1);
    s.apply(put('robots/r2/pose', 11, 2));
    s.apply(put('robotsX', 12, 3));
    s.apply(encodeEntry({ origin: 'a', inc: 1, seq: 4, wall: 13, logical: 0, op: OP_DEL, key: 'robots/r2/pose' }));
    expect(s.get('robots/r2/pose')).toBeUndefined();
    expect(s.getAny('robots/r2/pose')?.isDelete).toBe(true);
    expect([...s.list('robots/')].map((e) => e.key)).toEqual(['robots/r1/pose']);
    expect([...s.list('robots')].map((e) => e.key)).toEqual(['robots/r1/pose', 'robotsX']);
    expect(s.size).toBe(2);
    expect(s.tombstoneCount).toBe(1);
    expect(s.vector.get('a:1')).toBe(4);
    expect(s.vector.get('b:1')).toBe(1);
    // Tombstone GC: only those the predicate allows.
    expect(s.collectTombstones(() => false)).toBe(0);
    expect(s.collectTombstones(() => true)).toBe(1);
    expect(s.getAny('robots/r2/pose')).toBeUndefined();
    expect([...s.list('robots/')].map((e) => e.key)).toEqual(['robots/r1/pose']);
  });

  it('collects every tombstone the predicate allows, also after one stamped far in the future', () => {
    const s = new Store();
    const del = (seq: number, wall: number) => encodeEntry({ origin: 'a', inc: 1, seq, wall, logical: 0, op: OP_DEL, key: `k${seq}` });
    s.apply(del(1, 10));
    s.apply(del(2, 10 + 365 * 86_400_000)); // from a clock a year ahead
    s.apply(del(3, 20));
    expect(s.collectTombstones((e) => e.wall < 1000)).toBe(2);
    expect([...s.all()].map((e) => e.key)).toEqual(['k2']);
  });

  it('advances the vector only over contiguous seqs', () => {
    const s = new Store();
    const mk = (seq: number) => encodeEntry({ origin: 'x', inc: 2, seq, wall: seq, logical: 0, op: OP_PUT, key: `k${seq}` });
    s.apply(mk(1));
    s.apply(mk(3));
    expect(s.vector.get('x:2')).toBe(1);
    s.apply(mk(2));
    expect(s.vector.get('x:2')).toBe(2); // 3 came early; merging a vector after SYNC_DONE covers it
  });
});

describe('sorted keys', () => {
  it('matches a sorted-array model under random inserts, deletes and prefix queries', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.stringMatching(/^[ab/]{0,6}$/)), { maxLength: 3000 }), fc.stringMatching(/^[ab/]{0,3}$/), (ops, prefix) => {
        const sk = new SortedKeys();
        const model = new Set<string>();
        for (const [add, k] of ops) {
          if (add) expect(sk.add(k)).toBe(!model.has(k)), model.add(k);
          else expect(sk.delete(k)).toBe(model.has(k)), model.delete(k);
        }
        const expected = [...model].filter((k) => k.startsWith(prefix)).sort();
        expect([...sk.withPrefix(prefix)]).toEqual(expected);
        expect(sk.size).toBe(model.size);
        if (expected.length > 2) expect([...sk.withPrefix(prefix, expected[1])]).toEqual(expected.slice(2));
      }),
      { numRuns: 60 },
    );
  });

  it('stays correct across many chunk splits', () => {
    const sk = new SortedKeys();
    const keys = Array.from({ length: 20_000 }, (_, i) => `k/${(i * 7919) % 20_000}`);
    for (const k of keys) sk.add(k);
    const got = [...sk.withPrefix('k/1')];
    expect(got).toEqual(keys.filter((k) => k.startsWith('k/1')).sort());
  });
});
