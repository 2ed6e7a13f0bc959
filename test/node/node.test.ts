import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { isFleetError } from '../../src/errors.js';
import { listLogDir } from '../../src/log/files.js';
import type { FleetNode } from '../../src/node.js';
import { readMeta } from '../../src/log/datadir.js';
import { newIncarnation } from '../../src/log/identity.js';
import { defaultIo } from '../../src/log/log.js';
import { fullDiskIo, ioError } from '../helpers/faulty-io.js';
import { dump, startCoreNode } from '../helpers/node.js';
import { tempDir, waitFor } from '../helpers/proc.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});
function dir(): string {
  const d = tempDir('fleetkv-node-');
  cleanup.push(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}
async function node(d: string, ...rest: Parameters<typeof startCoreNode> extends [string, ...infer R] ? R : never): Promise<FleetNode> {
  const n = await startCoreNode(d, ...rest);
  cleanup.push(() => n.stop());
  return n;
}

describe('FleetNode library API', () => {
  it('puts, gets, deletes, lists by prefix and watches; state, seq and vector survive a restart', async () => {
    const d = dir();
    const a = await node(d);
    const seen: string[] = [];
    const unwatch = a.watch('robots/', (e) => seen.push(`${e.key}=${e.isDelete ? '<del>' : e.value.toString()}`));
    const r1 = await a.put('robots/r1/status', 'active');
    expect(r1).toMatchObject({ key: 'robots/r1/status', origin: 'test-node', seq: 1 });
    await a.put('robots/r2/status', Buffer.from('idle'));
    await a.put('missions/m1', 'pick');
    await a.delete('robots/r2/status');
    unwatch();
    await a.put('robots/r3/status', 'ignored-by-watch');
    expect(seen).toEqual(['robots/r1/status=active', 'robots/r2/status=idle', 'robots/r2/status=<del>']);
    expect(a.get('robots/r1/status')?.value.toString()).toBe('active');
    expect(a.get('robots/r2/status')).toBeUndefined();
    expect(a.list('robots/').map((e) => e.key)).toEqual(['robots/r1/status', 'robots/r3/status']);
    expect(a.list('', { limit: 1, after: 'missions/m1' }).map((e) => e.key)).toEqual(['robots/r1/status']);
    const before = { state: dump(a), vector: a.store.vector.toObject(), incarnation: a.incarnation };
    await a.stop();

    const b = await node(d);
    expect(dump(b)).toEqual(before.state);
    expect(b.store.vector.toObject()).toEqual(before.vector);
    expect((await b.put('k', 'v')).seq).toBe(6); // numbering continues, no gap, no reuse
    expect(b.incarnation).toBe(before.incarnation); // clean stop: same incarnation
  });

  it('refuses bad keys and oversized values with typed errors and keeps its data', async () => {
    const a = await node(dir(), (c) => (c.limits.maxValueBytes = 100));
    await a.put('ok', 'v');
    for (const key of ['', 'a#b', 'a/+/c', 'a\0b', 'a//b', 'k'.repeat(1025)]) {
      const err = await a.put(key, 'x').catch((e: unknown) => e);
      expect(isFleetError(err, 'KEY_INVALID'), `key ${JSON.stringify(key.slice(0, 20))}`).toBe(true);
    }
    const big = await a.put('big', Buffer.alloc(101)).catch((e: unknown) => e);
    expect(isFleetError(big, 'VALUE_TOO_LARGE')).toBe(true);
    expect((await a.put('ok2', 'v2')).seq).toBe(2); // refused writes used no seq
    expect(dump(a)).toEqual({ ok: 'v', ok2: 'v2' });
  });

  it('after a full disk, numbering resumes without a gap and a restart holds exactly the acknowledged writes', async () => {
    const d = dir();
    const budget = { bytes: 1 << 30 };
    const io = fullDiskIo(budget);
    const a = await node(d, undefined, { io });
    const acked = new Map<string, string>();
    const write = async (i: number): Promise<void> => {
      try {
        await a.put(`k/${i % 50}`, `v${i}`);
        acked.set(`k/${i % 50}`, `v${i}`);
      } catch (err) {
        expect(isFleetError(err, 'DISK_FULL')).toBe(true);
      }
    };
    await Promise.all(Array.from({ length: 100 }, (_, i) => write(i)));
    budget.bytes = 3000; // the disk fills in the middle of the next burst
    await Promise.all(Array.from({ length: 100 }, (_, i) => write(100 + i)));
    expect(a.status()).toMatchObject({ state: 'running' });
    budget.bytes = 1 << 30; // space is back
    for (let i = 200; i < 220; i++) await write(i);
    const vector = a.store.vector.get(a.selfStream);
    await a.stop();
    const b = await node(d);
    expect(dump(b)).toEqual(Object.fromEntries(acked));
    expect(b.store.vector.get(b.selfStream)).toBe(vector);
    expect(b.lastRecovery?.tornTail).toBeUndefined();
  });

  it('compacts while writes continue: state before = after = after a restart', async () => {
    const d = dir();
    const a = await node(d, (c) => {
      c.log.segmentBytes = 16 * 1024;
      c.log.compactRatio = 1000; // only explicit compaction in this test
    });
    let i = 0;
    const writes: Promise<unknown>[] = [];
    const writer = async (): Promise<void> => {
      for (; i < 4000; ) {
        const n = i++;
        writes.push(n % 7 === 0 ? a.delete(`key/${n % 300}`) : a.put(`key/${n % 300}`, `value-${n}`));
        if (n % 50 === 0) await Promise.all(writes.splice(0));
      }
      await Promise.all(writes.splice(0));
    };
    const running = writer();
    // Wait until a few segments exist, then compact in the middle of the writes.
    while (listLogDir(d).segments.length < 4) await new Promise((r) => setImmediate(r));
    await a.compact();
    expect(a.lastCompaction).toBeDefined();
    await a.compact();
    await running;
    const before = dump(a);
    const files = listLogDir(d);
    expect(files.snapshots).toHaveLength(1);
    expect(files.segments[0]).toBeGreaterThanOrEqual(files.snapshots[0]!);
    await a.compact();
    expect(dump(a)).toEqual(before);
    await a.stop();
    const b = await node(d);
    expect(dump(b)).toEqual(before);
    expect(b.store.vector.get(b.selfStream)).toBe(4000);
  });

  it('compacts by itself when the log outgrows the live state', async () => {
    const d = dir();
    const a = await node(d, (c) => {
      c.log.segmentBytes = 8 * 1024;
      c.log.compactRatio = 2;
    });
    for (let i = 0; i < 3000; i += 20) await Promise.all(Array.from({ length: 20 }, (_, j) => a.put(`hot/${(i + j) % 10}`, `v${i + j}`)));
    await waitFor(() => a.lastCompaction, 'automatic compaction');
    expect(listLogDir(d).snapshots.length).toBeGreaterThanOrEqual(1);
    expect(a.status()).toMatchObject({ keys: 10 });
  });

  for (const fsync of ['never', 'interval', 'batch', 'always'] as const) {
    it(`starts a new incarnation after an unclean stop under fsync=${fsync}, never reusing (origin, seq)`, async () => {
      const d = dir();
      const a = await startCoreNode(d, (c) => (c.log.fsync = fsync));
      const first = a.incarnation;
      await a.put('k', 'v1');
      await a.flush();
      // No stop(): the process "died". A second node on the same dir takes over the stale lock.
      const b = await node(d, (c) => (c.log.fsync = fsync));
      expect(b.incarnation).toBeGreaterThan(first);
      expect((await b.put('k', 'v2')).seq).toBe(1);
      expect(b.selfStream).toBe(`test-node:${b.incarnation}`);
      expect(readMeta(d)?.incarnation).toBe(b.incarnation);
    });
  }

  it('fsyncgate: a failed interval fsync starts a new incarnation at once, and the next start renews again', async () => {
    const d = dir();
    const fail = { next: false };
    const io = {
      ...defaultIo,
      fdatasync: (fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => {
        if (fail.next) {
          fail.next = false;
          setImmediate(cb, ioError('EIO', 'fdatasync'));
          return;
        }
        defaultIo.fdatasync(fd, cb);
      },
    };
    const a = await startCoreNode(d, (c) => ((c.log.fsync = 'interval'), (c.log.fsyncInterval = 20)), { io });
    const first = a.incarnation;
    await a.put('k', 'v1');
    fail.next = true;
    await a.put('k', 'v2');
    await waitFor(() => a.incarnation !== first, 'a new incarnation after the failed fsync');
    expect(a.incarnation).toBeGreaterThan(first);
    expect((await a.put('k', 'v3')).seq).toBe(1); // a new stream: no seq of the old one is reused
    const second = a.incarnation;
    await a.stop();
    expect(readMeta(d)?.cleanShutdown).toBe(false); // pages of that run may be lost: not a clean stop
    const b = await node(d);
    expect(b.incarnation).toBeGreaterThan(second);
  });

  it('a wiped data dir (no node.json) gets a new, clock-based incarnation; a minute later it is always above', async () => {
    const d = dir();
    const a = await node(d);
    const first = a.incarnation;
    await a.put('k', 'v1');
    await a.stop();
    fs.rmSync(d, { recursive: true, force: true });
    const b = await node(d);
    // Within the same minute only the 8 random bits differ: a peer's HELLO settles it (identity.test.ts).
    expect(Math.floor(b.incarnation / 256)).toBeGreaterThanOrEqual(Math.floor(first / 256));
    expect((await b.put('k', 'v2')).seq).toBe(1);
    const t = Date.now();
    for (let i = 0; i < 100; i++) expect(newIncarnation(0, t + 60_000)).toBeGreaterThan(newIncarnation(0, t));
    expect(newIncarnation(5_000_000_000, t)).toBe(2 ** 32 - 1); // capped at the u32 field
  });

  it('refuses a data dir that belongs to another node', async () => {
    const d = dir();
    const a = await node(d);
    await a.stop();
    const err = await startCoreNode(d, (c) => (c.nodeId = 'someone-else')).catch((e: unknown) => e);
    expect(isFleetError(err, 'DATA_DIR_MISMATCH')).toBe(true);
  });
});
