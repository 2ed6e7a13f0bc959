import fs from 'node:fs';
import path from 'node:path';
import { decodeEntry, parseStreamId } from '../entry/entry.js';
import { FleetError } from '../errors.js';
import { fsyncDir, snapshotPath } from '../log/files.js';
import { KIND } from '../log/record.js';
import { readSnapshotFile, type SnapshotMeta } from '../log/snapshot.js';
import type { FsyncPolicyName } from '../config/schema.js';
import { lockDataDir, readMeta, writeMeta } from '../log/datadir.js';
import { newIncarnation } from '../log/identity.js';
import { matchOwner } from './offline.js';

const LOCK_FILE = 'LOCK';
const ASIDE_PREFIX = 'pre-restore-';

export interface SnapshotSummary {
  meta: SnapshotMeta;
  entries: number;
  tombstones: number;
  bytes: number;
}

/** Read a whole snapshot file and check every record: CRCs, BEGIN first, END last with the right count, every entry well-formed. */
export function checkSnapshotFile(file: string, maxRecordBytes: number): SnapshotSummary {
  const bad = (why: string): FleetError => new FleetError('BAD_REQUEST', `${file} is not a usable fleetkv snapshot: ${why}`);
  let tombstones = 0;
  const read = readSnapshotFile(
    file,
    maxRecordBytes,
    (p, off) => {
      if (p[0] !== KIND.ENTRY) return;
      try {
        if (decodeEntry(Buffer.from(p)).isDelete) tombstones++;
      } catch (err) {
        throw bad(`${(err as Error).message} at offset ${off}`);
      }
    },
    bad,
  );
  return { meta: read.meta, entries: read.entries, tombstones, bytes: read.bytes };
}

export interface RestoreOptions {
  dataDir: string;
  nodeId: string;
  fsync: FsyncPolicyName;
  maxRecordBytes: number;
  /** Start at least at this incarnation (when peers know a newer one than the snapshot and node.json). */
  minIncarnation?: number;
}

export interface RestoreResult {
  summary: SnapshotSummary;
  incarnation: number;
  /** Where the data dir's previous files went, if it had any. */
  movedAside?: string;
}

/**
 * Restore a snapshot into a stopped node's data dir: the dir's files (log,
 * node.json, peers.json) move aside into `pre-restore-<time>/`, the snapshot becomes the
 * log's only file, and node.json gets a new incarnation. The restored node
 * must not number writes in its old stream: peers may hold entries of that
 * stream written after the backup, and would take new ones for duplicates.
 */
export function restoreSnapshot(file: string, opts: RestoreOptions): RestoreResult {
  const summary = checkSnapshotFile(file, opts.maxRecordBytes);
  const dir = opts.dataDir;
  fs.mkdirSync(dir, { recursive: true, mode: 0o750 });
  const unlock = lockDataDir(dir);
  try {
    const meta = readMeta(dir);
    if (meta && meta.nodeId !== opts.nodeId) {
      throw new FleetError('DATA_DIR_MISMATCH', `data dir ${dir} belongs to node "${meta.nodeId}", not "${opts.nodeId}"`);
    }
    let incarnation = Math.max(meta?.incarnation ?? 0, opts.minIncarnation ? opts.minIncarnation - 1 : 0);
    for (const stream of Object.keys(summary.meta.vector)) {
      const s = parseStreamId(stream);
      if (s.origin === opts.nodeId) incarnation = Math.max(incarnation, s.inc);
    }
    // The one rule (docs/adr/0002): above every incarnation this id used, and clock-based, so a
    // restore made twice from one backup, or on a machine whose node.json was lost, never repeats one.
    incarnation = newIncarnation(incarnation);

    // Everything the node keeps there goes aside: log files, node.json, and also
    // replication's peer book (peers.json). Without a record of its last sync
    // the restored node asks its peers for a full resync, so keys deleted in
    // the fleet since the backup (tombstones long collected) do not come back.
    const old = fs
      .readdirSync(dir)
      .filter((name) => name !== LOCK_FILE && !name.startsWith(ASIDE_PREFIX))
      .map((name) => path.join(dir, name));
    let movedAside: string | undefined;
    if (old.length > 0) {
      movedAside = path.join(dir, `${ASIDE_PREFIX}${new Date().toISOString().replace(/[:.]/g, '-')}`);
      fs.mkdirSync(movedAside, { mode: 0o750 });
      for (const f of old) fs.renameSync(f, path.join(movedAside, path.basename(f)));
    }
    // The snapshot covers no segment (first segment 1): the node appends to a new segment 1.
    const target = snapshotPath(dir, 1);
    fs.copyFileSync(file, `${target}.tmp`);
    const fd = fs.openSync(`${target}.tmp`, 'r+');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(`${target}.tmp`, target);
    writeMeta(dir, { format: 1, nodeId: opts.nodeId, incarnation, cleanShutdown: true, fsync: opts.fsync });
    fsyncDir(dir);
    matchOwner(dir);
    return { summary, incarnation, ...(movedAside ? { movedAside } : {}) };
  } finally {
    unlock();
  }
}
