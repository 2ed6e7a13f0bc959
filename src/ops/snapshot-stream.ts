import type { IncomingMessage, ServerResponse } from 'node:http';
import { FleetError } from '../errors.js';
import { allowMethods } from '../http/checks.js';
import { type SnapshotMeta, snapshotMeta, snapshotRecords } from '../log/snapshot.js';
import type { NodeHost } from '../node-host.js';
import { drainOrClose } from '../util/drain.js';

/** The snapshot header of a node's current state (what compaction writes too). */
export function nodeSnapshotMeta(node: NodeHost): SnapshotMeta {
  // Durable only: a snapshot never claims an entry whose record may not survive (docs/adr/0104).
  return snapshotMeta(node.nodeId, node.store.durable.toObject(), node.clock);
}

/**
 * A node's state as a snapshot file (the log's own format, log/snapshot.ts
 * snapshotRecords), in chunks of about 1 MiB. The vector is taken first;
 * entries written meanwhile appear in their newer form, so the file holds at
 * least the state the vector claims (replaying more is harmless under LWW).
 */
export function snapshotChunks(node: NodeHost): AsyncGenerator<Buffer> {
  return snapshotRecords(nodeSnapshotMeta(node), node.store.all());
}

/** GET /v1/admin/snapshot: stream a snapshot of the running node (backups: `fleetkv snapshot --out FILE`). */
export function snapshotRoute(node: NodeHost) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    allowMethods(req, res, ['GET']);
    if (node.state !== 'running') throw new FleetError('NODE_NOT_READY', `node is ${node.state}`);
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-disposition': `attachment; filename="fleetkv-${node.nodeId}-${new Date().toISOString().replace(/[:.]/g, '-')}.snap"`,
    });
    for await (const chunk of snapshotChunks(node)) {
      if (res.destroyed) return;
      if (!res.write(chunk)) await drainOrClose(res);
    }
    res.end();
  };
}
