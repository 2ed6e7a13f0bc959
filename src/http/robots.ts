import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RecentConflicts } from '../conflicts.js';
import { FleetError } from '../errors.js';
import type { NodeHost } from '../node-host.js';
import { mergeRobots, ROBOT_PREFIX, validateRobotId } from '../robots/model.js';
import { knownNodes } from '../robots/nodes.js';
import { onlineNodes } from '../robots/online.js';
import { fleetPresence } from '../robots/presence.js';
import { sendJson } from './respond.js';

function onlyGet(req: IncomingMessage, what: string): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    throw new FleetError('BAD_REQUEST', `method ${req.method} is not allowed on ${what} (write robots/<id>/<field> keys, docs/robots.md)`);
  }
}

/** `GET /v1/robots` (every robot, merged) and `GET /v1/robots/<id>` (docs/robots.md). */
export function handleRobots(node: NodeHost, req: IncomingMessage, res: ServerResponse, path: string): void {
  onlyGet(req, '/v1/robots');
  if (path === '/v1/robots' || path === '/v1/robots/') {
    const robots = mergeRobots(node.store.list(ROBOT_PREFIX), onlineNodes(node));
    return sendJson(res, 200, { count: robots.length, robots });
  }
  let id: string;
  try {
    id = decodeURIComponent(path.slice('/v1/robots/'.length));
  } catch {
    throw new FleetError('KEY_INVALID', 'robot id is not valid percent-encoded UTF-8');
  }
  validateRobotId(id);
  const robot = mergeRobots(node.store.list(`${ROBOT_PREFIX}${id}/`), onlineNodes(node))[0];
  if (!robot) throw new FleetError('NOT_FOUND', `no robot "${id}" (no robots/${id}/<field> key on this node)`);
  sendJson(res, 200, robot);
}

/** `GET /v1/nodes`: every node of the fleet with its presence (docs/http-api.md, robots/presence.ts). */
export function handleNodes(node: NodeHost, req: IncomingMessage, res: ServerResponse): void {
  onlyGet(req, '/v1/nodes');
  const nodes = fleetPresence(node);
  sendJson(res, 200, { nodeId: node.nodeId, presenceTimeoutMs: node.config.presence.timeout, count: nodes.length, nodes });
}

/** `GET /v1/fleet`: what the fleet page shows, in one document: robots, nodes, recent conflicts. */
export function handleFleet(node: NodeHost, conflicts: RecentConflicts, req: IncomingMessage, res: ServerResponse): void {
  onlyGet(req, '/v1/fleet');
  const online = onlineNodes(node);
  const robots = mergeRobots(node.store.list(ROBOT_PREFIX), online);
  sendJson(res, 200, {
    nodeId: node.nodeId,
    fleetId: node.config.fleetId,
    at: new Date().toISOString(),
    robots,
    nodes: knownNodes(
      node,
      online,
      robots.map((r) => r.node),
    ),
    conflicts: conflicts.list(),
  });
}
