import { afterAll, expect, test } from 'vitest';
import { waitFor, type NodeProc } from '../helpers/proc.js';
import { metric, peerAddress, readState, startNode, stopAll } from './fleet.js';

const nodes: NodeProc[] = [];
afterAll(() => stopAll(nodes));

const liveSent = (n: NodeProc): Promise<number> => metric(n, 'fleetkv_replication_entries_sent_total', 'mode="live"');

/**
 * Regression (bench/scale.ts): in a full mesh every node relayed every entry
 * it received to every other peer, although the origin sends it to them
 * itself: a write cost up to N(N-1) sends instead of N-1 (483 per write at
 * 25 nodes). Peers now advertise their direct connections in ACK and relays
 * skip peers connected to the entry's origin (docs/adr/0500).
 */
test('in a full mesh only the origin streams its writes; nothing is relayed', async () => {
  const c = await startNode('c');
  const b = await startNode('b', { peers: [peerAddress(c)] });
  const a = await startNode('a', { peers: [peerAddress(b), peerAddress(c)] });
  nodes.push(a, b, c);
  // Live both ways, and each side has heard (ACK) that its peer is connected to the third node.
  await waitFor(async () => (await Promise.all(nodes.map((n) => n.status()))).every((s) => s.peers.length === 2 && s.peers.every((p: any) => p.state === 'live' && p.direct?.length === 2)), 'full mesh live with direct peers advertised');
  const before = await Promise.all(nodes.map(liveSent));
  const writes = 100;
  await Promise.all(Array.from({ length: writes }, (_, i) => a.put(`relay/k${i}`, `v${i}`)));
  await waitFor(async () => (await Promise.all([b, c].map(readState))).every((s) => s.size === writes), 'b and c to hold every write');
  const after = await Promise.all(nodes.map(liveSent));
  expect(after[0]! - before[0]!).toBe(2 * writes); // a → b and a → c
  expect(after[1]! - before[1]!).toBe(0); // b relays nothing to c
  expect(after[2]! - before[2]!).toBe(0); // c relays nothing to b
});

test('in a line a–b–c the middle node still relays between the ends', async () => {
  const z = await startNode('z');
  const y = await startNode('y', { peers: [peerAddress(z)] });
  const x = await startNode('x', { peers: [peerAddress(y)] });
  nodes.push(x, y, z);
  await waitFor(async () => ((await y.status()).peers as any[]).filter((p) => p.state === 'live' && p.direct?.length === 1).length === 2, 'y live with x and z');
  expect((await x.put('line/k', 'from-x')).status).toBe(200);
  expect((await z.put('line/j', 'from-z')).status).toBe(200);
  await waitFor(async () => (await z.get('line/k')) === 'from-x' && (await x.get('line/j')) === 'from-z', "both ends get the other end's write through y");
});
