import type net from 'node:net';
import { waitFor } from '../helpers/proc.js';
import { stalledSubscriber, stalledWatcher, writeLoad } from '../helpers/slow-consumers.js';
import type { Scenario } from './lib/campaign.js';

/**
 * Campaign scenario for clients that stop reading (issue 9, items 1 and 2;
 * docs/guarantees.md, "Slow consumers"). On every node a subscriber to
 * fleet/# and ten SSE watchers (half with ?initial=1) stop reading their
 * sockets while the campaign's workload runs, plus 5,000 writes at 1,000/s
 * of 2 KB values to 200 keys on n0 (outside campaign/: the checker ignores them). Each
 * node must disconnect or drop them and stay up: a node that dies fails the
 * scenario (its writes are then lost or unknown, and replicas differ).
 */
const stalled: net.Socket[] = [];
let extra: ReturnType<typeof writeLoad> | undefined;

export const scenarios: Scenario[] = [
  {
    name: 'slow consumers (a stalled fleet/# subscriber and 10 stalled SSE watchers on every node, +5,000 writes at 1,000/s)',
    ci: true,
    fleet: { env: { FLEETKV_MQTT_ENABLED: 'true' } },
    async inject(ctx) {
      for (const [i, n] of ctx.fleet.nodes.entries()) {
        stalled.push(await stalledSubscriber(n.ports.mqtt!, 'fleet/#', `stalled-${i}`));
        for (let w = 0; w < 10; w++) stalled.push(await stalledWatcher(n.ports.http!, `/v1/watch?prefix=${w % 2 === 0 ? '&initial=1' : ''}`));
      }
      const load = writeLoad(ctx.fleet.nodes[0]!.url, { rate: 1000, valueBytes: 2000, keys: 200, prefix: 'slow/k' });
      extra = load;
      await waitFor(() => load.ok() >= 5000, '5,000 extra writes on n0', 90_000);
      await load.stop();
      const down = ctx.fleet.nodes.filter((n) => n.exitCode !== undefined).map((n) => n.opts.nodeId);
      if (down.length > 0) throw new Error(`nodes died under slow consumers: ${down.join(', ')}`);
      ctx.note(`extra load: ${extra.ok()} writes ok on n0; stalled clients: ${stalled.length}`);
    },
    async heal(ctx) {
      await extra?.stop();
      for (const s of stalled.splice(0)) s.destroy();
      ctx.fleet.heal();
    },
  },
];
