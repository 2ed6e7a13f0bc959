import { afterAll, expect, test } from 'vitest';
import { NodeProc, waitFor } from '../helpers/proc.js';
import { FaultProxy } from '../helpers/proxy.js';
import { History, metric, peerAddress, restart, startNode, stopAll, waitConverged } from './fleet.js';

const nodes: NodeProc[] = [];
afterAll(() => stopAll(nodes));

test('a node down during 10,000 writes to 100 keys catches up with about 100 entries, not 10,000', async () => {
  const b = await startNode('cb', { env: { FLEETKV_FSYNC: 'never' } }); // fast writer; the property is the count
  let c = await startNode('cc', { peers: [peerAddress(b)] });
  nodes.push(b, c);
  await b.put('before', '1');
  await waitFor(async () => (await c.get('before')) === '1', 'c in sync before going down');
  await c.stop();
  const writes: Promise<Response>[] = [];
  for (let i = 0; i < 10_000; i++) {
    writes.push(b.put(`keys/k${i % 100}`, `v${i}`));
    if (writes.length === 200) await Promise.all(writes.splice(0));
  }
  await Promise.all(writes);
  c = await restart(c);
  nodes.push(c);
  const final = await waitConverged([b, c]);
  expect(final.size).toBe(101);
  expect(final.get('keys/k7')!.value).toBe('v9907');
  const received = await metric(c, 'fleetkv_replication_entries_received_total', 'mode="catchup"');
  expect(received).toBeGreaterThanOrEqual(100);
  expect(received).toBeLessThanOrEqual(110);
  expect(await metric(c, 'fleetkv_replication_catchups_total', 'direction="received"')).toBeGreaterThanOrEqual(1);
});

test('kill -9 during catch-up and during live streaming, then restart: converges, nothing acknowledged lost', async () => {
  const a = await startNode('ka', { env: { FLEETKV_FSYNC: 'never' } }); // fast writer, never killed
  let b = await startNode('kb', { peers: [peerAddress(a)] });
  nodes.push(a, b);
  const h = new History();
  await waitFor(async () => (await a.status()).peers.some((p: any) => p.state === 'live'), 'a–b live');

  // During live streaming: b dies while a streams writes to it (and b writes too).
  const stream = (async () => {
    for (let i = 0; i < 400; i++) await h.put(a, `live/k${i % 40}`);
  })();
  for (let i = 0; i < 50; i++) await h.put(b, `live/k${i % 40}`);
  const aStream = `ka:${(await a.status()).incarnation}`;
  await waitFor(async () => ((await b.status()).vector[aStream] ?? 0) > 60, 'b receiving the stream');
  await b.kill9();
  await stream;
  b = await restart(b);
  nodes.push(b);
  let final = await waitConverged([a, b]);
  h.check(final);

  // During catch-up: b is away while a writes, then dies part-way through catching up
  // (a proxy lets only the first 1 MiB of a's catch-up through, so b is caught mid-way).
  await b.stop();
  const proxy = await new FaultProxy(a.ports.peer!).start();
  const big = 'x'.repeat(1000);
  const batch: Promise<Response>[] = [];
  for (let i = 0; i < 4000; i++) {
    batch.push(a.put(`bulk/k${i}`, `${i}-${big}`));
    if (batch.length === 500) await Promise.all(batch.splice(0));
  }
  await Promise.all(batch);
  proxy.downBudget = 1024 * 1024;
  b = await new NodeProc({ ...b.opts, env: { ...b.opts.env, FLEETKV_PEERS: proxy.address } }).start();
  nodes.push(b);
  await waitFor(() => proxy.down === 'pause', 'the catch-up stalled part-way');
  await waitFor(async () => (await b.status()).keys > 100, 'b holds part of the catch-up');
  const during = (await b.status()).keys as number;
  await b.kill9();
  proxy.pass();
  proxy.downBudget = Infinity;
  b = await restart(b);
  nodes.push(b);
  final = await waitConverged([a, b], 30_000);
  await proxy.close();
  expect(during).toBeLessThan(4040);
  expect(final.size).toBe(4040);
  h.check(final);
});
