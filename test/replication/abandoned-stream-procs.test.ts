/**
 * The real-process version of test/replication/abandoned-stream.test.ts: c, cut off from a and b
 * (fault proxies refusing), writes k0, restarts cleanly (provisional: no peer answers, so a new
 * incarnation) and writes k0 again; a writes k0 last. After the heal, with no write after it, the
 * three states and the three (durable) vectors must become equal, the abandoned stream included.
 */
import { afterAll, expect, test } from 'vitest';
import { waitFor, type NodeProc } from '../helpers/proc.js';
import { FaultProxy } from '../helpers/proxy.js';
import { peerAddress, readState, restart, startNode, stopAll } from './fleet.js';

const nodes: NodeProc[] = [];
const proxies: FaultProxy[] = [];
afterAll(async () => {
  await stopAll(nodes);
  await Promise.all(proxies.map((p) => p.close()));
});

const sorted = (v: Record<string, number>) => JSON.stringify(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : 1)));

test('a node restarted while cut off abandons a stream whose only entry it replaced: after the heal states and vectors converge with no further write', async () => {
  const a = await startNode('a');
  const b = await startNode('b', { peers: [peerAddress(a)] });
  nodes.push(a, b);
  const toA = await new FaultProxy(a.ports.peer!).start();
  const toB = await new FaultProxy(b.ports.peer!).start();
  proxies.push(toA, toB);
  toA.drop();
  toB.drop();
  const env = { FLEETKV_REPLICATION_IDENTITY_WAIT: '300ms' };
  let c = await startNode('c', { peers: [toA.address, toB.address], env });
  nodes.push(c);
  expect((await c.put('k0', 'c-1')).status).toBe(200);
  const inc1 = (await c.status()).incarnation as number;
  await c.stop();
  c = await restart(c);
  nodes.push(c);
  expect((await c.put('k0', 'c-2')).status).toBe(200);
  const inc2 = (await c.status()).incarnation as number;
  expect(inc2).not.toBe(inc1); // no peer confirmed the clean continuation: a new stream
  expect((await a.put('k0', 'a-3')).status).toBe(200);

  toA.pass();
  toB.pass();
  const all = [a, b, c];
  await waitFor(
    async () => {
      const states = await Promise.all(all.map(async (n) => JSON.stringify([...(await readState(n))].map(([k, e]) => [k, e.value]))));
      const vectors = await Promise.all(all.map(async (n) => sorted((await n.status()).vector)));
      return states.every((s) => s === states[0]) && vectors.every((v) => v === vectors[0]);
    },
    'equal states and vectors after the heal',
    20_000,
  ).catch(async (err: unknown) => {
    for (const n of all) console.log(n.opts.nodeId, sorted((await n.status()).vector), JSON.stringify([...(await readState(n))]));
    throw err;
  });
  expect(await c.get('k0')).toBe('a-3');
  const v = (await a.status()).vector as Record<string, number>;
  expect(v[`c:${inc1}`]).toBe(1);
});
