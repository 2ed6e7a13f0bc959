import { describe, expect, it } from 'vitest';
import { encodeEntry, OP_DEL, OP_PUT } from '../../src/entry/entry.js';
import { KeyHistory, MAX_HISTORY_PER_KEY } from '../../src/store/history.js';

let seq = 0;
function put(key: string, value: string) {
  return encodeEntry({ origin: 'n1', inc: 1, seq: ++seq, wall: 1_700_000_000_000 + seq, logical: 0, op: OP_PUT, key, value: Buffer.from(value) });
}

describe('KeyHistory (local versions per key)', () => {
  it('returns the newest versions first, deletes included', () => {
    const h = new KeyHistory(1 << 20);
    for (let i = 1; i <= 5; i++) h.record(put('k', `v${i}`));
    h.record(encodeEntry({ origin: 'n1', inc: 1, seq: ++seq, wall: 1_800_000_000_000, logical: 0, op: OP_DEL, key: 'k', value: undefined }));
    const v = h.versions('k', 3);
    expect(v.map((e) => (e.isDelete ? '<del>' : e.value.toString()))).toEqual(['<del>', 'v5', 'v4']);
    expect(h.versions('other', 3)).toEqual([]);
  });

  it(`keeps at most ${MAX_HISTORY_PER_KEY} versions of a key, and its index does not grow with writes to one key`, () => {
    const h = new KeyHistory(1 << 30);
    for (let i = 1; i <= 100_000; i++) h.record(put('hot', `v${i}`));
    expect(h.size).toBe(MAX_HISTORY_PER_KEY);
    const v = h.versions('hot', 1000);
    expect(v).toHaveLength(MAX_HISTORY_PER_KEY);
    expect(v[0]!.value.toString()).toBe('v100000');
    expect(v.at(-1)!.value.toString()).toBe(`v${100_000 - MAX_HISTORY_PER_KEY + 1}`);
    // The global order index holds at most a bounded multiple of what is kept.
    expect((h as unknown as { order: unknown[]; head: number }).order.length).toBeLessThan(3 * MAX_HISTORY_PER_KEY + 2048);
  });

  it('keeps the total under maxBytes by dropping the oldest versions of the whole node first', () => {
    const max = 64 * 1024;
    const h = new KeyHistory(max);
    for (let i = 0; i < 20_000; i++) h.record(put(`key-${i % 500}`, 'x'.repeat(50)));
    expect(h.heldBytes).toBeLessThanOrEqual(max);
    expect(h.heldBytes).toBeGreaterThan(max / 2);
    // The keys written last keep versions; the oldest went first.
    expect(h.versions('key-499', 64).length).toBeGreaterThan(0);
    const idx = (h as unknown as { order: unknown[] }).order.length;
    expect(idx).toBeLessThan(3 * h.size + 2048);
  });

  it('maxBytes 0 keeps nothing', () => {
    const h = new KeyHistory(0);
    h.record(put('k', 'v'));
    expect(h.versions('k', 64)).toEqual([]);
  });
});
