import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NodeProc, tempDir } from '../helpers/proc.js';
import { SLOW_CONSUMER_RATE as RATE, SLOW_CONSUMER_SECONDS as SECONDS, closedByPeer, metricValue, runUnderLoad, stalledWatcher, slowConsumerFixture } from '../helpers/slow-consumers.js';

const WATCHERS = 50;

/**
 * Issue 9 item 2: 50 SSE watchers (half with ?initial=1) that never read
 * while writes go on at 1,000/s. Before the fix each could buffer 4 MB in
 * many small writes (RSS +430 MB, and a freeze of seconds when they were
 * dropped); now each has a bounded buffer (limits.watchBufferBytes) and is
 * dropped (counted, logged) when it falls further behind, the node stays up,
 * /healthz answers within 2 s throughout and RSS growth stays bounded.
 */
describe('SSE watchers that never read', () => {
  const fixture = slowConsumerFixture();
  const { sockets } = fixture;

  it(
    `are dropped, and the node stays up, at ${RATE} writes/s for ${SECONDS} s`,
    async () => {
      const dir = tempDir('fleetkv-slowwatch-');
      const node = (fixture.node = await new NodeProc({ nodeId: 'n1', dataDir: path.join(dir, 'n1'), env: { FLEETKV_MQTT_ENABLED: 'false' } }).start());
      for (let i = 0; i < 200; i++) expect((await node.put(`load/k${i}`, 'x'.repeat(2000))).status).toBe(200);
      for (let i = 0; i < WATCHERS; i++) sockets.push(await stalledWatcher(node.ports.http!, `/v1/watch?prefix=load/${i % 2 === 0 ? '&initial=1' : ''}`));

      const r = await runUnderLoad(node, { rate: RATE, seconds: SECONDS, valueBytes: 2000 });
      const metrics = await (await node.fetch('/metrics')).text();
      const dropped = metricValue(metrics, 'fleetkv_http_watchers_dropped_total');
      console.log(
        `slow watchers: ${r.ok} writes ok (${r.failed} failed) in ${SECONDS} s; ${dropped} of ${WATCHERS} watchers dropped; /healthz ${r.health.polls} polls, ${r.health.late} late, max ${r.health.maxMs} ms; RSS ${(r.rss0 / 1e6).toFixed(0)} MB, +${r.growthMb.toFixed(0)} MB at most`,
      );

      expect(r.ran).toBe('ran');
      expect(r.health.late).toBe(0);
      expect(r.growthMb).toBeLessThan(200);
      expect(r.ok).toBeGreaterThan(RATE * SECONDS * 0.25); // the rate reached depends on the machine's load: printed above
      expect(dropped).toBe(WATCHERS);
      expect(node.logsMatching(/dropped a watcher that fell behind/).length).toBe(WATCHERS);
      await Promise.all(sockets.map((s) => closedByPeer(s)));
    },
    60_000 + SECONDS * 1000,
  );
});
