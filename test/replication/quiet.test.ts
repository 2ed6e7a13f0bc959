import { afterAll, describe, expect, it } from 'vitest';
import type { NodeProc } from '../helpers/proc.js';
import { waitFor } from '../helpers/proc.js';
import { metric, peerAddress, startNode } from './fleet.js';

/**
 * An idle link whose two sides agree stays quiet (docs/replication.md,
 * "Anti-entropy"): PINGs keep it alive, but an ACK goes only when it says
 * something new, so an idle fleet costs almost nothing over Wi-Fi. Before,
 * every anti-entropy tick sent an ACK with the whole vector.
 */
function framesSent(n: NodeProc, type: string): Promise<number> {
  return metric(n, 'fleetkv_replication_frames_sent_total', `type="${type}"`);
}

describe('quiet idle links', () => {
  const nodes: NodeProc[] = [];
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop().catch(() => n.kill9())));
  });

  it('sends PINGs but no ACK while idle and in agreement, and an ACK again once there is news', async () => {
    const a = await startNode('a');
    nodes.push(a);
    const b = await startNode('b', { peers: [peerAddress(a)] });
    nodes.push(b);
    expect((await a.put('k0', 'v0')).status).toBe(200);
    await waitFor(async () => (await b.get('k0')) === 'v0', 'k0 on b');
    // Both sides agree once each has seen the other's ACK for k0.
    await waitFor(async () => ((await a.status()).peers as { lag: { entries: number } }[])[0]?.lag.entries === 0, 'b acknowledged k0');

    const ack0 = await framesSent(a, 'ACK');
    const ping0 = await framesSent(a, 'PING');
    // Ten PINGs (4 anti-entropy ticks each at 100 ms) with nothing written: forty ticks.
    await waitFor(async () => (await framesSent(a, 'PING')) >= ping0 + 10, 'ten PINGs from a', 20_000);
    const idleAcks = (await framesSent(a, 'ACK')) - ack0;
    // At most the one that settled the agreement and one heartbeat (every 60 ticks); every tick before.
    expect(idleAcks).toBeLessThanOrEqual(2);

    const ack1 = await framesSent(a, 'ACK');
    expect((await b.put('k1', 'v1')).status).toBe(200);
    await waitFor(async () => (await a.get('k1')) === 'v1', 'k1 on a');
    await waitFor(async () => (await framesSent(a, 'ACK')) > ack1, 'a reports its new vector');
  });
});
