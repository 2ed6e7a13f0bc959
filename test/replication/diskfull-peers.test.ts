/**
 * A full disk on a node with a peer (docs/adr/0104, item 2): a local write is
 * shipped at staging, so the first batch that fails after shipping must start
 * a new incarnation; the node then ships only durable entries until a batch
 * succeeds again, so the failures that follow need no new stream. One new
 * stream per outage, not one per failed batch. Real processes: a in a small
 * tmpfs of its own (test/helpers/tinyfs.ts), b on the normal disk.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeProc, waitFor } from '../helpers/proc.js';
import { TinyFs, canUnshare } from '../helpers/tinyfs.js';
import { FAST_ENV, peerAddress, startNode, stopAll, waitConverged } from './fleet.js';

describe.runIf(canUnshare)('a full disk on a node with a peer', () => {
  const disk = new TinyFs();
  const nodes: NodeProc[] = [];
  beforeAll(() => disk.start(384));
  afterAll(async () => {
    await stopAll(nodes);
    disk.stop();
  });

  const ownStreams = (v: Record<string, number>): string[] => Object.keys(v).filter((s) => s.startsWith('a:'));

  it('many failed writes while peers are connected add at most 2 streams; no acknowledged write is lost; the peer converges; the node keeps running', async () => {
    const b = await startNode('b');
    nodes.push(b);
    const env = { ...FAST_ENV, FLEETKV_PEERS: peerAddress(b), FLEETKV_SEGMENT_BYTES: '1048576', FLEETKV_COMPACT_RATIO: '1000' };
    const a = await new NodeProc({ nodeId: 'a', dataDir: `${disk.dir}/data`, env, wrap: disk.wrap }).start();
    nodes.push(a);
    await waitFor(async () => (await a.status()).writable === true && ((await b.status()).peers as { state: string }[]).some((p) => p.state === 'live'), 'a writable and connected to b');
    expect((await a.put('first', 'x')).status).toBe(200);
    const before = new Set(ownStreams((await a.status()).vector as Record<string, number>));
    const renewalsBefore = a.logsMatching(/starting a new incarnation/).length; // the first start's

    const acked = new Map<string, string>();
    const value = (i: number): string => `${i}-`.padEnd(8000, 'x');
    // Fill the disk in small concurrent bursts (the disk fills in the middle of a group commit).
    let failed = 0;
    for (let i = 0; i < 200 && failed === 0; i += 4) {
      const rs = await Promise.all([0, 1, 2, 3].map(async (j) => [i + j, (await a.put(`fill/${i + j}`, value(i + j))).status] as const));
      for (const [n, status] of rs) {
        if (status === 200) acked.set(`fill/${n}`, value(n));
        else failed++;
      }
    }
    expect(failed).toBeGreaterThan(0);
    // The outage: many writes, one batch each, at a few tens per second, all failing.
    const statuses: number[] = [];
    for (let i = 0; i < 60; i++) {
      const r = await a.put(`out/${i}`, value(1000 + i));
      statuses.push(r.status);
      if (r.status === 200) acked.set(`out/${i}`, value(1000 + i));
      await new Promise((r) => setTimeout(r, 15));
    }
    expect(statuses.filter((s) => s === 507).length).toBeGreaterThan(50);
    expect((await a.fetch('/healthz')).status).toBe(200);

    // Space is back: a writes again, and ships again.
    disk.resize(8192);
    for (let i = 0; i < 20; i++) {
      const r = await a.put(`after/${i}`, `after-${i}`);
      expect(r.status).toBe(200);
      acked.set(`after/${i}`, `after-${i}`);
    }
    const state = await waitConverged([a, b], 30_000);
    for (const [k, v] of acked) expect(state.get(k)?.value, k).toBe(v);
    // Every value held was written by the test (failed writes may appear: "unknown outcome").
    for (const [k, e] of state) if (k !== 'first') expect(e.value === value(Number(k.split('/')[1]) + (k.startsWith('out/') ? 1000 : 0)) || e.value === `after-${k.split('/')[1]}`, k).toBe(true);

    const va = (await a.status()).vector as Record<string, number>;
    const vb = (await b.status()).vector as Record<string, number>;
    const added = new Set([...ownStreams(va), ...ownStreams(vb)].filter((s) => !before.has(s)));
    expect([...added].length, `new streams of a: ${[...added].join(', ')}`).toBeLessThanOrEqual(2);
    // What the node did, not only what reached the vectors: at most 2 renewals since the first write.
    expect(a.logsMatching(/starting a new incarnation/).length - renewalsBefore).toBeLessThanOrEqual(2);
    expect(a.exitCode).toBeUndefined();
  }, 90_000);
});
