import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeProc, tempDir, waitFor } from '../helpers/proc.js';
import { TestClient, mosquitto, mqttFixture } from './mqtt-helpers.js';

/** One node, its broker driven by the real Mosquitto clients and by mqtt.js. */
describe('MQTT bridge on one node', () => {
  const { dir, nodes, clients } = mqttFixture();
  const node = new NodeProc({ nodeId: 'a', dataDir: dir, env: { FLEETKV_MAX_VALUE_BYTES: '1024' } });
  const port = (): string => String(node.ports.mqtt);
  const url = (): string => `mqtt://127.0.0.1:${node.ports.mqtt}`;
  const connect = async (clientId: string): Promise<TestClient> => {
    const c = await TestClient.connect(url(), { clientId });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    nodes.push(await node.start());
  });

  it('mosquitto_pub sets and deletes keys; mosquitto_sub sees the state and the JSON log envelopes', async () => {
    expect((await node.put('probe', 'p')).status).toBe(200);
    // A subscriber on the log; its retained probe tells us it is subscribed before we publish.
    const logSub = spawn('mosquitto_sub', ['-p', port(), '-v', '-t', 'fleet/state/probe', '-t', 'fleet/log/a', '-C', '3'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let logOut = '';
    logSub.stdout.on('data', (d: Buffer) => (logOut += d.toString()));
    const logDone = new Promise((resolve) => logSub.once('exit', resolve));
    try {
      await waitFor(() => logOut.includes('fleet/state/probe p'), 'mosquitto_sub subscribed');

      const pub = await mosquitto('mosquitto_pub', ['-p', port(), '-t', 'fleet/set/robots/r1/status', '-m', 'active', '-q', '1']);
      expect(pub.code).toBe(0);
      const sub = await mosquitto('mosquitto_sub', ['-p', port(), '-t', 'fleet/state/robots/+/status', '-C', '1']);
      expect(sub.stdout).toBe('active\n');
      expect(await node.get('robots/r1/status')).toBe('active');

      expect((await mosquitto('mosquitto_pub', ['-p', port(), '-t', 'fleet/delete/robots/r1/status', '-n', '-q', '1'])).code).toBe(0);
      expect(await node.get('robots/r1/status')).toBeUndefined();
      await logDone;
    } finally {
      logSub.kill();
    }
    const envelopes = logOut
      .split('\n')
      .filter((l) => l.startsWith('fleet/log/a '))
      .map((l) => JSON.parse(l.slice('fleet/log/a '.length)) as Record<string, unknown>);
    expect(envelopes).toHaveLength(2);
    expect(envelopes[0]).toMatchObject({ origin: 'a', op: 'put', key: 'robots/r1/status', value: 'active' });
    expect(envelopes[1]).toMatchObject({ origin: 'a', op: 'del', key: 'robots/r1/status' });
    expect(envelopes[1]!.seq as number).toBeGreaterThan(envelopes[0]!.seq as number);
    expect(typeof envelopes[0]!.hlc).toBe('string');

    // The delete cleared the retained message: a new subscriber gets the probe but not the status.
    const late = await connect('late');
    await late.client.subscribeAsync('fleet/state/#');
    await node.put('zz/sentinel', 'live');
    await late.waitMessage((m) => m.topic === 'fleet/state/zz/sentinel', 'the live sentinel');
    await late.waitMessage((m) => m.topic === 'fleet/state/probe' && m.retain, 'the retained probe');
    expect(late.on('fleet/state/robots/r1/status')).toEqual([]);
  });

  it('binary values go base64 in the log envelope and raw on the state topic', async () => {
    const c = await connect('bin');
    await c.client.subscribeAsync(['fleet/log/a', 'fleet/state/bin/blob']);
    const blob = Buffer.from([0, 1, 2, 255]);
    await c.client.publishAsync('fleet/set/bin/blob', blob, { qos: 1 });
    const env = JSON.parse((await c.waitMessage((m) => m.topic === 'fleet/log/a' && m.payload.includes('bin/blob'), 'log envelope')).payload) as Record<string, unknown>;
    expect(env).toMatchObject({ key: 'bin/blob', encoding: 'base64', value: blob.toString('base64') });
    const state = await c.waitMessage((m) => m.topic === 'fleet/state/bin/blob', 'state message');
    expect(state.raw.equals(blob)).toBe(true);
  });

  it('refuses derived topics, bad keys and oversized values, reports them on errors/<clientId>, and keeps every client connected', async () => {
    const c = await connect('c1');
    const watcher = await connect('watcher');
    await c.client.subscribeAsync('fleet/errors/c1');
    await watcher.client.subscribeAsync('fleet/state/#');
    const refusals: [string, string | Buffer, string][] = [
      ['fleet/state/x', 'evil', 'TOPIC_FORBIDDEN'],
      ['fleet/log/a', '{}', 'TOPIC_FORBIDDEN'],
      ['fleet/nodes/a', '{}', 'TOPIC_FORBIDDEN'],
      ['fleet/set/a//b', 'x', 'KEY_INVALID'],
      ['fleet/set/_fleetkv/nodes/a', '{}', 'KEY_INVALID'],
      ['fleet/set/big', Buffer.alloc(2000, 120), 'VALUE_TOO_LARGE'],
    ];
    for (const [topic, payload, code] of refusals) {
      // QoS 1: the refusal is acknowledged (MQTT 3.1.1 §3.3.5) and reported.
      await c.client.publishAsync(topic, payload, { qos: 1, retain: true });
      const report = await c.waitMessage((m) => m.topic === 'fleet/errors/c1' && (JSON.parse(m.payload) as { topic: string }).topic === topic, `error report for ${topic}`);
      expect(JSON.parse(report.payload)).toMatchObject({ code, topic, clientId: 'c1' });
    }
    expect(c.client.connected).toBe(true);
    expect(await node.get('x')).toBeUndefined();
    expect(await node.get('big')).toBeUndefined();
    await waitFor(() => node.logsMatching(/refused publish/).length >= refusals.length, 'the refusals in the log');

    // The same client and the others keep working.
    await c.client.publishAsync('fleet/set/ok', 'yes', { qos: 1 });
    await watcher.waitMessage((m) => m.topic === 'fleet/state/ok' && m.payload === 'yes', 'the good write on another client');
    expect(watcher.on('fleet/state/x')).toEqual([]);
    expect(watcher.on('fleet/state/big')).toEqual([]);
    expect(await node.get('ok')).toBe('yes');
    expect((await node.fetch('/v1/status')).status).toBe(200);

    // A packet far over the limit is refused from its header and its connection closed; the others go on.
    const huge = await TestClient.connect(url(), { clientId: 'huge' });
    const closed = new Promise<void>((resolve) => huge.client.once('close', () => resolve()));
    huge.client.publish('fleet/set/huge', Buffer.alloc(1024 + 70_000, 120), { qos: 1 });
    await closed;
    await huge.client.endAsync(true); // its publish was never acknowledged: do not wait for it
    await waitFor(() => node.logsMatching(/refused a \d+-byte packet/).length === 1, 'the oversize refusal in the log');
    expect(await node.get('huge')).toBeUndefined();
    await c.client.publishAsync('fleet/set/after-huge', 'still here', { qos: 1 });
    expect(await node.get('after-huge')).toBe('still here');

    // No retained message was left on a derived topic by the refused publishes.
    const late = await connect('late2');
    await late.client.subscribeAsync('fleet/state/x');
    await node.put('x', 'real');
    expect((await late.waitMessage((m) => m.topic === 'fleet/state/x', 'state/x')).payload).toBe('real');
    expect(late.messages).toHaveLength(1);
  });

  it('publishes its node status retained on fleet/nodes/<nodeId>, outside the keyspace while it has no peers', async () => {
    const c = await connect('status');
    await c.client.subscribeAsync('fleet/nodes/+');
    const m = await c.waitMessage((x) => x.topic === 'fleet/nodes/a', 'node status');
    expect(m.retain).toBe(true);
    expect(JSON.parse(m.payload)).toMatchObject({ nodeId: 'a', online: true, version: expect.any(String), peers: [], vector: expect.any(Object) });
    // Alone, the robot keeps its record out of its keyspace (docs/adr/0200).
    expect(await node.get('_fleetkv/nodes/a')).toBeUndefined();
  });
});

describe('MQTT bridge across restarts', () => {
  const dir = tempDir();
  // fsync=always stages writes one by one: an ack sent before the write would be lost by kill -9.
  const node = new NodeProc({ nodeId: 'r', dataDir: dir, env: { FLEETKV_FSYNC: 'always' } });

  afterAll(async () => {
    await node.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('acknowledges QoS 1 only once durable (survives kill -9) and republishes every live key, no deleted one, after restart', async () => {
    await node.start();
    const c = await TestClient.connect(`mqtt://127.0.0.1:${node.ports.mqtt}`, { clientId: 'writer' });
    const n = 300;
    const acks: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) acks.push(c.client.publishAsync(`fleet/set/k/${i}`, `v${i}`, { qos: 1 }));
    for (let i = 0; i < n; i += 3) acks.push(c.client.publishAsync(`fleet/delete/k/${i}`, '', { qos: 1 }));
    await Promise.all(acks);
    await node.kill9();
    c.client.end(true);

    await node.start();
    const expected = new Map<string, string>();
    for (let i = 0; i < n; i++) if (i % 3 !== 0) expected.set(`fleet/state/k/${i}`, `v${i}`);
    expect(await node.get('k/1')).toBe('v1');
    expect(await node.get('k/0')).toBeUndefined();

    const sub = await TestClient.connect(`mqtt://127.0.0.1:${node.ports.mqtt}`, { clientId: 'after' });
    try {
      await sub.client.subscribeAsync('fleet/state/#');
      await waitFor(() => sub.messages.length >= expected.size, `${expected.size} retained keys`);
      await node.put('zz/sentinel', 'live');
      await sub.waitMessage((m) => m.topic === 'fleet/state/zz/sentinel', 'the live sentinel');
      const got = new Map(sub.messages.filter((m) => m.retain).map((m) => [m.topic, m.payload]));
      expect(got).toEqual(expected);
      // SIGTERM with a client connected: the broker closes it and the node exits 0.
      const closed = new Promise<void>((resolve) => sub.client.once('close', () => resolve()));
      expect(await node.stop()).toBe(0);
      await closed;
    } finally {
      await sub.client.endAsync(true);
    }
  });
});
