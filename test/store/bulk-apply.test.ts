/**
 * Recovery's bulk apply (issue 10 item 4): between beginBulk and endBulk the
 * store keeps the current stream's vector and proven seq aside, skips the key
 * lookup for ascending new keys into an empty store, and caches the stream
 * of the catch-up index. None of it may change the result: a store loaded in
 * bulk must equal one that applied the same records one by one.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OP_DEL, OP_PUT, encodeEntry, type Entry } from '../../src/entry/entry.js';
import { Store } from '../../src/store/store.js';
import { VersionVector, type VectorObject } from '../../src/store/vector.js';

type Step = { kind: 'entry'; e: Entry } | { kind: 'vector'; v: VectorObject };

const value = Buffer.from('v');

/** Everything a recovered store is judged by: entries, counts, vector, proven, the catch-up index, key order. */
function stateOf(s: Store): unknown {
  const zero = new VersionVector();
  return {
    entries: [...s.all()].map((e) => `${e.key}=${e.stream}/${e.seq}@${e.wall}`).sort(),
    size: s.size,
    tombstones: s.tombstoneCount,
    heldBytes: s.heldBytes,
    vector: Object.entries(s.vector.toObject()).sort(),
    proven: [...s.proven].sort(),
    missing: [...s.missing(zero)].map((e) => `${e.stream}/${e.seq}`),
    listed: [...s.listAny('')].map((e) => e.key),
  };
}

function load(steps: Step[], bulk: boolean, before: Entry[]): Store {
  const s = new Store();
  for (const e of before) s.apply(e);
  if (bulk) s.beginBulk();
  for (const st of steps) {
    if (st.kind === 'entry') s.apply(st.e);
    else if (bulk) s.mergeVector(st.v);
    else s.vector.merge(st.v);
  }
  if (bulk) s.endBulk();
  return s;
}

const origins = ['a', 'b', 'c'];

/** Runs of one stream with seqs that mostly follow on, sometimes skip or repeat; keys ascending or not. */
const stepsArb = fc
  .array(
    fc.oneof(
      {
        weight: 8,
        arbitrary: fc.record({
          origin: fc.constantFrom(...origins),
          inc: fc.constantFrom(1, 2),
          run: fc.integer({ min: 1, max: 12 }),
          jump: fc.integer({ min: -3, max: 3 }),
          key: fc.integer({ min: 0, max: 40 }),
          del: fc.boolean(),
          wall: fc.integer({ min: 1, max: 50 }),
        }),
      },
      { weight: 1, arbitrary: fc.record({ vorigin: fc.constantFrom(...origins), vinc: fc.constantFrom(1, 2), vseq: fc.integer({ min: 0, max: 60 }) }) },
    ),
    { maxLength: 40 },
  )
  .map((raw) => {
    const next = new Map<string, number>();
    const steps: Step[] = [];
    for (const r of raw) {
      if ('vorigin' in r) {
        const id = `${r.vorigin}:${r.vinc}`;
        steps.push({ kind: 'vector', v: { [id]: r.vseq } });
        // As after a catch-up: the stream's next entries follow the merged seq.
        next.set(id, Math.max(next.get(id) ?? 1, r.vseq + 1));
        continue;
      }
      const id = `${r.origin}:${r.inc}`;
      let seq = Math.max(1, (next.get(id) ?? 1) + r.jump);
      for (let i = 0; i < r.run; i++, seq++) {
        const key = `k/${String(r.key + i).padStart(3, '0')}`;
        const op = r.del && i % 3 === 0 ? OP_DEL : OP_PUT;
        steps.push({ kind: 'entry', e: encodeEntry({ origin: r.origin, inc: r.inc, seq, wall: r.wall + (i % 4), logical: 0, op, key, value: op === OP_PUT ? value : undefined }) });
      }
      next.set(id, seq);
    }
    return steps;
  });

describe('store: bulk apply equals one-by-one apply', () => {
  it('any mix of streams, gaps, repeats, replaced keys and merged vectors', () => {
    fc.assert(
      fc.property(stepsArb, fc.boolean(), (steps, nonEmpty) => {
        const before = nonEmpty ? [encodeEntry({ origin: 'a', inc: 1, seq: 1, wall: 1, logical: 0, op: OP_PUT, key: 'k/005', value })] : [];
        expect(stateOf(load(steps, true, before))).toEqual(stateOf(load(steps, false, before)));
      }),
      { numRuns: 400 },
    );
  });

  it('a vector merged in the middle of a run: the entries after it advance from the merged seq', () => {
    const steps: Step[] = [];
    const e = (seq: number): Step => ({ kind: 'entry', e: encodeEntry({ origin: 'a', inc: 1, seq, wall: seq, logical: 0, op: OP_PUT, key: `k/${seq}`, value }) });
    for (let i = 1; i <= 5; i++) steps.push(e(i));
    steps.push({ kind: 'vector', v: { 'a:1': 8 } });
    for (let i = 9; i <= 12; i++) steps.push(e(i));
    const bulk = load(steps, true, []);
    expect(bulk.vector.get('a:1')).toBe(12);
    expect(stateOf(bulk)).toEqual(stateOf(load(steps, false, [])));
  });

  it('a snapshot-like load (ascending distinct keys, one stream, a key repeated in place) into an empty store', () => {
    const steps: Step[] = [{ kind: 'vector', v: { 'a:1': 3 } }];
    for (let i = 1; i <= 2000; i++)
      steps.push({ kind: 'entry', e: encodeEntry({ origin: 'a', inc: 1, seq: i, wall: i, logical: 0, op: i % 9 === 0 ? OP_DEL : OP_PUT, key: `k/${String(i).padStart(5, '0')}`, value: i % 9 === 0 ? undefined : value }) });
    // The same key twice in a row (equal, not above the last): must be looked up, not added twice.
    steps.push({ kind: 'entry', e: encodeEntry({ origin: 'b', inc: 1, seq: 1, wall: 5000, logical: 0, op: OP_PUT, key: 'k/02000', value }) });
    steps.push({ kind: 'entry', e: encodeEntry({ origin: 'b', inc: 1, seq: 2, wall: 5001, logical: 0, op: OP_PUT, key: 'k/00001', value }) });
    const bulk = load(steps, true, []);
    expect(stateOf(bulk)).toEqual(stateOf(load(steps, false, [])));
    expect(bulk.size + bulk.tombstoneCount).toBe(2000);
    expect(bulk.vector.get('a:1')).toBe(2000);
    expect(bulk.vector.get('b:1')).toBe(2);
  });
});
