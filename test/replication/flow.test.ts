import { afterAll, expect, test } from 'vitest';
import { waitFor, type NodeProc } from '../helpers/proc.js';
import { FaultProxy } from '../helpers/proxy.js';
import { metric, startNode, stopAll, waitConverged } from './fleet.js';

const nodes: NodeProc[] = [];
let proxy: FaultProxy | undefined;
afterAll(async () => {
  await stopAll(nodes);
  await proxy?.close();
});

const QUEUE = 256 * 1024;
// Live queue + what the socket may hold (writeHighWater, 1 MiB) + one coalesced frame (256 KiB).
const BOUND = QUEUE + 1024 * 1024 + 256 * 1024 + 64 * 1024;

test("a slow peer (its socket paused) does not grow the sender's queue past its bound, and catches up when resumed", async () => {
  const a = await startNode('fa', { env: { FLEETKV_FSYNC: 'never', FLEETKV_REPLICATION_QUEUE_BYTES: String(QUEUE) } });
  nodes.push(a);
  proxy = await new FaultProxy(a.ports.peer!).start();
  const b = await startNode('fb', { peers: [proxy.address], env: { FLEETKV_REPLICATION_IDLE_TIMEOUT: '60s' } });
  nodes.push(b);
  await waitFor(async () => (await a.status()).peers.some((p: any) => p.state === 'live'), 'a–b live');

  proxy.set('pause', 'down'); // b stops reading what a sends
  const value = 'v'.repeat(12 * 1024);
  let maxQueued = 0;
  for (let round = 0; round < 24; round++) {
    await Promise.all(Array.from({ length: 100 }, (_, i) => a.put(`slow/k${i % 50}`, `${round}-${i}-${value}`)));
    const peer = ((await a.status()).peers as any[])[0];
    maxQueued = Math.max(maxQueued, peer.queue.bytes);
  }
  // 28 MiB written while b was paused; what a holds for b stayed bounded.
  expect(maxQueued).toBeGreaterThan(QUEUE / 2);
  expect(maxQueued).toBeLessThanOrEqual(BOUND);
  expect(await metric(a, 'fleetkv_replication_queue_overflows_total')).toBeGreaterThan(0);
  expect(a.logsMatching(/fell behind: queue full, moving it back to catch-up/).length).toBeGreaterThan(0);

  proxy.pass();
  const final = await waitConverged([a, b], 30_000);
  expect(final.get('slow/k49')!.value!.startsWith('23-99-')).toBe(true);
  await waitFor(async () => ((await a.status()).peers as any[])[0].state === 'live', 'b live again');
});
