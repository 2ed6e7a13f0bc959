import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NodeProc, runCli, tempDir } from '../helpers/proc.js';
import { TestClient } from './mqtt-helpers.js';

/** ACLs hold on mirrored topics: a publish outside `write` is refused and not stored; subscriptions (and their retained messages) need `read`. */
describe('mirrored topics under MQTT users and ACLs', () => {
  const dir = tempDir();
  const users = path.join(dir, 'users.json');
  let node: NodeProc | undefined;
  const clients: TestClient[] = [];

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
    await node?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('an AGV user writes only its own topics; a dashboard reads only what its rules allow', async () => {
    for (const [user, extra] of [
      ['agv1', ['--write', 'uagv/v2/acme/%u/#', '--read', 'uagv/#', '--read', 'fleet/errors/#']],
      ['dash', ['--read', 'uagv/+/+/+/connection', '--read-only']],
    ] as const) {
      const r = await runCli(['passwd', user, '--file', users, ...extra], { input: 'pw\n' });
      expect(r.code, r.stderr).toBe(0);
    }
    node = await new NodeProc({ nodeId: 'acl', dataDir: path.join(dir, 'data'), env: { FLEETKV_MQTT_AUTH_ENABLED: 'true', FLEETKV_MQTT_USERS_FILE: users, FLEETKV_MQTT_MIRROR: 'uagv/#' } }).start();
    const url = `mqtt://127.0.0.1:${node.ports.mqtt}`;
    const agv = await TestClient.connect(url, { username: 'agv1', password: 'pw', clientId: 'agv1' });
    clients.push(agv);
    await agv.client.subscribeAsync('fleet/errors/agv1');
    await agv.client.publishAsync('uagv/v2/acme/agv1/connection', '{"connectionState":"ONLINE"}', { qos: 1, retain: true });
    await agv.client.publishAsync('uagv/v2/acme/agv2/connection', '{"connectionState":"ONLINE"}', { qos: 1, retain: true });
    const refusal = JSON.parse((await agv.waitMessage((m) => m.topic === 'fleet/errors/agv1', 'the refusal')).payload) as { code: string; topic: string };
    expect(refusal).toMatchObject({ code: 'TOPIC_FORBIDDEN', topic: 'uagv/v2/acme/agv2/connection' });

    const dash = await TestClient.connect(url, { username: 'dash', password: 'pw', clientId: 'dash' });
    clients.push(dash);
    const granted = await dash.client.subscribeAsync(['uagv/+/+/+/connection', 'uagv/#'], { qos: 0 }).catch((e: unknown) => e);
    expect(granted).toBeInstanceOf(Error); // one of the two is refused (SUBACK 0x80): mqtt.js rejects
    await dash.client.subscribeAsync('uagv/+/+/+/connection');
    const m = await dash.waitMessage((x) => x.topic.startsWith('uagv/'), 'the stored connection');
    expect(m.retain).toBe(true);
    // Only the allowed one was stored and served; nothing through the refused 'uagv/#'.
    expect([...new Set(dash.messages.map((x) => x.topic))]).toEqual(['uagv/v2/acme/agv1/connection']);
    expect(await node.get('_fleetkv/mirror/uagv/v2/acme/agv2/connection')).toBeUndefined();
    expect(await node.get('_fleetkv/mirror/uagv/v2/acme/agv1/connection')).toBe('{"connectionState":"ONLINE"}');
  }, 60_000);
});
