import fs from 'node:fs';
import path from 'node:path';
import { FleetError } from '../errors.js';
import { renameDurably } from './files.js';
import type { FsyncPolicyName } from '../config/schema.js';
import { processInfo } from '../util/process-info.js';

/** node.json: who owns this data dir, its incarnation, and whether it stopped cleanly. */
export interface NodeMeta {
  format: 1;
  nodeId: string;
  incarnation: number;
  cleanShutdown: boolean;
  /** The fsync policy of the last run: decides whether an unclean stop may have lost acknowledged-to-peers entries. */
  fsync: FsyncPolicyName;
}

export const META_FILE = 'node.json';
const LOCK_FILE = 'LOCK';

function bootId(): string {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

/**
 * Take the data dir's lock file, which names its owner: pid, boot id and the
 * process's start time. A lock is taken over when its owner is gone: dead, a
 * zombie (killed, not yet reaped by its parent: a restart right after kill -9),
 * another process that got the pid since (its start time differs), or from a
 * previous boot.
 */
export function lockDataDir(dir: string): () => void {
  const file = path.join(dir, LOCK_FILE);
  const me = `${process.pid} ${bootId()} ${processInfo(process.pid).startTime ?? '-'}\n`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, me, { flag: 'wx', mode: 0o640 });
      return () => {
        try {
          if (fs.readFileSync(file, 'utf8') === me) fs.rmSync(file);
        } catch {
          /* already gone */
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const [pidText, boot, started] = fs.readFileSync(file, 'utf8').trim().split(' ');
      const pid = Number(pidText);
      if (boot === bootId() && pid !== process.pid && ownsLock(pid, started)) {
        throw new FleetError('DATA_DIR_LOCKED', `data dir ${dir} is in use by process ${pid}`);
      }
      fs.rmSync(file, { force: true });
    }
  }
  throw new FleetError('DATA_DIR_LOCKED', `could not lock data dir ${dir}`);
}

/** Whether the process that wrote a lock still runs (a lock without a start time: any running process with its pid). */
function ownsLock(pid: number, startTime: string | undefined): boolean {
  const p = processInfo(pid);
  if (!p.running) return false;
  return startTime === undefined || startTime === '-' || p.startTime === undefined || p.startTime === startTime;
}

export function readMeta(dir: string): NodeMeta | undefined {
  const file = path.join(dir, META_FILE);
  if (!fs.existsSync(file)) return undefined;
  let meta: NodeMeta;
  try {
    meta = JSON.parse(fs.readFileSync(file, 'utf8')) as NodeMeta;
  } catch (err) {
    throw new FleetError('LOG_CORRUPT', `${file} is not valid JSON: ${(err as Error).message}`);
  }
  if (meta.format !== 1) {
    throw new FleetError('DATA_DIR_MISMATCH', `${file} has format ${String(meta.format)}; this fleetkv reads format 1 (see docs/operating.md, "Upgrades")`);
  }
  return meta;
}

/** Write node.json durably (temp file, fsync, rename, fsync dir). */
export function writeMeta(dir: string, meta: NodeMeta): void {
  const file = path.join(dir, META_FILE);
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, 'w', 0o640);
  try {
    fs.writeSync(fd, `${JSON.stringify(meta, null, 2)}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  renameDurably(tmp, file);
}
