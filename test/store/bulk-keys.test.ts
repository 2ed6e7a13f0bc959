/**
 * Recovery's bulk build of the key index and the snapshot written in key
 * order (issue 10 item 4).
 */
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { OP_DEL, OP_PUT, decodeEntry, encodeEntry } from '../../src/entry/entry.js';
import { KIND } from '../../src/log/record.js';
import { scanFile } from '../../src/log/scan-file.js';
import { writeSnapshot } from '../../src/log/snapshot.js';
import { Store } from '../../src/store/store.js';
import { tempDir } from '../helpers/proc.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function shuffled(n: number, seed: number): string[] {
  const keys = Array.from({ length: n }, (_, i) => `k/${String(i).padStart(5, '0')}`);
  let x = seed;
  for (let i = n - 1; i > 0; i--) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const j = x % (i + 1);
    [keys[i], keys[j]] = [keys[j]!, keys[i]!];
  }
  return keys;
}

describe('store: bulk key index', () => {
  it('keys applied in any order between beginBulk and endBulk list in order, as with one insert per key', () => {
    const keys = shuffled(5000, 7);
    const bulk = new Store();
    const one = new Store();
    // Some keys before the bulk load, as when a store is not empty.
    for (const s of [bulk, one]) for (let i = 0; i < 50; i++) s.apply(encodeEntry({ origin: 'a', inc: 1, seq: i + 1, wall: 1, logical: 0, op: OP_PUT, key: keys[i]!, value: Buffer.from('x') }));
    bulk.beginBulk();
    keys.forEach((key, i) => {
      const e = encodeEntry({ origin: 'a', inc: 1, seq: i + 51, wall: 2, logical: 0, op: i % 7 === 0 ? OP_DEL : OP_PUT, key, value: i % 7 === 0 ? undefined : Buffer.from('y') });
      bulk.apply(e);
      one.apply(e);
    });
    bulk.endBulk();
    const listed = [...bulk.list('k/')].map((e) => e.key);
    expect(listed).toEqual([...one.list('k/')].map((e) => e.key));
    expect(listed).toEqual([...listed].sort());
    expect([...bulk.list('k/0001')].map((e) => e.key)).toEqual([...one.list('k/0001')].map((e) => e.key));
    // The index works normally after the bulk load.
    bulk.apply(encodeEntry({ origin: 'a', inc: 1, seq: 99_999, wall: 3, logical: 0, op: OP_PUT, key: 'k/00000a', value: Buffer.from('z') }));
    expect([...bulk.list('k/00000')].map((e) => e.key)).toContain('k/00000a');
  });

  it('a snapshot holds every entry, tombstones included, in key order', async () => {
    const dir = tempDir('fleetkv-snaporder-');
    dirs.push(dir);
    const store = new Store();
    for (const [i, key] of shuffled(3000, 11).entries()) {
      store.apply(encodeEntry({ origin: 'a', inc: 1, seq: i + 1, wall: 1, logical: 0, op: i % 5 === 0 ? OP_DEL : OP_PUT, key, value: i % 5 === 0 ? undefined : Buffer.from('v') }));
    }
    const snap = await writeSnapshot(dir, 2, { format: 1, nodeId: 'a', vector: store.vector.toObject(), hlc: { wall: 1, logical: 0 }, createdAt: new Date().toISOString() }, store.allInKeyOrder());
    const keys: string[] = [];
    scanFile(snap.file, 1 << 20, (p) => {
      if (p[0] === KIND.ENTRY) keys.push(decodeEntry(Buffer.from(p)).key);
    });
    expect(keys).toHaveLength(3000);
    expect(keys).toEqual([...keys].sort());
  });
});
