import type { IncomingMessage, ServerResponse } from 'node:http';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { FleetError } from '../errors.js';
import { allowMethods } from '../http/checks.js';
import { KIND, RECORD_HEADER_BYTES, jsonPayload, writeRecord } from '../log/record.js';
import type { SnapshotMeta } from '../log/snapshot.js';
import type { FleetNode } from '../node.js';

const CHUNK_BYTES = 1 << 20;

/** The snapshot header of a node's current state (what compaction writes too). */
export function snapshotMeta(node: FleetNode): SnapshotMeta {
  return {
    format: 1,
    nodeId: node.nodeId,
    vector: node.store.durable.toObject(),
    hlc: { wall: node.clock.wall, logical: node.clock.logical },
    createdAt: new Date().toISOString(),
  };
}

/**
 * A node's state as a snapshot file (the log's own format: BEGIN meta, every
 * entry incl. tombstones, END count), in chunks of about 1 MiB. The vector is
 * taken first; entries written meanwhile appear in their newer form, so the
 * file holds at least the state the vector claims (replaying more is
 * harmless under LWW). Yields to the event loop between chunks.
 */
export async function* snapshotChunks(node: FleetNode): AsyncGenerator<Buffer> {
  const meta = snapshotMeta(node);
  let buf = Buffer.allocUnsafe(CHUNK_BYTES);
  let len = 0;
  let count = 0;
  const full = (need: number): boolean => len + RECORD_HEADER_BYTES + need > buf.length;
  const put = (payload: Uint8Array): void => {
    if (RECORD_HEADER_BYTES + payload.length > buf.length) buf = Buffer.allocUnsafe(RECORD_HEADER_BYTES + payload.length);
    len = writeRecord(buf, len, payload);
  };
  const take = (): Buffer => {
    const out = buf.subarray(0, len);
    buf = Buffer.allocUnsafe(CHUNK_BYTES);
    len = 0;
    return out;
  };
  put(jsonPayload(KIND.SNAPSHOT_BEGIN, meta));
  for (const e of node.store.all()) {
    if (full(e.raw.length)) {
      yield take();
      await yieldToLoop();
    }
    put(e.raw);
    count++;
  }
  const end = Buffer.alloc(5);
  end[0] = KIND.SNAPSHOT_END;
  end.writeUInt32BE(count >>> 0, 1);
  if (full(end.length)) yield take();
  put(end);
  yield take();
}

/** Wait for 'drain' or 'close', and remove the other listener (one per chunk would pile up). */
function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** GET /v1/admin/snapshot: stream a snapshot of the running node (backups: `fleetkv snapshot --out FILE`). */
export function snapshotRoute(node: FleetNode) {
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
