import type http from 'node:http';
import type { NodeHost } from '../node-host.js';
import { snapshotRoute } from '../ops/snapshot-stream.js';
import { allowMethods } from './checks.js';
import { sendJson } from './respond.js';

export type Route = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => Promise<void> | void;

/**
 * Every admin route of the HTTP API, in one place (docs/http-api.md, "Admin"):
 * they need an admin token when tokens are on (http/server.ts).
 */
export function adminRoutes(node: NodeHost): Map<string, Route> {
  return new Map<string, Route>([
    [
      '/v1/admin/compact',
      async (req, res) => {
        allowMethods(req, res, ['POST']);
        await node.compact();
        sendJson(res, 200, { ok: true, lastCompaction: node.lastCompaction });
      },
    ],
    // A backup of the running node (fleetkv snapshot --out FILE).
    ['/v1/admin/snapshot', snapshotRoute(node)],
  ]);
}
