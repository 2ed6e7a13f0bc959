import fs from 'node:fs';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { Mosquitto } from '../helpers/mosquitto.js';
import { NodeProc, runProcess, tempDir, waitFor } from '../helpers/proc.js';
import { TestClient } from '../mqtt/mqtt-helpers.js';

/**
 * The uplink against a real Mosquitto 2 broker with password authentication
 * (the "site or cloud broker"): state goes out retained, sets come in, and
 * after the broker restarts with nothing retained the uplink fills it again.
 */
describe('uplink to a real Mosquitto 2', () => {
  const dir = tempDir('fleetkv-uplink-mosq-');
  const broker = new Mosquitto(path.join(dir, 'mosquitto'), 'site', 'site-password-42');
  const clients: TestClient[] = [];
  let robot: NodeProc;
  let robot5: NodeProc | undefined;

  const subscribe = async (filter: string): Promise<TestClient> => {
    const c = await TestClient.connect(broker.url, { username: broker.user, password: broker.password });
    clients.push(c);
    await c.client.subscribeAsync(filter, { qos: 1 });
    return c;
  };

  /** A robot with only its uplink on, to `broker` under `prefix`, once the uplink is connected. */
  const uplinkRobot = async (nodeId: string, prefix: string, env: Record<string, string>, what: string): Promise<NodeProc> => {
    const n = await new NodeProc({
      nodeId,
      dataDir: path.join(dir, nodeId),
      env: {
        FLEETKV_MQTT_ENABLED: 'false',
        FLEETKV_REPLICATION_ENABLED: 'false',
        FLEETKV_UPLINK_ENABLED: 'true',
        FLEETKV_UPLINK_URL: broker.url,
        FLEETKV_UPLINK_USERNAME: broker.user,
        FLEETKV_UPLINK_PASSWORD: broker.password,
        FLEETKV_UPLINK_PREFIX: prefix,
        FLEETKV_UPLINK_RECONNECT_PERIOD: '200ms',
        ...env,
      },
    }).start();
    await waitFor(async () => ((await n.status()).uplink as { connected?: boolean } | undefined)?.connected === true, what);
    return n;
  };

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
    await robot?.stop();
    await robot5?.stop();
    await broker.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('mirrors writes and deletes retained, and takes sets from mosquitto_pub', async () => {
    await broker.start();
    robot = await uplinkRobot('r1', 'site1', { FLEETKV_UPLINK_ACCEPT_SETS: 'true' }, 'the uplink connected to mosquitto');

    const watcher = await subscribe('site1/state/#');
    expect((await robot.put('robots/r1/pose', '{"x":1,"y":2}')).status).toBe(200);
    await watcher.waitMessage((m) => m.topic === 'site1/state/robots/r1/pose' && m.payload === '{"x":1,"y":2}', 'the write on mosquitto');

    // A late subscriber with the real mosquitto_sub gets the retained copy.
    const sub = await runProcess('mosquitto_sub', ['-p', String(broker.port), '-h', '127.0.0.1', '-u', broker.user, '-P', broker.password, '-t', 'site1/state/robots/r1/pose', '-C', '1', '-W', '5', '-v']);
    expect(sub.code, sub.stderr).toBe(0);
    expect(sub.stdout.trim()).toBe('site1/state/robots/r1/pose {"x":1,"y":2}');

    const pub = await runProcess('mosquitto_pub', ['-p', String(broker.port), '-h', '127.0.0.1', '-u', broker.user, '-P', broker.password, '-t', 'site1/set/robots/r1/goal', '-m', 'dock', '-q', '1']);
    expect(pub.code, pub.stderr).toBe(0);
    await waitFor(async () => (await robot.get('robots/r1/goal')) === 'dock', 'the set from mosquitto applied on the robot');

    expect((await robot.fetch('/v1/kv/robots/r1/goal', { method: 'DELETE' })).status).toBe(200);
    await watcher.waitMessage((m) => m.topic === 'site1/state/robots/r1/goal' && m.payload === '' && m.retain === false, 'the delete as an empty payload');
  });

  it('fills a restarted broker that lost its retained messages', async () => {
    await broker.stop();
    await waitFor(async () => ((await robot.status()).uplink as { connected?: boolean }).connected === false, 'the uplink to notice the broker went away');
    // Written while the broker is down: sent once it is back.
    expect((await robot.put('robots/r1/battery', '0.77')).status).toBe(200);
    await broker.start();
    await waitFor(async () => ((await robot.status()).uplink as { connected?: boolean }).connected === true, 'the uplink reconnected', 15_000);
    const late = await subscribe('site1/state/robots/r1/+');
    await late.waitMessage((m) => m.topic === 'site1/state/robots/r1/battery' && m.payload === '0.77' && m.retain, 'the write made while the broker was down, retained');
    await late.waitMessage((m) => m.topic === 'site1/state/robots/r1/pose' && m.payload === '{"x":1,"y":2}' && m.retain, 'the older state, published again');
    expect(late.on('site1/state/robots/r1/goal')).toEqual([]); // deleted: nothing retained
  });

  it('speaks MQTT 5 when asked: user properties on state, a TTL as Message Expiry Interval, cleared on expiry', async () => {
    robot5 = await uplinkRobot('r5', 'site5', { FLEETKV_UPLINK_PROTOCOL_VERSION: '5' }, 'the MQTT 5 uplink connected to mosquitto');
    const c = await mqtt.connectAsync(broker.url, { protocolVersion: 5, username: broker.user, password: broker.password, reconnectPeriod: 0 });
    try {
      const got: { topic: string; payload: string; props: Record<string, unknown> | undefined; expiry: number | undefined }[] = [];
      c.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), props: packet.properties?.userProperties as Record<string, unknown> | undefined, expiry: packet.properties?.messageExpiryInterval }));
      await c.subscribeAsync('site5/state/#', { qos: 1 });
      expect((await robot5.fetch('/v1/kv/robots/r5/pose?ttl=3s', { method: 'PUT', body: '{"x":5}' })).status).toBe(200);
      const live = await waitFor(() => got.find((m) => m.topic === 'site5/state/robots/r5/pose' && m.payload === '{"x":5}'), 'the MQTT 5 state message');
      expect(live.props).toMatchObject({ origin: 'r5' });
      expect(live.expiry).toBeGreaterThan(0);
      expect(live.expiry).toBeLessThanOrEqual(3);
      // Expired on the node: cleared on the remote broker too.
      await waitFor(() => got.find((m) => m.topic === 'site5/state/robots/r5/pose' && m.payload === ''), 'the expiry as an empty retained payload', 10_000);
    } finally {
      await c.endAsync();
    }
  });
});
