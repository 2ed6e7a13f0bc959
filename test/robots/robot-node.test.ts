import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { RobotNode, type RobotState } from '../../src/index.js';
import type { FleetNode } from '../../src/node.js';
import { dump, startCoreNode } from '../helpers/node.js';
import { tempDir, waitFor } from '../helpers/proc.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});
async function node(): Promise<FleetNode> {
  const d = tempDir('fleetkv-robot-');
  cleanup.push(() => fs.rmSync(d, { recursive: true, force: true }));
  const n = await startCoreNode(d, (c) => (c.nodeId = 'r1'));
  cleanup.push(() => n.stop());
  return n;
}

describe('RobotNode (library face of the robot model)', () => {
  it('writes typed documents under robots/<id>/ and reads every robot merged', async () => {
    const n = await node();
    const robot = new RobotNode(n);
    expect(robot.id).toBe('r1');
    await robot.setPose({ x: 1.5, y: -2, yaw: 3.1, map: 'L1' });
    await robot.setStatus('working');
    await robot.setBattery(0.42);
    await robot.setMission({ id: 'm-7', goal: 'dock' });
    await robot.setIssues([{ category: 'bumper', detail: { front: true } }]);
    // Another robot's documents, as replication would bring them.
    await new RobotNode(n, { id: 'r2' }).setStatus('idle');
    expect(JSON.parse(n.get('robots/r1/pose')!.value.toString())).toEqual({ x: 1.5, y: -2, yaw: 3.1, map: 'L1' });
    const all = robot.robots();
    expect(all.map((r) => r.id)).toEqual(['r1', 'r2']);
    expect(all[0]).toMatchObject({
      id: 'r1',
      pose: { x: 1.5, y: -2, yaw: 3.1, map: 'L1' },
      status: 'working',
      battery: 0.42,
      mission: { id: 'm-7', goal: 'dock' },
      issues: [{ category: 'bumper', detail: { front: true } }],
      node: 'r1',
      online: true,
      problems: [],
    });
    expect(Date.parse(all[0]!.lastSeen)).toBeGreaterThan(Date.now() - 60_000);
    expect(robot.robot('r2')).toMatchObject({ id: 'r2', status: 'idle', pose: null, battery: null });
    expect(robot.robot('nobody')).toBeUndefined();
    await robot.setMission(null);
    expect(robot.robot('r1')!.mission).toBeNull();
  });

  it.each([
    ['setPose', { x: 1, y: 2 }],
    ['setPose', { x: Number.NaN, y: 0, yaw: 0, map: 'L1' }],
    ['setStatus', 'dancing'],
    ['setBattery', 42],
    ['setMission', { name: 'no id' }],
    ['setIssues', [{}]],
  ] as const)('%s(%j) is refused with ROBOT_DOC_INVALID and writes nothing', async (method, doc) => {
    const n = await node();
    const robot = new RobotNode(n);
    await robot.setStatus('idle');
    const before = { state: dump(n), vector: n.store.vector.toObject() };
    await expect((robot[method] as (d: unknown) => Promise<unknown>)(doc)).rejects.toMatchObject({ code: 'ROBOT_DOC_INVALID' });
    expect({ state: dump(n), vector: n.store.vector.toObject() }).toEqual(before);
    await robot.setBattery(0.9); // and the node keeps going
    expect(robot.robot('r1')!.battery).toBe(0.9);
  });

  it('refuses a robot id that is not one key level', async () => {
    const n = await node();
    expect(() => new RobotNode(n, { id: 'a/b' })).toThrow(expect.objectContaining({ code: 'KEY_INVALID' }));
  });

  it('onRobot calls back with the merged state on each change of that robot only', async () => {
    const n = await node();
    const robot = new RobotNode(n);
    const seen: (RobotState | undefined)[] = [];
    const off = robot.onRobot('r1', (s) => seen.push(s));
    await robot.setStatus('moving');
    await robot.setPose({ x: 0, y: 0, yaw: 0, map: 'L1' });
    await new RobotNode(n, { id: 'r2' }).setStatus('idle');
    await n.put('robots/r1/notes', 'not a robot field');
    await waitFor(() => seen.length >= 2, 'two callbacks');
    expect(seen.map((s) => [s?.status, s?.pose?.map ?? null])).toEqual([
      ['moving', null],
      ['moving', 'L1'],
    ]);
    off();
    await robot.setStatus('idle');
    expect(seen).toHaveLength(2);
  });
});
