import { afterEach, expect, test } from 'vitest';
import { type Entry, encodeEntry } from '../../src/entry/entry.js';
import { isExpiryEvent } from '../../src/entry/expiry-event.js';
import { expiryTombstoneFields } from '../../src/store/expiry.js';
import type { FleetNode } from '../../src/node.js';
import { startCoreNode } from '../helpers/node.js';
import { tempDir, waitFor } from '../helpers/proc.js';

let nodes: FleetNode[] = [];
afterEach(async () => {
  for (const n of nodes) await n.stop();
  nodes = [];
});

async function start(dir: string): Promise<FleetNode> {
  const n = await startCoreNode(dir);
  nodes.push(n);
  return n;
}

test('a put with a ttl is hidden at its expiry, watchers hear a delete, and the origin writes one tombstone', async () => {
  const dir = tempDir();
  const n = await start(dir);
  const events: Entry[] = [];
  n.watch('robots/', (e) => events.push(e));
  await n.put('robots/r1/pose', '{"x":1}', { ttl: '300ms' });
  await n.put('robots/r2/pose', '{"x":2}');
  expect(n.get('robots/r1/pose')?.expiresAt).toBeGreaterThan(Date.now());
  await waitFor(() => n.get('robots/r1/pose') === undefined, 'r1 to expire', 5000);
  expect(n.list('robots/').map((e) => e.key)).toEqual(['robots/r2/pose']);
  await waitFor(() => n.store.getAny('robots/r1/pose')?.isDelete, 'the expiry tombstone');
  await n.flush();
  const told = events.filter((e) => e.key === 'robots/r1/pose');
  expect(told.map((e) => e.isDelete)).toEqual([false, true]); // the put, then one delete (not a second for the tombstone)
  await expect(n.metrics.expired.get()).resolves.toMatchObject({ values: [{ value: 1 }] });
  // Durable: a restart still hides it, and writes no second tombstone.
  await n.stop();
  nodes = [];
  const m = await start(dir);
  expect(m.get('robots/r1/pose')).toBeUndefined();
  expect(m.store.getAny('robots/r1/pose')?.isDelete).toBe(true);
  expect(m.get('robots/r2/pose')?.value.toString()).toBe('{"x":2}');
});

test('a refresh before the expiry keeps the key; the old expiry does not delete the new value', async () => {
  const n = await start(tempDir());
  await n.put('hb', '1', { ttl: '200ms' });
  await n.put('hb', '2', { ttl: '10s' });
  await n.put('plain', 'a', { ttl: '150ms' });
  await n.put('plain', 'b'); // a put without ttl ends the expiry
  await new Promise<void>((resolve) => {
    const t = setInterval(() => {
      // Wait (by condition) until both old expiries are past by the clock.
      if (Date.now() > (n.store.getAny('hb')?.wall ?? 0) + 400) {
        clearInterval(t);
        resolve();
      }
    }, 20);
  });
  expect(n.get('hb')?.value.toString()).toBe('2');
  expect(n.get('plain')?.value.toString()).toBe('b');
  expect(n.store.tombstoneCount).toBe(0);
});

test('a put whose key expired while the node was down is hidden on start and gets its tombstone', async () => {
  const dir = tempDir();
  const n = await start(dir);
  await n.put('k', 'v', { ttl: '200ms' });
  const expiresAt = n.get('k')!.expiresAt;
  // kill-like: stop before the expiry fires (stop clears the timer).
  await n.stop();
  nodes = [];
  await waitFor(() => Date.now() > expiresAt, 'the expiry to pass');
  const m = await start(dir);
  expect(m.get('k')).toBeUndefined();
  await waitFor(() => m.store.getAny('k')?.isDelete, 'the tombstone written on start');
});

test('bad ttl values are refused with TTL_INVALID and nothing is written', async () => {
  const n = await start(tempDir());
  await expect(n.put('k', 'v', { ttl: 'soon' })).rejects.toMatchObject({ code: 'TTL_INVALID' });
  await expect(n.put('k', 'v', { ttl: '400d' })).rejects.toMatchObject({ code: 'TTL_INVALID' });
  expect(n.store.getAny('k')).toBeUndefined();
  expect(n.state).toBe('running');
});

test('the expiry tombstone cannot delete a refresh written elsewhere before it arrived (LWW with an expiry converges)', async () => {
  const a = await startCoreNode(tempDir(), (c) => (c.nodeId = 'a'));
  const b = await startCoreNode(tempDir(), (c) => (c.nodeId = 'b'));
  nodes.push(a, b);
  await a.put('k', 'first', { ttl: '200ms' });
  const put = a.store.getAny('k')!;
  await b.ingest(put, 'a');
  await b.put('k', 'refreshed'); // b refreshes before the expiry; a does not hear of it yet
  const refresh = b.store.getAny('k')!;
  await waitFor(() => a.store.getAny('k')?.isDelete, "a's expiry tombstone", 5000);
  const tomb = a.store.getAny('k')!;
  // Deliver in both directions: both keep the refresh.
  await b.ingest(tomb, 'a');
  await a.ingest(refresh, 'b');
  expect(a.get('k')?.value.toString()).toBe('refreshed');
  expect(b.get('k')?.value.toString()).toBe('refreshed');
  expect(a.store.getAny('k')).toBe(refresh);
});

test("the origin's expiry tombstone arriving before this node's own expiry timer is told as the expiry (once), not as a plain delete", async () => {
  const a = await startCoreNode(tempDir(), (c) => (c.nodeId = 'a'));
  const b = await startCoreNode(tempDir(), (c) => (c.nodeId = 'b'));
  nodes.push(a, b);
  await a.put('robots/r1/pose', '{"x":1}', { ttl: '60s' });
  const put = a.store.getAny('robots/r1/pose')!;
  // The tombstone a would write at the expiry (same origin and hlc, its next seq): shipped at
  // staging, it can reach b before b's own timer fires, here 60 s before.
  const tomb = encodeEntry(expiryTombstoneFields(put, put.inc, put.seq + 1));
  const watched: Entry[] = [];
  const expired: Entry[] = [];
  b.watch('robots/', (e) => watched.push(e));
  b.onExpired((_p, ev) => expired.push(ev));
  await b.ingest(put, 'a');
  await b.ingest(tomb, 'a');
  expect(b.get('robots/r1/pose')).toBeUndefined();
  expect(expired).toHaveLength(1);
  expect(isExpiryEvent(expired[0]!)).toBe(true);
  expect(watched.map((e) => [e.isDelete, isExpiryEvent(e)])).toEqual([
    [false, false],
    [true, true],
  ]);
  // An ordinary delete by the origin is still a plain delete.
  await a.put('robots/r2/pose', '{"x":2}', { ttl: '60s' });
  const put2 = a.store.getAny('robots/r2/pose')!;
  await b.ingest(put2, 'a');
  await a.delete('robots/r2/pose');
  await b.ingest(a.store.getAny('robots/r2/pose')!, 'a');
  expect(expired).toHaveLength(1);
  expect(isExpiryEvent(watched.at(-1)!)).toBe(false);
});
