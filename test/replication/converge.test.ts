import { afterAll, expect, test } from 'vitest';
import { runCli, waitFor, type NodeProc } from '../helpers/proc.js';
import { History, metric, peerAddress, startNode, stopAll, waitConverged } from './fleet.js';

const nodes: NodeProc[] = [];
afterAll(() => stopAll(nodes));

test('3 nodes written concurrently converge to one state with no acknowledged write lost', async () => {
  const c = await startNode('c');
  const b = await startNode('b', { peers: [peerAddress(c)] });
  const a = await startNode('a', { peers: [peerAddress(b), peerAddress(c)] });
  nodes.push(a, b, c);
  await waitFor(async () => (await Promise.all(nodes.map((n) => n.status()))).every((s) => s.peers.length === 2 && s.peers.every((p: any) => p.state === 'live')), 'full mesh live');

  const h = new History();
  const keys = Array.from({ length: 20 }, (_, i) => `robots/r${i % 5}/k${i}`);
  await Promise.all(
    nodes.map(async (n, j) => {
      for (let i = 0; i < 150; i++) {
        const key = keys[(i * 7 + j * 3) % keys.length]!;
        if (i % 10 === 9) await h.del(n, key);
        else await h.put(n, key);
      }
    }),
  );
  const final = await waitConverged(nodes);
  const { acknowledged } = h.check(final);
  expect(acknowledged).toBe(450);
  expect(final.size).toBeGreaterThan(0);

  // Visibility: every peer live with no lag, in /v1/status, `fleetkv peers` and /metrics.
  await waitFor(async () => (await a.status()).peers.every((p: any) => p.state === 'live' && p.lag.entries === 0), 'a sees no lag');
  const st = await a.status();
  expect(st.peers.map((p: any) => p.nodeId).sort()).toEqual(['b', 'c']);
  expect(st.peers[0].vector).toEqual(st.vector);
  const cli = await runCli(['--url', a.url, 'peers']);
  expect(cli.code).toBe(0);
  expect(cli.stdout).toMatch(/^\s+b\s+live/m);
  expect(cli.stdout).toMatch(/^\s+c\s+live/m);
  expect(await metric(a, 'fleetkv_replication_entries_sent_total')).toBeGreaterThan(0);
  expect(await metric(a, 'fleetkv_replication_entries_received_total')).toBeGreaterThan(0);
  expect(await metric(a, 'fleetkv_replication_bytes_sent_total')).toBeGreaterThan(0);
});
