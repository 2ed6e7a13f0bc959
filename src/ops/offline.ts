import fs from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import type { FleetConfig } from '../config/schema.js';
import { FleetError } from '../errors.js';
import { FleetNode } from '../node.js';

/**
 * Open a stopped node's data dir exactly as the node would (lock, recovery,
 * incarnation rules) but without peers, MQTT or HTTP, run `fn`, and close it
 * cleanly. A running node holds the lock: DATA_DIR_LOCKED.
 */
export async function withOfflineNode<T>(config: FleetConfig, fn: (node: FleetNode) => Promise<T>): Promise<T> {
  if (!fs.existsSync(config.dataDir)) throw new FleetError('NOT_FOUND', `data dir ${config.dataDir} does not exist`);
  const logger = pino({ level: 'warn', base: { node: config.nodeId } }, pino.destination(2));
  const node = new FleetNode(config, { services: () => [], logger });
  await node.start();
  try {
    return await fn(node);
  } finally {
    await node.stop();
    matchOwner(config.dataDir);
  }
}

/**
 * Run as root on a service's data dir, an offline command leaves files owned
 * by root that the service user cannot read: give every file the dir's owner.
 */
export function matchOwner(dir: string): void {
  if (process.getuid?.() !== 0) return;
  const { uid, gid } = fs.statSync(dir);
  if (uid === 0 && gid === 0) return;
  const walk = (d: string): void => {
    for (const name of fs.readdirSync(d)) {
      const p = path.join(d, name);
      const st = fs.lstatSync(p);
      if (st.uid !== uid || st.gid !== gid) fs.lchownSync(p, uid, gid);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
}
