import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AgvController, BlockingType, MasterController, Topic, VirtualAgvAdapter, type AgvId, type Factsheet, type State } from 'vda-5050-lib';
import { NodeProc, tempDir, waitFor } from '../helpers/proc.js';
import { mosquitto } from './mqtt-helpers.js';

const MIRROR = { FLEETKV_MQTT_MIRROR: 'uagv/#' };
const AGV: AgvId = { manufacturer: 'acme', serialNumber: 'agv1' };
const CONNECTION = 'uagv/v2/acme/agv1/connection';

/** Settle within `ms` whatever happens (a client stopping against a dead broker must not hang the test). */
function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([p.catch(() => undefined), new Promise<undefined>((r) => setTimeout(() => r(undefined), ms).unref())]);
}

/**
 * VDA 5050 on fleetkv alone (docs/vda5050.md), with vda-5050-lib's own
 * clients: a virtual AGV on robot B's broker, a master controller on robot
 * A's, nothing between them but the two fleetkv nodes mirroring `uagv/#`.
 */
describe('VDA 5050 across two fleetkv nodes (vda-5050-lib)', () => {
  const dir = tempDir();
  const nodes: NodeProc[] = [];
  let master: MasterController | undefined;
  let agv: AgvController | undefined;

  afterAll(async () => {
    await within(master?.stop() ?? Promise.resolve(), 3000);
    await within(agv?.stop() ?? Promise.resolve(), 3000);
    await Promise.all(nodes.map((n) => n.stop()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("A's master controller sees the AGV on B (connection, state, factsheet) and its order reaches the AGV; when B drops off the fleet, A shows CONNECTIONBROKEN", async () => {
    const a = await new NodeProc({ nodeId: 'a', dataDir: path.join(dir, 'a'), env: MIRROR }).start();
    nodes.push(a);
    const b = await new NodeProc({ nodeId: 'b', dataDir: path.join(dir, 'b'), env: { ...MIRROR, FLEETKV_PEERS: `127.0.0.1:${a.ports.peer}` } }).start();
    nodes.push(b);
    await waitFor(async () => (await a.status()).peers.some((p: { state: string }) => p.state === 'live'), 'A and B live');

    const opts = (n: NodeProc) => ({ interfaceName: 'uagv', transport: { brokerUrl: `mqtt://127.0.0.1:${n.ports.mqtt}`, reconnectPeriod: 200 }, vdaVersion: '2.0.0' as const });
    agv = new AgvController(AGV, opts(b), { agvAdapterType: VirtualAgvAdapter, publishStateInterval: 1000 }, {});
    await agv.start();

    master = new MasterController(opts(a), {});
    await master.start();
    const connections: string[] = [];
    master.trackAgvs((id, state) => {
      if (id.serialNumber === AGV.serialNumber) connections.push(state);
    });
    const states: State[] = [];
    await master.subscribe(Topic.State, AGV, (s) => void states.push(s as State));
    const factsheets: Factsheet[] = [];
    await master.subscribe(Topic.Factsheet, AGV, (f) => void factsheets.push(f as Factsheet));

    await waitFor(() => connections.includes('ONLINE'), "the AGV's connection ONLINE on A", 20_000);
    await waitFor(() => states.length > 0, "the AGV's state on A", 20_000);

    // The factsheet is published (retained) on request: the request crosses A → B live, the answer B → A retained.
    await master.initiateInstantActions(AGV, { instantActions: [{ actionId: master.createUuid(), actionType: 'factsheetRequest', blockingType: BlockingType.None }] }, { onActionStateChanged: () => {}, onActionError: () => {} });
    await waitFor(() => factsheets.length > 0, "the AGV's factsheet on A", 20_000);
    const retainedFactsheet = await mosquitto('mosquitto_sub', ['-p', String(a.ports.mqtt), '-t', 'uagv/v2/acme/agv1/factsheet', '-C', '1', '-W', '5']);
    expect(retainedFactsheet.stdout).toContain('"serialNumber":"agv1"');

    // An order from A's master reaches the AGV on B, which processes it (its state reports it back to A).
    const orderId = master.createUuid();
    let processed: { err: unknown } | undefined;
    await master.assignOrder(
      AGV,
      { orderId, orderUpdateId: 0, nodes: [{ nodeId: '0', sequenceId: 0, released: true, actions: [], nodePosition: { x: 0, y: 0, mapId: 'local' } }], edges: [] },
      { onOrderProcessed: (err) => void (processed = { err }) },
    );
    await waitFor(() => processed, 'the order processed by the AGV on B', 20_000);
    expect(processed!.err).toBeUndefined();
    expect(states.some((s) => s.orderId === orderId)).toBe(true);

    // The last-will trap: B goes away (kill -9); the AGV's connection to B's broker never broke
    // cleanly, its will never reaches A. A derives CONNECTIONBROKEN from presence.
    const live = await mosquitto('mosquitto_sub', ['-p', String(a.ports.mqtt), '-t', CONNECTION, '-C', '1', '-W', '5']);
    expect(JSON.parse(live.stdout).connectionState).toBe('ONLINE');
    await b.kill9();
    await waitFor(() => connections.at(-1) === 'CONNECTIONBROKEN', "the master's view of the AGV: CONNECTIONBROKEN", 20_000);
    const retained = await mosquitto('mosquitto_sub', ['-p', String(a.ports.mqtt), '-t', CONNECTION, '-C', '1', '-W', '5']);
    const msg = JSON.parse(retained.stdout) as { connectionState: string; serialNumber: string };
    expect(msg.connectionState).toBe('CONNECTIONBROKEN');
    expect(msg.serialNumber).toBe('agv1');
  }, 120_000);
});
