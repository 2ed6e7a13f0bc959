/**
 * Presence (issue 11, item 2) across real processes: a clean stop says
 * goodbye, kill -9 and a partition (through the fault proxy) expire the
 * node's heartbeat; GET /v1/nodes and `fleetkv nodes` show it.
 */
import { afterEach, expect, test } from 'vitest';
import type { NodeProc } from '../helpers/proc.js';
import { runCli, waitFor } from '../helpers/proc.js';
import { FaultProxy } from '../helpers/proxy.js';
import { peerAddress, restart, startNode } from '../replication/fleet.js';

interface Row {
  id: string;
  online: boolean;
  reason: string;
  lastSeen: string | null;
  version: string | null;
  clockOffsetMs: number | null;
}

let procs: NodeProc[] = [];
let proxies: FaultProxy[] = [];
afterEach(async () => {
  await Promise.all(procs.map((p) => p.stop().catch(() => {})));
  for (const p of proxies) await p.close();
  procs = [];
  proxies = [];
});

async function nodes(n: NodeProc): Promise<Map<string, Row>> {
  const r = (await (await n.fetch('/v1/nodes')).json()) as { nodes: Row[] };
  return new Map(r.nodes.map((x) => [x.id, x]));
}

async function sees(n: NodeProc, id: string, online: boolean, reason?: string): Promise<Row> {
  return waitFor(
    async () => {
      const r = (await nodes(n)).get(id);
      return r && r.online === online && (reason === undefined || r.reason === reason) ? r : undefined;
    },
    `${n.opts.nodeId} to see ${id} ${online ? 'online' : `offline (${reason})`}`,
    20_000,
  );
}

/** a and b direct; c reaches both only through fault proxies. */
async function fleet(timeout: string): Promise<{ a: NodeProc; b: NodeProc; c: NodeProc; pa: FaultProxy; pb: FaultProxy }> {
  const env = { FLEETKV_PRESENCE_TIMEOUT: timeout, FLEETKV_PRESENCE_ENABLED: 'true' };
  const a = await startNode('a', { env });
  const b = await startNode('b', { peers: [peerAddress(a)], env });
  const pa = await new FaultProxy(a.ports.peer!).start();
  const pb = await new FaultProxy(b.ports.peer!).start();
  const c = await startNode('c', { peers: [pa.address, pb.address], env });
  procs.push(a, b, c);
  proxies.push(pa, pb);
  for (const n of [a, b, c]) for (const id of ['a', 'b', 'c']) await sees(n, id, true);
  return { a, b, c, pa, pb };
}

test('SIGTERM: the others show the node offline from its goodbye, long before the presence timeout', async () => {
  const { a, b, c } = await fleet('60s');
  const row = (await nodes(a)).get('b')!;
  expect(row.version).toMatch(/\d/);
  expect(row.lastSeen).not.toBeNull();
  const t0 = Date.now();
  await b.stop();
  // Only the goodbye says "stopped" (the heartbeat would take 60 s to expire).
  await sees(a, 'b', false, 'stopped');
  await sees(c, 'b', false, 'stopped');
  console.log(`presence: SIGTERM seen as offline by a and c after ${Date.now() - t0} ms`);
  const cli = await runCli(['nodes', '--url', a.url]);
  expect(cli.code).toBe(0);
  expect(cli.stdout).toMatch(/^NODE\s+ONLINE\s+LAST SEEN\s+VERSION\s+LAG\s+CLOCK OFFSET/);
  expect(cli.stdout).toMatch(/\bb\s+OFFLINE \(stopped\)/);
  expect(cli.stdout).toMatch(/a \(this node\)\s+online/);
  // Back: online again.
  const b2 = await restart(b);
  procs.push(b2);
  await sees(a, 'b', true);
}, 60_000);

test('kill -9 and a partition: offline within the presence timeout, online again after', async () => {
  const { a, b, c, pa, pb } = await fleet('3s');
  await c.kill9();
  await sees(a, 'c', false, 'expired');
  await sees(b, 'c', false, 'expired');
  const c2 = await restart(c);
  procs.push(c2);
  await sees(a, 'c', true);
  // Partition c from both (its sessions stall, then reset): each side shows the other offline.
  pa.drop();
  pb.drop();
  await sees(a, 'c', false, 'expired');
  await sees(b, 'c', false, 'expired');
  await sees(c2, 'a', false, 'expired');
  expect((await nodes(a)).get('b')!.online).toBe(true);
  pa.pass();
  pb.pass();
  await sees(a, 'c', true);
  await sees(c2, 'a', true);
  // fleetkv peers names peers by node id, never by an inbound ephemeral port.
  const peers = await runCli(['peers', '--url', a.url]);
  expect(peers.stdout).toMatch(/^\s+b\s/m);
  expect(peers.stdout).toMatch(/^\s+c\s+\S+\s+inbound/m);
  expect(peers.stdout).not.toMatch(/127\.0\.0\.1:(?!${a.ports.peer})\d+\s+lag/);
}, 90_000);

test('the full-resync warning is not logged by a standalone node, even one with data', async () => {
  const n = await startNode('solo', { env: { FLEETKV_MQTT_ENABLED: 'false' } });
  procs.push(n);
  await n.put('k', 'v');
  await n.stop();
  const n2 = await restart(n);
  procs.push(n2);
  expect(n2.logsMatching(/away longer than tombstoneRetention/)).toEqual([]);
  // and it writes no status record into its own keyspace
  expect((await nodes(n2)).size).toBe(1);
});
