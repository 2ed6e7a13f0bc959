import fs from 'node:fs';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { fsyncDir, listLogDir, renameDurably, segmentPath, snapshotPath } from './files.js';
import { KIND, RECORD_HEADER_BYTES, jsonPayload, writeRecord } from './record.js';

/** What a snapshot holds besides entries. */
export interface SnapshotMeta {
  format: 1;
  nodeId: string;
  vector: Record<string, number>;
  hlc: { wall: number; logical: number };
  createdAt: string;
}

const CHUNK_BYTES = 1 << 20;
/** Entries copied per turn of the event loop, so writes go on beside a snapshot. */
const ENTRIES_PER_TURN = 5000;

/**
 * Write a snapshot covering every segment below `firstSegment`: to a temp
 * file, fsync, rename, fsync the directory. Entries are taken from a live
 * iterator a few thousand at a time; an entry changed meanwhile is written in
 * its newer form, which is harmless because replaying the segments from
 * `firstSegment` on is idempotent under LWW.
 */
export async function writeSnapshot(dir: string, firstSegment: number, meta: SnapshotMeta, entries: Iterator<{ raw: Buffer }>): Promise<{ file: string; bytes: number; entries: number }> {
  const file = snapshotPath(dir, firstSegment);
  const tmp = `${file}.tmp`;
  const fh = await fs.promises.open(tmp, 'w', 0o640);
  let buf = Buffer.allocUnsafe(CHUNK_BYTES);
  let len = 0;
  let bytes = 0;
  let count = 0;
  /** Frame a record into the chunk; returns a write to await when the chunk was full. */
  const put = (payload: Uint8Array): Promise<unknown> | undefined => {
    const need = RECORD_HEADER_BYTES + payload.length;
    let pending: Promise<unknown> | undefined;
    if (len + need > buf.length) {
      pending = fh.write(buf, 0, len);
      bytes += len;
      buf = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, need)); // the old chunk belongs to the write now
      len = 0;
    }
    len = writeRecord(buf, len, payload);
    return pending;
  };
  try {
    await put(jsonPayload(KIND.SNAPSHOT_BEGIN, meta));
    let r = entries.next();
    while (!r.done) {
      for (let n = 0; n < ENTRIES_PER_TURN && !r.done; n++) {
        const w = put(r.value.raw);
        if (w) await w;
        count++;
        r = entries.next();
      }
      if (!r.done) await yieldToLoop();
    }
    const end = Buffer.alloc(5);
    end[0] = KIND.SNAPSHOT_END;
    end.writeUInt32BE(count >>> 0, 1);
    await put(end);
    await fh.write(buf, 0, len);
    bytes += len;
    await fh.datasync();
  } catch (err) {
    await fh.close().catch(() => {});
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  renameDurably(tmp, file);
  return { file, bytes, entries: count };
}

/** Delete segments and older snapshots that the snapshot at `firstSegment` covers. */
export function removeCovered(dir: string, firstSegment: number): number {
  const { segments, snapshots } = listLogDir(dir);
  let freed = 0;
  for (const s of segments) {
    if (s >= firstSegment) continue;
    const p = segmentPath(dir, s);
    freed += fs.statSync(p).size;
    fs.rmSync(p);
  }
  for (const s of snapshots) {
    if (s < firstSegment) fs.rmSync(snapshotPath(dir, s));
  }
  fsyncDir(dir);
  return freed;
}
