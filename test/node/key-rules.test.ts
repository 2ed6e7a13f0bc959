import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_KEY_LEVELS } from '../../src/entry/key.js';
import { NodeProc, tempDir } from '../helpers/proc.js';
import { TestClient, mosquitto, mqttFixture } from '../mqtt/mqtt-helpers.js';
import { startCoreNode } from '../helpers/node.js';
import type { FleetNode } from '../../src/node.js';

const deepKey = (levels: number): string => Array.from({ length: levels }, (_, i) => `l${i}`).join('/');

/**
 * Key rules every writer meets in the node itself: reserved `_fleetkv/` keys
 * (node status records) and the depth limit that keeps every key publishable
 * on `<prefix>/state/<key>`.
 */
describe('key rules for every writer (real node: HTTP, MQTT, mosquitto)', () => {
  const { dir, nodes, clients } = mqttFixture();
  const node = new NodeProc({ nodeId: 'kr', dataDir: path.join(dir, 'kr') });

  beforeAll(async () => {
    nodes.push(await node.start());
  });

  it('refuses an HTTP PUT or DELETE of a node status record (_fleetkv/…): 400 KEY_INVALID, nothing stored', async () => {
    const forged = JSON.stringify({ nodeId: 'kr', online: false, vector: {} });
    for (const key of ['_fleetkv/nodes/kr', '_fleetkv/nodes/other', '_fleetkv/anything']) {
      const r = await node.put(key, forged);
      expect(r.status, key).toBe(400);
      expect(await r.json()).toMatchObject({ error: { code: 'KEY_INVALID' } });
      const d = await node.fetch(`/v1/kv/${key}`, { method: 'DELETE' });
      expect(d.status, key).toBe(400);
      expect(await d.json()).toMatchObject({ error: { code: 'KEY_INVALID' } });
    }
    expect(await node.get('_fleetkv/nodes/other')).toBeUndefined();
    // A key merely starting with the letters is an ordinary key.
    expect((await node.put('_fleetkvx/a', 'ok')).status).toBe(200);
    expect((await node.status()).state).toBe('running');
  });

  it(`stores and publishes a ${MAX_KEY_LEVELS}-level key; refuses a deeper one over HTTP and MQTT (a 98-level key used to be stored and never published)`, async () => {
    const ok = deepKey(MAX_KEY_LEVELS);
    const sub = mosquitto('mosquitto_sub', ['-p', String(node.ports.mqtt), '-t', `fleet/state/${ok}`, '-C', '1'], 15_000);
    // mosquitto_sub receives the retained state once subscribed: write after, read the one message.
    expect((await node.put(ok, 'deep')).status).toBe(200);
    expect((await sub).stdout).toBe('deep\n');

    for (const levels of [MAX_KEY_LEVELS + 1, 98]) {
      const r = await node.put(deepKey(levels), 'x');
      expect(r.status, `${levels} levels`).toBe(400);
      expect(await r.json()).toMatchObject({ error: { code: 'KEY_INVALID', message: expect.stringMatching(/more than 64 levels/) } });
    }

    const c = await TestClient.connect(`mqtt://127.0.0.1:${node.ports.mqtt}`, { clientId: 'deep' });
    clients.push(c);
    await c.client.subscribeAsync('fleet/errors/deep');
    const topic = `fleet/set/${deepKey(MAX_KEY_LEVELS + 1)}`;
    await c.client.publishAsync(topic, 'x', { qos: 1 });
    const report = await c.waitMessage((m) => m.topic === 'fleet/errors/deep', 'the refusal report');
    expect(JSON.parse(report.payload)).toMatchObject({ code: 'KEY_INVALID', topic });
    expect(c.client.connected).toBe(true);
    expect(await node.get(deepKey(MAX_KEY_LEVELS + 1))).toBeUndefined();
  });

  it('refuses a topic prefix too deep for the deepest key (exit 78)', async () => {
    const bad = new NodeProc({ nodeId: 'kp', dataDir: path.join(dir, 'kp'), env: { FLEETKV_MQTT_PREFIX: deepKey(40) } });
    await expect(bad.start()).rejects.toThrow(/mqtt\.prefix: must be non-empty without \+ or #, at most 35 levels/);
    expect(bad.exitCode).toBe(78);
  });
});

describe('reserved keys through the library API', () => {
  const dir = tempDir();
  let node: FleetNode;

  beforeAll(async () => {
    node = await startCoreNode(dir);
  });

  afterAll(async () => {
    await node.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('put/delete of _fleetkv/… fail with KEY_INVALID; putStatusRecord writes only the node’s own record', async () => {
    await expect(node.put('_fleetkv/nodes/test-node', '{}')).rejects.toMatchObject({ code: 'KEY_INVALID' });
    await expect(node.delete('_fleetkv/nodes/other')).rejects.toMatchObject({ code: 'KEY_INVALID' });
    const r = await node.putStatusRecord(Buffer.from('{"online":true}'));
    expect(r.key).toBe('_fleetkv/nodes/test-node');
    expect(node.get('_fleetkv/nodes/test-node')?.value.toString()).toBe('{"online":true}');
  });
});
