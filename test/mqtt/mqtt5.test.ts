import fs from 'node:fs';
import { spawn } from 'node:child_process';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeProc, tempDir, waitFor } from '../helpers/proc.js';
import { TestClient, mosquitto } from './mqtt-helpers.js';

/**
 * MQTT 5 on the embedded broker (Aedes 2, docs/adr/0202): a refused publish
 * is acknowledged with a reason code, `state/` and `log/` messages carry the
 * write's origin, inc, seq and hlc as user properties, and 3.1.1 clients are
 * served as before. Real mqtt.js 5 clients and the real Mosquitto tools.
 */
describe('MQTT 5', () => {
  const dir = tempDir();
  const node = new NodeProc({ nodeId: 'a', dataDir: dir, env: { FLEETKV_MAX_VALUE_BYTES: '1024' } });
  const clients: MqttClient[] = [];
  const tests: TestClient[] = [];
  const url = (): string => `mqtt://127.0.0.1:${node.ports.mqtt}`;

  async function v5(clientId: string): Promise<MqttClient> {
    const c = await mqtt.connectAsync(url(), { protocolVersion: 5, clientId, reconnectPeriod: 0, connectTimeout: 5000 });
    clients.push(c);
    return c;
  }

  /** The reason code of the acknowledgement of one publish (0 = success). */
  async function ackCode(c: MqttClient, topic: string, payload: string | Buffer, qos: 1 | 2): Promise<number> {
    return new Promise((resolve) => {
      c.publish(topic, payload, { qos }, (err, packet) => {
        const code = (err as { code?: number } | undefined)?.code ?? (packet as { reasonCode?: number } | undefined)?.reasonCode ?? 0;
        resolve(code);
      });
    });
  }

  beforeAll(async () => {
    await node.start();
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync().catch(() => {})));
    await Promise.all(tests.map((c) => c.end().catch(() => {})));
    await node.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('acknowledges a set with success once it is written', async () => {
    const c = await v5('writer5');
    expect(await ackCode(c, 'fleet/set/robots/r1/status', 'idle', 1)).toBe(0);
    expect(await node.get('robots/r1/status')).toBe('idle');
    expect(await ackCode(c, 'fleet/set/robots/r1/status', 'moving', 2)).toBe(0);
    await waitFor(async () => (await node.get('robots/r1/status')) === 'moving', 'QoS 2 set applied');
  });

  it('a set with a Message Expiry Interval gives the key that TTL', async () => {
    const c = await v5('expiry5');
    await new Promise<void>((resolve, reject) => c.publish('fleet/set/robots/r9/pose', '{"x":1}', { qos: 1, properties: { messageExpiryInterval: 1 } }, (err) => (err ? reject(err) : resolve())));
    expect(await node.get('robots/r9/pose')).toBe('{"x":1}');
    const listed = (await (await node.fetch('/v1/kv?prefix=robots/r9/')).json()) as { entries: { expiresAt?: string }[] };
    expect(listed.entries[0]?.expiresAt).toBeDefined();
    await waitFor(async () => (await node.get('robots/r9/pose')) === undefined, 'the key expired after 1 s', 10_000);
  });

  it('refuses with a reason code per cause, reports on errors/<clientId>, and keeps the client connected', async () => {
    const c = await v5('refused5');
    const errors: { topic: string; code: string }[] = [];
    c.on('message', (topic, payload) => errors.push({ topic, code: (JSON.parse(payload.toString()) as { code: string }).code }));
    await c.subscribeAsync('fleet/errors/refused5', { qos: 0 });

    expect(await ackCode(c, 'fleet/state/robots/r1/status', 'forged', 1)).toBe(0x87); // Not authorized: derived topic
    expect(await ackCode(c, 'fleet/set/a//b', 'x', 1)).toBe(0x90); // Topic Name invalid: bad key
    expect(await ackCode(c, 'fleet/set/big', Buffer.alloc(2048, 1), 1)).toBe(0x97); // Quota exceeded: value too large
    expect(await ackCode(c, 'fleet/set/a//c', 'x', 2)).toBe(0x90); // on PUBREC for QoS 2
    await waitFor(() => errors.length >= 4, 'four error reports');
    expect(errors.map((e) => e.code)).toEqual(['TOPIC_FORBIDDEN', 'KEY_INVALID', 'VALUE_TOO_LARGE', 'KEY_INVALID']);
    expect(errors.every((e) => e.topic === 'fleet/errors/refused5')).toBe(true);

    // Nothing of them was written or published, and the connection serves the next publish.
    expect(await node.get('big')).toBeUndefined();
    expect(await node.get('robots/r1/status')).toBe('moving');
    expect(c.connected).toBe(true);
    expect(await ackCode(c, 'fleet/set/after', 'ok', 1)).toBe(0);
    expect(await node.get('after')).toBe('ok');
  });

  it('a 3.1.1 client still gets a plain PUBACK for a refusal and the report on errors/', async () => {
    const c = await TestClient.connect(url(), { clientId: 'old311' });
    tests.push(c);
    await c.client.subscribeAsync('fleet/errors/old311', { qos: 0 });
    await c.client.publishAsync('fleet/set/a//b', 'x', { qos: 1 });
    const report = await c.waitMessage((m) => m.topic === 'fleet/errors/old311', 'error report');
    expect(JSON.parse(report.payload)).toMatchObject({ code: 'KEY_INVALID', topic: 'fleet/set/a//b' });
    expect(c.client.connected).toBe(true);
  });

  it('state and log messages carry origin, inc, seq and hlc as user properties, live and retained', async () => {
    const c = await v5('props5');
    const got: { topic: string; payload: string; retain: boolean; props: Record<string, unknown> | undefined }[] = [];
    c.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), retain: packet.retain, props: packet.properties?.userProperties as Record<string, unknown> | undefined }));
    await c.subscribeAsync(['fleet/state/props/#', 'fleet/log/a'], { qos: 0 });
    const put = await node.put('props/k', 'v1');
    expect(put.status).toBe(200);
    const state = await waitFor(() => got.find((m) => m.topic === 'fleet/state/props/k'), 'live state');
    const log = await waitFor(() => got.find((m) => m.topic === 'fleet/log/a' && m.payload.includes('props/k')), 'log envelope');
    const envelope = JSON.parse(log.payload) as { origin: string; inc: number; seq: number; hlc: string };
    for (const m of [state, log]) {
      expect(m.props).toEqual({ origin: 'a', inc: String(envelope.inc), seq: String(envelope.seq), hlc: envelope.hlc });
    }

    // A later subscriber gets the retained state from the store, with the same properties.
    const late = await v5('late5');
    const retained = new Promise<{ retain: boolean; props: unknown }>((resolve) => late.on('message', (_t, _p, packet) => resolve({ retain: packet.retain, props: packet.properties?.userProperties })));
    await late.subscribeAsync('fleet/state/props/k', { qos: 0 });
    expect(await retained).toEqual({ retain: true, props: state.props });
  });

  it('mosquitto_pub -V mqttv5 sets a key and mosquitto_sub -V mqttv5 prints the user properties', async () => {
    const port = String(node.ports.mqtt);
    let out = '';
    const sub = spawn('mosquitto_sub', ['-V', 'mqttv5', '-p', port, '-t', 'fleet/state/m5/#', '-F', '%t %p %P', '-C', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    sub.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise((resolve) => sub.once('exit', resolve));
    try {
      // Retained `probe` tells us the subscription is in place before we publish.
      await node.put('m5/probe', 'p');
      await waitFor(() => out.includes('fleet/state/m5/probe p'), 'mosquitto_sub subscribed');
      await exited;
    } finally {
      sub.kill();
    }
    expect(out).toMatch(/^fleet\/state\/m5\/probe p origin:a inc:\d+ seq:\d+ hlc:\d+/);

    const pub = await mosquitto('mosquitto_pub', ['-V', 'mqttv5', '-p', port, '-t', 'fleet/set/m5/key', '-m', 'five', '-q', '1']);
    expect(pub.code).toBe(0);
    expect(await node.get('m5/key')).toBe('five');
    const refused = await mosquitto('mosquitto_pub', ['-V', 'mqttv5', '-p', port, '-t', 'fleet/state/m5/key', '-m', 'x', '-q', '1']);
    expect(refused.stderr).toMatch(/not authori[sz]ed/i);
    expect(await node.get('m5/key')).toBe('five');
  });
});
