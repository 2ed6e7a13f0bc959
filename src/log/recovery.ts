import fs from 'node:fs';
import { FleetError } from '../errors.js';
import { listLogDir, segmentPath, snapshotPath } from './files.js';
import { KIND, findValidRecordAfter } from './record.js';
import { scanFile } from './scan-file.js';
import { readSnapshotFile } from './snapshot.js';

export interface RecoveryResult {
  /** Index of the segment to append to (created if missing). */
  activeSegment: number;
  /** Valid length of the active segment (a torn tail is cut off here). */
  activeSize: number;
  /** First segment not covered by the snapshot (1 when there is none). */
  snapshotCovers: number;
  segments: number[];
  records: number;
  /** Set when a torn tail was found and cut. */
  tornTail?: { file: string; offset: number; bytes: number; reason: string };
}

export const REPAIR_HINT = 'fleetkv repair --data-dir <dir> (moves the damaged tail aside; peers refill what it held)';

/**
 * Replay a log directory: the newest snapshot, then every segment it does not
 * cover, calling `onPayload` with each record's payload (a view: copy to keep).
 *
 * A bad record at the end of the newest segment, with no valid record after
 * it, is a torn write: it is cut off and reported. Any other bad record is
 * corruption and stops recovery with the file and offset (LOG_CORRUPT).
 */
export function recoverLog(dir: string, maxRecordBytes: number, onPayload: (payload: Buffer) => void, opts: { truncate?: boolean } = {}): RecoveryResult {
  const { segments, snapshots } = listLogDir(dir);
  let records = 0;
  let snapshotCovers = 1;
  const newestSnap = snapshots.at(-1);
  if (newestSnap !== undefined) {
    records += readSnapshot(snapshotPath(dir, newestSnap), maxRecordBytes, onPayload);
    snapshotCovers = newestSnap;
  }
  const live = segments.filter((s) => s >= snapshotCovers);
  for (let i = 1; i < live.length; i++) {
    if (live[i] !== live[i - 1]! + 1) {
      throw new FleetError('LOG_CORRUPT', `segment ${segmentPath(dir, live[i - 1]! + 1)} is missing between ${live[i - 1]} and ${live[i]}; repair: ${REPAIR_HINT}`);
    }
  }
  if (live.length > 0 && newestSnap !== undefined && live[0] !== snapshotCovers) {
    throw new FleetError('LOG_CORRUPT', `segment ${segmentPath(dir, snapshotCovers)} after the snapshot is missing`);
  }

  const result: RecoveryResult = {
    activeSegment: live.at(-1) ?? snapshotCovers,
    activeSize: 0,
    snapshotCovers,
    segments: live,
    records: 0,
  };
  for (let i = 0; i < live.length; i++) {
    const file = segmentPath(dir, live[i]!);
    const scan = scanFile(file, maxRecordBytes, (p) => {
      onPayload(p);
      records++;
    });
    const newest = i === live.length - 1;
    if (!scan.ok) {
      // The error path only: read the whole file to tell a torn tail from corruption.
      const buf = fs.readFileSync(file);
      const after = newest ? findValidRecordAfter(buf, scan.end, maxRecordBytes) : 0;
      if (!newest || after >= 0) {
        throw new FleetError('LOG_CORRUPT', `log corrupt: ${file} at offset ${scan.end}: ${scan.reason}` + (newest ? ` (valid records follow at offset ${after})` : '') + `; repair: ${REPAIR_HINT}`);
      }
      result.tornTail = { file, offset: scan.end, bytes: buf.length - scan.end, reason: scan.reason };
      if (opts.truncate !== false) fs.truncateSync(file, scan.end);
    }
    if (newest) result.activeSize = scan.end;
  }
  result.records = records;
  return result;
}

/** Read a whole snapshot (log/snapshot.ts checks it: header first, end record last with its count), or it is corrupt. */
function readSnapshot(file: string, maxRecordBytes: number, onPayload: (p: Buffer) => void): number {
  const r = readSnapshotFile(file, maxRecordBytes, onPayload, (why, at) => new FleetError('LOG_CORRUPT', `snapshot corrupt: ${file} at offset ${at}: ${why}; repair: ${REPAIR_HINT}`));
  return r.entries + 1; // the header is a record too
}
