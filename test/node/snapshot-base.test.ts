/**
 * A node restarted from a snapshot keeps the snapshot's keys in the store's
 * sorted base (store/key-table.ts, issue 10 P7). Writes after the restart
 * that replace, delete and re-create those keys, or add keys below, between
 * and above them, must read, list and survive further restarts and
 * compactions exactly as the same writes on a store that never had a base.
 */
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { FleetNode } from '../../src/node.js';
import { dump, startCoreNode } from '../helpers/node.js';
import { tempDir } from '../helpers/proc.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function start(d: string): Promise<FleetNode> {
  const n = await startCoreNode(d);
  cleanup.push(() => n.stop());
  return n;
}

const key = (i: number): string => `k/${String(i).padStart(4, '0')}`;

/** The model's state as dump() gives it: live keys in key order. */
function sorted(model: Map<string, string>): Record<string, string> {
  return Object.fromEntries([...model].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

describe('restart from a snapshot: the sorted base', () => {
  it('replaced, deleted and re-created base keys and new keys around them read, list and survive restarts and compactions', async () => {
    const d = tempDir('fleetkv-snapbase-');
    cleanup.push(() => fs.rmSync(d, { recursive: true, force: true }));
    const model = new Map<string, string>();
    // Keys written out of order, some deleted, then compacted: the snapshot holds them in key order.
    const a = await start(d);
    for (let j = 0; j < 600; j++) {
      const i = (j * 389) % 600;
      await a.put(key(i), `a${i}`);
      model.set(key(i), `a${i}`);
    }
    for (let i = 0; i < 600; i += 7) {
      await a.delete(key(i));
      model.delete(key(i));
    }
    await a.compact();
    await a.stop();

    const b = await start(d);
    expect(dump(b)).toEqual(sorted(model));
    for (let i = 0; i < 600; i += 5) {
      await b.put(key(i), `b${i}`); // replaces a base key, or re-creates a deleted one
      model.set(key(i), `b${i}`);
    }
    for (let i = 3; i < 600; i += 11) {
      await b.delete(key(i));
      model.delete(key(i));
    }
    for (const k of ['a/below', 'k/0100x', 'k/0299-', 'z/above', key(7000)]) {
      await b.put(k, `new ${k}`);
      model.set(k, `new ${k}`);
    }
    await b.delete('k/0100x');
    model.delete('k/0100x');
    await b.put(key(3), 'back'); // deleted after the restart, written again
    model.set(key(3), 'back');
    expect(dump(b)).toEqual(sorted(model));
    expect(b.list('k/01').map((e) => e.key)).toEqual(Object.keys(sorted(model)).filter((k) => k.startsWith('k/01')));
    expect(b.get(key(7))?.value.toString()).toBe(undefined);
    expect(b.get(key(10))?.value.toString()).toBe('b10');
    // Each key held once (catch-ups and backups walk all()).
    const all = [...b.store.all()].map((x) => x.key);
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBe(b.store.size + b.store.tombstoneCount);
    await b.stop();

    // Snapshot + log: the log's keys come out of order after the snapshot's.
    const c = await start(d);
    expect(dump(c)).toEqual(sorted(model));
    await c.compact();
    await c.stop();
    const e = await start(d);
    expect(dump(e)).toEqual(sorted(model));
    expect(e.store.size).toBe(model.size);
  });
});
