/**
 * A peer with the right secret sends SYNC_DONE with a vector far ahead of any
 * entry it sent (issue 9 item 6; a bug or a restored peer can do the same).
 * Replication must go on, and no node may stamp seqs near 2^53.
 */
import net from 'node:net';
import { afterAll, expect, test } from 'vitest';
import { FRAME, jsonFrame } from '../../src/replication/frames.js';
import { waitFor, type NodeProc } from '../helpers/proc.js';
import { peerAddress, restart, startNode, stopAll, waitConverged } from './fleet.js';
import { WireClient } from './wire-client.js';

const SECRET = 'fleet-secret-for-forged-tests';
const nodes: NodeProc[] = [];
const clients: WireClient[] = [];
afterAll(async () => {
  for (const c of clients) c.end();
  await stopAll(nodes);
});

test('a forged SYNC_DONE vector does not stop replication, and no node stamps seqs near 2^53', async () => {
  const env = { FLEETKV_FLEET_SECRET: SECRET };
  // A fixed peer port for a, so c reaches it again after its restart.
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  let a = await startNode('fa', { env: { ...env, FLEETKV_PEER_PORT: String(port) } });
  const c = await startNode('fc', { env, peers: [peerAddress(a)] });
  nodes.push(a, c);
  await c.put('first', '1');
  await waitConverged([a, c]);
  const cStream = `fc:${(await c.status()).incarnation}`;
  const aStream = `fa:${(await a.status()).incarnation}`;

  const x = new WireClient(a.ports.peer!);
  clients.push(x);
  await x.handshake(SECRET, 'default', 'evil');
  await x.frame(FRAME.SYNC_DONE); // a's catch-up toward us is done; now ours, with nothing in it
  const forged = { [cStream]: Number.MAX_SAFE_INTEGER, [aStream]: Number.MAX_SAFE_INTEGER, 'ghost:7': 10 ** 12 };
  // `own` (what an origin vouches for on its own streams) counts only for streams of the sender's node id: not for c's, a's or ghost's.
  x.send(jsonFrame(FRAME.SYNC_DONE, { vector: forged, own: forged }));
  await waitFor(() => a.logsMatching(/beyond any entry seen here|SYNC_DONE/).length > 0 || x.frames.some((f) => f.type === FRAME.ACK), 'a handled the forged SYNC_DONE');

  for (let i = 0; i < 20; i++) expect((await c.put(`after/k${i}`, `v${i}`)).status).toBe(200);
  await waitFor(async () => ((await (await a.fetch('/v1/kv?prefix=after/')).json()) as { count: number }).count === 20, 'every write of c after the forged vector on a', 10_000).catch(async (err: unknown) => {
    console.log(
      JSON.stringify((await a.status()).vector),
      JSON.stringify((await c.status()).vector),
      a.logs.slice(-12).map((l) => l.msg),
    );
    throw err;
  });
  const v = (await a.status()).vector as Record<string, number>;
  for (const seq of Object.values(v)) expect(seq).toBeLessThan(1_000_000);

  x.end();
  await a.stop();
  a = await restart(a);
  nodes.push(a);
  const w = (await (await a.put('after-restart', 'x')).json()) as { seq: number };
  expect(w.seq).toBeLessThan(1_000_000);
  await waitFor(async () => (await c.get('after-restart')) === 'x', 'a write of a after its restart on c', 10_000);
});
