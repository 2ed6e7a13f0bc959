import { afterAll, expect, test } from 'vitest';
import { waitFor, type NodeProc } from '../helpers/proc.js';
import { FaultProxy } from '../helpers/proxy.js';
import { History, peerAddress, startNode, stopAll, waitConverged } from './fleet.js';

const nodes: NodeProc[] = [];
const proxies: FaultProxy[] = [];
afterAll(async () => {
  await stopAll(nodes);
  await Promise.all(proxies.map((p) => p.close()));
});

async function proxyTo(n: NodeProc): Promise<FaultProxy> {
  const p = await new FaultProxy(n.ports.peer!).start();
  proxies.push(p);
  return p;
}

async function livePeers(n: NodeProc): Promise<string[]> {
  return ((await n.status()).peers as any[])
    .filter((p) => p.state === 'live')
    .map((p) => p.nodeId as string)
    .sort();
}

test('a node isolated by a fault proxy (drop, one-way blackhole, pause) while every side writes converges after healing, losing nothing', async () => {
  const c = await startNode('c');
  const pBC = await proxyTo(c);
  const pAC = await proxyTo(c);
  const b = await startNode('b', { peers: [pBC.address] });
  const pAB = await proxyTo(b);
  const a = await startNode('a', { peers: [pAB.address, pAC.address] });
  nodes.push(a, b, c);
  await waitFor(async () => (await livePeers(c)).join() === 'a,b', 'c connected to a and b');

  const h = new History();
  const keys = Array.from({ length: 10 }, (_, i) => `k${i}`);
  const writeRound = async (round: number): Promise<void> => {
    await Promise.all(
      nodes.map(async (n, j) => {
        for (let i = 0; i < 30; i++) await h.put(n, keys[(i + j + round) % keys.length]!);
      }),
    );
  };
  await writeRound(0);

  // Isolate c: b–c hard-dropped, a→c blackholed in one direction only (c still hears... nothing useful).
  pBC.drop();
  pAC.set('blackhole', 'up');
  await waitFor(async () => (await livePeers(c)).length === 0, 'c isolated');
  await writeRound(1);
  expect((await c.get('k1')) === (await a.get('k1'))).toBe(false);
  // Then a stalls too: a–b paused both ways.
  pAB.set('pause');
  await writeRound(2);

  for (const p of proxies) p.pass();
  const final = await waitConverged(nodes, 30_000);
  expect(h.check(final).acknowledged).toBe(270);
});

test('partial mesh A–B–C (A and C cannot reach each other) converges through B, live and after catch-up', async () => {
  const b = await startNode('pb');
  const h = new History();
  for (let i = 0; i < 20; i++) await h.put(b, `m/k${i}`);
  const a = await startNode('pa', { peers: [peerAddress(b)] });
  const c = await startNode('pc', { peers: [peerAddress(b)] });
  nodes.push(a, b, c);
  for (let i = 0; i < 20; i++) {
    await h.put(a, `m/k${i}`);
    await h.put(c, `m/k${(i + 5) % 20}`);
  }
  await waitFor(async () => (await livePeers(b)).join() === 'pa,pc', 'b connected to both');
  // Live relay: a write on A reaches C only through B.
  const w = await h.put(a, 'm/relayed');
  await waitFor(async () => (await c.get('m/relayed')) === w.value, 'c gets a write made on a');
  expect((await a.status()).peers.map((p: any) => p.nodeId)).toEqual(['pb']);
  expect((await c.status()).peers.map((p: any) => p.nodeId)).toEqual(['pb']);
  const final = await waitConverged([a, b, c]);
  expect(h.check(final).acknowledged).toBe(61);
});
