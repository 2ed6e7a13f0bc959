/**
 * fleetkv as a library: `import { createFleetNode, loadConfig } from 'fleetkv'`.
 *
 *   const node = createFleetNode(loadConfig({ overrides: { nodeId: 'r1' } }));
 *   await node.start();
 *   await node.put('robots/r1/status', 'active');
 *   node.get('robots/r1/status')?.value.toString(); // 'active'
 *   await node.stop();
 */
import type { FleetConfig } from './config/schema.js';
import { FleetNode, type FleetNodeOptions } from './node.js';
import { defaultServices } from './services.js';

/**
 * A node with the services its config enables (replication, MQTT, uplink,
 * presence) and the HTTP API on http.host:http.port, as the daemon runs it. `new FleetNode(config)` is the core alone.
 */
export function createFleetNode(config?: FleetConfig, opts: FleetNodeOptions = {}): FleetNode {
  return new FleetNode(config, { services: defaultServices, ...opts });
}

export { defaultServices };
export { FleetNode, type FleetNodeOptions, type WriteResult, type ListOptions, type ApplyListener, type NodeService } from './node.js';
export type { NodeHost } from './node-host.js';
export type { NodeStatus, PeerStatus, ServiceStatus } from './node-status.js';
export { Entry } from './entry/entry.js';
export { loadConfig, type LoadOptions } from './config/load.js';
export type { FleetConfig } from './config/schema.js';
export { FleetError, isFleetError, type FleetErrorCode } from './errors.js';
export { RobotNode, type RobotNodeOptions } from './robots/robot-node.js';
export { ROBOT_FIELDS, ROBOT_STATUSES, type Pose, type RobotStatus, type Mission, type Issue, type RobotState, type RobotProblem } from './robots/model.js';
export { runDaemon, type Daemon } from './daemon.js';
export { VERSION } from './version.js';
