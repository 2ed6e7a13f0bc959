import type { NodeHost, WriteResult } from '../node-host.js';
import { mergeRobots, encodeField, parseRobotKey, robotKey, validateRobotId, ROBOT_PREFIX, type Issue, type Mission, type Pose, type RobotField, type RobotState, type RobotStatus } from './model.js';
import { onlineNodes } from './online.js';

export interface RobotNodeOptions {
  /** The robot this node speaks for (default: the node id). */
  id?: string;
}

/**
 * The robot face of a FleetNode (docs/robots.md): typed writes of this
 * robot's documents under `robots/<id>/…`, validated before they are written
 * (a malformed one is refused with ROBOT_DOC_INVALID and nothing is stored),
 * and typed reads of every robot the fleet knows.
 *
 *   const robot = new RobotNode(node);          // robot id = node id
 *   await robot.setPose({ x: 1, y: 2, yaw: 0, map: 'L1' });
 *   robot.robots();                             // every robot, merged
 *   robot.onRobot('r2', (s) => console.log(s.pose));
 */
export class RobotNode {
  readonly id: string;

  constructor(
    readonly node: NodeHost,
    opts: RobotNodeOptions = {},
  ) {
    this.id = validateRobotId(opts.id ?? node.nodeId);
  }

  setPose(pose: Pose): Promise<WriteResult> {
    return this.write('pose', pose);
  }

  setStatus(status: RobotStatus): Promise<WriteResult> {
    return this.write('status', status);
  }

  /** Charge as a fraction from 0 to 1 (Open-RMF's `battery`). */
  setBattery(battery: number): Promise<WriteResult> {
    return this.write('battery', battery);
  }

  /** The mission worked on, or null for none. */
  setMission(mission: Mission | null): Promise<WriteResult> {
    return this.write('mission', mission);
  }

  setIssues(issues: Issue[]): Promise<WriteResult> {
    return this.write('issues', issues);
  }

  /** Every robot this node holds documents of, merged, with `online` and `lastSeen`. */
  robots(): RobotState[] {
    return mergeRobots(this.node.store.list(ROBOT_PREFIX), onlineNodes(this.node));
  }

  robot(id: string): RobotState | undefined {
    validateRobotId(id);
    return mergeRobots(this.node.store.list(`${ROBOT_PREFIX}${id}/`), onlineNodes(this.node))[0];
  }

  /**
   * Call `cb` with the robot's merged state after each change of one of its
   * documents (local or replicated); a deleted robot is reported as undefined.
   * Returns an unsubscribe.
   */
  onRobot(id: string, cb: (state: RobotState | undefined) => void): () => void {
    validateRobotId(id);
    return this.node.watch(`${ROBOT_PREFIX}${id}/`, (e) => {
      if (parseRobotKey(e.key)) cb(this.robot(id));
    });
  }

  private write(field: RobotField, doc: unknown): Promise<WriteResult> {
    let value: Buffer;
    try {
      value = encodeField(field, doc);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.node.put(robotKey(this.id, field), value);
  }
}
