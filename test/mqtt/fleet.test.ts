import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NodeProc, waitFor } from '../helpers/proc.js';
import { TestClient, mosquitto, mqttFixture } from './mqtt-helpers.js';

// Needs the replication service (branch `replication`): until it is merged
// there is nothing to carry a write from one robot to another.

/** Three robots with replication: every broker shows the whole fleet, each write once, nothing loops back. */
describe('MQTT across a 3-node fleet', () => {
  const { dir, nodes, clients } = mqttFixture();

  it('a write on each broker appears on every other broker once, and never loops back as a second write', async () => {
    for (const id of ['a', 'b', 'c']) {
      const peers = nodes.map((n) => `127.0.0.1:${n.ports.peer}`).join(',');
      nodes.push(await new NodeProc({ nodeId: id, dataDir: path.join(dir, id), env: peers ? { FLEETKV_PEERS: peers } : {} }).start());
    }
    const [a, b] = nodes as [NodeProc, NodeProc, NodeProc];
    const mqttPort = (n: NodeProc): string => String(n.ports.mqtt);

    // The example, with the Mosquitto tools: set on A, read on B, delete on A clears B.
    expect((await mosquitto('mosquitto_pub', ['-p', mqttPort(a), '-t', 'fleet/set/robots/r1/status', '-m', 'active', '-q', '1'])).code).toBe(0);
    const seen = await mosquitto('mosquitto_sub', ['-p', mqttPort(b), '-t', 'fleet/state/robots/+/status', '-C', '1'], 20_000);
    expect(seen.stdout).toBe('active\n');
    expect((await mosquitto('mosquitto_pub', ['-p', mqttPort(a), '-t', 'fleet/delete/robots/r1/status', '-n', '-q', '1'])).code).toBe(0);
    await waitFor(async () => (await b.get('robots/r1/status')) === undefined, 'the delete on B');

    // One subscriber per broker, then one write per broker.
    const subs: TestClient[] = [];
    for (const n of nodes) {
      const s = await TestClient.connect(`mqtt://127.0.0.1:${n.ports.mqtt}`, { clientId: `sub-${n.opts.nodeId}` });
      await s.client.subscribeAsync(['fleet/state/w/#', 'fleet/log/#']);
      subs.push(s);
    }
    clients.push(...subs);
    for (const n of nodes) {
      const w = await TestClient.connect(`mqtt://127.0.0.1:${n.ports.mqtt}`, { clientId: `writer-${n.opts.nodeId}` });
      clients.push(w);
      await w.client.publishAsync(`fleet/set/w/${n.opts.nodeId}`, `from-${n.opts.nodeId}`, { qos: 1 });
    }
    const keys = nodes.map((n) => `w/${n.opts.nodeId}`);
    for (const s of subs) {
      await waitFor(() => keys.every((k) => s.on(`fleet/state/${k}`).length > 0), `every write on ${s.client.options.clientId}`, 20_000);
    }
    // A last write that passes every broker after the others: anything looping would have arrived by then.
    await nodes[2]!.put('w/zz-sentinel', 'end');
    for (const s of subs) await s.waitMessage((m) => m.topic === 'fleet/state/w/zz-sentinel', 'the sentinel', 20_000);

    for (const s of subs) {
      for (const n of nodes) {
        const k = `w/${n.opts.nodeId}`;
        expect(s.on(`fleet/state/${k}`).map((m) => m.payload)).toEqual([`from-${n.opts.nodeId}`]);
        const logged = s.messages.filter((m) => m.topic.startsWith('fleet/log/') && (JSON.parse(m.payload) as { key: string }).key === k);
        expect(logged.map((m) => [m.topic, (JSON.parse(m.payload) as { origin: string }).origin])).toEqual([[`fleet/log/${n.opts.nodeId}`, n.opts.nodeId]]);
      }
    }
    // Every broker shows every robot's status record.
    for (const n of nodes) {
      const st = await TestClient.connect(`mqtt://127.0.0.1:${n.ports.mqtt}`, { clientId: `st-${n.opts.nodeId}` });
      clients.push(st);
      await st.client.subscribeAsync('fleet/nodes/+');
      await waitFor(() => ['a', 'b', 'c'].every((id) => st.on(`fleet/nodes/${id}`).length > 0), `every status on ${n.opts.nodeId}`, 20_000);
    }
  });
});
