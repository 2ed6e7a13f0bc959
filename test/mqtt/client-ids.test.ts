import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeProc, runCli, tempDir, waitFor } from '../helpers/proc.js';
import { TestClient, mosquitto } from './mqtt-helpers.js';

/**
 * With MQTT auth on, a client id belongs to a user: `clientIds` patterns bind
 * ids to users (so `%c` in an ACL is an id the operator granted), and a
 * CONNECT with an id another user holds is refused before Aedes would take
 * over that user's session.
 */
describe('MQTT client ids belong to users', () => {
  const dir = tempDir();
  const users = path.join(dir, 'users.json');
  let node: NodeProc;
  const clients: TestClient[] = [];
  const url = (): string => `mqtt://127.0.0.1:${node.ports.mqtt}`;
  const connect = async (username: string, clientId: string, extra: Record<string, unknown> = {}): Promise<TestClient> => {
    const c = await TestClient.connect(url(), { username, password: `${username}-pw`, clientId, ...extra });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    for (const [user, extra] of [
      ['admin', []],
      ['robot', ['--client-id', 'r1', '--read', 'fleet/#', '--write', 'fleet/set/robots/%c/#']],
      ['dash', ['--read', 'fleet/state/#', '--read-only']],
    ] as const) {
      const r = await runCli(['passwd', user, '--file', users, ...extra], { input: `${user}-pw\n` });
      expect(r.code, r.stderr).toBe(0);
    }
    expect(JSON.parse(fs.readFileSync(users, 'utf8')).users.robot).toMatchObject({ clientIds: ['r1'], write: ['fleet/set/robots/%c/#'] });
    node = await new NodeProc({ nodeId: 'ids', dataDir: path.join(dir, 'data'), env: { FLEETKV_MQTT_AUTH_ENABLED: 'true', FLEETKV_MQTT_USERS_FILE: users } }).start();
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
    await node?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("refuses the robot's credentials with a client id outside its clientIds: %c cannot be chosen", async () => {
    await expect(TestClient.connect(url(), { username: 'robot', password: 'robot-pw', clientId: 'r2' })).rejects.toThrow(/Identifier rejected/i);
    const pub = await mosquitto('mosquitto_pub', ['-p', String(node.ports.mqtt), '-u', 'robot', '-P', 'robot-pw', '-i', 'r2', '-t', 'fleet/set/robots/r2/pose', '-m', 'forged', '-q', '1']);
    expect(pub.code).not.toBe(0);
    expect(pub.stderr).toMatch(/identifier rejected/i);
    expect(await node.get('robots/r2/pose')).toBeUndefined();
    await waitFor(() => node.logsMatching(/refused connection: user "robot" may not use client id "r2"/).length >= 2, 'the refusals in the log');
    const metrics = await (await node.fetch('/metrics')).text();
    expect(metrics).toMatch(/fleetkv_mqtt_refused_total\{code="CLIENT_ID_REJECTED"\} [2-9]/);

    // Its own id works, and %c is that id.
    const robot = await connect('robot', 'r1');
    await robot.client.subscribeAsync('fleet/errors/r1');
    await robot.client.publishAsync('fleet/set/robots/r1/pose', 'home', { qos: 1 });
    expect(await node.get('robots/r1/pose')).toBe('home');
    await robot.client.publishAsync('fleet/set/robots/r2/pose', 'forged', { qos: 1 });
    const report = await robot.waitMessage((m) => m.topic === 'fleet/errors/r1', 'the refusal report');
    expect(JSON.parse(report.payload)).toMatchObject({ code: 'TOPIC_FORBIDDEN' });
    expect(await node.get('robots/r2/pose')).toBeUndefined();
    await robot.end();
  });

  it("a dashboard user connecting with the robot's client id is refused and does not kick the robot", async () => {
    const robot = await connect('robot', 'r1');
    await robot.client.subscribeAsync('fleet/state/robots/r1/#');
    await expect(TestClient.connect(url(), { username: 'dash', password: 'dash-pw', clientId: 'r1' })).rejects.toThrow(/Identifier rejected/i);
    const sub = await mosquitto('mosquitto_sub', ['-p', String(node.ports.mqtt), '-u', 'dash', '-P', 'dash-pw', '-i', 'r1', '-t', 'fleet/state/#', '-C', '1', '-W', '5']);
    expect(sub.code).not.toBe(0);
    await waitFor(() => node.logsMatching(/client id "r1" is held by another user's session; user "dash"/).length >= 2, 'the refusals in the log');

    // The robot's session is intact: still connected, still receiving.
    expect(robot.client.connected).toBe(true);
    expect((await node.put('robots/r1/mode', 'auto')).status).toBe(200);
    expect((await robot.waitMessage((m) => m.topic === 'fleet/state/robots/r1/mode', 'the write on the robot')).payload).toBe('auto');
    expect(robot.client.connected).toBe(true);

    // The same user may still take over its own id (MQTT-3.1.4-2).
    const closed = new Promise<void>((resolve) => robot.client.once('close', () => resolve()));
    const again = await connect('robot', 'r1');
    await closed;
    expect(again.client.connected).toBe(true);
    await again.end();
  });

  it("a persistent session's id stays its user's after it disconnects, until a clean session ends it", async () => {
    const robot = await connect('robot', 'r1', { clean: false });
    await robot.client.subscribeAsync('fleet/state/robots/r1/queued', { qos: 1 });
    await robot.end();
    await expect(TestClient.connect(url(), { username: 'dash', password: 'dash-pw', clientId: 'r1' })).rejects.toThrow(/Identifier rejected/i);

    const cleanRobot = await connect('robot', 'r1', { clean: true });
    await cleanRobot.end();
    await waitFor(async () => (await node.status()).mqtt.clients === 0, 'the robot gone');
    const dash = await connect('dash', 'r1'); // a user without clientIds may use any free id
    expect(dash.client.connected).toBe(true);
    await dash.end();
  });

  it('hides $SYS/# from every user whose read rules do not name it (a "#" rule does not cover $ topics)', async () => {
    const admin = await connect('admin', 'admin-sys');
    const suback = new Promise<number[]>((resolve) => admin.client.once('packetreceive', (p) => resolve((p as { granted: number[] }).granted)));
    await expect(admin.client.subscribeAsync(['$SYS/#', '#'])).rejects.toThrow(/Subscribe error/);
    expect(await suback).toEqual([128, 0]);
    // Aedes publishes $SYS/<broker>/new/clients for every connection: none reaches the "#" subscriber.
    const other = await connect('admin', 'admin-sys-2');
    await other.client.publishAsync('fleet/set/sys/marker', 'm', { qos: 1 });
    await admin.waitMessage((m) => m.topic === 'fleet/state/sys/marker', 'the marker');
    expect(admin.messages.filter((m) => m.topic.startsWith('$'))).toEqual([]);
    await Promise.all([admin.end(), other.end()]);
  });

  it('refuses to start with %c in an ACL and no clientIds (exit 78)', async () => {
    const conf = path.join(dir, 'pc.json');
    const hash = JSON.parse(fs.readFileSync(users, 'utf8')).users.admin.password as string;
    fs.writeFileSync(conf, JSON.stringify({ mqtt: { auth: { enabled: true, users: { robot: { password: hash, write: ['fleet/set/robots/%c/#'] } } } } }));
    const env = { FLEETKV_NODE_ID: 'pc', FLEETKV_DATA_DIR: path.join(dir, 'pc'), FLEETKV_HTTP_PORT: '0', FLEETKV_PEER_PORT: '0', FLEETKV_MQTT_PORT: '0', FLEETKV_MQTT_HOST: '127.0.0.1' };
    const r = await runCli(['start', '--config', conf], { env });
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/user "robot": %c in an ACL needs clientIds/);
  });
});
