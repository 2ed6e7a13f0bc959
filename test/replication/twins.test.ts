/**
 * Twins with one incarnation (src/replication/twins.ts): ACK stamps compare the
 * entries two nodes hold under one (origin, inc, seq). A resend of the same
 * entry is not a clash; another entry at that seq is; a seq not held (not yet
 * applied, or replaced since) is not compared.
 */
import { describe, expect, it } from 'vitest';
import { OP_PUT, encodeEntry, streamId, type Entry } from '../../src/entry/entry.js';
import { clashes, entryStamp, parseStamps, stampsFor } from '../../src/replication/twins.js';
import { Store } from '../../src/store/store.js';
import { VersionVector } from '../../src/store/vector.js';

function put(seq: number, key: string, wall: number, value = 'v'): Entry {
  return encodeEntry({ origin: 'b', inc: 7, seq, wall, logical: 0, op: OP_PUT, key, value: Buffer.from(value) });
}
const stream = streamId('b', 7);
const noHello = (): undefined => undefined;

/** A store holding b's seq 1..3 (keys k1..k3). */
function held(): Store {
  const s = new Store();
  for (let i = 1; i <= 3; i++) s.apply(put(i, `k${i}`, 1000 + i));
  return s;
}

describe('twins: ACK stamps', () => {
  it('a resend of the same entry (same bytes, decoded anew) is not a clash', () => {
    const mine = held();
    const theirs = held();
    const stamps = stampsFor(theirs, theirs.vector, undefined, undefined, noHello);
    expect(stamps).toEqual({ [stream]: { s: 3, c: entryStamp(put(3, 'k3', 1003)) } });
    expect(clashes(mine, mine.vector, stamps!)).toEqual([]);
  });

  it('another entry at the same (origin, inc, seq) is a clash: other hlc, or same hlc and other key or value', () => {
    const mine = held();
    for (const twin of [put(3, 'k3', 1999), put(3, 'other', 1003), put(3, 'k3', 1003, 'w')]) {
      const found = clashes(mine, mine.vector, { [stream]: { s: 3, c: entryStamp(twin) } });
      expect(found.map((c) => [c.stream, c.held.key])).toEqual([[stream, 'k3']]);
    }
  });

  it('a seq not applied here, or whose entry was replaced, is not compared', () => {
    const mine = held();
    const twin4 = put(4, 'k4', 5000);
    expect(clashes(mine, mine.vector, { [stream]: { s: 4, c: entryStamp(twin4) } })).toEqual([]);
    // k2 overwritten by another node's later write: b's seq 2 is no longer held.
    mine.apply(encodeEntry({ origin: 'a', inc: 1, seq: 1, wall: 9000, logical: 0, op: OP_PUT, key: 'k2', value: Buffer.from('x') }));
    expect(clashes(mine, mine.vector, { [stream]: { s: 2, c: entryStamp(put(2, 'k2', 4242)) } })).toEqual([]);
  });

  it('stamps only streams that moved since the last ACK, not the receiver’s own, with the origin’s HELLO when connected to it', () => {
    const s = held();
    s.apply(encodeEntry({ origin: 'r', inc: 1, seq: 1, wall: 1, logical: 0, op: OP_PUT, key: 'r1', value: Buffer.from('x') }));
    const prev = VersionVector.from({ [stream]: 3 });
    expect(Object.keys(stampsFor(s, s.vector, prev, undefined, noHello) ?? {})).toEqual([streamId('r', 1)]);
    expect(stampsFor(s, s.vector, prev, 'r', noHello)).toBeUndefined();
    const withHello = stampsFor(s, s.vector, undefined, 'r', () => ({ started: 123, instance: 'i1' }));
    expect(withHello).toEqual({ [stream]: { s: 3, c: entryStamp(put(3, 'k3', 1003)), t: 123, i: 'i1' } });
  });

  it('parseStamps refuses malformed stamps and drops streams outside the ACK vector or above it', () => {
    const v = { [stream]: 3 };
    expect(() => parseStamps({ [stream]: { s: 'x', c: 1 } }, v)).toThrow(/invalid stamp/);
    expect(() => parseStamps({ [stream]: { s: 1, c: 2 ** 32 } }, v)).toThrow(/invalid stamp/);
    expect(() => parseStamps([], v)).toThrow(/invalid stamps/);
    expect(parseStamps({ [stream]: { s: 4, c: 1 }, 'z:1': { s: 1, c: 1 } }, v)).toEqual({});
    expect(parseStamps({ [stream]: { s: 3, c: 1, t: 5, i: 'ab' } }, v)).toEqual({ [stream]: { s: 3, c: 1, t: 5, i: 'ab' } });
  });
});
