/**
 * The catch-up index (store/stream-index.ts): a catch-up toward a peer visits
 * only what the peer lacks. Work is counted in entries looked at, never timed.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OP_DEL, OP_PUT, encodeEntry, streamId, type Entry } from '../../src/entry/entry.js';
import { Outbox } from '../../src/replication/outbox.js';
import { Store } from '../../src/store/store.js';
import { VersionVector } from '../../src/store/vector.js';

const value = Buffer.from('v');
function put(origin: string, seq: number, key: string, wall = seq): Entry {
  return encodeEntry({ origin, inc: 1, seq, wall, logical: 0, op: OP_PUT, key, value });
}

/** What the old catch-up sent: every entry held that the peer's vector does not cover. */
function bruteForce(store: Store, peer: VersionVector): string[] {
  const out: string[] = [];
  for (const e of store.all()) if (!peer.covers(e.stream, e.seq)) out.push(`${e.stream}/${e.seq}`);
  return out.sort();
}
const ids = (es: Iterable<Entry>): string[] => [...es].map((e) => `${e.stream}/${e.seq}`).sort();

describe('store: catch-up index by stream and seq', () => {
  it('a catch-up of 10 missing entries on a 100k-key store looks at about 10 entries and sends exactly those', () => {
    const store = new Store();
    const n = 100_000;
    for (let i = 1; i <= n; i++) store.apply(put('a', i, `key/${i}`));
    const peer = VersionVector.from({ [streamId('a', 1)]: n - 10 });
    const outbox = new Outbox(64 << 20);
    store.byStream.visited = 0;
    expect(outbox.startCatchup(store, peer, false)).toBe(10);
    expect(store.byStream.visited).toBe(10);
    const sent: Entry[] = [];
    for (let o = outbox.take(1 << 20); o && o.mode === 'catchup'; o = outbox.take(1 << 20)) sent.push(...new Array<Entry>(o.entries));
    expect(sent).toHaveLength(10);
    expect(ids(store.missing(peer))).toEqual(bruteForce(store, peer));
  });

  it('replaced, deleted and forgotten entries are skipped, and dead ones are swept so the work stays bounded', () => {
    const store = new Store();
    // One hot key overwritten 10,000 times, plus 1,000 keys written once.
    let seq = 0;
    for (let i = 0; i < 1000; i++) store.apply(put('a', ++seq, `cold/${i}`));
    for (let i = 0; i < 10_000; i++) store.apply(put('a', ++seq, 'hot'));
    store.apply(encodeEntry({ origin: 'a', inc: 1, seq: ++seq, wall: seq, logical: 0, op: OP_DEL, key: 'cold/0' }));
    store.forget('cold/1');
    const peer = VersionVector.from({ [streamId('a', 1)]: 1000 });
    store.byStream.visited = 0;
    expect(ids(store.missing(peer))).toEqual(bruteForce(store, peer));
    expect(ids(store.missing(peer))).toHaveLength(2); // the hot key's last write and cold/0's tombstone
    // Never more than the seqs the peer lacks (10,002 here), and swept dead ones are not looked at again.
    expect(store.byStream.visited).toBeLessThanOrEqual(seq - 1000);
    expect(store.byStream.visited).toBeLessThan(2 * 1000 + 64);
    // A peer 10 seqs behind on the hot key: at most 10 entries looked at.
    store.byStream.visited = 0;
    const near = VersionVector.from({ [streamId('a', 1)]: seq - 10 });
    expect(ids(store.missing(near))).toEqual(bruteForce(store, near));
    expect(store.byStream.visited).toBeLessThanOrEqual(10);
  });

  it('matches the full walk for any order of arrival, streams and peer vector (property)', () => {
    const entryArb = fc.record({
      origin: fc.constantFrom('a', 'b', 'c'),
      seq: fc.integer({ min: 1, max: 60 }),
      wall: fc.integer({ min: 1, max: 30 }),
      del: fc.boolean(),
      key: fc.constantFrom('k1', 'k2', 'k3', 'r/1', 'r/2', 'r/3'),
    });
    fc.assert(
      fc.property(fc.array(entryArb, { maxLength: 80 }), fc.record({ a: fc.nat(60), b: fc.nat(60), c: fc.nat(60) }), (rs, pv) => {
        const store = new Store();
        const seen = new Set<string>();
        for (const r of rs) {
          if (seen.has(`${r.origin}/${r.seq}`)) continue; // one write per (origin, seq)
          seen.add(`${r.origin}/${r.seq}`);
          store.apply(encodeEntry({ origin: r.origin, inc: 1, seq: r.seq, wall: r.wall, logical: 0, op: r.del ? OP_DEL : OP_PUT, key: r.key, value: r.del ? undefined : value }));
        }
        const peer = VersionVector.from({ [streamId('a', 1)]: pv.a, [streamId('b', 1)]: pv.b, [streamId('c', 1)]: pv.c });
        expect(ids(store.missing(peer))).toEqual(bruteForce(store, peer));
      }),
    );
  });
  it('an entry added after an unordered list was sorted for a catch-up keeps the order (the last seq is the sorted one)', () => {
    const store = new Store();
    store.apply(put('a', 5, 'k/5'));
    store.apply(put('a', 3, 'k/3'));
    const peer = VersionVector.from({ [streamId('a', 1)]: 4 });
    expect(ids(store.missing(peer))).toEqual(['a:1/5']); // sorts the list: [3, 5]
    store.apply(put('a', 4, 'k/4')); // below 5: the list is unsorted again
    expect([...store.missing(peer)].map((e) => e.seq)).toEqual([5]);
    expect([...store.missing(VersionVector.from({ [streamId('a', 1)]: 3 }))].map((e) => e.seq)).toEqual([4, 5]);
  });
});
