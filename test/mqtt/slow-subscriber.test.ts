import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NodeProc, tempDir, waitFor } from '../helpers/proc.js';
import { SLOW_CONSUMER_RATE as RATE, SLOW_CONSUMER_SECONDS as SECONDS, closedByPeer, metricValue, runUnderLoad, stalledSubscriber, slowConsumerFixture } from '../helpers/slow-consumers.js';
import { RawClient } from './raw-client.js';

/**
 * Issue 9 item 1: a subscriber to fleet/# that stops reading its socket while
 * writes go on at 1,000/s. Before the fix the node died of a stack overflow
 * (RangeError) when the broker dropped it; now the client is disconnected
 * (counted, logged with its id), the node stays up, /healthz answers within
 * 2 s throughout, RSS growth stays bounded and a subscriber that reads goes
 * on receiving.
 */
describe('a stalled MQTT subscriber', () => {
  const fixture = slowConsumerFixture();
  const { sockets } = fixture;

  it(
    `is disconnected, and the node stays up, at ${RATE} writes/s for ${SECONDS} s`,
    async () => {
      const dir = tempDir('fleetkv-slowsub-');
      const node = (fixture.node = await new NodeProc({ nodeId: 'n1', dataDir: path.join(dir, 'n1') }).start());
      const reader = (await RawClient.connect(node.ports.mqtt!, { clientId: 'reader' })).client;
      reader.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'fleet/state/load/#', qos: 0 }] });
      await reader.waitPacket((p) => p.cmd === 'suback', 'SUBACK');
      sockets.push(await stalledSubscriber(node.ports.mqtt!, 'fleet/#', 'dashboard'));

      const r = await runUnderLoad(node, { rate: RATE, seconds: SECONDS, valueBytes: 2000, crash: /RangeError[^\n]*/ });
      console.log(
        `slow subscriber: ${r.ok} writes ok (${r.failed} failed) in ${SECONDS} s; /healthz ${r.health.polls} polls, ${r.health.late} late, max ${r.health.maxMs} ms; RSS ${(r.rss0 / 1e6).toFixed(0)} MB, +${r.growthMb.toFixed(0)} MB at most`,
      );

      expect(r.ran).toBe('ran');
      expect(r.health.late).toBe(0);
      expect(r.growthMb).toBeLessThan(200);
      expect(r.ok).toBeGreaterThan(RATE * SECONDS * 0.25); // the rate reached depends on the machine's load: printed above
      const metrics = await (await node.fetch('/metrics')).text();
      expect(metricValue(metrics, 'fleetkv_mqtt_clients_dropped_total')).toBeGreaterThanOrEqual(1);
      expect(node.logsMatching(/disconnected client dashboard/).length).toBeGreaterThanOrEqual(1);
      await closedByPeer(sockets[0]!);
      // The subscriber that reads still gets what is written after the stalled one left.
      const before = reader.received.length;
      expect((await node.put('load/after', 'x')).status).toBe(200);
      await waitFor(() => reader.received.length > before, 'the reading subscriber to get a later write');
      reader.end();
    },
    60_000 + SECONDS * 1000,
  );
});
