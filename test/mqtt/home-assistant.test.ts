import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NodeProc, waitFor } from '../helpers/proc.js';
import { TestClient, mqttFixture } from './mqtt-helpers.js';

const HA = { FLEETKV_MQTT_HOME_ASSISTANT: 'true' };

/** Home Assistant discovery (mqtt.homeAssistant.enabled): one device per robot, availability from presence. */
describe('Home Assistant MQTT discovery', () => {
  const { dir, nodes, clients } = mqttFixture();

  it("announces each robot's status and battery sensors retained, again when Home Assistant says online, and marks a robot offline when its node leaves", async () => {
    const a = await new NodeProc({ nodeId: 'a', dataDir: path.join(dir, 'a'), env: HA }).start();
    nodes.push(a);
    const b = await new NodeProc({ nodeId: 'b', dataDir: path.join(dir, 'b'), env: { ...HA, FLEETKV_PEERS: `127.0.0.1:${a.ports.peer}` } }).start();
    nodes.push(b);
    expect((await b.put('robots/r2/status', '"idle"')).status).toBe(200);
    expect((await b.put('robots/r2/battery', '0.5')).status).toBe(200);
    await waitFor(async () => (await a.get('robots/r2/battery')) === '0.5', 'the robot on A');

    const ha = await TestClient.connect(`mqtt://127.0.0.1:${a.ports.mqtt}`, { clientId: 'home-assistant' });
    clients.push(ha);
    const statusCfg = 'homeassistant/sensor/fleetkv_r2/status/config';
    const batteryCfg = 'homeassistant/sensor/fleetkv_r2/battery/config';
    const avail = 'homeassistant/fleetkv/r2/availability';
    await waitFor(
      async () => {
        ha.messages.length = 0;
        await ha.client.unsubscribeAsync('homeassistant/#');
        await ha.client.subscribeAsync('homeassistant/#');
        return ha.on(statusCfg).length > 0 && ha.on(batteryCfg).length > 0 && ha.on(avail).length > 0 ? true : undefined;
      },
      'the retained discovery configs',
      15_000,
      300,
    );
    const status = JSON.parse(ha.on(statusCfg)[0]!.payload) as Record<string, any>;
    const battery = JSON.parse(ha.on(batteryCfg)[0]!.payload) as Record<string, any>;
    expect(ha.on(statusCfg)[0]!.retain).toBe(true);
    expect(status.state_topic).toBe('fleet/state/robots/r2/status');
    expect(battery.state_topic).toBe('fleet/state/robots/r2/battery');
    expect(battery.device_class).toBe('battery');
    expect(status.device.identifiers).toEqual(['fleetkv_r2']);
    expect(battery.device.identifiers).toEqual(['fleetkv_r2']);
    expect(status.availability_topic).toBe(avail);
    expect(ha.on(avail).at(-1)!.payload).toBe('online');

    // Home Assistant restarted: its birth message brings every config again.
    const before = ha.on(statusCfg).length;
    await ha.client.publishAsync('homeassistant/status', 'online', { qos: 1 });
    await waitFor(() => ha.on(statusCfg).length > before && ha.on(batteryCfg).length > 1, 'the configs again');

    // B, the robot's node, drops off: A's broker says the robot is offline.
    await b.kill9();
    await waitFor(() => ha.on(avail).at(-1)?.payload === 'offline', 'availability offline', 20_000);
  }, 90_000);
});
