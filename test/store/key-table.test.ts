/**
 * The store's key table (issue 10 P7): keys loaded in key order into an
 * empty table go to a sorted base instead of the Map. Whatever the mix of
 * appends, sets, deletes and re-sets, it must answer exactly as a Map does,
 * and a store loaded from a snapshot in bulk must then behave, write for
 * write, as one that applied the same entries one by one.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OP_DEL, OP_PUT, encodeEntry } from '../../src/entry/entry.js';
import { KeyTable } from '../../src/store/key-table.js';
import { Store } from '../../src/store/store.js';
import { VersionVector } from '../../src/store/vector.js';

const key = (i: number): string => `k/${String(i).padStart(3, '0')}`;

const opArb = fc.oneof(
  fc.record({ op: fc.constant('set' as const), k: fc.integer({ min: 0, max: 60 }), v: fc.integer() }),
  fc.record({ op: fc.constant('delete' as const), k: fc.integer({ min: 0, max: 60 }) }),
  fc.record({ op: fc.constant('get' as const), k: fc.integer({ min: 0, max: 60 }) }),
);

describe('store: key table', () => {
  it('answers as a Map after a sorted base load and any sets, deletes and re-sets', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 60 }), { maxLength: 40 }), fc.array(opArb, { maxLength: 80 }), (baseKeys, ops) => {
        const t = new KeyTable<number>();
        const m = new Map<string, number>();
        for (const k of [...baseKeys].sort((a, b) => a - b)) {
          expect(t.canAppend(key(k))).toBe(true);
          t.appendSorted(key(k), k);
          m.set(key(k), k);
        }
        for (const o of ops) {
          if (o.op === 'set') {
            t.set(key(o.k), o.v);
            m.set(key(o.k), o.v);
          } else if (o.op === 'delete') expect(t.delete(key(o.k))).toBe(m.delete(key(o.k)));
          else expect(t.get(key(o.k))).toBe(m.get(key(o.k)));
          expect(t.size).toBe(m.size);
        }
        for (let k = 0; k <= 60; k++) expect(t.get(key(k))).toBe(m.get(key(k)));
        expect([...t.values()].sort()).toEqual([...m.values()].sort());
        // Only a key the table does not hold may be appended (a key of the Map above the base is held too).
        for (let k = 0; k <= 60; k++) if (t.canAppend(key(k))) expect(m.has(key(k))).toBe(false);
        if (baseKeys.length > 0) expect(t.canAppend(key(Math.min(...baseKeys)))).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('a base over many chunks (1K slots, doubling to 64K) finds every key at every chunk edge and nothing between', () => {
    const t = new KeyTable<number>();
    const m = new Map<string, number>();
    const big = (i: number): string => `b/${String(i).padStart(6, '0')}`;
    const N = 140_000; // chunks of 1K, 1K, 2K, 4K ... 64K: the last ones full size, one partly filled
    for (let i = 0; i < N; i += 2) {
      t.appendSorted(big(i), i);
      m.set(big(i), i);
    }
    for (let i = -1; i <= N; i++) expect(t.get(big(i))).toBe(m.get(big(i)));
    expect(t.baseKeysFrom(0)).toEqual([...m.keys()]);
    expect(t.baseKeysFrom(1000)).toEqual([...m.keys()].slice(1000));
    for (let i = 0; i < N; i += 3) {
      if (i % 2 === 0) expect(t.delete(big(i))).toBe(m.delete(big(i)));
      else {
        t.set(big(i), -i);
        m.set(big(i), -i);
      }
    }
    for (let i = 0; i < N; i += 9) {
      t.set(big(i), 1);
      m.set(big(i), 1);
    }
    for (let i = -1; i <= N; i++) expect(t.get(big(i))).toBe(m.get(big(i)));
    expect(t.size).toBe(m.size);
    expect([...t.values()].length).toBe(m.size);
  });

  it('a store loaded from a snapshot in bulk then takes writes, deletes, forgets and tombstone collection as a store loaded one by one', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 50 }), { maxLength: 30 }),
        fc.array(fc.record({ k: fc.integer({ min: 0, max: 50 }), what: fc.constantFrom('put', 'del', 'forget', 'collect'), wall: fc.integer({ min: 1, max: 200 }) }), { maxLength: 60 }),
        (snapKeys, writes) => {
          const sorted = [...snapKeys].sort((a, b) => a - b);
          const snap = sorted.map((k, i) => encodeEntry({ origin: 'a', inc: 1, seq: i + 1, wall: 100, logical: 0, op: k % 5 === 0 ? OP_DEL : OP_PUT, key: key(k), value: k % 5 === 0 ? undefined : Buffer.from('s') }));
          const bulk = new Store();
          const one = new Store();
          bulk.beginBulk();
          for (const e of snap) bulk.apply(e);
          bulk.endBulk();
          for (const e of snap) one.apply(e);
          let seq = 0;
          for (const w of writes) {
            for (const s of [bulk, one]) {
              if (w.what === 'forget') s.forget(key(w.k));
              else if (w.what === 'collect') s.collectTombstones((e) => e.key <= key(w.k));
            }
            if (w.what === 'put' || w.what === 'del') {
              seq++;
              const e = encodeEntry({ origin: 'b', inc: 1, seq, wall: w.wall, logical: 0, op: w.what === 'del' ? OP_DEL : OP_PUT, key: key(w.k), value: w.what === 'del' ? undefined : Buffer.from('w') });
              expect(bulk.apply(e)).toBe(one.apply(e));
            }
            expect(stateOf(bulk)).toEqual(stateOf(one));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

function stateOf(s: Store): unknown {
  const all = (it: Iterable<{ key: string; stream: string; seq: number }>): string[] => [...it].map((e) => `${e.key}=${e.stream}/${e.seq}`);
  const gets: (string | undefined)[] = [];
  for (let k = 0; k <= 50; k++) gets.push(s.getAny(key(k)) && `${s.getAny(key(k))!.stream}/${s.getAny(key(k))!.seq}`, s.get(key(k), 0)?.key);
  return { all: all(s.all()).sort(), listed: all(s.listAny('')), live: all(s.list('', undefined, 0)), size: s.size, tombstones: s.tombstoneCount, heldBytes: s.heldBytes, missing: all(s.missing(new VersionVector())).sort(), gets };
}
