import fs from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NodeProc, tempDir, waitFor } from '../helpers/proc.js';
import { TestClient, mosquitto } from './mqtt-helpers.js';
import { RawClient, ack, publish } from './raw-client.js';

/**
 * QoS 2 commands run exactly once per packet id, QoS 1 commands at least once:
 * a real node, a packet-level client that really retransmits a PUBLISH with
 * DUP=1 and the same packet id, and HTTP writes in between.
 */
describe('MQTT QoS 2 commands run once per packet id', () => {
  const dir = tempDir();
  const node = new NodeProc({ nodeId: 'q', dataDir: dir });
  const raws: RawClient[] = [];
  let log: TestClient;
  const port = (): number => node.ports.mqtt!;
  const raw = async (clientId: string, clean = true): Promise<RawClient> => {
    const { client, returnCode } = await RawClient.connect(port(), { clientId, clean });
    raws.push(client);
    expect(returnCode).toBe(0);
    return client;
  };
  /** Log envelopes of one key seen so far: one per applied write. */
  const applied = (key: string): number => log.messages.filter((m) => m.topic === 'fleet/log/q' && (JSON.parse(m.payload) as { key: string }).key === key).length;
  /** Every write to `key` so far has reached the log topic: a sentinel written after them has. */
  const settle = async (key: string): Promise<number> => {
    const sentinel = `sentinel/${key}/${Date.now()}`;
    expect((await node.put(sentinel, 's')).status).toBe(200);
    await log.waitMessage((m) => m.topic === 'fleet/log/q' && m.payload.includes(sentinel), 'the sentinel on the log');
    return applied(key);
  };

  beforeAll(async () => {
    await node.start();
    log = await TestClient.connect(`mqtt://127.0.0.1:${port()}`, { clientId: 'log-watcher' });
    await log.client.subscribeAsync('fleet/log/q', { qos: 1 });
  });

  afterEach(() => {
    for (const r of raws.splice(0)) r.end();
  });

  afterAll(async () => {
    await log?.end();
    await node.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a DUP retransmit (same packet id, before PUBREL) does not write again: "two" stays "two"', async () => {
    const c = await raw('q2-dup');
    c.send(publish('fleet/set/qos2/k', 'one', 2, 7));
    await c.waitPacket(ack('pubrec', 7), 'PUBREC 7');
    expect(await node.get('qos2/k')).toBe('one');

    expect((await node.put('qos2/k', 'two')).status).toBe(200);
    c.send(publish('fleet/set/qos2/k', 'one', 2, 7, true));
    await waitFor(() => c.count(ack('pubrec', 7)) === 2, 'PUBREC 7 for the retransmit');
    expect(await node.get('qos2/k')).toBe('two');
    expect(await settle('qos2/k')).toBe(2); // "one" once, "two" once

    // PUBREL releases the id: the next PUBLISH with id 7 is a new message and runs.
    c.send({ cmd: 'pubrel', messageId: 7 });
    await c.waitPacket(ack('pubcomp', 7), 'PUBCOMP 7');
    c.send(publish('fleet/set/qos2/k', 'three', 2, 7));
    await waitFor(() => c.count(ack('pubrec', 7)) === 3, 'PUBREC 7 for the new message');
    expect(await node.get('qos2/k')).toBe('three');
    c.send({ cmd: 'pubrel', messageId: 7 });
    await waitFor(() => c.count(ack('pubcomp', 7)) === 2, 'PUBCOMP 7 again');
  });

  it('a PUBLISH and its retransmit in one TCP write (handled concurrently by Aedes) write once', async () => {
    const c = await raw('q2-batch');
    c.send(publish('fleet/set/qos2/batch', 'once', 2, 9), publish('fleet/set/qos2/batch', 'once', 2, 9, true), publish('fleet/set/qos2/batch', 'once', 2, 9, true));
    await waitFor(() => c.count(ack('pubrec', 9)) >= 1, 'PUBREC 9');
    expect(await settle('qos2/batch')).toBe(1);
    expect(await node.get('qos2/batch')).toBe('once');
  });

  it('a retransmit on a new connection of a persistent session (clean=false) does not write again', async () => {
    const first = await raw('q2-persistent', false);
    first.send(publish('fleet/set/qos2/p', 'one', 2, 11));
    await first.waitPacket(ack('pubrec', 11), 'PUBREC 11');
    first.end(); // the connection drops before PUBREL

    expect((await node.put('qos2/p', 'two')).status).toBe(200);
    const again = await raw('q2-persistent', false);
    again.send(publish('fleet/set/qos2/p', 'one', 2, 11, true));
    await again.waitPacket(ack('pubrec', 11), 'PUBREC 11 on the new connection');
    expect(await node.get('qos2/p')).toBe('two');
    again.send({ cmd: 'pubrel', messageId: 11 });
    await again.waitPacket(ack('pubcomp', 11), 'PUBCOMP 11');
    expect(await settle('qos2/p')).toBe(2);
  });

  it('a clean session forgets the previous session’s packet ids: the same id runs again', async () => {
    const first = await raw('q2-clean');
    first.send(publish('fleet/set/qos2/c', 'one', 2, 12));
    await first.waitPacket(ack('pubrec', 12), 'PUBREC 12');
    first.end();
    await waitFor(async () => (await node.status()).mqtt.clients === 1, 'the first connection gone');
    const next = await raw('q2-clean');
    next.send(publish('fleet/set/qos2/c', 'new', 2, 12));
    await next.waitPacket(ack('pubrec', 12), 'PUBREC 12 in the new session');
    expect(await node.get('qos2/c')).toBe('new');
  });

  it('QoS 1 is at-least-once (MQTT 3.1.1 §4.3.2): a DUP retransmit is a new publication and writes again', async () => {
    const c = await raw('q1-dup');
    c.send(publish('fleet/set/qos1/k', 'one', 1, 13));
    await c.waitPacket(ack('puback', 13), 'PUBACK 13');
    expect((await node.put('qos1/k', 'two')).status).toBe(200);
    c.send(publish('fleet/set/qos1/k', 'one', 1, 13, true));
    await waitFor(() => c.count(ack('puback', 13)) === 2, 'PUBACK 13 for the retransmit');
    expect(await node.get('qos1/k')).toBe('one');
    expect(await settle('qos1/k')).toBe(3);
  });

  it('mosquitto_pub -q 2 writes once and completes the handshake', async () => {
    const r = await mosquitto('mosquitto_pub', ['-p', String(port()), '-t', 'fleet/set/qos2/mosq', '-m', 'm', '-q', '2', '-d']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/received PUBCOMP/);
    expect(await node.get('qos2/mosq')).toBe('m');
    expect(await settle('qos2/mosq')).toBe(1);
  });
});
