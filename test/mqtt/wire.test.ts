import fs from 'node:fs';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NodeProc, tempDir, waitFor } from '../helpers/proc.js';
import { TestClient, mosquitto } from './mqtt-helpers.js';
import { RawClient, ack, publish } from './raw-client.js';

/** A QoS 1 PUBLISH written byte by byte, so its topic can hold any bytes. */
function rawPublish(topic: Buffer, payload: string, messageId: number): Buffer {
  const body = Buffer.concat([Buffer.from([topic.length >> 8, topic.length & 0xff]), topic, Buffer.from([messageId >> 8, messageId & 0xff]), Buffer.from(payload)]);
  if (body.length > 127) throw new Error('test packet too long for a 1-byte remaining length');
  return Buffer.concat([Buffer.from([0x32, body.length]), body]);
}

/** What the broker accepts on the wire: strings must be UTF-8, `$` topics are the broker's. */
describe('MQTT wire rules (real node, packet-level client)', () => {
  const dir = tempDir();
  const node = new NodeProc({ nodeId: 'w', dataDir: dir });
  const raws: RawClient[] = [];
  const clients: TestClient[] = [];
  const port = (): number => node.ports.mqtt!;
  const raw = async (clientId: string): Promise<RawClient> => {
    const { client, returnCode } = await RawClient.connect(port(), { clientId });
    raws.push(client);
    expect(returnCode).toBe(0);
    return client;
  };

  beforeAll(async () => {
    await node.start();
  });

  afterEach(() => {
    for (const r of raws.splice(0)) r.end();
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
    await node.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('closes a connection whose topic is ill-formed UTF-8 (MQTT-1.5.3-1): two bad topics no longer collide on one key', async () => {
    for (const [i, bad] of [0xff, 0xfe].entries()) {
      const c = await raw(`bad-utf8-${i}`);
      c.sendBytes(rawPublish(Buffer.concat([Buffer.from('fleet/set/bad/'), Buffer.from([bad])]), `from-${bad}`, 5));
      await c.waitClosed('the connection closed');
      expect(c.count(ack('puback', 5))).toBe(0);
    }
    expect(await node.get(`bad/${encodeURIComponent('\uFFFD')}`)).toBeUndefined();
    await waitFor(() => node.logsMatching(/ill-formed UTF-8 in a packet/).length === 2, 'two warnings in the log');
    expect(await (await node.fetch('/metrics')).text()).toMatch(/fleetkv_mqtt_refused_total\{code="MQTT_UTF8_INVALID"\} 2/);

    // Well-formed UTF-8 that happens to hold U+FFFD is an ordinary key.
    const ok = await raw('good-utf8');
    ok.sendBytes(rawPublish(Buffer.from('fleet/set/ok/\uFFFD', 'utf8'), 'fine', 6));
    await ok.waitPacket(ack('puback', 6), 'PUBACK 6');
    expect(await node.get(`ok/${encodeURIComponent('\uFFFD')}`)).toBe('fine');
    expect((await node.status()).state).toBe('running');
  });

  it('closes a connection whose CONNECT carries an ill-formed client id', async () => {
    const s = net.connect(port(), '127.0.0.1');
    try {
      await new Promise((resolve) => s.once('connect', resolve));
      const id = Buffer.from([0x72, 0xc3]); // "r" and a truncated two-byte sequence
      const varHeader = Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x02, 0, 0]); // "MQTT", level 4, clean session, keepalive 0
      const body = Buffer.concat([varHeader, Buffer.from([0, id.length]), id]);
      const got: Buffer[] = [];
      let closed = false;
      s.on('data', (d: Buffer) => got.push(d));
      s.once('close', () => (closed = true));
      s.write(Buffer.concat([Buffer.from([0x10, body.length]), body]));
      await waitFor(() => closed || got.length > 0, 'the broker to close the connection or answer');
      expect(Buffer.concat(got).length).toBe(0); // no CONNACK
      await waitFor(() => closed, 'the connection closed');
    } finally {
      s.destroy();
    }
  });

  it('refuses a client publish to $SYS/… (it could forge broker statistics); it is reported and reaches no subscriber', async () => {
    const watcher = await TestClient.connect(`mqtt://127.0.0.1:${port()}`, { clientId: 'sys-watcher' });
    clients.push(watcher);
    await watcher.client.subscribeAsync('$SYS/forged/#');
    const c = await TestClient.connect(`mqtt://127.0.0.1:${port()}`, { clientId: 'forger' });
    clients.push(c);
    await c.client.subscribeAsync('fleet/errors/forger');
    await c.client.publishAsync('$SYS/forged/clients/connected', '9999', { qos: 1 });
    const report = await c.waitMessage((m) => m.topic === 'fleet/errors/forger', 'the refusal report');
    expect(JSON.parse(report.payload)).toMatchObject({ code: 'TOPIC_FORBIDDEN', topic: '$SYS/forged/clients/connected' });
    // mosquitto_pub too; then a marker shows the watcher is served, and nothing forged reached it.
    expect((await mosquitto('mosquitto_pub', ['-p', String(port()), '-t', '$SYS/forged/x', '-m', 'y', '-q', '1'])).code).toBe(0);
    await c.client.publishAsync('fleet/set/sys/marker', 'm', { qos: 1 });
    expect(await node.get('sys/marker')).toBe('m');
    expect(watcher.messages.filter((m) => m.topic.startsWith('$SYS/forged'))).toEqual([]);
  });

  it('QoS 2 on the raw client still works next to the guards', async () => {
    const c = await raw('q2-wire');
    c.send(publish('fleet/set/wire/q2', 'v', 2, 3));
    await c.waitPacket(ack('pubrec', 3), 'PUBREC 3');
    expect(await node.get('wire/q2')).toBe('v');
  });
});
