import net from 'node:net';
import path from 'node:path';
import mqttPacket from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeProc, tempDir, waitFor } from '../helpers/proc.js';
import { closedByPeer, metricValue } from '../helpers/slow-consumers.js';
import { publish, RawClient } from '../mqtt/raw-client.js';

/**
 * Issue 9 item 3: what clients send is bounded. Retained bytes outside the
 * prefix (RETAINED_LIMIT on errors/<clientId>), half-sent MQTT packets (time
 * and total bytes), idle HTTP connections, the number of HTTP connections,
 * and the size of a listing (LIMIT_TOO_LARGE). Small limits keep it quick.
 */
describe('bounded inputs', () => {
  let node: NodeProc;
  const sockets: net.Socket[] = [];
  beforeAll(async () => {
    const dir = tempDir('fleetkv-bounded-');
    node = await new NodeProc({
      nodeId: 'n1',
      dataDir: path.join(dir, 'n1'),
      env: {
        FLEETKV_MQTT_RETAINED_BYTES: '100000',
        FLEETKV_MQTT_PARTIAL_TIMEOUT: '1s',
        FLEETKV_MQTT_PARTIAL_BYTES: '2MB',
        FLEETKV_HTTP_KEEP_ALIVE_TIMEOUT: '500ms',
        FLEETKV_HTTP_HEADERS_TIMEOUT: '1s',
        FLEETKV_HTTP_MAX_CONNECTIONS: '20',
        FLEETKV_LIST_MAX: '100',
      },
    }).start();
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await node.stop();
  });

  const metrics = async (): Promise<string> => (await node.fetch('/metrics')).text();

  it('refuses a retained message outside fleet/ past limits.mqttRetainedBytes with RETAINED_LIMIT on errors/<clientId>; clearing one frees room', async () => {
    const { client } = await RawClient.connect(node.ports.mqtt!, { clientId: 'junker' });
    client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'fleet/errors/junker', qos: 0 }] });
    await client.waitPacket((p) => p.cmd === 'suback', 'SUBACK');
    const big = 'x'.repeat(30_000);
    const retained = (topic: string, payload: string, id: number): void => client.send({ ...publish(topic, payload, 1, id), retain: true } as mqttPacket.Packet);
    for (let i = 1; i <= 4; i++) retained(`junk/${i}`, big, 10 + i);
    await client.waitPacket((p) => p.cmd === 'puback' && (p as { messageId?: number }).messageId === 14, 'PUBACK 14');
    const report = await client.waitPacket((p) => p.cmd === 'publish' && p.topic === 'fleet/errors/junker', 'the error report');
    expect(JSON.parse((report as mqttPacket.IPublishPacket).payload.toString())).toMatchObject({ code: 'RETAINED_LIMIT', topic: 'junk/4', clientId: 'junker' });
    expect(client.closed).toBe(false);
    // A late subscriber gets the three that were kept, not the fourth.
    const { client: late } = await RawClient.connect(node.ports.mqtt!, { clientId: 'late' });
    late.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'junk/#', qos: 0 }] });
    await waitFor(() => late.count((p) => p.cmd === 'publish') >= 3, 'three retained messages');
    expect(
      late.received
        .filter((p) => p.cmd === 'publish')
        .map((p) => (p as mqttPacket.IPublishPacket).topic)
        .sort(),
    ).toEqual(['junk/1', 'junk/2', 'junk/3']);
    // An empty payload clears a topic and frees its bytes.
    retained('junk/1', '', 20);
    retained('junk/4', big, 21);
    await client.waitPacket((p) => p.cmd === 'puback' && (p as { messageId?: number }).messageId === 21, 'PUBACK 21');
    expect(client.count((p) => p.cmd === 'publish' && p.topic === 'fleet/errors/junker')).toBe(1);
    expect(metricValue(await metrics(), 'fleetkv_mqtt_refused_total', { code: 'RETAINED_LIMIT' })).toBe(1);
    client.end();
    late.end();
  });

  it('disconnects a client that leaves a 1 MB PUBLISH half-sent (keepalive 0) after limits.mqttPartialTimeout', async () => {
    const { client } = await RawClient.connect(node.ports.mqtt!, { clientId: 'halfsent' });
    const packet = mqttPacket.generate(publish('fleet/set/big', 'y'.repeat(1_000_000), 0) as mqttPacket.Packet);
    client.sendBytes(packet.subarray(0, 500_000));
    await client.waitClosed('the half-sent client to be disconnected', 15_000);
    await waitFor(() => node.logsMatching(/disconnected client halfsent: it left a packet half-sent/).length === 1, 'the disconnection log line');
    expect(metricValue(await metrics(), 'fleetkv_mqtt_clients_dropped_total', { reason: 'partial_timeout' })).toBe(1);
  });

  it('disconnects the client whose half-sent packet would take all held partial bytes past limits.mqttPartialBytes', async () => {
    const packet = mqttPacket.generate(publish('fleet/set/big', 'y'.repeat(1_000_000), 0) as mqttPacket.Packet);
    const clients: RawClient[] = [];
    for (const id of ['p1', 'p2', 'p3']) {
      const { client } = await RawClient.connect(node.ports.mqtt!, { clientId: id });
      client.sendBytes(packet.subarray(0, 900_000));
      clients.push(client);
    }
    await waitFor(() => node.logsMatching(/disconnected client p\d: its half-sent packet would take/).length > 0, 'a partial_bytes disconnection', 10_000);
    expect(metricValue(await metrics(), 'fleetkv_mqtt_clients_dropped_total', { reason: 'partial_bytes' })).toBeGreaterThanOrEqual(1);
    for (const c of clients) c.end();
  });

  it('closes an idle keep-alive HTTP connection after limits.httpKeepAliveTimeout, and one that sends no request after limits.httpHeadersTimeout', async () => {
    const s = net.connect(node.ports.http!, '127.0.0.1');
    s.on('error', () => {});
    sockets.push(s);
    let answer = '';
    s.on('data', (d: Buffer) => (answer += d.toString()));
    await new Promise((r) => s.once('connect', r));
    s.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
    await waitFor(() => answer.includes('"ok":true'), 'the /healthz answer');
    await closedByPeer(s);
    const silent = net.connect(node.ports.http!, '127.0.0.1');
    silent.on('error', () => {});
    sockets.push(silent);
    await closedByPeer(silent);
  });

  it('caps HTTP connections at limits.httpMaxConnections', async () => {
    const open: net.Socket[] = [];
    for (let i = 0; i < 25; i++) {
      const s = net.connect(node.ports.http!, '127.0.0.1');
      s.on('error', () => {});
      s.on('close', () => ((s as { closedAt?: number }).closedAt = Date.now()));
      open.push(s);
      sockets.push(s);
    }
    await Promise.all(open.map((s) => new Promise((r) => (s.connecting ? s.once('connect', r) : r(null)))));
    await waitFor(() => open.filter((s) => s.destroyed).length >= 5, 'five connections over the cap to be closed');
    expect(open.filter((s) => s.destroyed).length).toBeLessThanOrEqual(5 + 1); // the test's own keep-alive connection may hold one slot
    for (const s of open) s.destroy();
    await waitFor(async () => (await node.fetch('/healthz')).status === 200, '/healthz once the idle connections are gone');
  });

  it('refuses GET /v1/kv?limit= over limits.listMax with 400 LIMIT_TOO_LARGE, and pages within it', async () => {
    for (let i = 0; i < 150; i++) expect((await node.put(`list/k${String(i).padStart(3, '0')}`, `v${i}`)).status).toBe(200);
    const r = await node.fetch('/v1/kv?prefix=list/&limit=2000000');
    expect(r.status).toBe(400);
    expect(await r.json()).toMatchObject({ error: { code: 'LIMIT_TOO_LARGE' } });
    const page1 = (await (await node.fetch('/v1/kv?prefix=list/&limit=100')).json()) as { count: number; next: string; entries: { key: string }[] };
    expect(page1.count).toBe(100);
    expect(page1.next).toBe('list/k099');
    const page2 = (await (await node.fetch(`/v1/kv?prefix=list/&limit=100&after=${page1.next}`)).json()) as { count: number; next?: string; entries: { key: string }[] };
    expect(page2.count).toBe(50);
    expect(page2.next).toBeUndefined();
    expect([...page1.entries, ...page2.entries].map((e) => e.key)).toEqual(Array.from({ length: 150 }, (_, i) => `list/k${String(i).padStart(3, '0')}`));
    const dflt = (await (await node.fetch('/v1/kv?prefix=list/')).json()) as { count: number };
    expect(dflt.count).toBe(100);
  });
});
