/** TTL on MQTT 3.1.1 (docs/mqtt.md): `fleet/ttl/<ttl>/<key>` with mosquitto_pub, expiry told to subscribers on state, log and nodes topics. */
import { afterEach, expect, test } from 'vitest';
import { NodeProc, tempDir, waitFor } from '../helpers/proc.js';
import { TestClient, mosquitto } from './mqtt-helpers.js';

let nodes: NodeProc[] = [];
let clients: TestClient[] = [];
afterEach(async () => {
  await Promise.all(clients.map((c) => c.end().catch(() => {})));
  await Promise.all(nodes.map((n) => n.stop()));
  nodes = [];
  clients = [];
});

test('mosquitto_pub to fleet/ttl/1s/<key>: state goes empty at the expiry on another node, the log tells it, retained state forgets it', async () => {
  const a = await new NodeProc({ nodeId: 'a', dataDir: tempDir() }).start();
  nodes.push(a);
  const b = await new NodeProc({ nodeId: 'b', dataDir: tempDir(), env: { FLEETKV_PEERS: `127.0.0.1:${a.ports.peer}` } }).start();
  nodes.push(b);
  const sub = await TestClient.connect(`mqtt://127.0.0.1:${b.ports.mqtt}`);
  clients.push(sub);
  await sub.client.subscribeAsync(['fleet/state/robots/#', 'fleet/log/a'], { qos: 0 });
  expect((await mosquitto('mosquitto_pub', ['-p', String(a.ports.mqtt), '-t', 'fleet/ttl/1500ms/robots/r1/pose', '-m', '{"x":1,"y":2,"yaw":0,"map":"m"}', '-q', '1'])).code).toBe(0);
  await sub.waitMessage((m) => m.topic === 'fleet/state/robots/r1/pose' && m.payload.startsWith('{'), 'the pose on b');
  expect(await b.get('robots/r1/pose')).toContain('"x":1');
  await sub.waitMessage((m) => m.topic === 'fleet/state/robots/r1/pose' && m.payload === '', 'the empty state at the expiry', 10_000);
  const expired = await sub.waitMessage((m) => m.topic === 'fleet/log/a' && m.payload.includes('"expired":true'), 'the expiry envelope on fleet/log/a');
  expect(JSON.parse(expired.payload)).toMatchObject({ key: 'robots/r1/pose', op: 'del', origin: 'a', expired: true });
  expect(await b.get('robots/r1/pose')).toBeUndefined();
  // A late subscriber gets no retained pose.
  const late = await mosquitto('mosquitto_sub', ['-p', String(b.ports.mqtt), '-t', 'fleet/state/robots/#', '-W', '1'], 10_000);
  expect(late.stdout).not.toContain('"x":1');
});

test('a bad ttl in the topic is refused (TTL_INVALID on the errors topic) and nothing is stored; the broker keeps running', async () => {
  const a = await new NodeProc({ nodeId: 'a', dataDir: tempDir() }).start();
  nodes.push(a);
  const errs = await TestClient.connect(`mqtt://127.0.0.1:${a.ports.mqtt}`, { clientId: 'watcher' });
  clients.push(errs);
  await errs.client.subscribeAsync('fleet/errors/#');
  await mosquitto('mosquitto_pub', ['-p', String(a.ports.mqtt), '-i', 'bad-ttl', '-t', 'fleet/ttl/soon/robots/r1/pose', '-m', 'x', '-q', '1']);
  const report = await errs.waitMessage((m) => m.topic === 'fleet/errors/bad-ttl', 'the refusal report');
  expect(JSON.parse(report.payload)).toMatchObject({ code: 'TTL_INVALID' });
  expect(await a.get('robots/r1/pose')).toBeUndefined();
  await waitFor(async () => (await a.fetch('/healthz')).ok, 'the node still up');
});
