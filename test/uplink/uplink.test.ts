import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NodeProc, tempDir, waitFor } from '../helpers/proc.js';
import { TestClient } from '../mqtt/mqtt-helpers.js';

/**
 * The uplink mirrors a fleet node's state into another MQTT broker: here the
 * embedded broker of a second, unrelated fleetkv node plays the "cloud" broker
 * on loopback (topics under `site1/`, outside that node's own `fleet/` prefix).
 */
describe('uplink to a cloud MQTT broker', () => {
  const dir = tempDir();
  const procs: NodeProc[] = [];
  const clients: TestClient[] = [];
  let cloud: NodeProc;
  let cloudUrl = '';

  const robotEnv = (): Record<string, string> => ({
    FLEETKV_MQTT_ENABLED: 'false',
    FLEETKV_REPLICATION_ENABLED: 'false',
    FLEETKV_UPLINK_ENABLED: 'true',
    FLEETKV_UPLINK_URL: cloudUrl,
    FLEETKV_UPLINK_PREFIX: 'site1',
    FLEETKV_UPLINK_ACCEPT_SETS: 'true',
    FLEETKV_UPLINK_RECONNECT_PERIOD: '200ms',
  });
  const start = async (p: NodeProc): Promise<NodeProc> => {
    procs.push(p);
    return p.start();
  };
  const subscribe = async (filter: string): Promise<TestClient> => {
    const c = await TestClient.connect(cloudUrl);
    clients.push(c);
    await c.client.subscribeAsync(filter, { qos: 1 });
    return c;
  };

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
    await Promise.all(procs.map((p) => p.stop()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('mirrors existing keys on connect, then every write and delete, retained', async () => {
    cloud = await start(new NodeProc({ nodeId: 'cloud', dataDir: path.join(dir, 'cloud'), env: { FLEETKV_REPLICATION_ENABLED: 'false' } }));
    cloudUrl = `mqtt://127.0.0.1:${cloud.ports.mqtt}`;
    // Data written while the uplink was off goes out when it connects.
    const offline = await start(new NodeProc({ nodeId: 'r1', dataDir: path.join(dir, 'r1'), env: { FLEETKV_MQTT_ENABLED: 'false', FLEETKV_REPLICATION_ENABLED: 'false' } }));
    expect((await offline.put('robots/r1/battery', '81')).status).toBe(200);
    await offline.stop();

    const watcher = await subscribe('site1/state/#');
    const robot = await start(new NodeProc({ nodeId: 'r1', dataDir: path.join(dir, 'r1'), env: robotEnv() }));
    await watcher.waitMessage((m) => m.topic === 'site1/state/robots/r1/battery' && m.payload === '81', 'the key written before the uplink started');

    expect((await robot.put('robots/r1/pose', '{"x":1}')).status).toBe(200);
    await watcher.waitMessage((m) => m.topic === 'site1/state/robots/r1/pose' && m.payload === '{"x":1}', 'a new write');
    expect((await robot.fetch('/v1/kv/robots/r1/pose', { method: 'DELETE' })).status).toBe(200);
    await watcher.waitMessage((m) => m.topic === 'site1/state/robots/r1/pose' && m.payload === '', 'the delete as an empty payload');

    const late = await subscribe('site1/state/robots/r1/battery');
    const retained = await late.waitMessage((m) => m.topic === 'site1/state/robots/r1/battery', 'the retained copy for a late subscriber');
    expect(retained.retain).toBe(true);
    expect(retained.payload).toBe('81');
    // Nothing leaked into the cloud node's own store: the mirror lives only in its broker.
    expect(await cloud.get('robots/r1/battery')).toBeUndefined();
  });

  it('applies writes from <prefix>/set/<key> and refuses bad ones without losing data', async () => {
    const robot = procs.at(-1)!;
    const cmd = await TestClient.connect(cloudUrl);
    clients.push(cmd);
    await cmd.client.publishAsync('site1/set/robots/r1/goal', 'dock', { qos: 1 });
    await waitFor(async () => (await robot.get('robots/r1/goal')) === 'dock', 'the set from the cloud on the robot');

    // An empty level is not a valid key: refused, counted, logged; the node keeps running.
    await cmd.client.publishAsync('site1/set/robots//goal', 'x', { qos: 1 });
    await waitFor(async () => (await (await robot.fetch('/metrics')).text()).includes('fleetkv_uplink_sets_total{result="refused"} 1'), 'the refused set counted');
    expect(robot.logsMatching(/uplink: refused write/).length).toBe(1);
    expect(await robot.get('robots/r1/goal')).toBe('dock');
    expect(await robot.get('robots/r1/battery')).toBe('81');
    expect((await robot.status()).uplink).toMatchObject({ connected: true });
  });

  it('clears remotely a key deleted while the uplink was down', async () => {
    const robot = procs.find((p) => p.opts.nodeId === 'r1' && p.exitCode === undefined)!;
    const dataDir = robot.opts.dataDir;
    await robot.stop();
    const offline = await start(new NodeProc({ nodeId: 'r1', dataDir, env: { FLEETKV_MQTT_ENABLED: 'false', FLEETKV_REPLICATION_ENABLED: 'false' } }));
    expect((await offline.fetch('/v1/kv/robots/r1/battery', { method: 'DELETE' })).status).toBe(200);
    await offline.stop();
    const watcher = await subscribe('site1/state/robots/r1/battery');
    await watcher.waitMessage((m) => m.payload === '81', 'the stale retained value before the uplink is back');
    await start(new NodeProc({ nodeId: 'r1', dataDir, env: robotEnv() }));
    await watcher.waitMessage((m) => m.payload === '', 'the deleted key cleared on reconnect');
  });

  it('refuses to start with uplink enabled and no url', async () => {
    const p = new NodeProc({ nodeId: 'r2', dataDir: path.join(dir, 'r2'), env: { FLEETKV_UPLINK_ENABLED: 'true', FLEETKV_MQTT_ENABLED: 'false' } });
    await expect(p.start()).rejects.toThrow(/uplink\.url: required/);
  });
});
