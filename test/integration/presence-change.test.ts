/**
 * Presence writes the status record when the peers' states change, not only
 * every third of presence.timeout (robots/presence-service.ts: a light check
 * of replication's peer states every second). With a 60 s timeout the
 * heartbeat period is 20 s: both changes below must be told well before it.
 */
import { afterEach, expect, test } from 'vitest';
import type { NodeProc } from '../helpers/proc.js';
import { waitFor } from '../helpers/proc.js';
import { peerAddress, startNode, stopAll } from '../replication/fleet.js';

let procs: NodeProc[] = [];
afterEach(async () => {
  await stopAll(procs);
  procs = [];
});

/** The peers and states in node `n`'s own status record, as `n` stores it. */
async function recordPeers(n: NodeProc, id: string): Promise<string[] | undefined> {
  const r = await n.fetch(`/v1/kv/_fleetkv/nodes/${id}`);
  if (r.status !== 200) return undefined;
  const rec = (await r.json()) as { peers: { nodeId?: string; state: string }[] };
  return rec.peers.map((p) => `${p.nodeId}:${p.state}`);
}

test('a peer that connects, then one that leaves, is told in the status record within seconds (heartbeat period 20 s)', async () => {
  const env = { FLEETKV_PRESENCE_ENABLED: 'true', FLEETKV_PRESENCE_TIMEOUT: '60s' };
  const a = await startNode('pa', { env });
  procs.push(a);
  const b = await startNode('pb', { env, peers: [peerAddress(a)] });
  procs.push(b);
  // a has no peer configured: its first record is written only because b's session changed its peers.
  await waitFor(async () => (await recordPeers(a, 'pa'))?.includes('pb:live'), "a's record listing b live", 8000, 100);
  await b.stop();
  await waitFor(
    async () => {
      const peers = await recordPeers(a, 'pa');
      return peers !== undefined && !peers.includes('pb:live');
    },
    "a's record no longer listing b live",
    8000,
    100,
  );
  expect((await recordPeers(a, 'pa'))?.includes('pb:live')).toBe(false);
});
