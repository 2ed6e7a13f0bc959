import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NodeProc, tempDir, waitFor } from '../helpers/proc.js';
import { metric } from '../replication/fleet.js';
import { TestClient, mosquitto } from './mqtt-helpers.js';

const MIRROR = { FLEETKV_MQTT_MIRROR: 'uagv/#,odd/#', FLEETKV_MAX_VALUE_BYTES: '4096' };

/** Two robots mirroring `uagv/#` and `odd/#`: retained messages stored fleet-wide, live ones forwarded once. */
describe('mirrored topics (mqtt.mirror) across two real nodes', () => {
  const dir = tempDir();
  const nodes: NodeProc[] = [];
  const clients: TestClient[] = [];
  const port = (n: NodeProc): string => String(n.ports.mqtt);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
    await Promise.all(nodes.map((n) => n.stop()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const startB = async (a: NodeProc): Promise<NodeProc> => new NodeProc({ nodeId: 'b', dataDir: path.join(dir, 'b'), env: { ...MIRROR, FLEETKV_PEERS: `127.0.0.1:${a.ports.peer}` } }).start();

  it('a retained publish on A is served as retained by B, after B restarts too, and an empty retained publish on B clears it fleet-wide', async () => {
    const a = await new NodeProc({ nodeId: 'a', dataDir: path.join(dir, 'a'), env: MIRROR }).start();
    nodes.push(a);
    let b = await startB(a);
    nodes.push(b);
    await waitFor(async () => (await a.status()).peers.some((p: { state: string }) => p.state === 'live'), 'A and B live');

    // QoS 1: mosquitto_pub exits 0 once PUBACK came, i.e. once the write is durable on A.
    const topic = 'uagv/v2/acme/agv1/factsheet';
    expect((await mosquitto('mosquitto_pub', ['-p', port(a), '-t', topic, '-m', '{"typeSpecification":{}}', '-r', '-q', '1'])).code).toBe(0);
    // Levels that keys refuse (empty ones) and the escape character itself.
    const odd = 'odd//50%/x%25/';
    expect((await mosquitto('mosquitto_pub', ['-p', port(a), '-t', odd, '-m', 'odd', '-r', '-q', '1'])).code).toBe(0);

    const seen = await waitFor(async () => {
      const r = await mosquitto('mosquitto_sub', ['-p', port(b), '-t', 'uagv/#', '-t', 'odd/#', '-v', '-W', '2'], 10_000);
      return r.stdout.includes(topic) && r.stdout.includes(odd) ? r.stdout : undefined;
    }, 'the retained messages on B');
    expect(seen).toContain(`${topic} {"typeSpecification":{}}`);
    expect(seen).toContain(`${odd} odd`);

    // Retained flag set, exact topic back.
    const sub = await TestClient.connect(`mqtt://127.0.0.1:${b.ports.mqtt}`, { clientId: 'sub-b' });
    clients.push(sub);
    await sub.client.subscribeAsync(['odd/#']);
    const m = await sub.waitMessage((x) => x.topic === odd, 'the odd topic, retained');
    expect(m.retain).toBe(true);
    await sub.end();
    clients.pop();

    // The store holds it under the reserved namespace; no ordinary writer can touch it.
    const put = await a.put('_fleetkv/mirror/uagv/v2/acme/agv1/factsheet', 'forged');
    expect(put.status).toBe(400);
    expect(((await put.json()) as { error: { code: string } }).error.code).toBe('KEY_INVALID');

    // B restarts: its broker serves the retained message from its store at once.
    await b.stop();
    nodes.pop();
    b = await startB(a);
    nodes.push(b);
    const after = await mosquitto('mosquitto_sub', ['-p', port(b), '-t', topic, '-C', '1', '-W', '5'], 10_000);
    expect(after.stdout).toBe('{"typeSpecification":{}}\n');

    // An empty retained publish on B clears it on A as well.
    expect((await mosquitto('mosquitto_pub', ['-p', port(b), '-t', topic, '-n', '-r', '-q', '1'])).code).toBe(0);
    await waitFor(async () => {
      const r = await mosquitto('mosquitto_sub', ['-p', port(a), '-t', 'uagv/#', '-v', '-W', '1'], 10_000);
      return !r.stdout.includes(topic);
    }, 'the cleared topic gone from A');
  }, 90_000);

  it('a live publish is delivered once on every broker, not stored, not looped; unmirrored topics stay local', async () => {
    const [a, b] = nodes as [NodeProc, NodeProc];
    await waitFor(async () => (await a.status()).peers.some((p: { state: string }) => p.state === 'live'), 'A and B live');
    const subs: TestClient[] = [];
    for (const n of [a, b]) {
      const s = await TestClient.connect(`mqtt://127.0.0.1:${n.ports.mqtt}`, { clientId: `live-${n.opts.nodeId}` });
      await s.client.subscribeAsync(['uagv/+/+/+/order', 'local/#'], { qos: 1 });
      subs.push(s);
    }
    clients.push(...subs);
    const pubA = await TestClient.connect(`mqtt://127.0.0.1:${a.ports.mqtt}`, { clientId: 'pub-a' });
    const pubB = await TestClient.connect(`mqtt://127.0.0.1:${b.ports.mqtt}`, { clientId: 'pub-b' });
    clients.push(pubA, pubB);
    // The peers learn from an ACK that the other side takes forwarded frames: wait for one message through.
    await waitFor(
      async () => {
        await pubA.client.publishAsync('uagv/v2/acme/agv1/order', 'probe', { qos: 1 });
        return subs[1]!.on('uagv/v2/acme/agv1/order').length > 0;
      },
      'a first forwarded message',
      15_000,
      200,
    );
    for (const s of subs) s.messages.length = 0;

    await pubA.client.publishAsync('uagv/v2/acme/agv1/order', 'o1', { qos: 1 });
    await pubA.client.publishAsync('local/x', 'stays', { qos: 1 });
    await pubB.client.publishAsync('uagv/v2/acme/agv2/order', 'o2', { qos: 0 });
    // A retained one as well: once on each broker (on A from the broker itself, not again from the store).
    await pubA.client.publishAsync('uagv/v2/acme/agv3/order', 'r1', { qos: 1, retain: true });
    await subs[1]!.waitMessage((m) => m.payload === 'r1', 'the retained order on B'); // before the clear: B publishes a key's latest value
    await pubA.client.publishAsync('uagv/v2/acme/agv3/order', '', { qos: 1, retain: true });
    // A sentinel from B after the others: anything looping or late would have come by then.
    await pubB.client.publishAsync('uagv/v2/acme/zz/order', 'end', { qos: 1 });
    for (const s of subs) await s.waitMessage((m) => m.payload === 'end', 'the sentinel');
    await pubA.client.publishAsync('uagv/v2/acme/zz/order', 'end2', { qos: 1 });
    for (const s of subs) await s.waitMessage((m) => m.payload === 'end2', 'the second sentinel');

    for (const s of subs) {
      expect(s.messages.filter((m) => m.payload === 'o1').length).toBe(1);
      expect(s.messages.filter((m) => m.payload === 'o2').length).toBe(1);
      expect(s.messages.filter((m) => m.payload === 'r1').length).toBe(1);
      expect(s.messages.every((m) => !m.retain)).toBe(true);
    }
    expect(subs[0]!.on('local/x').length).toBe(1);
    expect(subs[1]!.on('local/x').length).toBe(0);
    // Not stored: a new subscriber gets no retained order.
    const late = await mosquitto('mosquitto_sub', ['-p', port(b), '-t', 'uagv/+/+/+/order', '-v', '-W', '1'], 10_000);
    expect(late.stdout).toBe('');
  }, 60_000);

  it('refusals are reported on errors/<clientId> and nothing of them is stored or forwarded', async () => {
    const [a, b] = nodes as [NodeProc, NodeProc];
    const bad = await TestClient.connect(`mqtt://127.0.0.1:${a.ports.mqtt}`, { clientId: 'bad' });
    const watchB = await TestClient.connect(`mqtt://127.0.0.1:${b.ports.mqtt}`, { clientId: 'watch-b' });
    clients.push(bad, watchB);
    await bad.client.subscribeAsync('fleet/errors/bad');
    await watchB.client.subscribeAsync('uagv/#');
    const deep = `uagv/${Array(70).fill('x').join('/')}`;
    await bad.client.publishAsync(deep, 'deep', { qos: 1, retain: true });
    const e1 = JSON.parse((await bad.waitMessage((m) => m.payload.includes(deep.slice(0, 20)), 'the deep topic refusal')).payload) as { code: string };
    expect(e1.code).toBe('KEY_INVALID');
    await bad.client.publishAsync('uagv/v2/acme/agv1/state', Buffer.alloc(5000, 97), { qos: 1 });
    await bad.client.publishAsync('uagv/v2/acme/agv1/factsheet', Buffer.alloc(5000, 97), { qos: 1, retain: true });
    await waitFor(() => bad.messages.filter((m) => m.payload.includes('VALUE_TOO_LARGE')).length === 2, 'two VALUE_TOO_LARGE refusals');
    await bad.client.publishAsync('uagv/zz', 'end', { qos: 1 });
    await watchB.waitMessage((m) => m.topic === 'uagv/zz', 'the sentinel on B');
    expect(watchB.messages.map((m) => m.topic)).toEqual(['uagv/zz']);
  }, 60_000);

  it('a peer too slow to read (SIGSTOP) gets live publishes dropped and counted, not queued without bound; it is served again once it reads', async () => {
    const [a, b] = nodes as [NodeProc, NodeProc];
    const pub = await TestClient.connect(`mqtt://127.0.0.1:${a.ports.mqtt}`, { clientId: 'flood-a' });
    clients.push(pub);
    const before = await metric(a, 'fleetkv_replication_forward_dropped_total');
    process.kill(b.pid, 'SIGSTOP');
    try {
      // 4 KiB each, under limits.forwardRate (2000/s): only the peer's unsent bytes bound it.
      const payload = Buffer.alloc(4000, 98);
      for (let round = 0; round < 40 && (await metric(a, 'fleetkv_replication_forward_dropped_total')) === before; round++) {
        for (let i = 0; i < 200; i++) await pub.client.publishAsync('uagv/v2/acme/agv1/visualization', payload, { qos: 0 });
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(await metric(a, 'fleetkv_replication_forward_dropped_total')).toBeGreaterThan(before);
      // What A holds for B is bounded: its queue says so.
      const peer = ((await a.status()).peers as { nodeId: string; queue?: { bytes: number } }[]).find((p) => p.nodeId === 'b');
      expect(peer?.queue?.bytes ?? 0).toBeLessThan(4 * 1024 * 1024);
    } finally {
      process.kill(b.pid, 'SIGCONT');
    }
    const sub = await TestClient.connect(`mqtt://127.0.0.1:${b.ports.mqtt}`, { clientId: 'after-b' });
    clients.push(sub);
    await sub.client.subscribeAsync('uagv/after');
    await waitFor(
      async () => {
        await pub.client.publishAsync('uagv/after', 'again', { qos: 1 });
        return sub.on('uagv/after').length > 0;
      },
      'forwarding to B again after SIGCONT',
      20_000,
      300,
    );
  }, 90_000);

  it('a QoS 1 retained publish is acknowledged only once durable: acknowledged ones survive kill -9', async () => {
    const opts = { nodeId: 'c', dataDir: path.join(dir, 'c'), env: { ...MIRROR, FLEETKV_FSYNC: 'batch' } };
    let c = await new NodeProc(opts).start();
    nodes.push(c);
    const pub = await TestClient.connect(`mqtt://127.0.0.1:${c.ports.mqtt}`, { clientId: 'durable' });
    const acked: string[] = [];
    for (let i = 0; i < 50; i++) {
      await pub.client.publishAsync(`uagv/v2/acme/d${i}/connection`, `{"n":${i}}`, { qos: 1, retain: true });
      acked.push(`uagv/v2/acme/d${i}/connection`);
    }
    await c.kill9();
    await pub.end().catch(() => {});
    nodes.pop();
    c = await new NodeProc(opts).start();
    nodes.push(c);
    const r = await mosquitto('mosquitto_sub', ['-p', String(c.ports.mqtt), '-t', 'uagv/v2/acme/+/connection', '-v', '-W', '2'], 10_000);
    for (const t of acked) expect(r.stdout).toContain(`${t} {`);
  }, 60_000);
});
