import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeProc, runCli, tempDir, waitFor } from '../helpers/proc.js';
import { TestClient, mosquitto } from './mqtt-helpers.js';

/**
 * Access control and the extra listeners on one node: users made with
 * `fleetkv passwd --file`, an admin and a read-only dashboard, and the same
 * broker over TLS and WebSocket.
 */
describe('MQTT users, ACLs, TLS and WebSocket', () => {
  const dir = tempDir();
  const users = path.join(dir, 'users.json');
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  let node: NodeProc;
  const clients: TestClient[] = [];
  const url = (): string => `mqtt://127.0.0.1:${node.ports.mqtt}`;
  const connect = async (u: string, username: string, password: string, clientId: string): Promise<TestClient> => {
    const c = await TestClient.connect(u, { username, password, clientId });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    for (const [user, pw, extra] of [
      ['admin', 'admin-pw', []],
      ['dash', 'dash-pw', ['--read', 'fleet/state/#', '--read-only']],
    ] as const) {
      const r = await runCli(['passwd', user, '--file', users, ...extra], { input: `${pw}\n` });
      expect(r.code, r.stderr).toBe(0);
    }
    expect(JSON.parse(fs.readFileSync(users, 'utf8')).users.dash).toMatchObject({ read: ['fleet/state/#'], write: [] });
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    node = await new NodeProc({
      nodeId: 'sec',
      dataDir: path.join(dir, 'data'),
      env: {
        FLEETKV_MQTT_AUTH_ENABLED: 'true',
        FLEETKV_MQTT_USERS_FILE: users,
        FLEETKV_MQTT_TLS_ENABLED: 'true',
        FLEETKV_MQTT_TLS_PORT: '0',
        FLEETKV_MQTT_TLS_CERT: cert,
        FLEETKV_MQTT_TLS_KEY: key,
        FLEETKV_MQTT_WS_ENABLED: 'true',
        FLEETKV_MQTT_WS_PORT: '0',
      },
    }).start();
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
    await node?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses to start with a plain-text password (exit 78, EX_CONFIG)', async () => {
    const conf = path.join(dir, 'bad.json');
    fs.writeFileSync(conf, JSON.stringify({ mqtt: { auth: { enabled: true, users: { eve: { password: 'hunter2' } } } } }));
    const env = { FLEETKV_NODE_ID: 'bad', FLEETKV_DATA_DIR: path.join(dir, 'bad'), FLEETKV_HTTP_PORT: '0', FLEETKV_PEER_PORT: '0', FLEETKV_MQTT_PORT: '0', FLEETKV_MQTT_HOST: '127.0.0.1' };
    const r = await runCli(['start', '--config', conf], { env });
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/user "eve": password must be a hash made by `fleetkv passwd`/);
  });

  it('reports every listener in the ready line', () => {
    expect(node.ports).toMatchObject({ mqtt: expect.any(Number), mqttTls: expect.any(Number), mqttWs: expect.any(Number) });
  });

  it('refuses a wrong password, an unknown user and no credentials; the node keeps serving', async () => {
    await expect(TestClient.connect(url(), { username: 'admin', password: 'wrong' })).rejects.toThrow(/Bad username or password|Not authorized/i);
    await expect(TestClient.connect(url(), { username: 'nobody', password: 'admin-pw' })).rejects.toThrow(/Bad username or password|Not authorized/i);
    await expect(TestClient.connect(url())).rejects.toThrow(/Bad username or password|Not authorized/i);
    const r = await mosquitto('mosquitto_sub', ['-p', String(node.ports.mqtt), '-u', 'dash', '-P', 'wrong', '-t', 'fleet/#', '-C', '1']);
    expect(r.code).not.toBe(0);
    await waitFor(() => node.logsMatching(/bad user name or password/).length >= 4, 'four refusals in the log');
    const admin = await connect(url(), 'admin', 'admin-pw', 'admin1');
    await admin.client.publishAsync('fleet/set/after/refusals', 'fine', { qos: 1 });
    expect(await node.get('after/refusals')).toBe('fine');
  });

  it('keeps the dashboard to fleet/state/#: other subscriptions get SUBACK 0x80, its publishes are refused, it stays connected', async () => {
    const admin = await connect(url(), 'admin', 'admin-pw', 'admin2');
    await admin.client.subscribeAsync('fleet/errors/#');
    const dash = await connect(url(), 'dash', 'dash-pw', 'dash1');

    // The SUBACK's return codes as sent (mqtt.js turns a 0x80 into an error).
    const suback = new Promise<number[]>((resolve) => dash.client.once('packetreceive', (p) => resolve((p as { granted: number[] }).granted)));
    await expect(dash.client.subscribeAsync(['fleet/log/#', 'fleet/#', 'fleet/state/robots/#'])).rejects.toThrow(/Subscribe error/);
    expect(await suback).toEqual([128, 128, 0]);
    await waitFor(() => node.logsMatching(/subscription outside the ACL/).length === 2, 'two refusals in the log');

    await dash.client.publishAsync('fleet/set/robots/r1/mode', 'hacked', { qos: 1 });
    const report = await admin.waitMessage((m) => m.topic === 'fleet/errors/dash1', 'the refusal report');
    expect(JSON.parse(report.payload)).toMatchObject({ code: 'TOPIC_FORBIDDEN', topic: 'fleet/set/robots/r1/mode' });
    expect(await node.get('robots/r1/mode')).toBeUndefined();
    expect(dash.client.connected).toBe(true);

    await admin.client.publishAsync('fleet/set/robots/r1/mode', 'auto', { qos: 1 });
    const m = await dash.waitMessage((x) => x.topic === 'fleet/state/robots/r1/mode', 'the admin write on the dashboard');
    expect(m.payload).toBe('auto');
    expect(dash.messages.filter((x) => !x.topic.startsWith('fleet/state/robots/'))).toEqual([]);
  });

  it('serves the same broker over TLS and WebSocket', async () => {
    // The server certificate is verified against our own CA (the self-signed cert), not merely accepted.
    const tlsClient = await TestClient.connect(`mqtts://127.0.0.1:${node.ports.mqttTls}`, { username: 'admin', password: 'admin-pw', clientId: 'tls1', ca: fs.readFileSync(cert) });
    clients.push(tlsClient);
    await tlsClient.client.subscribeAsync('fleet/state/via/+');
    const ws = await TestClient.connect(`ws://127.0.0.1:${node.ports.mqttWs}/mqtt`, { username: 'admin', password: 'admin-pw', clientId: 'ws1' });
    clients.push(ws);
    await ws.client.publishAsync('fleet/set/via/ws', 'over-websocket', { qos: 1 });
    expect((await tlsClient.waitMessage((m) => m.topic === 'fleet/state/via/ws', 'the ws write over TLS')).payload).toBe('over-websocket');
    const sub = await mosquitto('mosquitto_sub', ['-p', String(node.ports.mqttTls), '--cafile', cert, '-h', '127.0.0.1', '-u', 'admin', '-P', 'admin-pw', '-t', 'fleet/state/via/ws', '-C', '1']);
    expect(sub.stdout).toBe('over-websocket\n');
  });
});
